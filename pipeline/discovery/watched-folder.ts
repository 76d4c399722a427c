/**
 * Finding new scenes in a watched folder: the GeoTIFFs an operator (or a download job) drops into
 * one directory, turned into SceneCandidates from their headers alone.
 *
 * - Only the folder itself is listed, not its subfolders (a download job's staging folder inside it
 *   stays invisible), and only `*.tif` / `*.tiff` files.
 * - Files still being written are left for the next run: modified less than `settleMs` (2 s) ago,
 *   or changed while they were read. Temporary files are never listed: hidden (`.name.tif`,
 *   rsync's staging names), `~name.tif`, `name.part.tif`, `name.tmp.tif` and the like.
 * - Identity is the SHA-256 of the file's bytes (`sha256:<hex>`): a renamed or copied file is the
 *   same scene, a file rewritten in place is a new one. Hashing reads the whole file once.
 * - Headers are read with `openScene` (in its guarded decode worker), so a corrupt or hostile file
 *   is rejected with its reason and the others are still listed.
 * - Date: the GeoTIFF metadata (ACQUISITION_DATE, SENSING_DATE, …), else a YYYYMMDD or YYYY-MM-DD
 *   in the file name (Sentinel-2 product names carry one). A file with neither is rejected.
 * - Cloud cover: GDAL metadata CLOUD_COVERAGE_ASSESSMENT or CLOUDY_PIXEL_PERCENTAGE (what GDAL
 *   exposes from a Sentinel-2 SAFE product), else null. Footprint: the grid's outline in WGS 84.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Polygon, Position } from 'geojson';
import { OrewatchError, isOrewatchError } from '../../errors/index.js';
import { WGS84, createTransform } from '../../geodata/crs.js';
import { openScene, type OpenSceneOptions } from '../../geodata/scene-reader.js';
import type { Grid, SceneInfo } from '../../geodata/types.js';
import { mgrsTileOf } from './stac.js';
import type { SceneCandidate } from './types.js';

export interface WatchedFolderOptions {
  /** Only files modified at or after this time. */
  since?: Date;
  /** Files modified less than this long ago are taken as still being written (default 2000 ms; 0: no such rule). */
  settleMs?: number;
  /** "Now" for the settle rule (default: the clock). */
  now?: Date;
  /** Passed to `openScene` for each header (time and memory limits). */
  openOptions?: OpenSceneOptions;
  /** Files read at a time (default 2): each header read starts a decode worker. */
  concurrency?: number;
}

export interface RejectedFile {
  /** Absolute path. */
  file: string;
  /** OrewatchError code: SCENE.* from the reader, DISCOVERY.* from here. */
  code: string;
  message: string;
}

export interface WatchedFolderListing {
  /** Sorted by acquisition time, then path. */
  candidates: SceneCandidate[];
  /** Sorted by path. */
  rejected: RejectedFile[];
}

const DEFAULT_SETTLE_MS = 2000;
const TIFF_NAME = /\.tiff?$/i;
const TEMPORARY_NAME = /^[.~]|\.(?:tmp|temp|part|partial|crdownload|download|incomplete|writing)\.tiff?$/i;

/** Whether a file name is a GeoTIFF this folder lists (not a temporary one). */
export function isWatchedFileName(name: string): boolean {
  return TIFF_NAME.test(name) && !TEMPORARY_NAME.test(name);
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A calendar date YYYY-MM-DD when the parts make one (years 1970–2100), else null. */
function calendarDate(y: string, m: string, d: string): string | null {
  const year = Number(y), month = Number(m), day = Number(d);
  if (year < 1970 || year > 2100) return null;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day ? `${y}-${m}-${d}` : null;
}

/** The first YYYYMMDD or YYYY-MM-DD in a file name that is a real date. */
export function dateFromFileName(name: string): string | null {
  for (const match of name.matchAll(/(?<!\d)(\d{4})(-?)(\d{2})\2(\d{2})(?!\d)/g)) {
    const date = calendarDate(match[1] as string, match[3] as string, match[4] as string);
    if (date) return date;
  }
  return null;
}

/** A full acquisition time on `date`: from metadata date-times, else a YYYYMMDDTHHMMSS in the name, else midnight UTC. */
function acquiredAtOf(metadata: Record<string, string>, date: string, name: string): string {
  for (const key of ['DATATAKE_1_DATATAKE_SENSING_START', 'SENSING_TIME', 'PRODUCT_START_TIME', 'ACQUISITION_DATE', 'SENSING_DATE', 'DATETIME']) {
    const value = metadata[key]?.trim();
    if (!value || !/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(value)) continue;
    // A time without a zone is UTC for satellite metadata (JavaScript would take it as local).
    const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`;
    const ms = Date.parse(zoned.replace(' ', 'T'));
    if (Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === date) return new Date(ms).toISOString();
  }
  const stamp = /(?<!\d)(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?!\d)/.exec(name);
  if (stamp) {
    const [, y, mo, d, h, mi, s] = stamp as unknown as [string, string, string, string, string, string, string];
    if (calendarDate(y, mo, d) === date && Number(h) < 24 && Number(mi) < 60 && Number(s) < 60) return `${date}T${h}:${mi}:${s}.000Z`;
  }
  return `${date}T00:00:00.000Z`;
}

function cloudCoverOf(metadata: Record<string, string>): number | null {
  for (const key of ['CLOUD_COVERAGE_ASSESSMENT', 'CLOUDY_PIXEL_PERCENTAGE', 'CLOUD_COVER']) {
    const text = metadata[key]?.trim();
    const value = text ? Number(text) : NaN;
    if (Number.isFinite(value) && value >= 0 && value <= 100) return value;
  }
  return null;
}

function tileOf(metadata: Record<string, string>, name: string): string | null {
  const direct = metadata.MGRS_TILE ?? metadata.TILE;
  if (direct) {
    const tile = mgrsTileOf({ 's2:mgrs_tile': direct });
    if (tile) return tile;
  }
  for (const text of [metadata.TILE_ID ?? '', metadata.PRODUCT_URI ?? '', name]) {
    const match = /(?:^|[_.-])T(\d{2}[C-X][A-Z]{2})(?=[_.-]|$)/.exec(text);
    if (match) return match[1] as string;
  }
  return null;
}

function platformOf(metadata: Record<string, string>): string | null {
  const value = metadata.SPACECRAFT_NAME ?? metadata.PLATFORM ?? metadata.SATELLITE;
  return value && value.trim() !== '' ? value.trim().toLowerCase().replace(/\s+/g, '-') : null;
}

/**
 * The outline of a grid in WGS 84 lon/lat: its four edges, each cut into `segments` pieces so
 * that a projected grid's curved edges are followed; counter-clockwise (GeoJSON's right-hand
 * rule). Null when a corner cannot be transformed.
 */
export function gridFootprint(grid: Grid, segments = 8): Polygon | null {
  const toWgs84 = createTransform(grid.crs, WGS84);
  const t = grid.transform;
  const corners: [number, number][] = [[0, 0], [0, grid.height], [grid.width, grid.height], [grid.width, 0]];
  const ring: Position[] = [];
  for (let i = 0; i < 4; i++) {
    const [c0, r0] = corners[i] as [number, number];
    const [c1, r1] = corners[(i + 1) % 4] as [number, number];
    for (let s = 0; s < segments; s++) {
      const col = c0 + ((c1 - c0) * s) / segments, row = r0 + ((r1 - r0) * s) / segments;
      const [lon, lat] = toWgs84.forward(t[0] + col * t[1] + row * t[2], t[3] + col * t[4] + row * t[5]);
      if (!Number.isFinite(lon) || !Number.isFinite(lat)) return null;
      ring.push([lon, lat]);
    }
  }
  let twiceArea = 0;
  for (let i = 0; i < ring.length; i++) {
    const a = ring[i] as Position, b = ring[(i + 1) % ring.length] as Position;
    twiceArea += (a[0] as number) * (b[1] as number) - (b[0] as number) * (a[1] as number);
  }
  if (twiceArea < 0) ring.reverse();
  ring.push([...(ring[0] as Position)]);
  return { type: 'Polygon', coordinates: [ring] };
}

/** A candidate from one file's header; rejections are errors with a DISCOVERY.* or SCENE.* code. */
function candidateOf(path: string, hash: string, info: SceneInfo): SceneCandidate {
  const name = basename(path);
  const date = info.acquisitionDate ?? dateFromFileName(name);
  if (date === null) {
    throw new OrewatchError('DISCOVERY.NO_DATE',
      `${path}: no acquisition date in the GeoTIFF metadata (ACQUISITION_DATE, SENSING_DATE, TIFFTAG_DATETIME) nor a YYYYMMDD / YYYY-MM-DD in the file name`,
      { kind: 'input', file: path });
  }
  return {
    key: `sha256:${hash}`,
    uri: path,
    source: 'folder',
    acquiredAt: acquiredAtOf(info.metadata, date, name),
    date,
    cloudCover: cloudCoverOf(info.metadata),
    footprint: gridFootprint(info.grid),
    tile: tileOf(info.metadata, name),
    platform: platformOf(info.metadata),
  };
}

type FileOutcome = { kind: 'candidate'; candidate: SceneCandidate } | { kind: 'rejected'; rejected: RejectedFile } | { kind: 'busy' };

async function examine(path: string, before: { size: number; mtimeMs: number }, openOptions: OpenSceneOptions): Promise<FileOutcome> {
  const reject = (error: unknown): FileOutcome => ({
    kind: 'rejected',
    rejected: isOrewatchError(error)
      ? { file: path, code: error.code, message: error.message }
      : { file: path, code: 'DISCOVERY.UNREADABLE', message: `${path} cannot be read (${error instanceof Error ? error.message : String(error)})` },
  });
  let hash: string;
  let info: SceneInfo;
  try {
    hash = await sha256Of(path);
    const scene = await openScene(path, openOptions);
    info = scene.info;
    await scene.close();
  } catch (error) {
    // A file that changed under us was still being written: not a verdict on the file.
    if (await changed(path, before)) return { kind: 'busy' };
    return reject(error);
  }
  if (await changed(path, before)) return { kind: 'busy' };
  try {
    return { kind: 'candidate', candidate: candidateOf(path, hash, info) };
  } catch (error) {
    return reject(error);
  }
}

async function changed(path: string, before: { size: number; mtimeMs: number }): Promise<boolean> {
  try {
    const now = await stat(path);
    return now.size !== before.size || now.mtimeMs !== before.mtimeMs;
  } catch {
    return true;
  }
}

function folderError(dir: string, error: unknown): OrewatchError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EIO' || code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN') {
    return new OrewatchError('DISCOVERY.FOLDER_IO', `The watched folder ${dir} could not be listed (${code})`, { kind: 'transient', file: dir, cause: error });
  }
  const reason = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a folder' : code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be listed (${code ?? String(error)})`;
  return new OrewatchError('DISCOVERY.FOLDER_NOT_FOUND', `The watched folder ${dir} ${reason}`, { kind: 'config', file: dir, cause: error });
}

/**
 * Lists the scenes in a watched folder (not its subfolders).
 * @param dir the folder; relative paths are taken from the working directory.
 * @returns candidates (sorted by acquisition time) and rejected files with their reason. Files
 *   still being written, temporary files, files older than `since` and other file types are
 *   left out of both. Two files with the same bytes: the first by name is listed, the other
 *   rejected as DISCOVERY.DUPLICATE.
 * @throws OrewatchError config DISCOVERY.FOLDER_NOT_FOUND, transient DISCOVERY.FOLDER_IO — only
 *   when the folder itself cannot be listed.
 */
export async function listWatchedFolder(dir: string, options: WatchedFolderOptions = {}): Promise<WatchedFolderListing> {
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  if (typeof settleMs !== 'number' || !Number.isFinite(settleMs) || settleMs < 0) {
    throw new OrewatchError('DISCOVERY.INVALID_OPTION', `Expected a number of milliseconds ≥ 0 for settleMs but received ${String(settleMs)}`, { kind: 'input' });
  }
  const concurrency = options.concurrency ?? 2;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new OrewatchError('DISCOVERY.INVALID_OPTION', `Expected a positive integer for concurrency but received ${String(concurrency)}`, { kind: 'input' });
  }
  for (const [name, value] of [['since', options.since], ['now', options.now]] as const) {
    if (value !== undefined && !(value instanceof Date && Number.isFinite(value.getTime()))) {
      throw new OrewatchError('DISCOVERY.INVALID_OPTION', `Expected a valid Date for ${name} but received ${String(value)}`, { kind: 'input' });
    }
  }
  const folder = resolve(dir);
  const nowMs = (options.now ?? new Date()).getTime();
  const sinceMs = options.since?.getTime() ?? -Infinity;

  let names: string[];
  try {
    names = (await readdir(folder, { withFileTypes: true })).filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name);
  } catch (error) {
    throw folderError(folder, error);
  }
  const files: { path: string; size: number; mtimeMs: number }[] = [];
  for (const name of names.filter(isWatchedFileName).sort()) {
    const path = join(folder, name);
    try {
      const s = await stat(path);
      if (!s.isFile() || s.mtimeMs < sinceMs || (settleMs > 0 && nowMs - s.mtimeMs < settleMs)) continue;
      files.push({ path, size: s.size, mtimeMs: s.mtimeMs });
    } catch {
      // Gone between the listing and now (moved away, or a dangling link): nothing to list.
    }
  }

  const outcomes: FileOutcome[] = new Array(files.length);
  let next = 0;
  const openOptions = options.openOptions ?? {};
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, async () => {
    while (next < files.length) {
      const index = next++;
      const file = files[index] as (typeof files)[number];
      outcomes[index] = await examine(file.path, file, openOptions);
    }
  }));

  const candidates: SceneCandidate[] = [];
  const rejected: RejectedFile[] = [];
  const byKey = new Map<string, string>();
  for (const outcome of outcomes) {
    if (outcome.kind === 'rejected') rejected.push(outcome.rejected);
    if (outcome.kind !== 'candidate') continue;
    const { candidate } = outcome;
    const first = byKey.get(candidate.key);
    if (first !== undefined) {
      rejected.push({ file: candidate.uri, code: 'DISCOVERY.DUPLICATE', message: `${candidate.uri} has the same bytes as ${first} (${candidate.key}); only the first is listed` });
      continue;
    }
    byKey.set(candidate.key, candidate.uri);
    candidates.push(candidate);
  }
  candidates.sort((a, b) => (a.acquiredAt < b.acquiredAt ? -1 : a.acquiredAt > b.acquiredAt ? 1 : a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  rejected.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { candidates, rejected };
}
