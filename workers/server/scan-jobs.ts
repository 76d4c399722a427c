/**
 * The scan's jobs, as plain functions of a context (database, queues, caches): calibrate plans a
 * scan into windows; window runs read → mask → detect on one window and stores its mask; finalize
 * merges every window into sites (a site across windows is one polygon), classifies them and
 * writes the alerts; chips renders each alert's before/after image. Every job is idempotent: run
 * twice (a stalled worker, a re-enqueue after Redis lost its data), it does the work once.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrewatchError } from '../../errors/index.js';
import { openScene, type Scene } from '../../geodata/scene-reader.js';
import type { Grid } from '../../geodata/types.js';
import { createChangeAccumulator } from '../../geodata/vectorize.js';
import type { Calibration, Detector } from '../../models/detector.js';
import { detectorForScan } from '../../models/registry.js';
import { READING_BAND_WINDOWS, createPairPlan, detectWindowInput, readWindowInput, samplePair, windowsBounds, type PairPlan, type WindowInput } from '../../pipeline/scan/detect-window.js';
import { classifySites, DEFAULT_WINDOW_SIZE, extractSites, scanWindows } from '../../pipeline/scan/stages.js';
import { decodeWindowResult, encodeWindowResult } from '../../pipeline/scan/window-codec.js';
import { lockAlerts, saveScan } from '../../pipeline/store/alert-store.js';
import type { Database } from '../../pipeline/store/database.js';
import {
  completeWindow, loadScan, loadWindow, pendingWindows, savePlan, setScanStatus, windowResults, type ScanRow,
} from '../../pipeline/store/scan-store.js';
import type { AreaGeometry, RuleSettings } from '../../pipeline/types.js';
import { renderAlertPng } from '../render-alert.js';
import { log } from './log.js';
import { enqueue, enqueueWindows, type Queues } from './queues.js';

export interface JobContext {
  db: Database;
  queues: Queues;
  workerId: string;
  plans: PlanCache;
}

interface StoredPlan {
  calibration: Calibration;
  maskBaseline: PairPlan['maskBaseline'] | null;
  grid: Grid;
  windowSize: number;
}

interface OpenPlan {
  plan: PairPlan;
  detector: Detector;
  scenes: Scene[];
  /** The input of the last window this thread detected, whose arrays the next read refills. */
  spare: WindowInput | null;
}

/**
 * Open scene pairs of the scans this thread works on, so consecutive windows of a scan do not
 * re-read the headers. Two entries: a worker rarely alternates between more scans than that.
 */
export class PlanCache {
  private readonly entries = new Map<string, Promise<OpenPlan>>();
  constructor(private readonly size = 2) {}

  get(scan: ScanRow): Promise<OpenPlan> {
    const hit = this.entries.get(scan.scan_id);
    if (hit) {
      this.entries.delete(scan.scan_id);
      this.entries.set(scan.scan_id, hit);
      return hit;
    }
    const opening = openPlan(scan);
    this.entries.set(scan.scan_id, opening);
    opening.catch(() => this.entries.delete(scan.scan_id));
    while (this.entries.size > this.size) {
      const [oldest, entry] = this.entries.entries().next().value as [string, Promise<OpenPlan>];
      this.entries.delete(oldest);
      void closePlan(entry);
    }
    return opening;
  }

  /** Closes one scan's scenes (their decode workers and decoded-block caches), if open. */
  async drop(scanId: string): Promise<void> {
    const entry = this.entries.get(scanId);
    if (!entry) return;
    this.entries.delete(scanId);
    await closePlan(entry);
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map(closePlan));
  }
}

/** Closes the scenes of an open (or opening) plan; one that failed to open has none. */
async function closePlan(entry: Promise<OpenPlan>): Promise<void> {
  await entry.then((p) => Promise.all(p.scenes.map((s) => s.close())), () => undefined);
}

async function openPlan(scan: ScanRow): Promise<OpenPlan> {
  const detector = detectorForScan(scan.detector, scan.detector_version);
  const bandNames = scan.request?.bands ?? undefined;
  const before = await openScene(scan.before_uri, { bandNames });
  let after: Scene;
  try {
    after = await openScene(scan.after_uri, { bandNames });
  } catch (error) {
    await before.close();
    throw error;
  }
  const plan = createPairPlan(before, after, detector);
  const stored = scan.plan as StoredPlan | null;
  if (stored?.maskBaseline) plan.maskBaseline = stored.maskBaseline;
  const region = scan.request?.region ?? null;
  if (region) plan.readBounds = windowsBounds(scanWindows(plan.pair.grid, scan.request?.windowSize ?? DEFAULT_WINDOW_SIZE, region)) ?? undefined;
  return { plan, detector, scenes: [before, after], spare: null };
}

function rulesOf(scan: ScanRow): RuleSettings {
  const { version: _version, ...rules } = scan.rules;
  return rules;
}

async function requireScan(ctx: JobContext, scanId: string): Promise<ScanRow | null> {
  const scan = await loadScan(ctx.db, scanId);
  if (!scan) log('warn', 'job for an unknown scan; skipped', { scanId });
  return scan;
}

/** Samples the pair, calibrates the detector, records the window lattice and queues the windows. */
export async function calibrateScan(ctx: JobContext, scanId: string): Promise<Record<string, unknown>> {
  let scan = await requireScan(ctx, scanId);
  if (!scan || scan.status === 'done' || scan.status === 'failed') return { skipped: scan?.status ?? 'unknown' };
  if (scan.status === 'queued' || scan.status === 'calibrating') {
    await setScanStatus(ctx.db, scanId, 'calibrating', ['queued', 'calibrating']);
    const t0 = performance.now();
    const { plan, detector } = await ctx.plans.get(scan);
    const windowSize = scan.request?.windowSize ?? DEFAULT_WINDOW_SIZE;
    const region = scan.request?.region ?? null;
    const windows = scanWindows(plan.pair.grid, windowSize, region);
    if (region) plan.readBounds = windowsBounds(windows) ?? undefined;
    let calibration: Calibration;
    try {
      calibration = detector.calibrate(await samplePair(plan, region ? { within: windows } : {}));
    } finally {
      // This job runs once per scan, in the scan queue's thread; the windows are read in the
      // window queue's threads. Kept open here, the pair's decode workers and their block caches
      // (filled by the sampling) would hold ~200 MB of the worker process for nothing.
      await ctx.plans.drop(scanId);
    }
    const stored: StoredPlan = { calibration, maskBaseline: plan.maskBaseline ?? null, grid: plan.pair.grid, windowSize };
    await ctx.db.transaction((tx) => savePlan(tx, scanId, stored as unknown as Record<string, unknown>, windows));
    log('info', 'scan calibrated', { scanId, stage: 'calibrate', durationMs: Math.round(performance.now() - t0), windows: windows.length });
    scan = (await loadScan(ctx.db, scanId))!;
  }
  if (scan.status !== 'detecting') return { skipped: scan.status };
  // Queued in reading order, as an embedded scan reads them: a worker then finds most of a
  // window's tiles (and its halo's) still in its decoded-block cache.
  const bandPx = ((scan.plan as unknown as StoredPlan | null)?.windowSize ?? DEFAULT_WINDOW_SIZE) * READING_BAND_WINDOWS;
  const pending = await pendingWindows(ctx.db, scanId, bandPx);
  if (pending.length > 0) await enqueueWindows(ctx.queues, scanId, pending);
  else await enqueue(ctx.queues, 'finalize', { scanId });
  return { windows: scan.windows_total, queued: pending.length };
}

/** read → mask → detect for one window; the last window to finish queues the merge. */
export async function detectScanWindow(ctx: JobContext, scanId: string, idx: number): Promise<Record<string, unknown>> {
  const scan = await requireScan(ctx, scanId);
  if (!scan || scan.status !== 'detecting') return { skipped: scan?.status ?? 'unknown' };
  const window = await loadWindow(ctx.db, scanId, idx);
  if (!window) throw new OrewatchError('SCAN.NO_WINDOW', `Scan ${scanId} has no window ${idx}`, { kind: 'internal' });
  if (window.status === 'done') return { skipped: 'done' };
  const t0 = performance.now();
  const open = await ctx.plans.get(scan);
  const { plan, detector } = open;
  const stored = scan.plan as unknown as StoredPlan;
  // Taken, not shared: a second job of this thread at the same time would read into new arrays.
  const spare = open.spare;
  open.spare = null;
  const input = await readWindowInput(plan, window, detector, spare);
  const result = await detectWindowInput(plan, input, detector, stored.calibration);
  open.spare = input;
  const seconds = (performance.now() - t0) / 1000;
  const bytes = encodeWindowResult(window.width, window.height, result.mask, result.prob);
  const progress = await ctx.db.transaction((tx) => completeWindow(tx, scanId, idx, {
    bytes, changePixels: result.changePixels, maskCounts: result.maskCounts, seconds, stageSeconds: { ...result.seconds }, worker: ctx.workerId,
  }));
  log('debug', 'window done', { scanId, stage: 'detect', idx, durationMs: Math.round(seconds * 1000), done: progress.done, total: progress.total });
  if (progress.done >= progress.total) await enqueue(ctx.queues, 'finalize', { scanId });
  return { changePixels: result.changePixels, done: progress.done, total: progress.total };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Merges every window into sites, classifies them and writes the alerts (one transaction). */
export async function finalizeScan(ctx: JobContext, scanId: string): Promise<Record<string, unknown>> {
  const scan = await requireScan(ctx, scanId);
  if (!scan || (scan.status !== 'detecting' && scan.status !== 'finalizing')) return { skipped: scan?.status ?? 'unknown' };
  const pending = await pendingWindows(ctx.db, scanId);
  if (pending.length > 0) {
    // Not every window is done (a lost job): queue them again; the last one queues this job again.
    await enqueueWindows(ctx.queues, scanId, pending);
    return { waiting: pending.length };
  }
  await setScanStatus(ctx.db, scanId, 'finalizing', ['detecting', 'finalizing']);
  const t0 = performance.now();
  const stored = scan.plan as unknown as StoredPlan;
  const grid = stored.grid;
  const detector = detectorForScan(scan.detector, scan.detector_version);
  const rules = rulesOf(scan);
  const accumulator = createChangeAccumulator(grid.width, grid.height);
  const maskCounts: Record<string, number> = {};
  // Per-stage seconds of the scan: the windows' read, mask and detect summed over every worker,
  // then this job's own vectorize, classify and store.
  const seconds: Record<string, number> = {};
  const rows = await windowResults(ctx.db, scanId);
  for (const row of rows) {
    const decoded = decodeWindowResult(row.result);
    accumulator.addWindow({ col: row.col, row: row.row, width: row.width, height: row.height }, decoded.mask, decoded.prob);
    for (const [k, v] of Object.entries(row.mask_counts)) maskCounts[k] = (maskCounts[k] ?? 0) + v;
    for (const [k, v] of Object.entries(row.stage_seconds ?? {})) seconds[k] = (seconds[k] ?? 0) + v;
  }
  const sites = extractSites(accumulator, grid, detector.kinds, rules);
  const t1 = performance.now();
  seconds.vectorize = (t1 - t0) / 1000;
  log('info', 'scan merged', { scanId, stage: 'vectorize', durationMs: Math.round(t1 - t0), sites: sites.length });

  // Fault injection for the fault tests only: hold here so a test can stop PostgreSQL mid-write.
  const pause = Number(process.env.OREWATCH_FAULT_PAUSE_BEFORE_STORE_MS ?? 0);
  if (pause > 0) {
    log('info', 'fault injection: pausing before the alert transaction', { scanId, stage: 'store-pause', durationMs: pause });
    await sleep(pause);
  }
  const saved = await ctx.db.transaction(async (tx) => {
    await lockAlerts(tx);
    const again = await loadScan(tx, scanId);
    if (!again || again.status === 'done' || again.status === 'failed') return null;
    const tc = performance.now();
    const findings = await classifySites(tx, sites, scan.layers, scan.after_date, rules);
    seconds.classify = (performance.now() - tc) / 1000;
    const ts = performance.now();
    const result = await saveScan(tx, {
      scanId, scanKey: scan.scan_key, beforeUri: scan.before_uri, afterUri: scan.after_uri,
      beforeSha256: scan.before_sha256, afterSha256: scan.after_sha256, beforeDate: scan.before_date, afterDate: scan.after_date,
      detector: scan.detector, detectorVersion: scan.detector_version, rules: scan.rules, layers: scan.layers, startedAt: scan.started_at,
      stats: { windows: rows.length, sites: sites.length, maskCounts, grid: { width: grid.width, height: grid.height }, detector: detector.describe() },
    }, findings, scan.after_sha256 ?? scan.after_uri);
    seconds.store = (performance.now() - ts) / 1000;
    await tx.query(`UPDATE scans SET stats = stats || $2::jsonb WHERE scan_id = $1`, [scanId, JSON.stringify({
      alert_ids: result.alerts.map((a) => a.alert_id), opened: result.opened, updated: result.updated, licensed: result.licensed, seconds,
    })]);
    return result;
  });
  if (!saved) return { skipped: 'already finalized' };
  log('info', 'scan stored', { scanId, stage: 'store', durationMs: Math.round(performance.now() - t1), alerts: saved.alerts.length, opened: saved.opened, updated: saved.updated });
  if (saved.alerts.length > 0) await enqueue(ctx.queues, 'chips', { scanId });
  return { alerts: saved.alerts.length, opened: saved.opened, updated: saved.updated, licensed: saved.licensed };
}

/** Before/after chips (PNG) of the scan's alerts, stored with the alert for the triage app. */
export async function renderScanChips(ctx: JobContext, scanId: string): Promise<Record<string, unknown>> {
  const scan = await requireScan(ctx, scanId);
  if (!scan || scan.status !== 'done') return { skipped: scan?.status ?? 'unknown' };
  const ids = ((scan.stats?.alert_ids as string[] | undefined) ?? []);
  const { rows } = await ctx.db.query<{ alert_id: string; geometry: AreaGeometry }>(
    `SELECT a.alert_id, a.geometry FROM alerts a WHERE a.alert_id = ANY($1)
        AND NOT EXISTS (SELECT 1 FROM alert_chips c WHERE c.alert_id = a.alert_id AND c.scan_id = $2)`, [ids, scanId]);
  const detector = detectorForScan(scan.detector, scan.detector_version);
  let rendered = 0;
  for (const row of rows) {
    const out = join(tmpdir(), `orewatch-chip-${process.pid}-${scanId}-${row.alert_id}.png`);
    try {
      await renderAlertPng({ before: scan.before_uri, after: scan.after_uri, bands: scan.request?.bands ?? undefined, geometry: row.geometry, out, detector });
      await ctx.db.query(`INSERT INTO alert_chips (alert_id, scan_id, png) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING`, [row.alert_id, scanId, readFileSync(out)]);
      rendered++;
    } finally {
      rmSync(out, { force: true });
    }
  }
  return { rendered };
}
