/**
 * Queueing a scan in server mode and waiting for it: the same validation as the embedded scan
 * (every input checked before anything is written), then the scan is recorded in PostgreSQL and
 * its first job queued. `orewatch scan` with REDIS_URL and DATABASE_URL waits, shows progress and
 * writes the same `--out` file as an embedded run; `--no-wait` returns the scan id at once.
 */
import type { Geometry } from 'geojson';
import { OrewatchError, type ErrorKind } from '../../errors/index.js';
import type { Detector } from '../../models/detector.js';
import { alertsToGeoJson } from '../../pipeline/alerts-geojson.js';
import { newScanId, resolveScanLayers, scanKeyFor, sha256OfScene, DEFAULT_WINDOW_SIZE } from '../../pipeline/scan/stages.js';
import { ALERT_SELECT, type AlertRow } from '../../pipeline/store/alert-store.js';
import type { Database, Queryable } from '../../pipeline/store/database.js';
import { insertQueuedScan, loadScan, type ScanRow } from '../../pipeline/store/scan-store.js';
import { RULES_VERSION } from '../../pipeline/types.js';
import { prepareScan, writeAtomically, type ScanOptions, type ScanOutcome } from '../scan-runner.js';
import { enqueue, type Queues } from './queues.js';

export interface QueuedScanResult {
  scanId: string;
  /** True when the same scan was already queued or running: that one is returned. */
  existing: boolean;
}

/**
 * Validates a scan and records it as queued, then queues its calibration. `within` runs inside
 * the recording transaction (discovery claims the scene there, so claim and scan are one fact).
 */
export async function queueScan(db: Database, queues: Queues, options: ScanOptions & { origin?: 'cli' | 'schedule'; aoiId?: number | null },
  detector: Detector, within?: (tx: Queryable, scanId: string) => Promise<void>): Promise<QueuedScanResult> {
  const prep = await prepareScan(options, detector);
  await Promise.all([prep.before.close(), prep.after.close()]);
  const [beforeSha, afterSha] = await Promise.all([sha256OfScene(options.before), sha256OfScene(options.after)]);
  const region: Geometry | null = options.region ?? null;
  const queued = await db.transaction(async (tx) => {
    const refs = await resolveScanLayers(tx, prep.layers.files);
    const scanKey = scanKeyFor({
      beforeKey: beforeSha ?? options.before, afterKey: afterSha ?? options.after, beforeDate: prep.beforeDate, afterDate: prep.afterDate,
      detector: detector.describe(), rules: prep.rules, layers: refs, region,
    });
    const result = await insertQueuedScan(tx, {
      scanId: newScanId(), scanKey, beforeDate: prep.beforeDate, afterDate: prep.afterDate, detector: detector.name,
      detectorVersion: detector.version, rules: { ...prep.rules, version: RULES_VERSION }, layers: refs, aoiId: options.aoiId ?? null,
      request: {
        before: options.before, after: options.after, bands: options.bands ?? null, beforeSha256: beforeSha, afterSha256: afterSha,
        windowSize: options.windowSize ?? DEFAULT_WINDOW_SIZE, region, origin: options.origin ?? 'cli',
      },
    });
    if (within) await within(tx, result.scanId);
    return result;
  });
  // If this add is lost (Redis gone right now), the reconciler queues the calibration later.
  await enqueue(queues, 'calibrate', { scanId: queued.scanId }).catch((error: Error) => {
    throw new OrewatchError('REDIS.UNAVAILABLE', `Scan ${queued.scanId} is recorded but could not be queued (${error.message}); a worker's reconciler will queue it`, { kind: 'transient', cause: error });
  });
  return queued;
}

export interface WaitOptions {
  /** Called on every change of progress. */
  progress?: (done: number, total: number, stage: string) => void;
  /** Called when nothing has moved for `stallWarnMs`, with what is known (no live workers, …). */
  warn?: (message: string) => void;
  pollMs?: number;
  stallWarnMs?: number;
  /** Give up after this long (default: wait as long as it takes, warning when stalled). */
  timeoutMs?: number;
}

async function liveWorkers(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM workers WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '60 seconds'`);
  return rows[0].n;
}

/** Polls the scan's row until it is done or failed. Failure throws with the scan's own reason. */
export async function waitForScan(db: Database, scanId: string, options: WaitOptions = {}): Promise<ScanRow> {
  const pollMs = options.pollMs ?? 500;
  const stallWarnMs = options.stallWarnMs ?? 60_000;
  const started = Date.now();
  let lastKey = '';
  let lastMove = Date.now();
  for (;;) {
    let scan: ScanRow | null = null;
    try {
      scan = await loadScan(db, scanId);
    } catch (error) {
      if (!(error instanceof OrewatchError && error.kind === 'transient')) throw error;
      options.warn?.(`cannot read the scan's progress: ${error.message}; still waiting`);
    }
    if (scan) {
      if (scan.status === 'done') return scan;
      if (scan.status === 'failed') {
        const e = scan.error;
        throw new OrewatchError(e?.code ?? 'SCAN.FAILED', `Scan ${scanId} failed: ${e?.message ?? 'no reason recorded'}`,
          { kind: (e?.kind as ErrorKind | undefined) ?? 'internal' });
      }
      const key = `${scan.status}:${scan.windows_done}`;
      if (key !== lastKey) {
        lastKey = key;
        lastMove = Date.now();
        options.progress?.(scan.windows_done, Math.max(scan.windows_total, 1), scan.status);
      }
    }
    if (Date.now() - lastMove > stallWarnMs) {
      const live = await liveWorkers(db).catch(() => -1);
      options.warn?.(`scan ${scanId} has not moved for ${Math.round((Date.now() - lastMove) / 1000)} s (status ${scan?.status ?? 'unknown'}); ` +
        (live === 0 ? 'no live worker is registered — start one with `orewatch worker`' : live > 0 ? `${live} live worker(s)` : 'the store is unreachable'));
      lastMove = Date.now();
    }
    if (options.timeoutMs !== undefined && Date.now() - started > options.timeoutMs) {
      throw new OrewatchError('SCAN.WAIT_TIMEOUT', `Scan ${scanId} did not finish within ${Math.round(options.timeoutMs / 1000)} s (status ${scan?.status ?? 'unknown'}); it keeps running — see \`orewatch status\``, { kind: 'transient' });
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** The finished scan as the CLI reports it, and its alerts written to `out` like an embedded run. */
export async function scanOutcome(db: Database, scan: ScanRow, out: string | undefined, seconds: number): Promise<ScanOutcome> {
  const stats = (scan.stats ?? {}) as {
    alert_ids?: string[]; opened?: number; updated?: number; licensed?: number; sites?: number; windows?: number;
    maskCounts?: Record<string, number>; grid?: { width: number; height: number }; seconds?: Record<string, number>;
  };
  const ids = stats.alert_ids ?? [];
  const alerts = ids.length === 0 ? [] : (await db.query<AlertRow>(`${ALERT_SELECT} WHERE alert_id = ANY($1) ORDER BY alert_id`, [ids])).rows;
  if (out) writeAtomically(out, `${JSON.stringify(alertsToGeoJson(alerts))}\n`);
  return {
    scanId: scan.scan_id, alerts, opened: stats.opened ?? 0, updated: stats.updated ?? 0, licensed: stats.licensed ?? 0,
    sitesFound: stats.sites ?? 0, windows: stats.windows ?? scan.windows_total, seconds: { ...stats.seconds, total: seconds },
    grid: stats.grid ?? { width: 0, height: 0 }, maskCounts: stats.maskCounts ?? {}, out: out ?? null,
  };
}
