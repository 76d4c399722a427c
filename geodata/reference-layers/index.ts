/**
 * Reference-layer import: permits, closed sites, protected areas and jurisdictions from GeoJSON,
 * KML/KMZ, zipped Shapefile or (permits only) CGCS2000 corner-point CSV, into one normalized form
 * in EPSG:4326 (see types.ts).
 *
 * One path for every format: a reader parses the file into raw features in the file's CRS; then
 * geometry is checked, reprojected and checked again in lon/lat, attributes are normalized, ids
 * assigned and features sharing an id merged. Every problem found on the way is collected, and a
 * file with problems is refused with one input error that lists them, so a user fixes it once.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { inputError } from '../../errors/index.js';
import type { Crs } from '../types.js';
import { converterFor, resolveCrs, SUPPORTED_CRS_TEXT } from './crs.js';
import {
  checkLonLatPolygons,
  firstPosition,
  type GeometryContext,
  looksGeographic,
  looksProjected,
  readPolygons,
  reprojectPolygons,
  rewindRfc7946,
  type Rings,
  toGeometry,
  type Xy,
} from './geometry.js';
import { readGeojson } from './geojson.js';
import { kmlFromKmz, readKml } from './kml.js';
import { looksLikePermitCsvHeader, readPermitCsv } from './permit-csv.js';
import { Problems, show } from './problems.js';
import {
  findKey,
  ID_FIELD_ALIASES,
  JURISDICTION_FIELD_ALIASES,
  normalizeDate,
  normalizeJurisdictionProperties,
  normalizePermitProperties,
  PERMIT_FIELD_ALIASES,
  textOf,
} from './properties.js';
import type { RawFeature, RawLayer } from './raw.js';
import { readShapefile } from './shapefile.js';
import { decodeText } from './text.js';
import type {
  ClosedSiteLayer,
  JurisdictionLayer,
  LayerKind,
  LoadLayerOptions,
  PermitLayer,
  ProtectedAreaLayer,
  ReferenceFeature,
  ReferenceLayers,
} from './types.js';

export type * from './types.js';
export type { Problem } from './problems.js';

/** The layer type that `loadReferenceLayer` returns for a kind. */
export type LayerFor<K extends LayerKind> = K extends 'permits'
  ? PermitLayer
  : K extends 'closed_sites'
    ? ClosedSiteLayer
    : K extends 'protected_areas'
      ? ProtectedAreaLayer
      : JurisdictionLayer;

type DetectedFormat = 'geojson' | 'kml' | 'kmz' | 'zip' | 'shp' | 'csv';

const KIND_NAMES: Record<LayerKind, string> = {
  permits: 'permits layer',
  closed_sites: 'closed-sites layer',
  protected_areas: 'protected-areas layer',
  jurisdictions: 'jurisdictions layer',
};

const EXTENSIONS: Record<string, DetectedFormat> = {
  '.geojson': 'geojson',
  '.json': 'geojson',
  '.kml': 'kml',
  '.kmz': 'kmz',
  '.zip': 'zip',
  '.shp': 'shp',
  '.csv': 'csv',
  '.tsv': 'csv',
  '.txt': 'csv',
};

/**
 * The format of a layer file: by extension when it is a known one, else by content (zip magic,
 * JSON object, KML root element, corner-point CSV header). Null when neither tells.
 */
export function detectLayerFormat(file: string, bytes: Uint8Array): DetectedFormat | null {
  const byExtension = EXTENSIONS[extname(file).toLowerCase()];
  if (byExtension !== undefined) return byExtension;
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return 'zip';
  const head = decodeText(bytes.subarray(0, 4096)).replace(/^\ufeff/, '').trimStart();
  if (head.startsWith('{')) return 'geojson';
  if (head.startsWith('<') && /<kml[\s>]/.test(head)) return 'kml';
  const firstLine = head.split(/\r?\n/)[0] ?? '';
  if (looksLikePermitCsvHeader(firstLine)) return 'csv';
  return null;
}

async function readLayerBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory, expected a file' : `cannot be read (${code ?? String(error)})`;
    throw inputError('LAYER.NOT_FOUND', `${file}: ${why}`, file, error);
  }
}

async function readRaw(format: DetectedFormat, bytes: Uint8Array, file: string, kind: LayerKind, optionCrs: Crs | null, problems: Problems): Promise<RawLayer> {
  switch (format) {
    case 'geojson':
      return readGeojson(decodeText(bytes), file, problems);
    case 'kml':
      return readKml(decodeText(bytes), file);
    case 'kmz':
      return readKml(kmlFromKmz(bytes, file), file);
    case 'zip':
      return readShapefile(bytes, file, true);
    case 'shp':
      return readShapefile(bytes, file, false);
    case 'csv':
      if (kind !== 'permits') {
        throw inputError(
          'LAYER.UNKNOWN_FORMAT',
          `${file}: CSV is read only for permit corner points; give the ${KIND_NAMES[kind]} as GeoJSON, KML or a zipped Shapefile`,
          file,
        );
      }
      return readPermitCsv(decodeText(bytes), file, optionCrs, problems);
  }
}

/** A short id hint for messages, from whatever the raw feature carries. */
function idHint(raw: RawFeature, kind: LayerKind): string {
  if (raw.where.includes("'")) return '';
  const aliases = kind === 'permits' ? PERMIT_FIELD_ALIASES.permit_id : kind === 'jurisdictions' ? JURISDICTION_FIELD_ALIASES.code : ID_FIELD_ALIASES;
  const key = findKey(raw.properties, aliases);
  const value = key === null ? null : textOf(raw.properties[key]);
  if (value !== null) return ` (${kind === 'permits' ? 'permit_id' : key} '${value}')`;
  return raw.featureId === undefined ? '' : ` (id '${raw.featureId}')`;
}

/** Attribute values made plain JSON: dates as YYYY-MM-DD, non-finite numbers as null. */
function plainProperties(properties: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    if (value instanceof Date) out[key] = normalizeDate(value);
    else if (typeof value === 'number' && !Number.isFinite(value)) out[key] = null;
    else out[key] = value;
  }
  return out;
}

interface Checked {
  where: string;
  id: string;
  properties: Record<string, unknown>;
  polygons: Rings[];
}

function sameProperties(a: Record<string, unknown>, b: Record<string, unknown>): string | null {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return key;
  return null;
}

/**
 * Features sharing an id: permits and jurisdictions with equal attributes are one area in several
 * parts (a shapefile often has one record per permit block) and are merged; with different
 * attributes the id is ambiguous and reported. Closed sites and protected areas get a suffix.
 */
function mergeById(items: Checked[], kind: LayerKind, problems: Problems): Checked[] {
  const byId = new Map<string, Checked>();
  const out: Checked[] = [];
  const used = new Set(items.map((i) => i.id));
  for (const item of items) {
    const existing = byId.get(item.id);
    if (existing === undefined) {
      byId.set(item.id, item);
      out.push(item);
      continue;
    }
    if (kind === 'permits' || kind === 'jurisdictions') {
      const differing = sameProperties(existing.properties, item.properties);
      if (differing === null) {
        existing.polygons = [...existing.polygons, ...item.polygons];
      } else {
        const idField = kind === 'permits' ? 'permit_id' : 'code';
        problems.add(
          kind === 'permits' ? 'PERMIT.DUPLICATE_ID' : 'LAYER.DUPLICATE_ID',
          `${existing.where} and ${item.where}`,
          `both have ${idField} '${item.id}' but differ in ${differing} (${show(existing.properties[differing])} vs ${show(item.properties[differing])})`,
          idField,
        );
      }
      continue;
    }
    let n = 2;
    while (used.has(`${item.id}-${n}`)) n++;
    const id = `${item.id}-${n}`;
    used.add(id);
    const renamed = { ...item, id };
    byId.set(id, renamed);
    out.push(renamed);
  }
  return out;
}

/**
 * Decides, once for the layer, how its numbers become lon/lat: the CRS the file declares, else
 * the caller's, else none (lon/lat already). Reports numbers that contradict that choice (metres
 * where degrees are expected, or the reverse). Returns null when no conversion is needed.
 */
function chooseProjection(raw: RawLayer, optionCrs: Crs | null, polygons: Rings[][], problems: Problems): ((xy: Xy) => Xy) | null {
  const sample = polygons.map(firstPosition).find((p): p is Xy => p !== null);
  const sampleText = sample === undefined ? '' : ` (e.g. [${sample[0]}, ${sample[1]}])`;
  let project: ((xy: Xy) => Xy) | null = null;
  let expectDegrees = true;
  let crsSaidBy = '';
  if (raw.crs.kind === 'declared') {
    const converter = raw.crs.converter;
    project = (xy) => converter.forward([xy[0], xy[1]]) as Xy;
    expectDegrees = raw.crs.crs.geographic;
    crsSaidBy = raw.crs.declaredBy;
  } else if (raw.crs.kind === 'unknown' && optionCrs !== null && !optionCrs.geographic) {
    const converter = converterFor(optionCrs);
    project = (xy) => converter.forward([xy[0], xy[1]]) as Xy;
    expectDegrees = false;
    crsSaidBy = `the CRS given (${optionCrs.code})`;
  }
  if (expectDegrees && polygons.some((p) => looksProjected(p))) {
    const how =
      raw.format === 'kml'
        ? 'KML must be longitude/latitude'
        : crsSaidBy !== '' || raw.crs.kind === 'lonlat'
          ? 'yet the file declares longitude/latitude; give the right CRS'
          : `give the CRS (${raw.format === 'shapefile' ? 'a .prj in the zip' : 'a "crs" member in the GeoJSON'}, or --permits-crs EPSG:NNNN)`;
    problems.add('LAYER.CRS', 'the file', `coordinates look projected${sampleText}, not longitude/latitude degrees; ${how}`);
  }
  if (!expectDegrees && polygons.length > 0 && polygons.every((p) => looksGeographic(p))) {
    problems.add('LAYER.CRS', 'the file', `coordinates look like longitude/latitude degrees${sampleText}, but ${crsSaidBy} is a projected CRS in metres`);
  }
  return project;
}

/**
 * The id and normalized properties of one feature for its layer kind: permit attributes checked
 * and translated, jurisdictions with code and name, other kinds kept as given (id from
 * id/name/code, the feature id, or `<kind>-<n>`). Null after reporting a problem.
 */
function normalizeAttributes(
  kind: LayerKind,
  feature: RawFeature,
  where: string,
  index: number,
  problems: Problems,
): { id: string; properties: Record<string, unknown> } | null {
  if (kind === 'permits') {
    const permit = normalizePermitProperties(feature.properties, where, problems);
    return permit === null ? null : { id: permit.permit_id, properties: { ...permit } };
  }
  if (kind === 'jurisdictions') {
    const jurisdiction = normalizeJurisdictionProperties(plainProperties(feature.properties), where, problems);
    return jurisdiction === null ? null : { id: jurisdiction.code, properties: jurisdiction };
  }
  const properties = plainProperties(feature.properties);
  const key = findKey(properties, ID_FIELD_ALIASES);
  const id = (key === null ? null : textOf(properties[key])) ?? feature.featureId ?? `${kind}-${index + 1}`;
  return { id, properties };
}

/**
 * Loads one reference layer file into normalized EPSG:4326 polygons.
 *
 * Format by extension (.geojson/.json, .kml/.kmz, .zip/.shp, .csv) or content. Coordinates are
 * reprojected from a CRS the file declares (GeoJSON `crs`, .prj), else from `options.crs`; a
 * corner-point CSV takes its zone from the easting prefix. Throws one input error (code of the
 * first problem: `LAYER.NOT_FOUND`, `LAYER.PARSE`, `LAYER.UNKNOWN_FORMAT`, `LAYER.CRS`,
 * `PERMIT.INVALID_GEOMETRY`, `PERMIT.MISSING_FIELD`, `PERMIT.BAD_DATE`, …) that lists every
 * problem with file, row or feature, field and value.
 */
export async function loadReferenceLayer<K extends LayerKind>(file: string, options: LoadLayerOptions<K>): Promise<LayerFor<K>> {
  const kind: LayerKind = options.kind;
  let optionCrs: Crs | null = null;
  if (options.crs !== undefined && options.crs.trim() !== '') {
    optionCrs = resolveCrs(options.crs);
    if (optionCrs === null) {
      throw inputError('LAYER.CRS', `${file}: the CRS given (${show(options.crs)}) is not supported; use one of ${SUPPORTED_CRS_TEXT}`, file);
    }
  }
  const bytes = await readLayerBytes(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const format = detectLayerFormat(file, bytes);
  if (format === null) {
    throw inputError(
      'LAYER.UNKNOWN_FORMAT',
      `${file}: cannot tell the format; expected GeoJSON (.geojson, .json), KML (.kml, .kmz), a zipped Shapefile (.zip) or a permit corner-point CSV (.csv)`,
      file,
    );
  }

  const problems = new Problems();
  const raw = await readRaw(format, bytes, file, kind, optionCrs, problems);
  const geometryCode = kind === 'permits' ? 'PERMIT.INVALID_GEOMETRY' : 'LAYER.INVALID_GEOMETRY';

  // Structure first, in the file's own CRS.
  const read: { raw: RawFeature; where: string; context: GeometryContext; polygons: Rings[] | null }[] = raw.features.map((feature) => {
    const where = `${feature.where}${idHint(feature, kind)}`;
    const context: GeometryContext = { where, problems, code: geometryCode };
    if (feature.partLabel !== undefined) context.partLabel = feature.partLabel;
    return { raw: feature, where, context, polygons: readPolygons(feature.geometry, context) };
  });

  const project = chooseProjection(raw, optionCrs, read.flatMap((r) => (r.polygons === null ? [] : [r.polygons])), problems);
  // A wrong CRS makes every later message noise; stop here.
  if (problems.list.some((p) => p.code === 'LAYER.CRS')) problems.throwIfAny(file, KIND_NAMES[kind]);

  const checked: Checked[] = [];
  read.forEach(({ raw: feature, where, context, polygons }, index) => {
    let lonLat = polygons;
    if (lonLat !== null && project !== null) lonLat = reprojectPolygons(lonLat, project, context);
    const geometryOk = lonLat !== null && checkLonLatPolygons(lonLat, context);
    const attributes = normalizeAttributes(kind, feature, where, index, problems);
    if (geometryOk && attributes !== null && lonLat !== null) checked.push({ where, ...attributes, polygons: lonLat });
  });

  const merged = mergeById(checked, kind, problems);
  problems.throwIfAny(file, KIND_NAMES[kind]);

  const features: ReferenceFeature<Record<string, unknown>>[] = merged.map((item) => ({
    type: 'Feature',
    id: item.id,
    properties: item.properties,
    geometry: toGeometry(rewindRfc7946(item.polygons)),
  }));
  const layer = {
    kind,
    source: { file, sha256, format: raw.format, featureCount: features.length },
    features,
  };
  // The features were built to the kind's property shape above; the cast only names which one.
  return layer as unknown as LayerFor<K>;
}

/** Layer files of one scan, by role. */
export interface ReferenceLayerFiles {
  permits?: string;
  closedSites?: string;
  protectedAreas?: string;
  jurisdictions?: string;
}

/**
 * Loads the given layer files in parallel. When several fail, the error of the first in the order
 * permits, closed sites, protected areas, jurisdictions is thrown.
 * @param options.permitsCrs the `--permits-crs` value, used for the permits file only.
 */
export async function loadReferenceLayers(files: ReferenceLayerFiles, options: { permitsCrs?: string } = {}): Promise<ReferenceLayers> {
  const permitsOptions: LoadLayerOptions<'permits'> = { kind: 'permits' };
  if (options.permitsCrs !== undefined) permitsOptions.crs = options.permitsCrs;
  const [permits, closedSites, protectedAreas, jurisdictions] = await Promise.allSettled([
    files.permits === undefined ? undefined : loadReferenceLayer(files.permits, permitsOptions),
    files.closedSites === undefined ? undefined : loadReferenceLayer(files.closedSites, { kind: 'closed_sites' }),
    files.protectedAreas === undefined ? undefined : loadReferenceLayer(files.protectedAreas, { kind: 'protected_areas' }),
    files.jurisdictions === undefined ? undefined : loadReferenceLayer(files.jurisdictions, { kind: 'jurisdictions' }),
  ]);
  for (const result of [permits, closedSites, protectedAreas, jurisdictions]) {
    if (result.status === 'rejected') throw result.reason;
  }
  const layers: ReferenceLayers = {};
  if (permits.status === 'fulfilled' && permits.value !== undefined) layers.permits = permits.value;
  if (closedSites.status === 'fulfilled' && closedSites.value !== undefined) layers.closedSites = closedSites.value;
  if (protectedAreas.status === 'fulfilled' && protectedAreas.value !== undefined) layers.protectedAreas = protectedAreas.value;
  if (jurisdictions.status === 'fulfilled' && jurisdictions.value !== undefined) layers.jurisdictions = jurisdictions.value;
  return layers;
}
