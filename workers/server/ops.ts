/**
 * Operations on a running installation, for the CLI: what is queued and running (`orewatch
 * status`), retrying failed work (`orewatch retry`), and running a watched area's discovery now.
 */
import type { Job } from 'bullmq';
import { OrewatchError } from '../../errors/index.js';
import { openDatabase, type Database } from '../../pipeline/store/database.js';
import { migrate } from '../../pipeline/store/migrations.js';
import { loadScan } from '../../pipeline/store/scan-store.js';
import type { ServerConfig } from './config.js';
import { closeQueues, enqueue, failedForGood, openQueues, QUEUE_NAMES, type QueueName, type Queues } from './queues.js';
import { reconcileScan } from './reconcile.js';

export interface ServerHandle {
  db: Database;
  queues: Queues;
  close(): Promise<void>;
}

export async function openServer(config: ServerConfig): Promise<ServerHandle> {
  const db = await openDatabase({ databaseUrl: config.databaseUrl, schema: config.dbSchema, poolSize: 2 });
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  const queues = openQueues(config);
  return { db, queues, close: async () => { await closeQueues(queues); await db.close(); } };
}

export interface StatusReport {
  queues: Record<QueueName, Record<string, number>>;
  running: { scan_id: string; status: string; windows_done: number; windows_total: number; started_at: string; updated_at: string; before_uri: string; after_uri: string }[];
  failedScans: { scan_id: string; error: { code: string; message: string; job?: string } | null; updated_at: string }[];
  failedJobs: { queue: QueueName; id: string; name: string; reason: string; attempts: number; failedAt: string | null }[];
  workers: { worker_id: string; host: string; pid: number; concurrency: number; heartbeat_age_s: number; canary_age_s: number | null; jobs_done: number; alive: boolean }[];
  rejectedScenes: { aoi: string; uri: string; error: { code: string; message: string } }[];
  failedPairs: { aoi: string; scene_key: string; reason: string }[];
}

export async function serverStatus(server: ServerHandle): Promise<StatusReport> {
  const { db, queues } = server;
  const counts = {} as StatusReport['queues'];
  const failedJobs: StatusReport['failedJobs'] = [];
  for (const name of QUEUE_NAMES) {
    counts[name] = await queues[name].getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed');
    for (const job of await queues[name].getFailed(0, 49)) {
      if (!job) continue;
      failedJobs.push({ queue: name, id: job.id ?? '?', name: job.name, reason: job.failedReason ?? '', attempts: job.attemptsMade, failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : null });
    }
  }
  const running = (await db.query<StatusReport['running'][number]>(
    `SELECT scan_id, status, windows_done, windows_total, started_at::text AS started_at, updated_at::text AS updated_at, before_uri, after_uri
       FROM scans WHERE status IN ('queued','calibrating','detecting','finalizing') ORDER BY started_at`)).rows;
  const failedScans = (await db.query<StatusReport['failedScans'][number]>(
    `SELECT scan_id, error, updated_at::text AS updated_at FROM scans WHERE status = 'failed' ORDER BY updated_at DESC LIMIT 20`)).rows;
  const workers = (await db.query<StatusReport['workers'][number]>(
    `SELECT worker_id, host, pid, concurrency, extract(epoch FROM now() - heartbeat_at)::float AS heartbeat_age_s,
            extract(epoch FROM now() - last_canary_at)::float AS canary_age_s, jobs_done,
            (stopped_at IS NULL AND heartbeat_at > now() - interval '60 seconds') AS alive
       FROM workers WHERE stopped_at IS NULL OR stopped_at > now() - interval '1 hour' ORDER BY started_at`)).rows;
  const rejectedScenes = (await db.query<StatusReport['rejectedScenes'][number]>(
    `SELECT a.name AS aoi, s.uri, s.error FROM scenes s JOIN aois a USING (aoi_id) WHERE s.status = 'rejected' ORDER BY s.discovered_at DESC LIMIT 20`)).rows;
  const failedPairs = (await db.query<StatusReport['failedPairs'][number]>(
    `SELECT a.name AS aoi, c.scene_key, c.reason FROM scene_scans c JOIN aois a USING (aoi_id) WHERE c.outcome = 'failed' ORDER BY c.created_at DESC LIMIT 20`)).rows;
  return { queues: counts, running, failedScans, failedJobs, workers, rejectedScenes, failedPairs };
}

/**
 * Retries failed work: with a scan id, that scan (its failed jobs go back in the queue and the
 * scan resumes where it stopped); without, every failed job in the queues and every failed scan
 * whose failure was transient.
 */
export async function retryFailed(server: ServerHandle, scanId?: string): Promise<{ jobs: number; scans: string[] }> {
  const { db, queues } = server;
  let jobs = 0;
  const scans = new Set<string>();
  for (const name of QUEUE_NAMES) {
    for (const job of (await queues[name].getFailed(0, 10_000)) as (Job | undefined)[]) {
      if (!job) continue;
      const jobScan = (job.data as { scanId?: string }).scanId;
      if (scanId && jobScan !== scanId) continue;
      await job.retry('failed');
      jobs++;
      if (jobScan) scans.add(jobScan);
    }
  }
  if (scanId) {
    const scan = await loadScan(db, scanId);
    if (!scan) throw new OrewatchError('SCAN.UNKNOWN', `No scan ${scanId} in the store`, { kind: 'input' });
    scans.add(scanId);
  } else {
    const { rows } = await db.query<{ scan_id: string }>(`SELECT scan_id FROM scans WHERE status = 'failed' AND error->>'kind' = 'transient'`);
    for (const r of rows) scans.add(r.scan_id);
  }
  for (const id of scans) {
    const scan = await loadScan(db, id);
    if (!scan || scan.status !== 'failed') continue;
    const resume = scan.plan ? (scan.windows_done >= scan.windows_total ? 'finalizing' : 'detecting') : 'queued';
    await db.query(`UPDATE scans SET status = $2, error = NULL, finished_at = NULL, updated_at = now() WHERE scan_id = $1`, [id, resume]);
    await db.query(`INSERT INTO audit_log (actor, action, scan_id, details) VALUES ('orewatch', 'scan_retried', $1, $2)`, [id, JSON.stringify({ previous: scan.error })]);
    await reconcileScan(db, queues, id);
  }
  return { jobs, scans: [...scans] };
}

/** Queues a discovery run of one area now (the schedule is not touched). */
export async function runDiscoveryNow(server: ServerHandle, aoiId: number): Promise<string> {
  return enqueue(server.queues, 'discover', { aoiId, trigger: `manual-${Date.now()}` });
}

/** What waitForJob needs of a queue. */
export type JobSource = Pick<Queues[QueueName], 'getJob' | 'getJobState'>;

/**
 * Waits for a job to finish; returns its return value, or throws with its failure reason.
 *
 * The state is read before the job: a job read while still active and then seen 'completed'
 * would carry no return value (a race that once made `aoi run --wait` crash with exit 1).
 */
export async function waitForJob(queue: JobSource, jobId: string, timeoutMs = 600_000): Promise<unknown> {
  const started = Date.now();
  for (;;) {
    const state = await queue.getJobState(jobId);
    if (state === 'completed' || state === 'failed') {
      const job = await queue.getJob(jobId);
      if (job && state === 'completed') return job.returnvalue;
      if (job && failedForGood(job)) {
        throw new OrewatchError('JOB.FAILED', `${job.name} job ${jobId} failed: ${job.failedReason}`, { kind: 'input' });
      }
    }
    if (Date.now() - started > timeoutMs) throw new OrewatchError('JOB.WAIT_TIMEOUT', `Job ${jobId} did not finish within ${timeoutMs / 1000} s`, { kind: 'transient' });
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
