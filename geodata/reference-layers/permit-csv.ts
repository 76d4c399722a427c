/**
 * Permit corner-point CSV, the form Chinese mining and exploration rights are published in: one
 * row per corner (拐点), `ring` = block (区块), `point` = corner number (拐点编号), `x` = northing and
 * `y` = easting in CGCS2000 Gauss-Krüger metres (Chinese surveying convention: X points north).
 * Headers in English or Chinese, as in ../shared/data/cn-permit-formats.
 *
 * The zone comes from the easting's prefix (38 578 806.26 → 3° zone 38, EPSG:4526); an easting
 * without a prefix needs the CRS from the caller (`--permits-crs`). Rows are grouped into permits
 * by permit id, blocks ordered by block number and corners by corner number, and converted to
 * lon/lat here, because each permit may sit in its own zone.
 */
import { inputError } from '../../errors/index.js';
import { describeGaussKruger, epsgFromPrefixedEasting, type GaussKrugerZone, gk3EpsgForCentralMeridian } from '../cgcs2000.js';
import type { Crs } from '../types.js';
import { converterFor, epsgFromName, resolveCrs } from './crs.js';
import type { Xy } from './geometry.js';
import { type Problems, show } from './problems.js';
import { findKey, PERMIT_FIELD_ALIASES } from './properties.js';
import type { RawFeature, RawLayer } from './raw.js';
import { type CsvRecord, parseCsv } from './text.js';
import type { PermitProperties } from './types.js';

const GEOMETRY_COLUMNS = {
  ring: ['ring', 'block', 'block_no', '区块', '区块号', '区块编号'],
  point: ['point', 'corner', 'point_no', 'corner_no', '拐点编号', '拐点号', '点号', '拐点序号'],
  x: ['x', 'x坐标', 'northing', '纵坐标'],
  y: ['y', 'y坐标', 'easting', '横坐标'],
} as const;

const REQUIRED_PERMIT_COLUMNS: (keyof PermitProperties)[] = ['permit_id', 'type', 'valid_from', 'valid_to', 'status'];
const PERMIT_COLUMNS = Object.keys(PERMIT_FIELD_ALIASES) as (keyof PermitProperties)[];

interface CornerRow {
  row: number;
  permitId: string;
  block: number;
  point: number;
  northing: number;
  easting: number;
  /** Permit attribute cells keyed by the header as written. */
  values: Record<string, string>;
}

/** True when the text looks like a header of a permit corner-point CSV (used to sniff the format). */
export function looksLikePermitCsvHeader(firstLine: string): boolean {
  const cells = firstLine.replace(/^\ufeff/, '').split(/[,\t;]/).map((c) => c.trim().replace(/^"|"$/g, '').toLowerCase());
  const has = (aliases: readonly string[]): boolean => cells.some((c) => aliases.includes(c));
  return has(PERMIT_FIELD_ALIASES.permit_id) && has(GEOMETRY_COLUMNS.x) && has(GEOMETRY_COLUMNS.y);
}

function parseNumber(text: string): number | null {
  const t = text.trim();
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(t) ? Number(t) : null;
}

function parseWholeNumber(text: string): number | null {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

/** The CRS of a corner, or why the caller's CRS cannot be used for it. */
type ZoneChoice = { crs: Crs } | { problem: string } | 'needs-crs';

function gkCrs(epsg: number): Crs {
  return resolveCrs(`EPSG:${epsg}`) as Crs;
}

/**
 * Picks the CRS of one corner from its easting prefix and the caller's CRS. A prefix is
 * authoritative; the caller's CRS must agree with it (same zone, prefixed or not).
 */
function chooseZone(eastingM: number, optionCrs: Crs | null): ZoneChoice {
  const prefixed = epsgFromPrefixedEasting(eastingM);
  const optionEpsg = optionCrs === null || optionCrs.code === null ? null : epsgFromName(optionCrs.code);
  const optionGk = optionEpsg === null ? null : describeGaussKruger(optionEpsg);
  if (prefixed !== null) {
    const zone = describeGaussKruger(prefixed) as GaussKrugerZone;
    if (optionCrs === null || optionEpsg === prefixed) return { crs: gkCrs(prefixed) };
    if (optionGk !== null && optionGk.widthDeg === zone.widthDeg && optionGk.centralMeridianDeg === zone.centralMeridianDeg) {
      return { crs: gkCrs(prefixed) };
    }
    return {
      problem: `easting ${eastingM} carries zone prefix ${zone.zone} (EPSG:${prefixed}, central meridian ${zone.centralMeridianDeg}°E), but the CRS given is ${optionCrs.code}`,
    };
  }
  if (eastingM >= 1e7) {
    return { problem: `easting ${eastingM} has 8 digits but ${Math.floor(eastingM / 1e6)} is not a CGCS2000 zone prefix (3° zones 25–45, 6° zones 13–23)` };
  }
  if (optionCrs === null) return 'needs-crs';
  if (optionCrs.geographic) return { problem: `corner points are metres, but the CRS given (${optionCrs.code}) is longitude/latitude` };
  if (optionGk !== null && optionGk.prefixed) {
    const equivalent = optionGk.widthDeg === 3 ? gk3EpsgForCentralMeridian(optionGk.centralMeridianDeg) : (optionEpsg as number) + 11;
    return {
      problem: `easting ${eastingM} has no zone prefix, but ${optionCrs.code} expects eastings starting with ${optionGk.zone}; for the same zone without prefix use EPSG:${equivalent}`,
    };
  }
  return { crs: optionCrs };
}

/** Column positions of a corner-point CSV and the header as written (for messages). */
interface Columns {
  names: string[];
  id: number;
  x: number;
  y: number;
  ring: number | null;
  point: number | null;
  attributes: number[];
}

/** Finds the columns by English or Chinese header; a missing required column stops the import. */
function findColumns(header: string[], file: string): Columns {
  const names = header.map((h) => h.trim());
  const index: Record<string, number> = {};
  names.forEach((h, i) => (index[h] = i));
  const column = (aliases: readonly string[]): number | null => {
    const key = findKey(index, aliases);
    return key === null ? null : (index[key] as number);
  };
  const missing: string[] = [];
  for (const field of REQUIRED_PERMIT_COLUMNS) {
    if (column(PERMIT_FIELD_ALIASES[field]) === null) missing.push(`${field} (${PERMIT_FIELD_ALIASES[field].find((a) => /[^\x00-\x7f]/.test(a))})`);
  }
  const x = column(GEOMETRY_COLUMNS.x);
  const y = column(GEOMETRY_COLUMNS.y);
  if (x === null) missing.push('x (X坐标, northing)');
  if (y === null) missing.push('y (Y坐标, easting)');
  if (missing.length > 0 || x === null || y === null) {
    throw inputError(
      'PERMIT.MISSING_FIELD',
      `${file}: row 1 (header): no column ${missing.join(', ')}; the header has ${names.map((h) => `'${h}'`).join(', ')}`,
      file,
    );
  }
  return {
    names,
    id: column(PERMIT_FIELD_ALIASES.permit_id) as number,
    x,
    y,
    ring: column(GEOMETRY_COLUMNS.ring),
    point: column(GEOMETRY_COLUMNS.point),
    attributes: PERMIT_COLUMNS.map((f) => column(PERMIT_FIELD_ALIASES[f])).filter((c): c is number => c !== null),
  };
}

/** Parses each data row; rows with a bad id, coordinate, block or corner number are reported and left out. */
function readCornerRows(records: CsvRecord[], columns: Columns, problems: Problems): CornerRow[] {
  const corners: CornerRow[] = [];
  const name = (c: number | null): string => columns.names[c as number] as string;
  records.forEach((record, i) => {
    const where = `row ${record.row}`;
    const cell = (c: number | null): string => (c === null ? '' : (record.fields[c] ?? '').trim());
    const bad = (code: string, column: number | null, message: string): void => problems.add(code, where, message, name(column));
    const before = problems.size;
    const permitId = cell(columns.id);
    if (permitId === '') bad('PERMIT.MISSING_FIELD', columns.id, 'is empty');
    const northing = parseNumber(cell(columns.x));
    if (northing === null) bad('PERMIT.INVALID_GEOMETRY', columns.x, `${show(cell(columns.x))} is not a number (northing in metres)`);
    const easting = parseNumber(cell(columns.y));
    if (easting === null) bad('PERMIT.INVALID_GEOMETRY', columns.y, `${show(cell(columns.y))} is not a number (easting in metres)`);
    // Without a block column every corner is block 1; without a corner column the file order counts.
    const block = columns.ring === null ? 1 : parseWholeNumber(cell(columns.ring));
    if (block === null) bad('PERMIT.INVALID_GEOMETRY', columns.ring, `${show(cell(columns.ring))} is not a block number`);
    const point = columns.point === null ? i + 1 : parseWholeNumber(cell(columns.point));
    if (point === null) bad('PERMIT.INVALID_GEOMETRY', columns.point, `${show(cell(columns.point))} is not a corner number`);
    if (problems.size > before || northing === null || easting === null || block === null || point === null) return;
    const values: Record<string, string> = {};
    for (const c of columns.attributes) values[name(c)] = cell(c);
    corners.push({ row: record.row, permitId, block, point, northing, easting, values });
  });
  return corners;
}

function groupBy<K>(rows: CornerRow[], key: (row: CornerRow) => K): Map<K, CornerRow[]> {
  const groups = new Map<K, CornerRow[]>();
  for (const row of rows) {
    const list = groups.get(key(row));
    if (list === undefined) groups.set(key(row), [row]);
    else list.push(row);
  }
  return groups;
}

/** Every corner row of a permit must repeat the same attributes; reports the first that differs per column. */
function checkConsistent(rows: CornerRow[], where: string, problems: Problems): boolean {
  const first = rows[0] as CornerRow;
  let ok = true;
  for (const key of Object.keys(first.values)) {
    const other = rows.find((r) => r.values[key] !== first.values[key]);
    if (other === undefined) continue;
    problems.add(
      'PERMIT.INCONSISTENT',
      where,
      `${show(first.values[key])} in row ${first.row} but ${show(other.values[key])} in row ${other.row}; every corner row of a permit must carry the same value`,
      key,
    );
    ok = false;
  }
  return ok;
}

function zoneName(crs: Crs): string {
  const gk = describeGaussKruger(epsgFromName(crs.code ?? '') ?? 0);
  return gk === null ? String(crs.code) : `zone ${gk.zone} (${crs.code})`;
}

/**
 * The one CRS all corners of a permit are in. Problems with the caller's CRS go to `crsIssues`
 * (reported once per file); swapped columns and mixed zones are reported for the permit.
 */
function permitCrs(
  permitId: string,
  rows: CornerRow[],
  where: string,
  context: { optionCrs: Crs | null; columns: Columns; problems: Problems; crsIssues: { where: string; problem: string }[] },
): Crs | null {
  const { columns, problems } = context;
  // Swapped columns are the commonest mistake with these lists; say so plainly.
  const swapped = rows.find((r) => epsgFromPrefixedEasting(r.northing) !== null && r.easting < 1e7);
  if (swapped !== undefined) {
    problems.add(
      'PERMIT.INVALID_GEOMETRY',
      `row ${swapped.row} (permit_id '${permitId}')`,
      `x ${swapped.northing} looks like an easting with a zone prefix and y ${swapped.easting} like a northing; x must be the northing (X坐标, north) and y the easting (Y坐标)`,
      columns.names[columns.x],
    );
    return null;
  }
  const zones: { row: CornerRow; crs: Crs }[] = [];
  for (const row of rows) {
    const choice = chooseZone(row.easting, context.optionCrs);
    if (choice === 'needs-crs') return null; // reported once for the file by the caller
    if ('problem' in choice) {
      context.crsIssues.push({ where: `row ${row.row} (permit_id '${permitId}')`, problem: choice.problem });
      return null;
    }
    zones.push({ row, crs: choice.crs });
  }
  const first = zones[0] as { row: CornerRow; crs: Crs };
  const other = zones.find((z) => z.crs.code !== first.crs.code);
  if (other !== undefined) {
    problems.add(
      'PERMIT.ZONE_MISMATCH',
      where,
      `the zone prefix differs between corners of one permit: row ${first.row.row} (y ${first.row.easting}) is ${zoneName(first.crs)}, ` +
        `row ${other.row.row} (y ${other.row.easting}) is ${zoneName(other.crs)}`,
      columns.names[columns.y],
    );
    return null;
  }
  return first.crs;
}

/** One lon/lat ring per block, blocks by number and corners by corner number; null after reporting a repeated corner. */
function permitPolygons(permitId: string, rows: CornerRow[], crs: Crs, columns: Columns, problems: Problems): { polygons: Xy[][][]; blocks: number[] } | null {
  const converter = converterFor(crs);
  const byBlock = groupBy(rows, (r) => r.block);
  const blocks = [...byBlock.keys()].sort((a, b) => a - b);
  const polygons: Xy[][][] = [];
  let ok = true;
  for (const block of blocks) {
    const corners = (byBlock.get(block) as CornerRow[]).slice().sort((a, b) => a.point - b.point);
    for (let i = 1; i < corners.length; i++) {
      const a = corners[i - 1] as CornerRow;
      const b = corners[i] as CornerRow;
      if (a.point !== b.point) continue;
      problems.add(
        'PERMIT.INVALID_GEOMETRY',
        `rows ${a.row} and ${b.row} (permit_id '${permitId}')`,
        `both give corner ${a.point} of block ${block}`,
        columns.names[columns.point as number],
      );
      ok = false;
    }
    polygons.push([corners.map((r) => converter.forward([r.easting, r.northing]) as Xy)]);
  }
  return ok ? { polygons, blocks } : null;
}

/**
 * Reads a corner-point CSV into one raw feature per permit, already in lon/lat. Row problems go
 * to `problems`; a file that cannot be read as such a CSV at all throws an input error.
 */
export function readPermitCsv(text: string, file: string, optionCrs: Crs | null, problems: Problems): RawLayer {
  const parsed = parseCsv(text);
  if ('error' in parsed) throw inputError('LAYER.PARSE', `${file}: row ${parsed.row}: ${parsed.error}`, file);
  const [header, ...records] = parsed.records;
  if (header === undefined) return { format: 'csv', crs: { kind: 'lonlat' }, features: [] };
  const columns = findColumns(header.fields, file);
  const corners = readCornerRows(records, columns, problems);

  // Without a prefix and without a CRS no corner can be placed: one message for the file.
  const unplaced = optionCrs === null ? corners.find((r) => r.easting < 1e7 && epsgFromPrefixedEasting(r.northing) === null) : undefined;
  if (unplaced !== undefined) {
    problems.add(
      'LAYER.CRS',
      `row ${unplaced.row}`,
      `easting ${unplaced.easting} has no zone prefix, so the Gauss-Krüger zone is unknown; give the CRS with --permits-crs (e.g. EPSG:4547 for CGCS2000 3° Gauss-Krüger CM 114°E)`,
      columns.names[columns.y],
    );
    return { format: 'csv', crs: { kind: 'lonlat' }, features: [] };
  }

  const features: RawFeature[] = [];
  // A CRS that does not fit the eastings usually fails every permit alike: say it once, with a count.
  const crsIssues: { where: string; problem: string }[] = [];
  for (const [permitId, rows] of groupBy(corners, (r) => r.permitId)) {
    const first = rows[0] as CornerRow;
    const last = rows[rows.length - 1] as CornerRow;
    const where = `${rows.length === 1 ? `row ${first.row}` : `rows ${first.row}–${last.row}`} (permit_id '${permitId}')`;
    const consistent = checkConsistent(rows, where, problems);
    const crs = permitCrs(permitId, rows, where, { optionCrs, columns, problems, crsIssues });
    const shape = crs === null ? null : permitPolygons(permitId, rows, crs, columns, problems);
    if (!consistent || shape === null) continue;
    features.push({
      where,
      geometry: shape.polygons.length === 1 ? { type: 'Polygon', coordinates: shape.polygons[0] } : { type: 'MultiPolygon', coordinates: shape.polygons },
      properties: { ...first.values },
      partLabel: (index) => `block ${shape.blocks[index]}`,
    });
  }
  const firstIssue = crsIssues[0];
  if (firstIssue !== undefined) {
    const more = crsIssues.length > 1 ? ` (the same for ${crsIssues.length - 1} more permit${crsIssues.length > 2 ? 's' : ''})` : '';
    problems.add('LAYER.CRS', firstIssue.where, `${firstIssue.problem}${more}`, columns.names[columns.y]);
  }
  return { format: 'csv', crs: { kind: 'lonlat' }, features };
}
