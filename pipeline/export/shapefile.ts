/**
 * Bulk Shapefile export, zipped: .shp/.shx (polygons), .dbf (the attribute table of columns.ts under
 * names of at most 10 characters), .prj (ESRI WKT) and .cpg (`UTF-8`, so ArcGIS, QGIS and GDAL read
 * Chinese names right). Written here rather than with a library because the details are the point:
 * outer rings clockwise and holes counter-clockwise as the Shapefile specification requires (the
 * reverse of GeoJSON), a MultiPolygon as one record of several parts, text cut at a UTF-8 character
 * boundary when it exceeds dBASE's 254 bytes, and coordinates optionally in a CGCS2000 Gauss-Krüger
 * 3° zone. Deterministic: the same alerts give the same bytes (dates come from the data, not the clock).
 *
 * Spec: ESRI Shapefile Technical Description (1998); dBASE III+ table format.
 */
import type { Position } from 'geojson';
import { zipSync } from 'fflate';
import type { ExportAlert } from '../store/alert-query.js';
import { COLUMNS, type Column } from './columns.js';
import { bboxOfAll, polygonsOf, projectToGk, windPolygons, type GkZone } from './geometry.js';

/** The CRS of an export's coordinates. */
export type ExportCrs = { kind: 'wgs84' } | { kind: 'cgcs2000-gk'; zone: GkZone };

export interface ShapefileOptions {
  /** File name of the members without extension (the layer name in GIS). */
  baseName: string;
  crs: ExportCrs;
}

export interface ShapefileResult {
  /** The zip archive. */
  zip: Uint8Array;
  /** The archive's members, for the manifest. */
  members: { name: string; bytes: Uint8Array }[];
}

const SHAPE_NULL = 0;
const SHAPE_POLYGON = 5;
const MAX_TEXT_BYTES = 254;

/** ESRI WKT of the export's CRS, as ArcGIS writes it (GDAL reads it back to the same EPSG code). */
export function prjWkt(crs: ExportCrs): string {
  if (crs.kind === 'wgs84') {
    return 'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],' +
      'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]';
  }
  const z = crs.zone;
  return `PROJCS["CGCS2000_3_Degree_GK_Zone_${z.zone}",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",` +
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],' +
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],' +
    `PARAMETER["False_Easting",${z.falseEastingM.toFixed(1)}],PARAMETER["False_Northing",0.0],` +
    `PARAMETER["Central_Meridian",${z.centralMeridianDeg.toFixed(1)}],PARAMETER["Scale_Factor",1.0],` +
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]';
}

/** The alert's polygons in the export CRS, wound for Shapefile (outer clockwise). */
function shapeRings(a: ExportAlert, crs: ExportCrs): Position[][] {
  const polygons = polygonsOf(a.geometry).map((rings) => rings.map((ring) =>
    ring.map((p): Position => (crs.kind === 'wgs84' ? [p[0], p[1]] : projectToGk(crs.zone, p[0], p[1])))));
  return windPolygons(polygons, 'cw').flat();
}

function shapeBytes(rings: Position[][]): Uint8Array {
  if (rings.length === 0) {
    const out = new DataView(new ArrayBuffer(4));
    out.setInt32(0, SHAPE_NULL, true);
    return new Uint8Array(out.buffer);
  }
  const numPoints = rings.reduce((n, r) => n + r.length, 0);
  const view = new DataView(new ArrayBuffer(44 + 4 * rings.length + 16 * numPoints));
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const ring of rings) {
    for (const [x, y] of ring) {
      minX = Math.min(minX, x); minY = Math.min(minY, y); maxX = Math.max(maxX, x); maxY = Math.max(maxY, y);
    }
  }
  view.setInt32(0, SHAPE_POLYGON, true);
  [minX, minY, maxX, maxY].forEach((v, i) => view.setFloat64(4 + 8 * i, v, true));
  view.setInt32(36, rings.length, true);
  view.setInt32(40, numPoints, true);
  let offset = 44, start = 0;
  for (const ring of rings) {
    view.setInt32(offset, start, true);
    offset += 4;
    start += ring.length;
  }
  for (const ring of rings) {
    for (const [x, y] of ring) {
      view.setFloat64(offset, x, true);
      view.setFloat64(offset + 8, y, true);
      offset += 16;
    }
  }
  return new Uint8Array(view.buffer);
}

function fileHeader(view: DataView, lengthBytes: number, bbox: [number, number, number, number] | null): void {
  view.setInt32(0, 9994, false);
  view.setInt32(24, lengthBytes / 2, false);
  view.setInt32(28, 1000, true);
  view.setInt32(32, SHAPE_POLYGON, true);
  (bbox ?? [0, 0, 0, 0]).forEach((v, i) => view.setFloat64(36 + 8 * i, v, true));
}

function shpAndShx(shapes: Uint8Array[], bbox: [number, number, number, number] | null): { shp: Uint8Array; shx: Uint8Array } {
  const shpLength = 100 + shapes.reduce((n, s) => n + 8 + s.length, 0);
  const shp = new Uint8Array(shpLength);
  const shx = new Uint8Array(100 + 8 * shapes.length);
  const shpView = new DataView(shp.buffer), shxView = new DataView(shx.buffer);
  fileHeader(shpView, shpLength, bbox);
  fileHeader(shxView, shx.length, bbox);
  let offset = 100;
  shapes.forEach((shape, i) => {
    shxView.setInt32(100 + 8 * i, offset / 2, false);
    shxView.setInt32(104 + 8 * i, shape.length / 2, false);
    shpView.setInt32(offset, i + 1, false);
    shpView.setInt32(offset + 4, shape.length / 2, false);
    shp.set(shape, offset + 8);
    offset += 8 + shape.length;
  });
  return { shp, shx };
}

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`, cut to at most `max` bytes without splitting a character. */
export function utf8Truncate(text: string, max: number): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.slice(0, end);
}

interface DbfField {
  column: Column;
  type: 'C' | 'N' | 'D';
  width: number;
  decimals: number;
  /** The cell bytes of each record, not yet padded. */
  cells: (Uint8Array | null)[];
}

function dbfField(column: Column, alerts: ExportAlert[]): DbfField {
  const values = alerts.map((a) => column.value(a));
  if (column.type === 'date') {
    const cells = values.map((v) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? encoder.encode(v.replace(/-/g, '')) : null));
    return { column, type: 'D', width: 8, decimals: 0, cells };
  }
  if (column.type === 'number' || column.type === 'integer') {
    const decimals = column.type === 'integer' ? 0 : column.decimals ?? 6;
    const cells = values.map((v) => (typeof v === 'number' && Number.isFinite(v) ? encoder.encode(v.toFixed(decimals)) : null));
    const width = Math.min(24, Math.max(decimals + 3, 10, ...cells.map((c) => c?.length ?? 0)));
    return { column, type: 'N', width, decimals, cells };
  }
  const cells = values.map((v) => (v === null || v === '' ? null : utf8Truncate(String(v), MAX_TEXT_BYTES)));
  const width = Math.max(1, ...cells.map((c) => c?.length ?? 0));
  return { column, type: 'C', width, decimals: 0, cells };
}

function dbfBytes(alerts: ExportAlert[], updated: [number, number, number]): Uint8Array {
  const fields = COLUMNS.map((c) => dbfField(c, alerts));
  const headerLength = 32 + 32 * fields.length + 1;
  const recordLength = 1 + fields.reduce((n, f) => n + f.width, 0);
  const out = new Uint8Array(headerLength + recordLength * alerts.length + 1);
  const view = new DataView(out.buffer);
  out[0] = 0x03; // dBASE III without memo
  out[1] = updated[0] - 1900;
  out[2] = updated[1];
  out[3] = updated[2];
  view.setUint32(4, alerts.length, true);
  view.setUint16(8, headerLength, true);
  view.setUint16(10, recordLength, true);
  // Byte 29 (language driver) stays 0: the .cpg names the encoding.
  fields.forEach((f, i) => {
    const at = 32 + 32 * i;
    out.set(encoder.encode(f.column.shp), at);
    out[at + 11] = f.type.charCodeAt(0);
    out[at + 16] = f.width;
    out[at + 17] = f.decimals;
  });
  out[headerLength - 1] = 0x0d;
  out.fill(0x20, headerLength, out.length - 1);
  alerts.forEach((_a, r) => {
    let at = headerLength + r * recordLength + 1; // deletion flag is the space already there
    for (const f of fields) {
      const cell = f.cells[r];
      // Numbers right-aligned, text and dates left-aligned; an empty cell stays blank (null).
      if (cell) out.set(cell, f.type === 'N' ? at + f.width - cell.length : at);
      at += f.width;
    }
  });
  out[out.length - 1] = 0x1a;
  return out;
}

/** [year, month, day] of the latest `last_seen`, or 1980-01-01 when there is none. */
function dataDate(alerts: ExportAlert[]): [number, number, number] {
  const latest = alerts.map((a) => a.last_seen).sort().at(-1) ?? '1980-01-01';
  const [y, m, d] = latest.split('-').map(Number);
  return [y, m, d];
}

export function buildShapefile(alerts: ExportAlert[], options: ShapefileOptions): ShapefileResult {
  const shapesRings = alerts.map((a) => shapeRings(a, options.crs));
  const bbox = bboxOfAll(shapesRings.filter((r) => r.length > 0).map((rings) => ({ type: 'Polygon' as const, coordinates: rings })));
  const { shp, shx } = shpAndShx(shapesRings.map(shapeBytes), bbox);
  const updated = dataDate(alerts);
  const base = options.baseName;
  const members = [
    { name: `${base}.shp`, bytes: shp },
    { name: `${base}.shx`, bytes: shx },
    { name: `${base}.dbf`, bytes: dbfBytes(alerts, updated) },
    { name: `${base}.prj`, bytes: encoder.encode(prjWkt(options.crs)) },
    { name: `${base}.cpg`, bytes: encoder.encode('UTF-8') },
  ];
  // fflate writes the DOS time from the Date's local fields: build it from local fields so the
  // archive's bytes do not depend on the machine's time zone.
  const mtime = new Date(updated[0], updated[1] - 1, updated[2]);
  const zip = zipSync(Object.fromEntries(members.map((m) => [m.name, [m.bytes, { mtime }]])), { level: 6, mtime });
  return { zip, members };
}
