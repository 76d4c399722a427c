/**
 * A small STAC API on 127.0.0.1 (random port) for the discovery and STAC-scene tests: a landing
 * page, item search (`POST /search` and `GET /search`: collections, intersects / bbox, datetime,
 * the query extension's eo:cloud_cover, limit, paging by `next` links of three styles), single
 * items at `/collections/<c>/items/<id>`, and files of one folder at `/assets/<name>` with HTTP
 * Range support. It counts requests and bytes served per asset, and can be told to fail (status,
 * body, delay) for matching paths.
 *
 * Spatial filtering compares bounding boxes only, which is all the tests need. Results are sorted
 * newest first, as Earth Search and the Planetary Computer return them, so that clients must sort.
 *
 * Also builds plausible Sentinel-2 L2A items in Earth Search v1 and Planetary Computer style
 * (`makeS2Item`).
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import type { GeoTransform } from '../../geodata/types.js';
import { serveFile } from './range-server.js';

export type StacItemJson = Record<string, unknown> & { id: string; collection?: string; properties: Record<string, unknown> };

/** How the server writes its `next` links. */
export type NextLinkStyle = 'get' | 'post-merge' | 'post-body';

export interface StacServerOptions {
  items?: StacItemJson[];
  /** Folder served at /assets/<name>. */
  assetsDir?: string;
  /** Default 'post-merge' (stac-fastapi, Earth Search). GET searches always page with GET links. */
  nextLink?: NextLinkStyle;
  /** Whether the `query` extension is applied (default true); when false it is ignored, as some servers do. */
  supportsQuery?: boolean;
}

export interface Fault {
  status: number;
  body?: string;
  contentType?: string;
  /** Wait this long before answering (to test client timeouts). */
  delayMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  range: string | null;
  body: unknown;
}

export interface StacServer {
  /** Root URL, without a trailing slash. */
  readonly url: string;
  itemUrl(collection: string, id: string): string;
  assetUrl(name: string): string;
  addItems(items: StacItemJson[]): void;
  nextLink: NextLinkStyle;
  supportsQuery: boolean;
  /** Answer requests whose path (with query) contains `match` (or matches it) with `fault`, `times` times. */
  fault(match: string | RegExp, fault: Fault, times?: number): void;
  clearFaults(): void;
  readonly requests: RecordedRequest[];
  /** Bytes of asset files served (one asset, or all). */
  bytesServed(asset?: string): number;
  resetCounters(): void;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
type Bbox = [number, number, number, number];

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Bounding box of any GeoJSON geometry's coordinates. */
function bboxOfGeometry(geometry: unknown): Bbox | null {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const visit = (value: unknown): void => {
    if (!Array.isArray(value)) return;
    if (typeof value[0] === 'number' && typeof value[1] === 'number') {
      minX = Math.min(minX, value[0]); maxX = Math.max(maxX, value[0]);
      minY = Math.min(minY, value[1]); maxY = Math.max(maxY, value[1]);
      return;
    }
    for (const v of value) visit(v);
  };
  if (isObject(geometry)) {
    visit(geometry.coordinates);
    if (Array.isArray(geometry.geometries)) for (const g of geometry.geometries) if (isObject(g)) visit(g.coordinates);
  }
  return minX === Infinity ? null : [minX, minY, maxX, maxY];
}

function itemBbox(item: StacItemJson): Bbox | null {
  const b = item.bbox;
  if (Array.isArray(b) && b.length === 4) return b as Bbox;
  return bboxOfGeometry(item.geometry);
}

function overlaps(a: Bbox, b: Bbox): boolean {
  return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

function itemTime(item: StacItemJson): number {
  const p = item.properties;
  return Date.parse(String(p.datetime ?? p.start_datetime ?? ''));
}

/** The search parameters of a POST body or a GET query string, in one shape. */
interface SearchParams {
  collections: string[] | null;
  bbox: Bbox | null;
  datetime: string | null;
  limit: number;
  token: number;
  query: Json | null;
  ids: string[] | null;
}

function paramsFromBody(body: Json): SearchParams {
  const bbox = Array.isArray(body.bbox) ? (body.bbox as Bbox) : body.intersects ? bboxOfGeometry(body.intersects) : null;
  return {
    collections: Array.isArray(body.collections) ? body.collections.map(String) : null,
    bbox,
    datetime: typeof body.datetime === 'string' ? body.datetime : null,
    limit: typeof body.limit === 'number' ? body.limit : 10,
    token: body.token !== undefined ? Number(body.token) : 0,
    query: isObject(body.query) ? body.query : null,
    ids: Array.isArray(body.ids) ? body.ids.map(String) : null,
  };
}

function paramsFromQuery(query: URLSearchParams): SearchParams {
  const list = (name: string): string[] | null => (query.has(name) ? (query.get(name) as string).split(',').filter((s) => s !== '') : null);
  const intersects = query.get('intersects');
  const bbox = list('bbox');
  return {
    collections: list('collections'),
    bbox: bbox ? (bbox.map(Number) as Bbox) : intersects ? bboxOfGeometry(JSON.parse(intersects)) : null,
    datetime: query.get('datetime'),
    limit: query.has('limit') ? Number(query.get('limit')) : 10,
    token: query.has('token') ? Number(query.get('token')) : 0,
    query: query.has('query') ? (JSON.parse(query.get('query') as string) as Json) : null,
    ids: list('ids'),
  };
}

function inDatetime(item: StacItemJson, datetime: string | null): boolean {
  if (!datetime) return true;
  const t = itemTime(item);
  const [from, to] = datetime.includes('/') ? datetime.split('/') : [datetime, datetime];
  if (from && from !== '..' && t < Date.parse(from)) return false;
  if (to && to !== '..' && t > Date.parse(to)) return false;
  return true;
}

function matchesQuery(item: StacItemJson, query: Json | null): boolean {
  if (!query) return true;
  for (const [field, ops] of Object.entries(query)) {
    if (!isObject(ops)) continue;
    const value = item.properties[field];
    if (typeof value !== 'number') return false;
    for (const [op, limit] of Object.entries(ops)) {
      const n = Number(limit);
      if ((op === 'lte' && !(value <= n)) || (op === 'lt' && !(value < n)) || (op === 'gte' && !(value >= n))
        || (op === 'gt' && !(value > n)) || (op === 'eq' && value !== n)) return false;
    }
  }
  return true;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, value: unknown, type = 'application/json'): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) }).end(text);
}

export async function startStacServer(options: StacServerOptions = {}): Promise<StacServer> {
  const items: StacItemJson[] = [...(options.items ?? [])];
  const faults: { match: string | RegExp; fault: Fault; left: number }[] = [];
  const requests: RecordedRequest[] = [];
  const bytesByAsset = new Map<string, number>();
  let base = '';

  const withLinks = (item: StacItemJson): StacItemJson => {
    const collection = item.collection ?? 'unknown';
    return {
      ...item,
      links: [
        { rel: 'self', type: 'application/geo+json', href: `${base}/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(item.id)}` },
        { rel: 'collection', type: 'application/json', href: `${base}/collections/${encodeURIComponent(collection)}` },
        { rel: 'root', type: 'application/json', href: `${base}/` },
      ],
    };
  };

  const search = (res: ServerResponse, params: SearchParams, method: 'GET' | 'POST', postBody: Json | null, query: URLSearchParams): void => {
    const matching = items
      .filter((item) => !params.collections || params.collections.includes(item.collection ?? ''))
      .filter((item) => !params.ids || params.ids.includes(item.id))
      .filter((item) => {
        if (!params.bbox) return true;
        const b = itemBbox(item);
        return b !== null && overlaps(b, params.bbox);
      })
      .filter((item) => inDatetime(item, params.datetime))
      .filter((item) => !server.supportsQuery || matchesQuery(item, params.query))
      .sort((a, b) => itemTime(b) - itemTime(a) || (a.id < b.id ? -1 : 1));
    const limit = Math.max(1, Math.min(100, params.limit));
    const page = matching.slice(params.token, params.token + limit);
    const links: Json[] = [{ rel: 'root', href: `${base}/` }];
    const nextToken = params.token + limit;
    if (nextToken < matching.length) {
      if (method === 'GET' || server.nextLink === 'get') {
        const q = new URLSearchParams(query);
        if (method === 'POST' && postBody) {
          for (const [k, v] of Object.entries(postBody)) {
            if (k === 'token') continue;
            q.set(k, Array.isArray(v) && k !== 'intersects' ? v.join(',') : typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v));
          }
        }
        q.set('token', String(nextToken));
        links.push({ rel: 'next', type: 'application/geo+json', method: 'GET', href: `${base}/search?${q.toString()}` });
      } else if (server.nextLink === 'post-merge') {
        links.push({ rel: 'next', type: 'application/geo+json', method: 'POST', href: `${base}/search`, body: { token: nextToken }, merge: true });
      } else {
        links.push({ rel: 'next', type: 'application/geo+json', method: 'POST', href: `${base}/search`, body: { ...(postBody ?? {}), token: nextToken }, merge: false });
      }
    }
    sendJson(res, 200, { type: 'FeatureCollection', features: page.map(withLinks), links, context: { returned: page.length, matched: matching.length } }, 'application/geo+json');
  };

  const serveAsset = (req: IncomingMessage, res: ServerResponse, name: string): void => {
    const file = options.assetsDir ? join(options.assetsDir, basename(name)) : '';
    if (!file || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    serveFile(req, res, file, (n) => void bytesByAsset.set(name, (bytesByAsset.get(name) ?? 0) + n));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const text = req.method === 'POST' ? await readBody(req) : '';
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    requests.push({ method: req.method ?? 'GET', path: `${path}${url.search}`, range: req.headers.range ?? null, body });

    const fault = faults.find((f) => f.left > 0 && (typeof f.match === 'string' ? `${path}${url.search}`.includes(f.match) : f.match.test(`${path}${url.search}`)));
    if (fault) {
      fault.left -= 1;
      if (fault.fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.fault.delayMs));
      if (res.destroyed) return;
      const payload = fault.fault.body ?? `{"code":"Error","description":"injected ${fault.fault.status}"}`;
      res.writeHead(fault.fault.status, { 'Content-Type': fault.fault.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(payload) }).end(payload);
      return;
    }

    if (path === '/' && req.method === 'GET') {
      sendJson(res, 200, {
        type: 'Catalog', id: 'orewatch-test', stac_version: '1.0.0', description: 'Test STAC API',
        conformsTo: ['https://api.stacspec.org/v1.0.0/core', 'https://api.stacspec.org/v1.0.0/item-search', 'https://api.stacspec.org/v1.0.0/item-search#query'],
        links: [
          { rel: 'self', href: `${base}/` },
          { rel: 'root', href: `${base}/` },
          { rel: 'search', type: 'application/geo+json', method: 'GET', href: `${base}/search` },
          { rel: 'search', type: 'application/geo+json', method: 'POST', href: `${base}/search` },
          { rel: 'data', href: `${base}/collections` },
        ],
      });
      return;
    }
    if (path === '/search') {
      if (req.method === 'POST') {
        if (!isObject(body)) {
          sendJson(res, 400, { code: 'BadRequest', description: 'body is not a JSON object' });
          return;
        }
        search(res, paramsFromBody(body), 'POST', body, new URLSearchParams());
        return;
      }
      search(res, paramsFromQuery(url.searchParams), 'GET', null, url.searchParams);
      return;
    }
    const itemMatch = /^\/collections\/([^/]+)\/items\/([^/]+)$/.exec(path);
    if (itemMatch && req.method === 'GET') {
      const collection = decodeURIComponent(itemMatch[1] as string), id = decodeURIComponent(itemMatch[2] as string);
      const item = items.find((i) => i.id === id && (i.collection ?? 'unknown') === collection);
      if (!item) sendJson(res, 404, { code: 'NotFoundError', description: `Item ${id} in collection ${collection} does not exist.` });
      else sendJson(res, 200, withLinks(item), 'application/geo+json');
      return;
    }
    const assetMatch = /^\/assets\/([^/]+)$/.exec(path);
    if (assetMatch && (req.method === 'GET' || req.method === 'HEAD')) {
      serveAsset(req, res, decodeURIComponent(assetMatch[1] as string));
      return;
    }
    sendJson(res, 404, { code: 'NotFoundError', description: `${path} not found` });
  };

  const http: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const server: StacServer = {
    url: base,
    itemUrl: (collection, id) => `${base}/collections/${encodeURIComponent(collection)}/items/${encodeURIComponent(id)}`,
    assetUrl: (name) => `${base}/assets/${encodeURIComponent(name)}`,
    addItems: (more) => void items.push(...more),
    nextLink: options.nextLink ?? 'post-merge',
    supportsQuery: options.supportsQuery ?? true,
    fault: (match, fault, times = Number.POSITIVE_INFINITY) => void faults.push({ match, fault, left: times }),
    clearFaults: () => void faults.splice(0),
    requests,
    bytesServed: (asset) => (asset === undefined ? [...bytesByAsset.values()].reduce((a, b) => a + b, 0) : bytesByAsset.get(asset) ?? 0),
    resetCounters: () => {
      requests.splice(0);
      bytesByAsset.clear();
    },
    close: () => new Promise<void>((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    }),
  };
  return server;
}

// ---- Sentinel-2 items -----------------------------------------------------------------------

export type S2Band = 'B02' | 'B03' | 'B04' | 'B08' | 'B11' | 'B12' | 'SCL';

/** Earth Search v1 asset keys of each band. */
export const EARTH_SEARCH_KEYS: Record<S2Band, string> = { B02: 'blue', B03: 'green', B04: 'red', B08: 'nir', B11: 'swir16', B12: 'swir22', SCL: 'scl' };

export interface S2AssetSpec {
  href: string;
  /** The asset's grid, written as proj:shape / proj:transform / proj:epsg. */
  grid?: { epsg: number; width: number; height: number; transform: GeoTransform };
  scale?: number;
  offset?: number;
  nodata?: number;
  dataType?: string;
}

export interface S2ItemSpec {
  id: string;
  collection?: string;
  datetime: string | null;
  cloudCover?: number;
  /** [west, south, east, north] in degrees: the footprint. */
  bbox: [number, number, number, number];
  tile?: string;
  platform?: string;
  /** Earth Search v1 (`blue`, `raster:bands`, `grid:code`) or Planetary Computer (`B02`, `s2:mgrs_tile`). */
  style?: 'earth-search' | 'planetary';
  assets?: Partial<Record<S2Band, S2AssetSpec>>;
  properties?: Record<string, unknown>;
}

/** A plausible Sentinel-2 L2A STAC item. GDAL geotransforms become rasterio-order proj:transform. */
export function makeS2Item(spec: S2ItemSpec): StacItemJson {
  const style = spec.style ?? 'earth-search';
  const [w, s, e, n] = spec.bbox;
  const properties: Record<string, unknown> = {
    datetime: spec.datetime,
    platform: spec.platform ?? (style === 'earth-search' ? 'sentinel-2b' : 'Sentinel-2B'),
    constellation: 'sentinel-2',
    instruments: ['msi'],
    ...(spec.cloudCover !== undefined ? { 'eo:cloud_cover': spec.cloudCover } : {}),
    ...(spec.tile ? (style === 'earth-search' ? { 'grid:code': `MGRS-${spec.tile}` } : { 's2:mgrs_tile': spec.tile }) : {}),
    's2:processing_baseline': '05.10',
    ...(spec.properties ?? {}),
  };
  const assets: Record<string, unknown> = {};
  for (const [band, asset] of Object.entries(spec.assets ?? {}) as [S2Band, S2AssetSpec][]) {
    const key = style === 'earth-search' ? EARTH_SEARCH_KEYS[band] : band;
    const entry: Record<string, unknown> = {
      href: asset.href,
      type: 'image/tiff; application=geotiff; profile=cloud-optimized',
      roles: ['data'],
      'eo:bands': [{ name: style === 'earth-search' ? key : band }],
    };
    if (asset.grid) {
      const t = asset.grid.transform;
      entry['proj:shape'] = [asset.grid.height, asset.grid.width];
      entry['proj:transform'] = [t[1], t[2], t[0], t[4], t[5], t[3]];
      entry['proj:epsg'] = asset.grid.epsg;
      entry.gsd = Math.abs(t[1]);
    }
    if (asset.scale !== undefined || asset.offset !== undefined || asset.nodata !== undefined || asset.dataType !== undefined) {
      entry['raster:bands'] = [{
        ...(asset.nodata !== undefined ? { nodata: asset.nodata } : {}),
        ...(asset.dataType !== undefined ? { data_type: asset.dataType } : {}),
        ...(asset.scale !== undefined ? { scale: asset.scale } : {}),
        ...(asset.offset !== undefined ? { offset: asset.offset } : {}),
      }];
    }
    assets[key] = entry;
  }
  return {
    type: 'Feature',
    stac_version: '1.0.0',
    stac_extensions: [],
    id: spec.id,
    collection: spec.collection ?? 'sentinel-2-l2a',
    bbox: [w, s, e, n],
    geometry: { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] },
    properties,
    assets,
    links: [],
  };
}
