/**
 * The sandboxed job processor: BullMQ runs this module in worker threads (useWorkerThreads), so
 * CPU-heavy detection never blocks the event loop that renews job locks and answers stalled-job
 * checks. Each thread keeps its own database pool, queues and open scene pairs between jobs.
 *
 * Errors: input and config errors (a corrupt scene, a missing band, a wrong detector version)
 * fail the job at once with their message (UnrecoverableError: no retry) and mark the scan
 * failed; transient ones (network, Redis or PostgreSQL briefly gone) are thrown as they are, and
 * BullMQ retries them with exponential backoff.
 */
import { threadId } from 'node:worker_threads';
import { UnrecoverableError, type SandboxedJob } from 'bullmq';
import { isOrewatchError } from '../../errors/index.js';
import { openDatabase } from '../../pipeline/store/database.js';
import { markScanFailed } from '../../pipeline/store/scan-store.js';
import { serverConfigFromEnv } from './config.js';
import { discoverForArea } from './discover-job.js';
import { log, setLogContext } from './log.js';
import { openQueues, type JobName, type JobPayloads } from './queues.js';
import { calibrateScan, detectScanWindow, finalizeScan, PlanCache, renderScanChips, type JobContext } from './scan-jobs.js';

let context: Promise<JobContext> | null = null;

function getContext(): Promise<JobContext> {
  context ??= (async () => {
    const config = serverConfigFromEnv();
    const workerId = `${process.env.OREWATCH_WORKER_ID ?? `pid${process.pid}`}/t${threadId}`;
    setLogContext({ worker: workerId });
    const db = await openDatabase({ databaseUrl: config.databaseUrl, schema: config.dbSchema, poolSize: 2 });
    return { db, queues: openQueues(config), workerId, plans: new PlanCache() };
  })();
  context.catch(() => { context = null; });
  return context;
}

export async function runJob(ctx: JobContext, name: JobName, data: JobPayloads[JobName]): Promise<unknown> {
  switch (name) {
    case 'calibrate': return calibrateScan(ctx, (data as JobPayloads['calibrate']).scanId);
    case 'window': { const d = data as JobPayloads['window']; return detectScanWindow(ctx, d.scanId, d.idx); }
    case 'finalize': return finalizeScan(ctx, (data as JobPayloads['finalize']).scanId);
    case 'chips': return renderScanChips(ctx, (data as JobPayloads['chips']).scanId);
    case 'discover': return discoverForArea(ctx, (data as JobPayloads['discover']).aoiId);
    // Proves that this queue's consumers take jobs (see worker-process.ts).
    case 'canary': return { ok: true, at: Date.now() };
    default: throw new UnrecoverableError(`Unknown job name "${String(name)}"`);
  }
}

export default async function processJob(job: SandboxedJob): Promise<unknown> {
  const name = job.name as JobName;
  const scanId = (job.data as { scanId?: string }).scanId;
  const started = performance.now();
  let ctx: JobContext | null = null;
  try {
    ctx = await getContext();
    const result = await runJob(ctx, name, job.data as JobPayloads[JobName]);
    if (name !== 'canary') log('info', 'job done', { job: name, jobId: job.id, scanId, stage: name, durationMs: Math.round(performance.now() - started) });
    return result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (isOrewatchError(error) && error.kind !== 'transient') {
      log('error', 'job failed (not retried)', { job: name, jobId: job.id, scanId, code: error.code, kind: error.kind, error: message });
      if (scanId && ctx) {
        await markScanFailed(ctx.db, scanId, { code: error.code, kind: error.kind, message, job: job.id }).catch(() => undefined);
      }
      throw new UnrecoverableError(`${message} [${error.code}]`);
    }
    log('warn', 'job failed (will retry)', { job: name, jobId: job.id, scanId, attempt: job.attemptsMade + 1, error: message, ...(isOrewatchError(error) ? { code: error.code } : {}) });
    throw error instanceof Error ? error : new Error(message);
  }
}
