/**
 * GeoJSON reader. RFC 7946 GeoJSON is WGS 84 lon/lat, but exports from Chinese GIS desktops often
 * carry an old-style `crs` member naming a projected system (CGCS2000 Gauss-Krüger, UTM); such
 * coordinates are reprojected, and a `crs` this module cannot honour is refused rather than ignored.
 */
import { inputError } from '../../errors/index.js';
import { converterFor, geojsonCrsName, resolveCrs, SUPPORTED_CRS_TEXT } from './crs.js';
import type { Problems } from './problems.js';
import type { RawCrs, RawFeature, RawLayer } from './raw.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const GEOMETRY_TYPES = new Set(['Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon', 'GeometryCollection']);

/** Reads GeoJSON text (FeatureCollection, single Feature or bare geometry) into raw features. */
export function readGeojson(text: string, file: string, problems: Problems): RawLayer {
  let data: unknown;
  try {
    data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw inputError('LAYER.PARSE', `${file}: not valid JSON (${error instanceof Error ? error.message : String(error)})`, file, error);
  }
  if (!isObject(data)) throw inputError('LAYER.PARSE', `${file}: expected a GeoJSON FeatureCollection, found ${Array.isArray(data) ? 'an array' : typeof data}`, file);

  let crs: RawCrs = { kind: 'unknown' };
  if (data['crs'] !== undefined && data['crs'] !== null) {
    const name = geojsonCrsName(data['crs']);
    const resolved = name === null ? null : resolveCrs(name);
    if (resolved === null) {
      throw inputError(
        'LAYER.CRS',
        `${file}: the "crs" member ${JSON.stringify(data['crs'])} names no supported CRS (supported: ${SUPPORTED_CRS_TEXT})`,
        file,
      );
    }
    crs = resolved.geographic
      ? { kind: 'lonlat' }
      : { kind: 'declared', crs: resolved, converter: converterFor(resolved), declaredBy: `the GeoJSON "crs" member (${resolved.code})` };
  }

  const entries: { value: unknown; where: string }[] = [];
  if (data['type'] === 'FeatureCollection') {
    if (!Array.isArray(data['features'])) throw inputError('LAYER.PARSE', `${file}: the FeatureCollection has no "features" array`, file);
    data['features'].forEach((value: unknown, i: number) => entries.push({ value, where: `features[${i}]` }));
  } else if (data['type'] === 'Feature') {
    entries.push({ value: data, where: 'the feature' });
  } else if (typeof data['type'] === 'string' && GEOMETRY_TYPES.has(data['type'])) {
    entries.push({ value: { type: 'Feature', properties: {}, geometry: data }, where: 'the geometry' });
  } else {
    throw inputError('LAYER.PARSE', `${file}: expected a GeoJSON FeatureCollection, found type ${JSON.stringify(data['type'])}`, file);
  }

  const features: RawFeature[] = [];
  for (const { value, where } of entries) {
    if (!isObject(value) || value['type'] !== 'Feature') {
      problems.add('LAYER.PARSE', where, 'is not a GeoJSON Feature');
      continue;
    }
    const properties = isObject(value['properties']) ? value['properties'] : {};
    const id = value['id'];
    const feature: RawFeature = { where, geometry: value['geometry'], properties };
    if (typeof id === 'string' || typeof id === 'number') feature.featureId = String(id);
    features.push(feature);
  }
  return { format: 'geojson', crs, features };
}
