/**
 * PostgreSQL holds the truth, Redis holds the queue. The reconciler compares the two: for every
 * active scan that has not moved for a while, it makes sure the job that would move it is in
 * Redis — the calibration of a queued scan, the window jobs of pending windows, the merge of a
 * scan whose windows are all done — and re-enqueues what is missing (Redis restarted without
 * persistence, FLUSHALL, an enqueue lost between commit and add). It also marks failed a scan
 * whose job failed for good while the scan's row could not be written. One worker at a time runs
 * it (an advisory lock); it is safe to run any time, since every job is idempotent.
 */
import type { Job } from 'bullmq';
import type { Database } from '../../pipeline/store/database.js';
import { loadScan, markScanFailed, pendingWindows, staleScans } from '../../pipeline/store/scan-store.js';
import { log } from './log.js';
import { failedForGood, jobIdFor, QUEUE_OF, type JobName, type JobPayloads, type Queues } from './queues.js';

const RECONCILE_LOCK_KEY = 0x6f72_6563; // "orec"

export interface ReconcileResult {
  scans: number;
  requeued: number;
  failed: number;
}

type ScanJobName = 'calibrate' | 'window' | 'finalize';

/** Makes sure a job is queued; returns 'queued' when it had to add it, 'failed' when it failed for good. */
async function ensureJob<N extends ScanJobName>(queues: Queues, name: N, data: JobPayloads[N], stillNeeded: boolean): Promise<'present' | 'queued' | { failed: string }> {
  const queue = queues[QUEUE_OF[name]!];
  const jobId = jobIdFor(name, data);
  const job = (await queue.getJob(jobId)) as Job | undefined;
  if (job) {
    const state = await job.getState();
    if (state === 'failed') {
      if (failedForGood(job)) return { failed: job.failedReason ?? 'failed' };
      return 'present';
    }
    if (state !== 'completed' || !stillNeeded) return 'present';
    // Completed, yet the store says the work is not done (e.g. done before a restore): run it again.
    await job.remove().catch(() => undefined);
  }
  await queue.add(name, data, { jobId });
  return 'queued';
}

/** Re-enqueues what one scan needs to move on. */
export async function reconcileScan(db: Database, queues: Queues, scanId: string): Promise<{ requeued: number; failed: boolean }> {
  const scan = await loadScan(db, scanId);
  if (!scan) return { requeued: 0, failed: false };
  let requeued = 0;
  const note = async (outcome: Awaited<ReturnType<typeof ensureJob>>, job: JobName): Promise<boolean> => {
    if (outcome === 'queued') requeued++;
    if (typeof outcome === 'object') {
      await markScanFailed(db, scanId, { code: 'JOB.FAILED', kind: 'input', message: outcome.failed, job });
      return true;
    }
    return false;
  };
  if (scan.status === 'queued' || scan.status === 'calibrating') {
    if (await note(await ensureJob(queues, 'calibrate', { scanId }, true), 'calibrate')) return { requeued, failed: true };
  } else if (scan.status === 'detecting' || scan.status === 'finalizing') {
    const pending = await pendingWindows(db, scanId);
    for (const idx of pending) {
      if (await note(await ensureJob(queues, 'window', { scanId, idx }, true), 'window')) return { requeued, failed: true };
    }
    if (pending.length === 0 && await note(await ensureJob(queues, 'finalize', { scanId }, true), 'finalize')) return { requeued, failed: true };
  }
  return { requeued, failed: false };
}

/** One reconciliation pass over scans idle for `staleMs`; skipped when another worker holds the lock. */
export async function reconcile(db: Database, queues: Queues, staleMs: number): Promise<ReconcileResult | null> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [RECONCILE_LOCK_KEY]);
    if (!rows[0]?.locked) return null;
    const stale = await staleScans(tx, staleMs);
    const result: ReconcileResult = { scans: stale.length, requeued: 0, failed: 0 };
    for (const scan of stale) {
      const r = await reconcileScan(db, queues, scan.scan_id);
      result.requeued += r.requeued;
      if (r.failed) result.failed++;
      if (r.requeued > 0 || r.failed) log('warn', 'reconciled a stalled scan', { scanId: scan.scan_id, stage: 'reconcile', requeued: r.requeued, failed: r.failed });
    }
    return result;
  });
}
