/**
 * A Sentinel-2 L2A STAC Item as one scene: `openScene('stac:<item URL or path>')`.
 *
 * Sentinel-2 catalogues publish each band as its own single-band cloud-optimized GeoTIFF (an
 * "asset" of the item). This module gathers them behind the ordinary `Scene` interface, so the
 * rest of orewatch sees one scene with the bands it understands (B02, B03, B04, B08, B11, B12,
 * SCL — pipeline/bands.ts aliases) and never learns that they live in seven files:
 *
 * - Asset names: Earth Search v1 (`blue, green, red, nir, swir16, swir22, scl`) and Planetary
 *   Computer / ESA (`B02, B03, B04, B08, B11, B12, SCL`); matched case-insensitively, then by the
 *   asset's `eo:bands[0].name`. B8A (`nir08`) is not B08 and is not used.
 * - Grid: the finest asset's grid (10 m). Coarser assets (20 m B11, B12, SCL) are resampled onto
 *   it window by window: nearest neighbour for SCL (classes cannot be averaged), bilinear for
 *   reflectance — what `gdalwarp -r bilinear` does, and what geodata/pair.ts does between dates,
 *   so a 20 m edge is not a 20 m staircase on the 10 m grid. Pixel centres map to pixel centres;
 *   within half a coarse pixel of the image edge the edge value is held.
 * - Lazy: an asset is opened (its own decode worker, through the ordinary `openScene` with HTTP
 *   range requests) on the first read that needs it, so a scan that uses four bands never touches
 *   the other three. When the item declares every asset's grid (`proj:shape`, `proj:transform`
 *   and `proj:epsg` / `proj:code`), opening the item opens no asset at all; otherwise the finest
 *   asset is opened at once for its grid. A declaration is checked against the file when the
 *   asset is opened (STAC.GRID_MISMATCH, STAC.CRS_MISMATCH).
 * - Scaling: `raster:bands[0].scale` / `.offset` become `info.scales` / `info.offsets`; without
 *   them the scales stay null and bands.ts applies its Sentinel-2 default (DN ÷ 10000). Items of
 *   processing baseline ≥ 04.00 without a declared scale get `BOA_ADD_OFFSET = -1000` in the
 *   metadata (unless `earthsearch:boa_offset_applied` is true), which bands.ts then applies.
 * - `raster:bands[0].nodata` marks pixels invalid, in addition to the file's own GDAL_NODATA.
 *
 * Not supported: overviews (a STAC scene reads at full resolution; `info.overviews` is empty),
 * assets that need signing (Planetary Computer SAS tokens: sign the item first and pass the
 * signed JSON as a file), and hrefs other than http(s), file: URLs and paths.
 *
 * This file imports only types from scene-reader.ts; the opener of the assets is passed in by
 * `openScene`, so there is no import cycle.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OrewatchError, inputError, isOrewatchError } from '../errors/index.js';
import { crsFromCode } from './crs.js';
import type { OpenSceneOptions, ReadWindowOptions, Scene } from './scene-reader.js';
import { DEFAULT_MEMORY_LIMIT_MB, DEFAULT_TIMEOUT_MS, positiveOption, validateWindow } from './scene-options.js';
import type { Crs, GeoTransform, Grid, PixelWindow, SampleType, SceneInfo, WindowPixels } from './types.js';

/** The prefix that makes `openScene` read a STAC Item: `stac:https://…/items/<id>` or `stac:/data/item.json`. */
export const STAC_URI_PREFIX = 'stac:';

/** Opens one asset (a single-band GeoTIFF); `openScene` passes itself. */
export type AssetOpener = (uri: string, options: OpenSceneOptions) => Promise<Scene>;

interface BandSpec {
  /** The name the scene gives the band (pipeline/bands.ts understands it). */
  name: string;
  /** Asset keys that hold it: Earth Search v1, then Planetary Computer / ESA. */
  assetKeys: string[];
  /** Other names accepted in `bandNames` (the CLI's --bands). */
  aliases: string[];
  /** Class band: resampled with nearest neighbour. */
  categorical: boolean;
  /** Sentinel-2's resolution for the band, metres: used when the item says nothing. */
  nominalGsdM: number;
}

/** The bands a STAC item scene exposes, in this order. */
const S2_BANDS: readonly BandSpec[] = [
  { name: 'B02', assetKeys: ['blue', 'B02'], aliases: ['B2', 'BLUE'], categorical: false, nominalGsdM: 10 },
  { name: 'B03', assetKeys: ['green', 'B03'], aliases: ['B3', 'GREEN'], categorical: false, nominalGsdM: 10 },
  { name: 'B04', assetKeys: ['red', 'B04'], aliases: ['B4', 'RED'], categorical: false, nominalGsdM: 10 },
  { name: 'B08', assetKeys: ['nir', 'B08'], aliases: ['B8', 'NIR'], categorical: false, nominalGsdM: 10 },
  { name: 'B11', assetKeys: ['swir16', 'B11'], aliases: ['SWIR1'], categorical: false, nominalGsdM: 20 },
  { name: 'B12', assetKeys: ['swir22', 'B12'], aliases: ['SWIR2'], categorical: false, nominalGsdM: 20 },
  { name: 'SCL', assetKeys: ['scl', 'SCL'], aliases: [], categorical: true, nominalGsdM: 20 },
];

/** A STAC Item is a few tens of kilobytes; anything near this is not one. */
const MAX_ITEM_BYTES = 16 * 1024 * 1024;
const SAMPLE_TYPES: readonly SampleType[] = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64'];

/** One band of the scene and the asset that holds it. */
interface AssetPlan {
  band: BandSpec;
  key: string;
  /** Resolved: absolute URL or path. */
  href: string;
  scale: number | null;
  offset: number | null;
  nodata: number | null;
  dataType: SampleType | null;
  gsdM: number;
  /** From proj:shape / proj:transform / proj:epsg, when the item declares all three. */
  declared: Grid | null;
}

/** An asset once opened: the file, its band, and how its pixels land on the scene grid. */
interface OpenedAsset {
  scene: Scene;
  bandName: string;
  mode: { kind: 'aligned'; col: number; row: number } | { kind: 'resampled' };
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finiteNumber(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function shown(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}


// ---- reading the item ----------------------------------------------------------------------

function isHttp(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

function localPath(location: string): string {
  return location.startsWith('file:') ? fileURLToPath(location) : resolvePath(location);
}

/** The item's JSON text, from an http(s) URL, a file: URL or a path. */
async function loadItemText(location: string, timeoutMs: number): Promise<string> {
  if (!isHttp(location)) {
    let path: string;
    try {
      path = localPath(location);
    } catch (error) {
      throw inputError('STAC.ITEM_NOT_FOUND', `STAC item ${location} is not a usable path or file URL`, location, error);
    }
    try {
      const text = await readFile(path, 'utf8');
      if (text.length > MAX_ITEM_BYTES) throw inputError('STAC.INVALID_ITEM', `STAC item ${location} is ${text.length} bytes, far too large for an item (limit ${MAX_ITEM_BYTES})`, location);
      return text;
    } catch (error) {
      if (isOrewatchError(error)) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw inputError('STAC.ITEM_NOT_FOUND', `STAC item file ${location} does not exist`, location, error);
      if (code === 'EISDIR') throw inputError('STAC.ITEM_NOT_FOUND', `STAC item ${location} is a directory, not an item JSON file`, location, error);
      throw inputError('STAC.ITEM_UNREADABLE', `STAC item file ${location} cannot be read (${code ?? String(error)})`, location, error);
    }
  }
  let response: Response;
  try {
    response = await fetch(location, { headers: { Accept: 'application/geo+json, application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const reason = error instanceof Error && error.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : `failed (${causeText(error)})`;
    throw new OrewatchError('STAC.NETWORK', `Request for STAC item ${location} ${reason}`, { kind: 'transient', file: location, cause: error });
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    const status = response.status;
    if (status === 404 || status === 410) throw inputError('STAC.ITEM_NOT_FOUND', `STAC item ${location} was not found (HTTP ${status})`, location);
    if (status === 408 || status === 429 || status >= 500) {
      throw new OrewatchError('STAC.NETWORK', `Server for STAC item ${location} answered HTTP ${status}`, { kind: 'transient', file: location });
    }
    throw inputError('STAC.ITEM_UNREADABLE', `STAC item ${location} cannot be read (HTTP ${status})`, location);
  }
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > MAX_ITEM_BYTES) {
    await response.body?.cancel().catch(() => undefined);
    throw inputError('STAC.INVALID_ITEM', `STAC item ${location} is ${declared} bytes, far too large for an item (limit ${MAX_ITEM_BYTES})`, location);
  }
  try {
    return await response.text();
  } catch (error) {
    throw new OrewatchError('STAC.NETWORK', `Reading STAC item ${location} failed (${causeText(error)})`, { kind: 'transient', file: location, cause: error });
  }
}

function causeText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}

/** An asset href made absolute: URLs relative to an http(s) item, paths relative to an item file. */
function resolveHref(href: string, itemLocation: string, what: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(href)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') return href;
  if (scheme === 'file') {
    try {
      return fileURLToPath(href);
    } catch (error) {
      throw inputError('STAC.INVALID_ITEM', `${what}: href ${shown(href)} is not a usable file URL`, itemLocation, error);
    }
  }
  // One-letter "schemes" are Windows drive letters; anything else (s3:, gs:, …) cannot be read here.
  if (scheme !== undefined && scheme.length > 1) {
    throw inputError('STAC.UNSUPPORTED_HREF', `${what}: href ${shown(href)} uses the ${scheme}: scheme; orewatch reads assets over http(s) or from files (use the item's https href)`, itemLocation);
  }
  if (isHttp(itemLocation)) return new URL(href, itemLocation).href;
  if (isAbsolute(href)) return href;
  return resolvePath(dirname(localPath(itemLocation)), href);
}

function sampleTypeOf(value: unknown): SampleType | null {
  return typeof value === 'string' && (SAMPLE_TYPES as readonly string[]).includes(value) ? (value as SampleType) : null;
}

/** The CRS an asset or the item declares: `proj:epsg` (projection extension 1.x) or `proj:code` (2.x). */
function declaredCrs(asset: Json, properties: Json, what: string, location: string): Crs | null {
  const epsg = asset['proj:epsg'] ?? properties['proj:epsg'];
  const code = asset['proj:code'] ?? properties['proj:code'];
  if (typeof epsg === 'number' && Number.isInteger(epsg)) return crsOrError(`EPSG:${epsg}`, what, location);
  if (typeof code === 'string' && /^EPSG:\d+$/i.test(code.trim())) return crsOrError(code.trim(), what, location);
  return null;
}

function crsOrError(code: string, what: string, location: string): Crs {
  try {
    return crsFromCode(code);
  } catch (error) {
    throw inputError('STAC.INVALID_ITEM', `${what}: proj:epsg / proj:code ${code} is not a CRS orewatch knows`, location, error);
  }
}

/**
 * The grid an asset declares: `proj:shape` [rows, cols] and `proj:transform` (rasterio / Affine
 * order [a, b, c, d, e, f]: x = a·col + b·row + c, y = d·col + e·row + f), asset-level first, then
 * item-level. Null when any part is missing.
 */
function declaredGrid(asset: Json, properties: Json, what: string, location: string): Grid | null {
  const shape = asset['proj:shape'] ?? properties['proj:shape'];
  const transform = asset['proj:transform'] ?? properties['proj:transform'];
  if (shape === undefined || transform === undefined) return null;
  const crs = declaredCrs(asset, properties, what, location);
  if (crs === null) return null;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((v) => Number.isSafeInteger(v) && (v as number) > 0)) {
    throw inputError('STAC.INVALID_ITEM', `${what}: expected [rows, cols] of positive integers for proj:shape but received ${shown(shape)}`, location);
  }
  if (!Array.isArray(transform) || (transform.length !== 6 && transform.length !== 9) || !transform.every((v) => finiteNumber(v) !== null)) {
    throw inputError('STAC.INVALID_ITEM', `${what}: expected 6 or 9 numbers for proj:transform but received ${shown(transform)}`, location);
  }
  const [a, b, c, d, e, f] = transform as number[];
  const geo: GeoTransform = [c as number, a as number, b as number, f as number, d as number, e as number];
  if ((a as number) * (e as number) - (b as number) * (d as number) === 0) {
    throw inputError('STAC.INVALID_ITEM', `${what}: proj:transform ${shown(transform)} is singular`, location);
  }
  return { width: shape[1] as number, height: shape[0] as number, crs, transform: geo };
}

/** Pixel size of a grid in CRS units (the length of a column step). */
function pixelSize(grid: Grid): number {
  return Math.hypot(grid.transform[1], grid.transform[4]);
}

function sameCrs(a: Crs, b: Crs): boolean {
  if (a.code && b.code) return a.code.toUpperCase() === b.code.toUpperCase();
  return a.proj4.replace(/\s+/g, ' ').trim() === b.proj4.replace(/\s+/g, ' ').trim();
}

function crsName(crs: Crs): string {
  return crs.code ?? crs.proj4;
}

/** Finds the asset of each band: by key (case-insensitive), then by `eo:bands[0].name`. */
function findAsset(assets: Json, band: BandSpec): [string, Json] | null {
  const entries = Object.entries(assets).filter((entry): entry is [string, Json] => isObject(entry[1]));
  for (const key of band.assetKeys) {
    const hit = entries.find(([k]) => k.toLowerCase() === key.toLowerCase());
    if (hit) return hit;
  }
  const wanted = new Set([band.name, ...band.assetKeys.filter((k) => k.toLowerCase() !== 'nir')].map((n) => n.toLowerCase()));
  for (const entry of entries) {
    const eo = entry[1]['eo:bands'];
    const first = Array.isArray(eo) ? eo[0] : undefined;
    const name = isObject(first) ? first.name : undefined;
    if (typeof name === 'string' && wanted.has(name.toLowerCase())) return entry;
  }
  return null;
}

/** The exposed band a `bandNames` entry means, by band name, alias or asset key. */
function bandForName(name: string): BandSpec | null {
  const upper = name.trim().toUpperCase();
  return S2_BANDS.find((b) => b.name === upper || b.aliases.includes(upper) || b.assetKeys.some((k) => k.toUpperCase() === upper)) ?? null;
}

/** What the item says, checked; errors name the item and the field. */
interface ParsedItem {
  id: string;
  collection: string | null;
  properties: Json;
  acquisitionDate: string;
  assets: AssetPlan[];
}

function parseItem(text: string, location: string, bandNames: string[] | undefined): ParsedItem {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw inputError('STAC.INVALID_JSON', `STAC item ${location} is not valid JSON (${error instanceof Error ? error.message : String(error)})`, location, error);
  }
  if (!isObject(json)) throw inputError('STAC.INVALID_ITEM', `STAC item ${location}: expected a JSON object (a GeoJSON Feature) but received ${shown(json).slice(0, 80)}`, location);
  if (json.type !== undefined && json.type !== 'Feature') {
    throw inputError('STAC.INVALID_ITEM', `STAC item ${location}: expected "Feature" for type but received ${shown(json.type)} (is this a collection or a search result?)`, location);
  }
  const id = json.id;
  if (typeof id !== 'string' || id === '') throw inputError('STAC.INVALID_ITEM', `STAC item ${location}: expected a non-empty string for id but received ${shown(id)}`, location);
  const itemName = `STAC item "${id}" (${location})`;
  const properties = json.properties;
  if (!isObject(properties)) throw inputError('STAC.INVALID_ITEM', `${itemName}: expected an object for properties but received ${shown(properties)}`, location);
  const datetimeField = properties.datetime !== null && properties.datetime !== undefined ? 'datetime' : 'start_datetime';
  const datetime = properties[datetimeField];
  const parsed = typeof datetime === 'string' ? Date.parse(datetime) : NaN;
  if (!Number.isFinite(parsed)) {
    throw inputError('STAC.INVALID_ITEM', `${itemName}: expected an RFC 3339 date-time for properties.${datetimeField} but received ${shown(datetime)}`, location);
  }
  const assets = json.assets;
  if (!isObject(assets)) throw inputError('STAC.INVALID_ITEM', `${itemName}: expected an object for assets but received ${shown(assets)}`, location);

  // Which bands the scene exposes: those asked for (each must exist), else every one the item has.
  let wanted: BandSpec[];
  if (bandNames && bandNames.length > 0) {
    wanted = [];
    for (const name of bandNames) {
      const band = bandForName(name);
      if (!band) {
        throw inputError('SCENE.BAND_NAMES', `${itemName}: band "${name}" is not one a Sentinel-2 STAC item provides; use ${S2_BANDS.map((b) => b.name).join(', ')}`, location);
      }
      if (!findAsset(assets, band)) throw missingAsset(itemName, band, assets, location);
      if (!wanted.includes(band)) wanted.push(band);
    }
  } else {
    wanted = S2_BANDS.filter((band) => findAsset(assets, band) !== null);
    if (wanted.length === 0) {
      throw inputError('STAC.MISSING_ASSET', `${itemName} has none of the Sentinel-2 band assets (${S2_BANDS.map((b) => b.assetKeys.join('/')).join(', ')}); its assets are ${Object.keys(assets).join(', ') || 'none'}`, location);
    }
  }

  const plans = wanted.map((band): AssetPlan => {
    const [key, asset] = findAsset(assets, band) as [string, Json];
    const what = `${itemName}, asset "${key}"`;
    if (typeof asset.href !== 'string' || asset.href === '') {
      throw inputError('STAC.INVALID_ITEM', `${what}: expected a non-empty string for href but received ${shown(asset.href)}`, location);
    }
    const rasterBands = asset['raster:bands'];
    const raster = Array.isArray(rasterBands) && isObject(rasterBands[0]) ? rasterBands[0] : {};
    const gsd = finiteNumber(asset.gsd) ?? finiteNumber(raster.spatial_resolution);
    const declared = declaredGrid(asset, properties, what, location);
    return {
      band,
      key,
      href: resolveHref(asset.href, location, what),
      scale: finiteNumber(raster.scale),
      offset: finiteNumber(raster.offset),
      nodata: finiteNumber(raster.nodata),
      dataType: sampleTypeOf(raster.data_type),
      gsdM: declared ? pixelSize(declared) : gsd !== null && gsd > 0 ? gsd : band.nominalGsdM,
      declared,
    };
  });
  return {
    id,
    collection: typeof json.collection === 'string' ? json.collection : null,
    properties,
    acquisitionDate: new Date(parsed).toISOString().slice(0, 10),
    assets: plans,
  };
}

function missingAsset(itemName: string, band: BandSpec, assets: Json, location: string): OrewatchError {
  return inputError('STAC.MISSING_ASSET',
    `${itemName} has no asset for band ${band.name} (looked for ${band.assetKeys.map((k) => `"${k}"`).join(' or ')}); its assets are ${Object.keys(assets).join(', ') || 'none'}`,
    location);
}

/** Dataset metadata: provenance of the item and what bands.ts needs for scaling. */
function itemMetadata(item: ParsedItem, location: string): Record<string, string> {
  const p = item.properties;
  const metadata: Record<string, string> = { STAC_ITEM_ID: item.id, STAC_ITEM: location };
  if (item.collection) metadata.STAC_COLLECTION = item.collection;
  const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : null);
  const put = (name: string, value: unknown): void => {
    const t = text(value);
    if (t !== null) metadata[name] = t;
  };
  put('DATETIME', p.datetime ?? p.start_datetime);
  put('CLOUD_COVER', p['eo:cloud_cover']);
  const grid = text(p['grid:code']);
  put('MGRS_TILE', p['s2:mgrs_tile'] ?? (grid ? grid.replace(/^MGRS-/i, '') : null));
  put('PLATFORM', p.platform);
  put('PROCESSING_BASELINE', p['s2:processing_baseline']);
  for (const asset of item.assets) {
    metadata[`STAC_ASSET:${asset.band.name}`] = asset.key;
    metadata[`HREF:${asset.band.name}`] = asset.href;
  }
  // Baseline 04.00 on stores DN + 1000; without a declared offset bands.ts applies this one.
  const baseline = Number(text(p['s2:processing_baseline']));
  const unscaled = item.assets.some((a) => !a.band.categorical && a.scale === null);
  if (unscaled && Number.isFinite(baseline) && baseline >= 4 && p['earthsearch:boa_offset_applied'] !== true) {
    metadata.BOA_ADD_OFFSET = '-1000';
  }
  return metadata;
}

// ---- the scene -----------------------------------------------------------------------------

function inverse(t: GeoTransform): (x: number, y: number) => [number, number] {
  const det = t[1] * t[5] - t[2] * t[4];
  return (x, y) => {
    const dx = x - t[0], dy = y - t[3];
    return [(t[5] * dx - t[2] * dy) / det, (-t[4] * dx + t[1] * dy) / det];
  };
}

/** True when `asset` is the scene grid shifted by whole pixels; then pixels are read as they are. */
function alignment(scene: Grid, asset: Grid): { col: number; row: number } | null {
  const s = scene.transform, a = asset.transform;
  const tol = 1e-6 * Math.max(Math.abs(s[1]), Math.abs(s[5]));
  if (Math.abs(s[1] - a[1]) > tol || Math.abs(s[5] - a[5]) > tol || Math.abs(s[2] - a[2]) > tol || Math.abs(s[4] - a[4]) > tol) return null;
  const [col, row] = inverse(s)(a[0], a[3]);
  if (Math.abs(col - Math.round(col)) > 1e-3 || Math.abs(row - Math.round(row)) > 1e-3) return null;
  // Offset of the scene grid in the asset's pixels.
  return { col: -Math.round(col), row: -Math.round(row) };
}

function sameGrid(a: Grid, b: Grid): boolean {
  const tol = 1e-6 * Math.max(Math.abs(a.transform[1]), Math.abs(a.transform[5]), 1);
  return a.width === b.width && a.height === b.height && a.transform.every((v, i) => Math.abs(v - (b.transform[i] as number)) <= (i === 0 || i === 3 ? 1e-3 : tol));
}


/**
 * Scene pixel (col, row) → asset pixel (col, row), both fractional with pixel centres at +0.5:
 * ac = c0 + cc·col + cr·row, ar = r0 + rc·col + rr·row. Affine, because both grids are affine in
 * the same CRS.
 */
interface PixelMap {
  c0: number; cc: number; cr: number;
  r0: number; rc: number; rr: number;
}

function pixelMap(scene: GeoTransform, asset: GeoTransform): PixelMap {
  const toAsset = inverse(asset);
  const at = (col: number, row: number): [number, number] => toAsset(scene[0] + col * scene[1] + row * scene[2], scene[3] + col * scene[4] + row * scene[5]);
  const [c0, r0] = at(0, 0), [c1, r1] = at(1, 0), [c2, r2] = at(0, 1);
  return { c0, cc: c1 - c0, cr: c2 - c0, r0, rc: r1 - r0, rr: r2 - r0 };
}

/**
 * Resamples one band of `src` (read from the asset grid at `src.col`, `src.row`) onto `window` of
 * the scene grid. Bilinear only where all four neighbours are valid, else the nearest pixel if it
 * is valid; nearest only for categorical bands. Pixels outside the asset image are invalid.
 */
function resampleBand(
  src: { values: Float32Array; valid: Uint8Array; width: number; height: number; col: number; row: number },
  window: PixelWindow,
  map: PixelMap,
  assetSize: { width: number; height: number },
  categorical: boolean,
): { values: Float32Array; valid: Uint8Array } {
  const { width, height } = window;
  const values = new Float32Array(width * height);
  const valid = new Uint8Array(width * height);
  const sw = src.width, sh = src.height;
  for (let y = 0; y < height; y++) {
    const row = window.row + y + 0.5;
    for (let x = 0; x < width; x++) {
      const col = window.col + x + 0.5;
      const ac = map.c0 + map.cc * col + map.cr * row, ar = map.r0 + map.rc * col + map.rr * row;
      // Outside the asset image: no data.
      if (!(ac >= 0 && ar >= 0 && ac <= assetSize.width && ar <= assetSize.height)) continue;
      const c = ac - 0.5 - src.col, r = ar - 0.5 - src.row;
      const c0 = Math.max(0, Math.min(sw - 1, Math.floor(c))), r0 = Math.max(0, Math.min(sh - 1, Math.floor(r)));
      const c1 = Math.min(sw - 1, c0 + 1), r1 = Math.min(sh - 1, r0 + 1);
      const nc = Math.max(0, Math.min(sw - 1, Math.floor(ac - src.col))), nr = Math.max(0, Math.min(sh - 1, Math.floor(ar - src.row)));
      const nearest = nr * sw + nc;
      const p = y * width + x;
      if (categorical) {
        if (src.valid[nearest]) {
          valid[p] = 1;
          values[p] = src.values[nearest] as number;
        }
        continue;
      }
      const k00 = r0 * sw + c0, k01 = r0 * sw + c1, k10 = r1 * sw + c0, k11 = r1 * sw + c1;
      if (src.valid[k00] && src.valid[k01] && src.valid[k10] && src.valid[k11]) {
        const fx = Math.max(0, Math.min(1, c - c0)), fy = Math.max(0, Math.min(1, r - r0));
        const v = src.values;
        values[p] = ((v[k00] as number) * (1 - fx) + (v[k01] as number) * fx) * (1 - fy) + ((v[k10] as number) * (1 - fx) + (v[k11] as number) * fx) * fy;
        valid[p] = 1;
      } else if (src.valid[nearest]) {
        values[p] = src.values[nearest] as number;
        valid[p] = 1;
      }
    }
  }
  return { values, valid };
}

/**
 * Opens a Sentinel-2 L2A STAC Item (URL, file: URL or path, without the `stac:` prefix) as one
 * scene. Called by `openScene` for `stac:` URIs, which passes itself as `openAsset`.
 * @param options `bandNames` selects the bands the scene exposes (B02…SCL, their aliases or asset
 *   keys; each must have an asset, STAC.MISSING_ASSET otherwise): only those assets can ever be
 *   opened. `timeoutMs` limits the item request and each asset call; `memoryLimitMb` applies to
 *   each asset's decode worker and to the output of one read.
 * @throws OrewatchError — input: STAC.ITEM_NOT_FOUND, STAC.ITEM_UNREADABLE, STAC.INVALID_JSON,
 *   STAC.INVALID_ITEM, STAC.MISSING_ASSET, STAC.UNSUPPORTED_HREF, STAC.CRS_MISMATCH,
 *   SCENE.BAND_NAMES; transient: STAC.NETWORK. Asset errors keep the code of `openScene`, with the
 *   item and asset named in the message.
 */
export async function openStacItemScene(location: string, options: OpenSceneOptions, openAsset: AssetOpener): Promise<Scene> {
  const uri = `${STAC_URI_PREFIX}${location}`;
  if (location.trim() === '') throw inputError('STAC.ITEM_NOT_FOUND', `Expected a URL or path after "stac:" but received ${JSON.stringify(uri)}`, uri);
  const timeoutMs = positiveOption('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS);
  const memoryLimitMb = positiveOption('memoryLimitMb', options.memoryLimitMb, DEFAULT_MEMORY_LIMIT_MB);
  const item = parseItem(await loadItemText(location, timeoutMs), location, options.bandNames);
  const itemName = `STAC item "${item.id}" (${location})`;
  const assetOptions: OpenSceneOptions = { timeoutMs, memoryLimitMb };

  const openedAssets = new Map<string, Promise<OpenedAsset>>();
  const settled: Promise<unknown>[] = [];

  /** Asset errors keep their code and kind; the message gains the item and the asset. */
  const inAsset = (plan: AssetPlan, error: unknown): unknown => {
    if (!isOrewatchError(error)) return error;
    return new OrewatchError(error.code, `${itemName}, asset "${plan.key}": ${error.message}`, { kind: error.kind, file: error.file ?? plan.href, cause: error });
  };

  // The scene grid: the finest declared grid, or the finest asset's own grid.
  let grid: Grid;
  let reference: { plan: AssetPlan; scene: Scene } | null = null;
  const finest = [...item.assets].sort((a, b) => a.gsdM - b.gsdM || (a.band.categorical ? 1 : 0) - (b.band.categorical ? 1 : 0))[0] as AssetPlan;
  if (item.assets.every((a) => a.declared !== null)) {
    grid = finest.declared as Grid;
  } else {
    let scene: Scene;
    try {
      scene = await openAsset(finest.href, assetOptions);
    } catch (error) {
      throw inAsset(finest, error);
    }
    reference = { plan: finest, scene };
    grid = scene.info.grid;
  }
  for (const plan of item.assets) {
    if (plan.declared && !sameCrs(plan.declared.crs, grid.crs)) {
      if (reference) await reference.scene.close();
      throw inputError('STAC.CRS_MISMATCH', `${itemName}, asset "${plan.key}": declares ${crsName(plan.declared.crs)} but the scene grid is in ${crsName(grid.crs)}; every band asset must share one CRS`, location);
    }
  }

  const reflectance = item.assets.filter((a) => !a.band.categorical);
  const typed = reflectance.find((a) => a.dataType !== null)?.dataType ?? null;
  // Sentinel-2 L2A stores reflectance as uint16; that is what bands.ts must assume without a declaration.
  const sampleType: SampleType = typed ?? (reference && !reference.plan.band.categorical ? reference.scene.info.sampleType : 'uint16');
  const nodatas = reflectance.map((a) => a.nodata);
  const commonNodata = nodatas.length > 0 && nodatas.every((n) => n !== null && n === nodatas[0]) ? (nodatas[0] as number) : null;

  const info: SceneInfo = {
    uri,
    grid,
    bands: item.assets.map((a) => a.band.name),
    sampleType,
    nodata: commonNodata ?? (reference ? reference.scene.info.nodata : null),
    scales: item.assets.map((a) => a.scale),
    offsets: item.assets.map((a) => (a.scale === null ? null : a.offset)),
    acquisitionDate: item.acquisitionDate,
    metadata: itemMetadata(item, location),
    overviews: [],
    byteLength: null,
  };

  const plans = new Map(item.assets.map((a) => [a.band.name, a] as const));
  let closed = false;

  /** Opens an asset once and checks that it is a single band on the scene's CRS and its declared grid. */
  const assetFor = (plan: AssetPlan): Promise<OpenedAsset> => {
    const existing = openedAssets.get(plan.key);
    if (existing) return existing;
    const opening = (async (): Promise<OpenedAsset> => {
      let scene: Scene;
      if (reference && reference.plan === plan) scene = reference.scene;
      else {
        try {
          scene = await openAsset(plan.href, assetOptions);
        } catch (error) {
          throw inAsset(plan, error);
        }
      }
      try {
        const actual = scene.info.grid;
        if (scene.info.bands.length !== 1) {
          throw inputError('STAC.INVALID_ASSET', `${itemName}, asset "${plan.key}": expected a single-band GeoTIFF but ${plan.href} has ${scene.info.bands.length} bands`, plan.href);
        }
        if (!sameCrs(actual.crs, grid.crs)) {
          throw inputError('STAC.CRS_MISMATCH', `${itemName}, asset "${plan.key}": ${plan.href} is in ${crsName(actual.crs)} but the scene grid is in ${crsName(grid.crs)}; every band asset must share one CRS`, plan.href);
        }
        if (plan.declared && !sameGrid(plan.declared, actual)) {
          throw inputError('STAC.GRID_MISMATCH',
            `${itemName}, asset "${plan.key}": ${plan.href} is ${actual.width} × ${actual.height} px at [${actual.transform.join(', ')}] but the item declares ${plan.declared.width} × ${plan.declared.height} px at [${plan.declared.transform.join(', ')}] (proj:shape / proj:transform)`,
            plan.href);
        }
        const offset = alignment(grid, actual);
        const opened: OpenedAsset = {
          scene,
          bandName: scene.info.bands[0] as string,
          mode: offset ? { kind: 'aligned', ...offset } : { kind: 'resampled' },
        };
        if (closed) await scene.close();
        return opened;
      } catch (error) {
        await scene.close().catch(() => undefined);
        throw error;
      }
    })();
    openedAssets.set(plan.key, opening);
    settled.push(opening.catch(() => undefined));
    // A failed open (a network blip) is tried again on the next read.
    opening.catch(() => {
      if (openedAssets.get(plan.key) === opening) openedAssets.delete(plan.key);
    });
    return opening;
  };
  // The asset already open for the grid is checked now, so a bad one fails the open.
  if (reference) await assetFor(reference.plan);

  /** One band of `window` on the scene grid, resampled when its asset is on another grid. */
  const readBand = async (plan: AssetPlan, window: PixelWindow): Promise<{ values: Float32Array; valid: Uint8Array }> => {
    const asset = await assetFor(plan);
    const declaredNodata = plan.nodata;
    const read = async (w: PixelWindow): Promise<WindowPixels> => {
      try {
        const px = await asset.scene.readWindow(w, [asset.bandName]);
        if (declaredNodata !== null) {
          const v = px.bands[asset.bandName] as Float32Array;
          for (let i = 0; i < v.length; i++) if (v[i] === declaredNodata) px.valid[i] = 0;
        }
        return px;
      } catch (error) {
        throw inAsset(plan, error);
      }
    };
    if (asset.mode.kind === 'aligned') {
      const px = await read({ ...window, col: window.col + asset.mode.col, row: window.row + asset.mode.row });
      return { values: px.bands[asset.bandName] as Float32Array, valid: px.valid };
    }
    const assetGrid = asset.scene.info.grid;
    const map = pixelMap(grid.transform, assetGrid.transform);
    // The asset pixels under the window (its corners; the map is affine), one pixel of margin.
    let minC = Infinity, minR = Infinity, maxC = -Infinity, maxR = -Infinity;
    for (const [c, r] of [[window.col, window.row], [window.col + window.width, window.row], [window.col, window.row + window.height], [window.col + window.width, window.row + window.height]] as const) {
      const ac = map.c0 + map.cc * c + map.cr * r, ar = map.r0 + map.rc * c + map.rr * r;
      minC = Math.min(minC, ac); maxC = Math.max(maxC, ac); minR = Math.min(minR, ar); maxR = Math.max(maxR, ar);
    }
    const col0 = Math.max(0, Math.floor(minC) - 1), row0 = Math.max(0, Math.floor(minR) - 1);
    const col1 = Math.min(assetGrid.width, Math.ceil(maxC) + 1), row1 = Math.min(assetGrid.height, Math.ceil(maxR) + 1);
    if (col1 <= col0 || row1 <= row0) return { values: new Float32Array(window.width * window.height), valid: new Uint8Array(window.width * window.height) };
    const px = await read({ col: col0, row: row0, width: col1 - col0, height: row1 - row0 });
    return resampleBand(
      { values: px.bands[asset.bandName] as Float32Array, valid: px.valid, width: px.width, height: px.height, col: col0, row: row0 },
      window, map, assetGrid, plan.band.categorical);
  };

  return {
    info,
    async readWindow(window: PixelWindow, bands?: string[], readOptions: ReadWindowOptions = {}): Promise<WindowPixels> {
      if (closed) throw inputError('SCENE.CLOSED', `Scene ${uri} was closed`, uri);
      validateWindow(uri, window);
      const names = bands && bands.length > 0 ? [...new Set(bands)] : info.bands;
      const wanted = names.map((name) => {
        const plan = plans.get(name);
        if (!plan) throw inputError('SCENE.UNKNOWN_BAND', `${uri} has no band "${name}"; its bands are ${info.bands.join(', ')}`, uri);
        return plan;
      });
      if (readOptions.overview !== undefined) {
        throw inputError('SCENE.UNKNOWN_OVERVIEW', `${uri} has 0 overview(s); overview ${String(readOptions.overview)} does not exist (STAC item scenes read at full resolution)`, uri);
      }
      const pixels = window.width * window.height;
      if (pixels * (wanted.length * 4 + 1) > memoryLimitMb * 1024 * 1024) {
        throw inputError('SCENE.WINDOW_TOO_LARGE', `A window of ${window.width} × ${window.height} pixels × ${wanted.length} bands of ${uri} exceeds the ${memoryLimitMb} MiB limit; read it in smaller windows`, uri);
      }
      const results = await Promise.all(wanted.map((plan) => readBand(plan, window)));
      const valid = new Uint8Array(pixels).fill(1);
      const out: Record<string, Float32Array> = {};
      results.forEach((result, i) => {
        out[names[i] as string] = result.values;
        for (let p = 0; p < pixels; p++) if (!result.valid[p]) valid[p] = 0;
      });
      return { window: { ...window }, width: window.width, height: window.height, bands: out, valid };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all(settled);
      const scenes = await Promise.all([...openedAssets.values()].map((p) => p.then((a) => a.scene, () => null)));
      if (reference && !scenes.includes(reference.scene)) scenes.push(reference.scene);
      await Promise.all(scenes.map((s) => s?.close().catch(() => undefined)));
    },
  };
}
