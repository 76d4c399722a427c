/**
 * The map of one alert, drawn from the alert's own scenes (no outside tiles): a wider before/after
 * window in true and false colour (map-imagery.ts) with the outlines around the alert — the
 * alert, permits, closed sites, protected areas, counties — projected into its pixel space, where
 * they sit exactly on the imagery; and the detail panel's chips, rendered by the evidence-image
 * code the PDF report uses. Rendering reads the scenes, so results are cached per alert and scan, and at most two
 * renders run at once.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../pipeline/store/database.js';
import type { AreaGeometry } from '../pipeline/types.js';
import { renderEvidenceImages, type EvidenceImages } from '../workers/export/evidence-images.js';
import { renderMapImagery, type MapImagery } from './map-imagery.js';

export interface MapOverlay {
  kind: 'alert' | 'permits' | 'closed_sites' | 'protected_areas' | 'jurisdictions';
  id: string;
  label: string;
  /** Permits: valid on the alert's date? Drawn dashed, invalid ones red. */
  valid?: boolean;
  /** Rings in image pixels (x right, y down). */
  rings: [number, number][][];
}

export interface AlertMap {
  available: true;
  width: number;
  height: number;
  before_date: string;
  after_date: string;
  overlays: MapOverlay[];
}

interface ScanRow {
  scan_id: string;
  before_uri: string;
  after_uri: string;
  before_date: string;
  after_date: string;
  request: { bands?: string[] } | null;
  layers: { kind: string; layerId: number }[];
}

const CACHE_SIZE = 48;
const cache = new Map<string, Promise<unknown>>();
let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= 2) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** One render per alert, scan, geometry and kind, kept in a small LRU; failures are not kept. */
function cached<T>(kind: 'chips' | 'map', scan: ScanRow, alertId: string, geometry: AreaGeometry, render: () => Promise<T>): Promise<T> {
  const key = `${kind}|${alertId}|${scan.scan_id}|${createHash('sha1').update(JSON.stringify(geometry)).digest('hex')}`;
  let hit = cache.get(key) as Promise<T> | undefined;
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  hit = limited(render);
  hit.catch(() => cache.delete(key));
  cache.set(key, hit);
  while (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return hit;
}

const sceneOf = (scan: ScanRow) => ({ before: scan.before_uri, after: scan.after_uri, bands: scan.request?.bands ?? null });

function chipsFor(scan: ScanRow, alertId: string, geometry: AreaGeometry): Promise<EvidenceImages> {
  return cached('chips', scan, alertId, geometry, () => renderEvidenceImages(sceneOf(scan), geometry));
}

function mapFor(scan: ScanRow, alertId: string, geometry: AreaGeometry): Promise<MapImagery> {
  return cached('map', scan, alertId, geometry, () => renderMapImagery(sceneOf(scan), geometry));
}

async function lastScan(db: Queryable, alertId: string): Promise<ScanRow | null> {
  const { rows } = await db.query<ScanRow>(
    `SELECT s.scan_id, s.before_uri, s.after_uri, s.before_date::text AS before_date, s.after_date::text AS after_date, s.request, s.layers
       FROM alerts a JOIN scans s ON s.scan_id = a.last_scan_id WHERE a.alert_id = $1`, [alertId]);
  return rows[0] ?? null;
}

function ringsOf(g: AreaGeometry): number[][][] {
  return g.type === 'Polygon' ? g.coordinates : g.coordinates.flat();
}

/** The map of an alert whose scope the caller has checked. Null when its scenes cannot be read. */
export async function alertMap(db: Queryable, alert: { alert_id: string; geometry: AreaGeometry; bbox: [number, number, number, number] }): Promise<AlertMap | { available: false; reason: string }> {
  const scan = await lastScan(db, alert.alert_id);
  if (!scan) return { available: false, reason: 'the alert names no scan' };
  let images: MapImagery;
  try {
    images = await mapFor(scan, alert.alert_id, alert.geometry);
  } catch (error) {
    return { available: false, reason: `the scenes of scan ${scan.scan_id} cannot be read: ${(error as Error).message}` };
  }
  const project = (g: AreaGeometry) => ringsOf(g).map((ring) => ring.map(([lon, lat]) => {
    const [x, y] = images.toImage(lon, lat);
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10] as [number, number];
  }));
  // Reference features near the alert (~1.5 km), from the layer versions the scan judged against.
  const [w, s, e, n] = alert.bbox;
  const pad = 0.015;
  const layerIds = (scan.layers ?? []).map((l) => l.layerId);
  const { rows } = layerIds.length === 0 ? { rows: [] } : await db.query<{ kind: MapOverlay['kind']; feature_id: string; properties: Record<string, unknown>; geometry: AreaGeometry }>(
    `SELECT l.kind, f.feature_id, f.properties, f.geometry FROM layer_features f JOIN layers l ON l.layer_id = f.layer_id
      WHERE f.layer_id = ANY($1::bigint[]) AND f.min_lon <= $4 AND f.max_lon >= $2 AND f.min_lat <= $5 AND f.max_lat >= $3
      ORDER BY l.kind, f.feature_id LIMIT 400`, [layerIds, w - pad, s - pad, e + pad, n + pad]);
  const overlays: MapOverlay[] = rows.map((r) => {
    const p = r.properties;
    const label = r.kind === 'permits' ? `${r.feature_id}${p.valid_to ? ` · ${String(p.valid_from ?? '')}–${String(p.valid_to)}` : ''}`
      : r.kind === 'jurisdictions' ? `${String(p.name ?? '')} ${String(p.code ?? '')}` : String(p.name ?? r.feature_id);
    const valid = r.kind === 'permits' ? p.status === 'active' && String(p.valid_from ?? '') <= scan.after_date && scan.after_date <= String(p.valid_to ?? '') : undefined;
    return { kind: r.kind, id: r.feature_id, label, ...(valid === undefined ? {} : { valid }), rings: project(r.geometry) };
  });
  overlays.push({ kind: 'alert', id: alert.alert_id, label: alert.alert_id, rings: project(alert.geometry) });
  return { available: true, width: images.width, height: images.height, before_date: scan.before_date, after_date: scan.after_date, overlays };
}

const CHIP_KEYS = { 'true-before': 'trueBefore', 'true-after': 'trueAfter', 'false-before': 'falseBefore', 'false-after': 'falseAfter', overview: 'overview' } as const;
export type ImageName = keyof typeof CHIP_KEYS | `map-${keyof MapImagery['png']}`;

/**
 * One PNG of the alert's imagery, or null when its scenes cannot be read: the chips of the
 * evidence report (`true-before` …, `overview`) or the map's wider window (`map-true-before` …).
 */
export async function alertImage(db: Queryable, alert: { alert_id: string; geometry: AreaGeometry }, name: ImageName): Promise<Buffer | null> {
  const scan = await lastScan(db, alert.alert_id);
  if (!scan) return null;
  try {
    if (name.startsWith('map-')) return (await mapFor(scan, alert.alert_id, alert.geometry)).png[name.slice(4) as keyof MapImagery['png']];
    return (await chipsFor(scan, alert.alert_id, alert.geometry))[CHIP_KEYS[name as keyof typeof CHIP_KEYS]].png;
  } catch {
    return null;
  }
}
