/**
 * Which coordinate reference systems a reference layer may come in, and how to read the ways
 * files name them: an EPSG code from a flag (`--permits-crs EPSG:4547`), a GeoJSON `crs` member
 * (URN or name), or a shapefile's .prj (WKT, parsed by proj4).
 *
 * Supported by code: WGS 84 (4326, CRS84), CGCS2000 (4490, treated as WGS 84), CGCS2000
 * Gauss-Krüger (4491–4554), WGS 84 UTM (326xx, 327xx) and Web Mercator (3857). Any .prj that
 * proj4 parses is accepted as long as its datum is WGS 84-compatible (a GRS80/WGS 84 ellipsoid or
 * explicit towgs84): Beijing 1954 or Xian 1980 without shift parameters would land ~100 m off.
 */
import proj4 from 'proj4';
import { knownCrsDefinition } from '../crs.js';
import type { Crs } from '../types.js';

export const SUPPORTED_CRS_TEXT =
  'EPSG:4326 / CRS84, EPSG:4490 (CGCS2000), EPSG:4491–4554 (CGCS2000 Gauss-Krüger), EPSG:326xx/327xx (WGS 84 UTM), EPSG:3857';

const WGS84_PROJ4 = '+proj=longlat +datum=WGS84 +no_defs';

/** The proj4 definition of a supported EPSG code, or null. */
export function proj4ForEpsg(epsg: number): string | null {
  return knownCrsDefinition(epsg)?.proj4 ?? null;
}

/** Extracts the EPSG number from the usual spellings, or null. CRS84 counts as 4326. */
export function epsgFromName(name: string): number | null {
  const text = name.trim();
  if (/^(?:urn:ogc:def:crs:OGC:[\d.]*:|OGC:|https?:\/\/www\.opengis\.net\/def\/crs\/OGC\/[\d.]+\/)?CRS:?84$/i.test(text)) return 4326;
  const match =
    /^(?:EPSG:{1,2})?(\d{4,5})$/i.exec(text) ??
    /^urn:ogc:def:crs:EPSG:[\d.]*:(\d{4,5})$/i.exec(text) ??
    /^https?:\/\/www\.opengis\.net\/def\/crs\/EPSG\/[\d.]+\/(\d{4,5})$/i.exec(text);
  return match === null ? null : Number(match[1]);
}

/** A supported CRS from a name (`EPSG:4547`, `4547`, `urn:ogc:def:crs:EPSG::4526`, `CRS84`), or null. */
export function resolveCrs(name: string): Crs | null {
  const epsg = epsgFromName(name);
  if (epsg === null) return null;
  const definition = proj4ForEpsg(epsg);
  if (definition === null) return null;
  return { code: `EPSG:${epsg}`, proj4: definition, geographic: epsg === 4326 || epsg === 4490 };
}

/** The name in a GeoJSON `crs` member (`{type:'name', properties:{name}}` or the old `{type:'EPSG', properties:{code}}`), or null. */
export function geojsonCrsName(member: unknown): string | null {
  if (typeof member !== 'object' || member === null) return null;
  const { type, properties } = member as { type?: unknown; properties?: unknown };
  if (typeof properties !== 'object' || properties === null) return null;
  const props = properties as Record<string, unknown>;
  if (type === 'name' && typeof props['name'] === 'string') return props['name'];
  if (type === 'EPSG' && (typeof props['code'] === 'number' || typeof props['code'] === 'string')) return `EPSG:${props['code']}`;
  return null;
}

export type PrjResult = { ok: true; crs: Crs; converter: proj4.Converter } | { ok: false; reason: string };

/**
 * Reads a .prj (WKT1, ESRI or OGC flavour). Axis declarations are ignored on purpose: shapefile
 * coordinates are always x = easting, y = northing, whatever the WKT says (GDAL writes
 * AXIS["Northing",NORTH] first for the GK systems).
 */
export function crsFromPrj(wkt: string): PrjResult {
  let projection: InstanceType<typeof proj4.Proj>;
  try {
    projection = new proj4.Proj(wkt.trim());
  } catch (error) {
    return { ok: false, reason: `proj4 cannot read it (${error instanceof Error ? error.message : String(error)})` };
  }
  // proj4 keeps the parsed method name on the instance but does not type it.
  const projName = (projection as unknown as { projName?: unknown }).projName;
  if (typeof projName !== 'string' || projName === '') return { ok: false, reason: 'it names no projection' };
  projection.axis = 'enu';
  const a: unknown = projection.a;
  const datum = projection.datum as { datum_type?: number } | undefined;
  // datum_type 4 = WGS 84, 1/2 = 3/7-parameter shift given; anything else is a bare ellipsoid.
  const shifted = datum?.datum_type === 1 || datum?.datum_type === 2 || datum?.datum_type === 4;
  if (!shifted && typeof a === 'number' && Math.abs(a - 6378137) > 0.5) {
    return {
      ok: false,
      reason: `its datum (ellipsoid a = ${a} m, e.g. Beijing 1954 or Xian 1980) has no transformation to WGS 84 here; convert the file to CGCS2000 or WGS 84`,
    };
  }
  const geographic = projName === 'longlat';
  return {
    ok: true,
    crs: { code: null, proj4: wkt.trim(), geographic },
    converter: proj4(projection, proj4.WGS84),
  };
}

// Parsing a definition costs more than converting a permit; converters are kept per definition.
const converters = new Map<string, proj4.Converter>();

/** A converter from a CRS (by its proj4 definition) to WGS 84 lon/lat. */
export function converterFor(crs: Crs): proj4.Converter {
  let converter = converters.get(crs.proj4);
  if (converter === undefined) {
    converter = proj4(crs.proj4, WGS84_PROJ4);
    converters.set(crs.proj4, converter);
  }
  return converter;
}
