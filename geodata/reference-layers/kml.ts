/**
 * KML (and KMZ) reader, through @tmcw/togeojson on an @xmldom/xmldom document. KML is WGS 84
 * lon/lat by definition. ExtendedData becomes properties; KML styling is dropped, since it says
 * nothing about the permit or area. A MultiGeometry arrives as a GeometryCollection and is
 * accepted when all its parts are polygons.
 */
import { kml } from '@tmcw/togeojson';
import { DOMParser } from '@xmldom/xmldom';
import { unzipSync } from 'fflate';
import { inputError } from '../../errors/index.js';
import type { RawFeature, RawLayer } from './raw.js';
import { decodeText } from './text.js';

const STYLE_KEYS = new Set([
  'styleUrl', 'styleHash', 'styleMapHash', 'stroke', 'stroke-opacity', 'stroke-width', 'fill', 'fill-opacity',
  'icon', 'icon-opacity', 'icon-scale', 'icon-color', 'label-scale', 'label-color', 'label-opacity', 'visibility',
]);

/** The text of the main .kml inside a KMZ (doc.kml, else the first .kml). */
export function kmlFromKmz(bytes: Uint8Array, file: string): string {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (error) {
    throw inputError('LAYER.PARSE', `${file}: not a readable KMZ (zip) file (${error instanceof Error ? error.message : String(error)})`, file, error);
  }
  const names = Object.keys(entries).filter((n) => n.toLowerCase().endsWith('.kml'));
  const name = names.find((n) => n.toLowerCase() === 'doc.kml') ?? names[0];
  if (name === undefined) throw inputError('LAYER.PARSE', `${file}: the KMZ holds no .kml file`, file);
  return decodeText(entries[name] as Uint8Array);
}

/** Reads KML text into raw features (always lon/lat). */
export function readKml(text: string, file: string): RawLayer {
  const errors: string[] = [];
  const parser = new DOMParser({
    onError: (level, message) => {
      if (level !== 'warning') errors.push(message);
    },
  });
  let doc: ReturnType<DOMParser['parseFromString']>;
  try {
    doc = parser.parseFromString(text, 'text/xml');
  } catch (error) {
    throw inputError('LAYER.PARSE', `${file}: not well-formed XML (${error instanceof Error ? error.message : String(error)})`, file, error);
  }
  if (errors.length > 0) throw inputError('LAYER.PARSE', `${file}: not well-formed XML (${errors[0]})`, file);
  const root = doc.documentElement;
  if (root === null || root.localName !== 'kml') {
    throw inputError('LAYER.PARSE', `${file}: not a KML document (root element <${root?.nodeName ?? 'none'}>)`, file);
  }
  const collection = kml(doc);
  const features: RawFeature[] = collection.features.map((feature, i) => {
    const properties: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(feature.properties ?? {})) if (!STYLE_KEYS.has(key)) properties[key] = value;
    const name = typeof properties['name'] === 'string' ? ` ('${properties['name']}')` : '';
    const raw: RawFeature = { where: `Placemark ${i + 1}${name}`, geometry: feature.geometry, properties };
    if (typeof feature.id === 'string' || typeof feature.id === 'number') raw.featureId = String(feature.id);
    return raw;
  });
  return { format: 'kml', crs: { kind: 'lonlat' }, features };
}
