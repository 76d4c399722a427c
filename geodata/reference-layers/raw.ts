/**
 * What a format reader hands to the common import path: features still in the file's own CRS
 * (or already lon/lat), with a human label for messages. Readers only parse; checking and
 * normalizing is done once for all formats in index.ts.
 */
import type proj4 from 'proj4';
import type { Crs } from '../types.js';
import type { LayerFormat } from './types.js';

export interface RawFeature {
  /** Where in the file, for messages: `features[2]`, `Placemark 3`, `FID 4`, `rows 2–5`. */
  where: string;
  /** A GeoJSON geometry (unchecked) in the layer's CRS. */
  geometry: unknown;
  properties: Record<string, unknown>;
  /** The GeoJSON/KML feature id, when the file gives one. */
  featureId?: string;
  /** Names part i of a multipart geometry (`block 2` for permit corner lists). */
  partLabel?: (index: number) => string;
}

/**
 * The CRS of a raw layer: declared by the file (GeoJSON `crs`, .prj), fixed by the format (KML is
 * always WGS 84; corner-point CSV is converted while reading), or unknown (then the caller's
 * `crs` option, else lon/lat with a check that the numbers can be degrees).
 */
export type RawCrs =
  | { kind: 'declared'; crs: Crs; converter: proj4.Converter; declaredBy: string }
  | { kind: 'lonlat' }
  | { kind: 'unknown' };

export interface RawLayer {
  format: LayerFormat;
  crs: RawCrs;
  features: RawFeature[];
}
