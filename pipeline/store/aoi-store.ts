/**
 * Watched areas (areas of interest) with their schedule and scene sources, the scenes discovered
 * for them, and the claims that make "a scene already scanned is never scanned again for the same
 * detector and rules version" a fact of the database (a primary key), not of a worker's memory.
 */
import type { Geometry } from 'geojson';
import { inputError } from '../../errors/index.js';
import type { SceneCandidate } from '../discovery/types.js';
import type { Queryable } from './database.js';

export interface AoiSources {
  stac?: { url: string; collections: string[] };
  folder?: string;
}

export interface Aoi {
  aoi_id: number;
  name: string;
  geometry: Geometry;
  cron: string;
  timezone: string;
  sources: AoiSources;
  max_cloud: number;
  /** Oldest usable earlier scene, in days before the new one. */
  max_gap_days: number;
  enabled: boolean;
  last_run_at: string | null;
  last_run: Record<string, unknown> | null;
}

const AOI_COLUMNS = `aoi_id::int AS aoi_id, name, geometry, cron, timezone, sources, max_cloud, max_gap_days, enabled, last_run_at::text AS last_run_at, last_run`;

export async function addAoi(db: Queryable, aoi: Pick<Aoi, 'name' | 'geometry' | 'cron' | 'timezone' | 'sources' | 'max_cloud' | 'max_gap_days'>): Promise<Aoi> {
  const { rows } = await db.query<Aoi>(
    `INSERT INTO aois (name, geometry, cron, timezone, sources, max_cloud, max_gap_days) VALUES ($1,$2,$3,$4,$5,$6,$7)
     ON CONFLICT (name) DO NOTHING RETURNING ${AOI_COLUMNS}`,
    [aoi.name, JSON.stringify(aoi.geometry), aoi.cron, aoi.timezone, JSON.stringify(aoi.sources), aoi.max_cloud, aoi.max_gap_days]);
  if (rows.length === 0) throw inputError('AOI.EXISTS', `A watched area named "${aoi.name}" exists already; remove it first (orewatch aoi remove ${aoi.name}) or pick another name`);
  await db.query(`INSERT INTO audit_log (actor, action, details) VALUES ('orewatch', 'aoi_added', $1)`, [JSON.stringify({ name: aoi.name, cron: aoi.cron, timezone: aoi.timezone, sources: aoi.sources })]);
  return rows[0];
}

export async function listAois(db: Queryable): Promise<Aoi[]> {
  return (await db.query<Aoi>(`SELECT ${AOI_COLUMNS} FROM aois ORDER BY name`)).rows;
}

export async function getAoi(db: Queryable, idOrName: number | string): Promise<Aoi | null> {
  const { rows } = typeof idOrName === 'number'
    ? await db.query<Aoi>(`SELECT ${AOI_COLUMNS} FROM aois WHERE aoi_id = $1`, [idOrName])
    : await db.query<Aoi>(`SELECT ${AOI_COLUMNS} FROM aois WHERE name = $1`, [idOrName]);
  return rows[0] ?? null;
}

export async function removeAoi(db: Queryable, name: string): Promise<boolean> {
  const { rows } = await db.query(`DELETE FROM aois WHERE name = $1 RETURNING 1`, [name]);
  return rows.length > 0;
}

/** Records discovered scenes (first sighting wins; a rejected file stays rejected until it changes, as its key is its hash). */
export async function recordScenes(db: Queryable, aoiId: number, scenes: SceneCandidate[]): Promise<void> {
  for (const s of scenes) {
    await db.query(
      `INSERT INTO scenes (aoi_id, scene_key, uri, source, acquired_on, cloud_cover, footprint, tile) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
       ON CONFLICT (aoi_id, scene_key) DO UPDATE SET uri = EXCLUDED.uri`,
      [aoiId, s.key, s.uri, s.source, s.date, s.cloudCover, s.footprint ? JSON.stringify(s.footprint) : null, s.tile]);
  }
}

export async function recordRejectedScene(db: Queryable, aoiId: number, file: string, error: { code: string; message: string }): Promise<void> {
  await db.query(
    `INSERT INTO scenes (aoi_id, scene_key, uri, source, status, error) VALUES ($1,$2,$3,'folder','rejected',$4)
     ON CONFLICT (aoi_id, scene_key) DO UPDATE SET status = 'rejected', error = EXCLUDED.error`,
    [aoiId, `rejected:${file}`, file, JSON.stringify(error)]);
}

/** Every usable scene known for the area, oldest first. */
export async function knownScenes(db: Queryable, aoiId: number): Promise<SceneCandidate[]> {
  const { rows } = await db.query<{ scene_key: string; uri: string; source: 'stac' | 'folder'; date: string; cloud_cover: number | null; footprint: SceneCandidate['footprint']; tile: string | null }>(
    `SELECT scene_key, uri, source, acquired_on::text AS date, cloud_cover, footprint, tile FROM scenes
      WHERE aoi_id = $1 AND status = 'ok' ORDER BY acquired_on, scene_key`, [aoiId]);
  return rows.map((r) => ({
    key: r.scene_key, uri: r.uri, source: r.source, acquiredAt: `${r.date}T00:00:00.000Z`, date: r.date,
    cloudCover: r.cloud_cover, footprint: r.footprint, tile: r.tile, platform: null,
  }));
}

export interface SceneClaimKey {
  aoiId: number;
  detector: string;
  detectorVersion: string;
  rulesVersion: string;
}

/** Scene keys already handled (scanned, queued, failed or skipped for good) under this detector and rules version. */
export async function claimedScenes(db: Queryable, key: SceneClaimKey): Promise<Set<string>> {
  const { rows } = await db.query<{ scene_key: string }>(
    `SELECT scene_key FROM scene_scans WHERE aoi_id = $1 AND detector = $2 AND detector_version = $3 AND rules_version = $4`,
    [key.aoiId, key.detector, key.detectorVersion, key.rulesVersion]);
  return new Set(rows.map((r) => r.scene_key));
}

/** Claims a scene for this detector and rules version; false when someone claimed it first. */
export async function claimScene(db: Queryable, key: SceneClaimKey, sceneKey: string, claim: { beforeKey: string | null; scanId: string | null; outcome: 'queued' | 'failed' | 'skipped'; reason?: string }): Promise<boolean> {
  const { rows } = await db.query(
    `INSERT INTO scene_scans (aoi_id, scene_key, detector, detector_version, rules_version, before_key, scan_id, outcome, reason)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING RETURNING 1`,
    [key.aoiId, sceneKey, key.detector, key.detectorVersion, key.rulesVersion, claim.beforeKey, claim.scanId, claim.outcome, claim.reason ?? null]);
  return rows.length > 0;
}

export async function recordAoiRun(db: Queryable, aoiId: number, summary: Record<string, unknown>): Promise<void> {
  await db.query(`UPDATE aois SET last_run_at = now(), last_run = $2 WHERE aoi_id = $1`, [aoiId, JSON.stringify(summary)]);
}
