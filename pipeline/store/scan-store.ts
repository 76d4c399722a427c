/**
 * The life of a scan in the store (server mode): queued → calibrating → detecting → finalizing →
 * done | failed, with one row per window. PostgreSQL holds the truth about what is done; Redis
 * only holds what is queued, so a scan survives losing Redis (see workers/server/reconcile.ts).
 */
import type { Geometry } from 'geojson';
import type { PixelWindow } from '../../geodata/types.js';
import type { LayerRef } from './alert-store.js';
import type { Queryable } from './database.js';
import type { RuleSettings } from '../types.js';

export const ACTIVE_STATUSES = ['queued', 'calibrating', 'detecting', 'finalizing'] as const;
export type ScanStatus = (typeof ACTIVE_STATUSES)[number] | 'done' | 'failed';

/** What a worker needs to run a scan, recorded when it is queued. */
export interface ScanRequest {
  before: string;
  after: string;
  bands: string[] | null;
  beforeSha256: string | null;
  afterSha256: string | null;
  windowSize: number;
  region: Geometry | null;
  /** Where the scan came from: the CLI, or a watched area's schedule. */
  origin: 'cli' | 'schedule';
}

export interface ScanError {
  code: string;
  kind: string;
  message: string;
  job?: string;
  at: string;
}

export interface ScanRow {
  scan_id: string;
  scan_key: string;
  status: ScanStatus;
  before_uri: string;
  after_uri: string;
  before_sha256: string | null;
  after_sha256: string | null;
  before_date: string;
  after_date: string;
  detector: string;
  detector_version: string;
  rules: RuleSettings & { version: string };
  layers: LayerRef[];
  request: ScanRequest | null;
  plan: Record<string, unknown> | null;
  stats: Record<string, unknown> | null;
  error: ScanError | null;
  windows_total: number;
  windows_done: number;
  aoi_id: string | null;
  started_at: string;
  finished_at: string | null;
  updated_at: string;
}

const SCAN_COLUMNS = `scan_id, scan_key, status, before_uri, after_uri, before_sha256, after_sha256, before_date::text AS before_date,
  after_date::text AS after_date, detector, detector_version, rules, layers, request, plan, stats, error, windows_total, windows_done,
  aoi_id::text AS aoi_id, started_at::text AS started_at, finished_at::text AS finished_at, updated_at::text AS updated_at`;

export interface QueuedScan {
  scanId: string;
  scanKey: string;
  beforeDate: string;
  afterDate: string;
  detector: string;
  detectorVersion: string;
  rules: RuleSettings & { version: string };
  layers: LayerRef[];
  request: ScanRequest;
  aoiId?: number | null;
}

/**
 * Records a queued scan. When the same scan (same key) is already queued or running, the database
 * keeps that one (a unique index over active scans) and its id is returned with `existing: true`.
 */
export async function insertQueuedScan(tx: Queryable, scan: QueuedScan): Promise<{ scanId: string; existing: boolean }> {
  const inserted = await tx.query<{ scan_id: string }>(
    `INSERT INTO scans (scan_id, scan_key, status, before_uri, after_uri, before_sha256, after_sha256, before_date, after_date,
       detector, detector_version, rules, layers, request, aoi_id, started_at)
     VALUES ($1,$2,'queued',$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14, now())
     ON CONFLICT (scan_key) WHERE status IN ('queued','calibrating','detecting','finalizing') DO NOTHING
     RETURNING scan_id`,
    [scan.scanId, scan.scanKey, scan.request.before, scan.request.after, scan.request.beforeSha256, scan.request.afterSha256,
      scan.beforeDate, scan.afterDate, scan.detector, scan.detectorVersion, JSON.stringify(scan.rules), JSON.stringify(scan.layers),
      JSON.stringify(scan.request), scan.aoiId ?? null],
  );
  if (inserted.rows.length > 0) {
    await tx.query(`INSERT INTO audit_log (actor, action, scan_id, details) VALUES ('orewatch', 'scan_queued', $1, $2)`,
      [scan.scanId, JSON.stringify({ before: scan.request.before, after: scan.request.after, origin: scan.request.origin })]);
    return { scanId: scan.scanId, existing: false };
  }
  const active = await tx.query<{ scan_id: string }>(
    `SELECT scan_id FROM scans WHERE scan_key = $1 AND status IN ('queued','calibrating','detecting','finalizing')`, [scan.scanKey]);
  return { scanId: active.rows[0].scan_id, existing: true };
}

export async function loadScan(db: Queryable, scanId: string): Promise<ScanRow | null> {
  const { rows } = await db.query<ScanRow>(`SELECT ${SCAN_COLUMNS} FROM scans WHERE scan_id = $1`, [scanId]);
  return rows[0] ?? null;
}

export async function setScanStatus(db: Queryable, scanId: string, status: ScanStatus, from: readonly ScanStatus[]): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE scans SET status = $2, updated_at = now() WHERE scan_id = $1 AND status = ANY($3) RETURNING 1`, [scanId, status, [...from]]);
  return rows.length > 0;
}

/** Stores the calibration and the window lattice, and moves the scan on to detection. */
export async function savePlan(tx: Queryable, scanId: string, plan: Record<string, unknown>, windows: PixelWindow[]): Promise<boolean> {
  const { rows } = await tx.query(
    `UPDATE scans SET plan = $2, windows_total = $3, windows_done = 0, status = 'detecting', updated_at = now()
      WHERE scan_id = $1 AND status IN ('queued','calibrating') RETURNING 1`, [scanId, JSON.stringify(plan), windows.length]);
  if (rows.length === 0) return false;
  for (let i = 0; i < windows.length; i += 1000) {
    const chunk = windows.slice(i, i + 1000);
    const params: unknown[] = [scanId];
    const values = chunk.map((w, j) => {
      params.push(i + j, w.col, w.row, w.width, w.height);
      const p = params.length;
      return `($1, $${p - 4}, $${p - 3}, $${p - 2}, $${p - 1}, $${p})`;
    });
    await tx.query(`INSERT INTO scan_windows (scan_id, idx, col, "row", width, height) VALUES ${values.join(',')} ON CONFLICT DO NOTHING`, params);
  }
  return true;
}

/**
 * Indices of the windows not done yet: by index, or, with `bandPx`, in the scan's reading order
 * (readingOrder in pipeline/scan/detect-window.ts: bands `bandPx` wide, each top to bottom), the
 * order they are queued in so that a worker's decoded-block cache holds the tiles its next
 * windows need.
 */
export async function pendingWindows(db: Queryable, scanId: string, bandPx?: number): Promise<number[]> {
  const order = bandPx && bandPx > 0 ? `ORDER BY col / ${Math.floor(bandPx)}, "row", col, idx` : 'ORDER BY idx';
  const { rows } = await db.query<{ idx: number }>(`SELECT idx FROM scan_windows WHERE scan_id = $1 AND status = 'pending' ${order}`, [scanId]);
  return rows.map((r) => r.idx);
}

export async function loadWindow(db: Queryable, scanId: string, idx: number): Promise<(PixelWindow & { status: 'pending' | 'done' }) | null> {
  const { rows } = await db.query<PixelWindow & { status: 'pending' | 'done' }>(
    `SELECT col, "row" AS row, width, height, status FROM scan_windows WHERE scan_id = $1 AND idx = $2`, [scanId, idx]);
  return rows[0] ?? null;
}

/**
 * Records a window's result once: a second worker finishing the same window (after a stall) does
 * not count it twice. Returns the scan's progress after it.
 */
export async function completeWindow(tx: Queryable, scanId: string, idx: number, result: { bytes: Buffer; changePixels: number; maskCounts: Record<string, number>; seconds: number; stageSeconds: Record<string, number>; worker: string }): Promise<{ counted: boolean; done: number; total: number }> {
  const updated = await tx.query(
    `UPDATE scan_windows SET status = 'done', result = $3, change_pixels = $4, mask_counts = $5, seconds = $6, worker = $7, stage_seconds = $8, updated_at = now()
      WHERE scan_id = $1 AND idx = $2 AND status = 'pending' RETURNING 1`,
    [scanId, idx, result.bytes, result.changePixels, JSON.stringify(result.maskCounts), result.seconds, result.worker, JSON.stringify(result.stageSeconds)]);
  const counted = updated.rows.length > 0;
  const { rows } = await tx.query<{ windows_done: number; windows_total: number }>(
    counted
      ? `UPDATE scans SET windows_done = windows_done + 1, updated_at = now() WHERE scan_id = $1 RETURNING windows_done, windows_total`
      : `SELECT windows_done, windows_total FROM scans WHERE scan_id = $1`, [scanId]);
  return { counted, done: rows[0].windows_done, total: rows[0].windows_total };
}

export interface StoredWindowResult extends PixelWindow {
  idx: number;
  result: Uint8Array;
  mask_counts: Record<string, number>;
  /** Seconds the window spent per stage (read, mask, detect); null for windows done before migration 4. */
  stage_seconds: Record<string, number> | null;
}

export async function windowResults(db: Queryable, scanId: string): Promise<StoredWindowResult[]> {
  const { rows } = await db.query<StoredWindowResult>(
    `SELECT idx, col, "row" AS row, width, height, result, mask_counts, stage_seconds FROM scan_windows WHERE scan_id = $1 AND status = 'done' ORDER BY idx`, [scanId]);
  return rows;
}

/** Marks a scan failed with its reason (first failure wins; a finished scan stays finished). */
export async function markScanFailed(db: Queryable, scanId: string, error: Omit<ScanError, 'at'>): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE scans SET status = 'failed', error = $2, updated_at = now(), finished_at = now()
      WHERE scan_id = $1 AND status IN ('queued','calibrating','detecting','finalizing') RETURNING 1`,
    [scanId, JSON.stringify({ ...error, at: new Date().toISOString() })]);
  if (rows.length > 0) {
    await db.query(`INSERT INTO audit_log (actor, action, scan_id, details) VALUES ('orewatch', 'scan_failed', $1, $2)`, [scanId, JSON.stringify(error)]);
  }
  return rows.length > 0;
}

/** Active scans whose row has not moved for `staleMs` (their jobs may have been lost). */
export async function staleScans(db: Queryable, staleMs: number): Promise<Pick<ScanRow, 'scan_id' | 'status' | 'windows_done' | 'windows_total'>[]> {
  const { rows } = await db.query<Pick<ScanRow, 'scan_id' | 'status' | 'windows_done' | 'windows_total'>>(
    `SELECT scan_id, status, windows_done, windows_total FROM scans
      WHERE status IN ('queued','calibrating','detecting','finalizing') AND updated_at < now() - ($1::double precision * interval '1 millisecond')
      ORDER BY started_at`, [staleMs]);
  return rows;
}

export async function touchScan(db: Queryable, scanId: string): Promise<void> {
  await db.query('UPDATE scans SET updated_at = now() WHERE scan_id = $1', [scanId]);
}
