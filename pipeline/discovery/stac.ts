/**
 * Finding new scenes in a STAC API (Earth Search, Planetary Computer, a local stac-fastapi): an
 * item search over an area and a time range, page after page, turned into SceneCandidates whose
 * `uri` opens the item as one scene (`stac:<item URL>`, geodata/stac-item-scene.ts).
 *
 * The search is `POST {apiUrl}/search` with `collections`, `intersects`, `datetime`, `limit` and,
 * when a cloud limit is given, the query extension's `{"eo:cloud_cover": {"lte": N}}`. Not every
 * server implements `query`, so the cloud limit is applied again here. Paging follows the
 * `rel: "next"` link as the STAC API spec describes it: a GET href, or a POST with its own body
 * (`merge: true` merges it into the previous body, as stac-fastapi and Earth Search send it).
 *
 * Failures say what to do about them: network errors, timeouts, HTTP 408 / 429 / 5xx are transient
 * (STAC.NETWORK, retried by the caller); other HTTP errors, bad JSON and items without an id or a
 * datetime are input errors naming the URL and the field.
 */
import type { Geometry, MultiPolygon, Polygon } from 'geojson';
import { OrewatchError, inputError } from '../../errors/index.js';
import type { SceneCandidate } from './types.js';

export interface StacSearchOptions {
  /** Root of the STAC API, e.g. `https://earth-search.aws.element84.com/v1`. */
  apiUrl: string;
  /** Collection ids, e.g. `['sentinel-2-l2a']`. */
  collections: string[];
  /** Area of interest, a GeoJSON geometry in lon/lat (EPSG:4326). */
  intersects: Geometry;
  /**
   * Acquisition time range, inclusive; either end may be left open. A date alone (`2024-01-31`)
   * means the whole day: from its first, to its last millisecond (UTC).
   */
  datetime?: { from?: string | Date; to?: string | Date };
  /** Largest cloud cover kept, percent (0–100). Items without eo:cloud_cover are kept (unknown). */
  maxCloudCover?: number;
  /** Items per page asked of the server (default 100). */
  limit?: number;
  /** Stop after this many items (default 1000): received order, before sorting. */
  maxItems?: number;
  /** Limit for each HTTP request, milliseconds (default 30 000). */
  timeoutMs?: number;
  /** Replaces the global fetch (tests, proxies, signing). */
  fetch?: typeof fetch;
}

type Json = Record<string, unknown>;

interface PageRequest {
  method: 'GET' | 'POST';
  url: string;
  body: Json | null;
  headers: Record<string, string>;
}

const DEFAULT_LIMIT = 100;
const DEFAULT_MAX_ITEMS = 1000;
const DEFAULT_TIMEOUT_MS = 30_000;
/** A server that keeps sending `next` links past this many pages is broken, not large. */
const MAX_PAGES = 10_000;
const GEOMETRY_TYPES = ['Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon', 'GeometryCollection'];

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shown(value: unknown): string {
  try {
    const text = typeof value === 'string' ? `"${value}"` : JSON.stringify(value) ?? String(value);
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    return String(value);
  }
}

function invalidOption(name: string, what: string, value: unknown): OrewatchError {
  return inputError('STAC.INVALID_OPTION', `Expected ${what} for ${name} but received ${shown(value)}`);
}

/** An RFC 3339 instant for one end of the range; a bare date covers its whole day. */
function instant(name: string, value: string | Date | undefined, end: 'from' | 'to'): string | null {
  if (value === undefined) return null;
  if (value instanceof Date) {
    if (!Number.isFinite(value.getTime())) throw invalidOption(name, 'a valid Date', String(value));
    return value.toISOString();
  }
  if (typeof value !== 'string') throw invalidOption(name, 'an ISO date or date-time', value);
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== value) throw invalidOption(name, 'an ISO date or date-time', value);
    return end === 'from' ? `${value}T00:00:00Z` : `${value}T23:59:59.999Z`;
  }
  const ms = Date.parse(value);
  if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}T/.test(value)) throw invalidOption(name, 'an ISO date or date-time', value);
  return new Date(ms).toISOString();
}

function positiveInteger(name: string, value: number | undefined, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw invalidOption(name, `an integer from 1 to ${max}`, value);
  return value;
}

/** The options, checked once; the first page's request. */
function firstRequest(options: StacSearchOptions): { request: PageRequest; apiUrl: string; maxCloudCover: number | null; maxItems: number; timeoutMs: number; fetcher: typeof fetch } {
  if (typeof options.apiUrl !== 'string' || !/^https?:\/\/[^/]/i.test(options.apiUrl)) throw invalidOption('apiUrl', 'an http(s) URL', options.apiUrl);
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  const collections = options.collections;
  if (!Array.isArray(collections) || collections.length === 0 || !collections.every((c) => typeof c === 'string' && c.trim() !== '')) {
    throw invalidOption('collections', 'a non-empty array of collection ids', collections);
  }
  const geometry = options.intersects;
  if (!isObject(geometry) || typeof geometry.type !== 'string' || !GEOMETRY_TYPES.includes(geometry.type)
    || !(Array.isArray((geometry as Json).coordinates) || Array.isArray((geometry as Json).geometries))) {
    throw invalidOption('intersects', 'a GeoJSON geometry in lon/lat', geometry);
  }
  const maxCloudCover = options.maxCloudCover ?? null;
  if (maxCloudCover !== null && (typeof maxCloudCover !== 'number' || !(maxCloudCover >= 0 && maxCloudCover <= 100))) {
    throw invalidOption('maxCloudCover', 'a percentage from 0 to 100', maxCloudCover);
  }
  const limit = positiveInteger('limit', options.limit, DEFAULT_LIMIT, 10_000);
  const maxItems = positiveInteger('maxItems', options.maxItems, DEFAULT_MAX_ITEMS);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) throw invalidOption('timeoutMs', 'a positive number of milliseconds', timeoutMs);
  const from = instant('datetime.from', options.datetime?.from, 'from');
  const to = instant('datetime.to', options.datetime?.to, 'to');
  if (from !== null && to !== null && Date.parse(from) > Date.parse(to)) throw invalidOption('datetime', 'from ≤ to', options.datetime);
  const fetcher = options.fetch ?? globalThis.fetch;
  if (typeof fetcher !== 'function') throw invalidOption('fetch', 'a fetch function', fetcher);

  const body: Json = { collections: [...collections], intersects: geometry, limit };
  if (from !== null || to !== null) body.datetime = `${from ?? '..'}/${to ?? '..'}`;
  if (maxCloudCover !== null) body.query = { 'eo:cloud_cover': { lte: maxCloudCover } };
  return {
    request: { method: 'POST', url: `${apiUrl}/search`, body, headers: {} },
    apiUrl, maxCloudCover, maxItems, timeoutMs, fetcher,
  };
}

function causeText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}

/** One page: the parsed JSON object, or an error that says whether to retry. */
async function fetchPage(request: PageRequest, fetcher: typeof fetch, timeoutMs: number): Promise<Json> {
  const what = `STAC search ${request.method} ${request.url}`;
  let response: Response;
  let text: string;
  try {
    response = await fetcher(request.url, {
      method: request.method,
      headers: {
        Accept: 'application/geo+json, application/json',
        ...(request.body ? { 'Content-Type': 'application/json' } : {}),
        ...request.headers,
      },
      ...(request.body ? { body: JSON.stringify(request.body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const reason = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError') ? `timed out after ${timeoutMs} ms` : `failed (${causeText(error)})`;
    throw new OrewatchError('STAC.NETWORK', `${what} ${reason}`, { kind: 'transient', file: request.url, cause: error });
  }
  if (!response.ok) {
    const status = response.status;
    const detail = text.trim().replace(/\s+/g, ' ').slice(0, 200);
    if (status === 408 || status === 429 || status >= 500) {
      throw new OrewatchError('STAC.NETWORK', `${what} answered HTTP ${status}${detail ? `: ${detail}` : ''}`, { kind: 'transient', file: request.url });
    }
    throw inputError('STAC.HTTP', `${what} answered HTTP ${status}${detail ? `: ${detail}` : ''}`, request.url);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw inputError('STAC.INVALID_JSON', `${what} did not answer JSON (${error instanceof Error ? error.message : String(error)}): ${shown(text.slice(0, 80))}`, request.url, error);
  }
  if (!isObject(json) || !Array.isArray(json.features)) {
    throw inputError('STAC.INVALID_RESPONSE', `${what}: expected an ItemCollection with an array for features but received ${shown(isObject(json) ? json.features : json)}`, request.url);
  }
  return json;
}

/** The request for the `next` link of a page, or null on the last page. */
function nextRequest(page: Json, current: PageRequest): PageRequest | null {
  const links = Array.isArray(page.links) ? page.links : [];
  const link = links.find((l): l is Json => isObject(l) && l.rel === 'next' && typeof l.href === 'string');
  if (!link) return null;
  let url: string;
  try {
    url = new URL(link.href as string, current.url).href;
  } catch (error) {
    throw inputError('STAC.INVALID_RESPONSE', `STAC search ${current.url}: links[rel=next].href ${shown(link.href)} is not a URL`, current.url, error);
  }
  const method = typeof link.method === 'string' && link.method.toUpperCase() === 'POST' ? 'POST' : 'GET';
  const linkHeaders: Record<string, string> = {};
  if (isObject(link.headers)) for (const [k, v] of Object.entries(link.headers)) if (typeof v === 'string') linkHeaders[k] = v;
  if (method === 'GET') return { method, url, body: null, headers: link.merge === true ? { ...current.headers, ...linkHeaders } : linkHeaders };
  const linkBody = isObject(link.body) ? link.body : null;
  // merge: the link's fields over the previous request; without merge its body replaces it
  // (a POST link without any body can only mean "the same body again").
  const body = link.merge === true ? { ...(current.body ?? {}), ...(linkBody ?? {}) } : linkBody ?? current.body ?? {};
  const headers = link.merge === true ? { ...current.headers, ...linkHeaders } : linkHeaders;
  return { method, url, body, headers };
}

/** Footprint from the item's geometry, else its bbox; null when it has neither. */
function footprintOf(feature: Json): Polygon | MultiPolygon | null {
  const geometry = feature.geometry;
  if (isObject(geometry) && (geometry.type === 'Polygon' || geometry.type === 'MultiPolygon') && Array.isArray(geometry.coordinates)) {
    return geometry as unknown as Polygon | MultiPolygon;
  }
  const bbox = feature.bbox;
  if (Array.isArray(bbox) && (bbox.length === 4 || bbox.length === 6) && bbox.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    const half = bbox.length / 2;
    const [w, s, e, n] = [bbox[0], bbox[1], bbox[half], bbox[half + 1]] as number[];
    return { type: 'Polygon', coordinates: [[[w as number, s as number], [e as number, s as number], [e as number, n as number], [w as number, n as number], [w as number, s as number]]] };
  }
  return null;
}

/**
 * The MGRS tile of a Sentinel-2 item, e.g. `50RKV`: `s2:mgrs_tile` (Planetary Computer), `grid:code`
 * (`MGRS-50RKV`, Earth Search v1), or the `mgrs:*` triple.
 */
export function mgrsTileOf(properties: Json): string | null {
  const normalize = (text: string): string | null => {
    const match = /^(?:MGRS-)?T?(\d{1,2})([C-X])([A-Z]{2})$/i.exec(text.trim());
    return match ? `${(match[1] as string).padStart(2, '0')}${(match[2] as string).toUpperCase()}${(match[3] as string).toUpperCase()}` : null;
  };
  for (const field of ['s2:mgrs_tile', 'grid:code']) {
    const value = properties[field];
    if (typeof value === 'string') {
      const tile = normalize(value);
      if (tile) return tile;
    }
  }
  const zone = properties['mgrs:utm_zone'], band = properties['mgrs:latitude_band'], square = properties['mgrs:grid_square'];
  if ((typeof zone === 'number' || typeof zone === 'string') && typeof band === 'string' && typeof square === 'string') return normalize(`${zone}${band}${square}`);
  return null;
}

/** One search result as a candidate; errors name the page URL and the field. */
function candidateOf(feature: unknown, index: number, pageUrl: string, apiUrl: string, collections: string[]): SceneCandidate {
  const field = (name: string): string => `features[${index}].${name}`;
  const bad = (name: string, what: string, value: unknown): OrewatchError =>
    inputError('STAC.INVALID_ITEM', `STAC search ${pageUrl}: expected ${what} for ${field(name)} but received ${shown(value)}`, pageUrl);
  if (!isObject(feature)) throw inputError('STAC.INVALID_ITEM', `STAC search ${pageUrl}: expected an item object for features[${index}] but received ${shown(feature)}`, pageUrl);
  const id = feature.id;
  if (typeof id !== 'string' || id === '') throw bad('id', 'a non-empty string', id);
  const properties = feature.properties;
  if (!isObject(properties)) throw bad('properties', 'an object', properties);
  const datetimeField = properties.datetime !== null && properties.datetime !== undefined ? 'datetime' : 'start_datetime';
  const datetime = properties[datetimeField];
  const ms = typeof datetime === 'string' ? Date.parse(datetime) : NaN;
  if (!Number.isFinite(ms)) throw bad(`properties.${datetimeField}`, 'an RFC 3339 date-time', datetime);
  let collection = feature.collection;
  if (collection === undefined && collections.length === 1) collection = collections[0];
  if (typeof collection !== 'string' || collection === '') throw bad('collection', 'a collection id', collection);
  const cloud = properties['eo:cloud_cover'];
  const self = Array.isArray(feature.links)
    ? feature.links.find((l): l is Json => isObject(l) && l.rel === 'self' && typeof l.href === 'string')
    : undefined;
  let itemUrl = `${apiUrl}/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}`;
  if (self) {
    try {
      const url = new URL(self.href as string, pageUrl);
      if (url.protocol === 'http:' || url.protocol === 'https:') itemUrl = url.href;
    } catch {
      // A broken self link: the item's canonical address is just as good.
    }
  }
  const acquiredAt = new Date(ms).toISOString();
  return {
    key: `stac:${collection}/${id}`,
    uri: `stac:${itemUrl}`,
    source: 'stac',
    acquiredAt,
    date: acquiredAt.slice(0, 10),
    cloudCover: typeof cloud === 'number' && Number.isFinite(cloud) ? cloud : null,
    footprint: footprintOf(feature),
    tile: mgrsTileOf(properties),
    platform: typeof properties.platform === 'string' && properties.platform !== '' ? properties.platform.toLowerCase() : null,
  };
}

/**
 * Searches a STAC API for scenes over an area, following every `next` page.
 * @returns candidates sorted by acquisition time (then key), each item once, at most `maxItems`.
 * @throws OrewatchError — transient STAC.NETWORK (network, timeout, HTTP 408/429/5xx); input
 *   STAC.INVALID_OPTION, STAC.HTTP (other HTTP errors), STAC.INVALID_JSON, STAC.INVALID_RESPONSE,
 *   STAC.INVALID_ITEM (an item without id, datetime or collection), STAC.PAGING_LOOP.
 */
export async function searchStac(options: StacSearchOptions): Promise<SceneCandidate[]> {
  const { request: first, apiUrl, maxCloudCover, maxItems, timeoutMs, fetcher } = firstRequest(options);
  const found = new Map<string, SceneCandidate>();
  const seen = new Set<string>();
  let request: PageRequest | null = first;
  while (request !== null && found.size < maxItems) {
    const signature = `${request.method} ${request.url} ${JSON.stringify(request.body)}`;
    if (seen.has(signature) || seen.size >= MAX_PAGES) {
      throw inputError('STAC.PAGING_LOOP', `STAC search ${request.url}: the server's next link repeats a page already read (or passes ${MAX_PAGES} pages); the results would be incomplete`, request.url);
    }
    seen.add(signature);
    const page = await fetchPage(request, fetcher, timeoutMs);
    const features = page.features as unknown[];
    for (let i = 0; i < features.length && found.size < maxItems; i++) {
      const candidate = candidateOf(features[i], i, request.url, apiUrl, options.collections);
      if (maxCloudCover !== null && candidate.cloudCover !== null && candidate.cloudCover > maxCloudCover) continue;
      if (!found.has(candidate.key)) found.set(candidate.key, candidate);
    }
    request = features.length === 0 ? null : nextRequest(page, request);
  }
  return [...found.values()].sort((a, b) => (a.acquiredAt < b.acquiredAt ? -1 : a.acquiredAt > b.acquiredAt ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
