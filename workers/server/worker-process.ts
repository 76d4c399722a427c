/**
 * `orewatch worker`: one worker process. It consumes the queues in sandboxed worker threads (see
 * processor.ts), registers itself in the store with a heartbeat, runs the reconciler, syncs the
 * watched areas' schedules, and watches itself with canary jobs: a canary that waits at the head
 * of a queue while this process has free slots means its consumer stopped taking jobs (seen after
 * Redis restarts) — the consumer is recreated, and if that does not help the process exits so
 * its supervisor restarts it. SIGTERM lets running jobs finish, then exits.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { openDatabase, type Database } from '../../pipeline/store/database.js';
import { migrate } from '../../pipeline/store/migrations.js';
import { markScanFailed } from '../../pipeline/store/scan-store.js';
import type { ServerConfig } from './config.js';
import { syncSchedules } from './discover-job.js';
import { log, setLogContext } from './log.js';
import { closeQueues, jobIdFor, openQueues, QUEUE_NAMES, redisOptions, type QueueName, type Queues } from './queues.js';
import { reconcile } from './reconcile.js';
import { assertNoEviction } from './redis-check.js';

export interface WorkerProcessOptions {
  config: ServerConfig;
  /** Queues this process consumes (default: all). */
  queues?: QueueName[];
}

export interface RunningWorker {
  workerId: string;
  /** Stops taking jobs, lets running ones finish, closes everything. */
  stop(): Promise<void>;
  /** Resolves when the process should exit, with its exit code (0 after stop, 75 when stuck). */
  exited: Promise<number>;
}

/** Exit code of a worker that found itself unable to consume (EX_TEMPFAIL): restart it. */
export const EXIT_STUCK = 75;

function processorPath(): string {
  return fileURLToPath(new URL('./processor.js', import.meta.url));
}

export async function startWorkerProcess(options: WorkerProcessOptions): Promise<RunningWorker> {
  const { config } = options;
  const consumed = options.queues ?? [...QUEUE_NAMES];
  await assertNoEviction(config.redisUrl);
  const db: Database = await openDatabase({ databaseUrl: config.databaseUrl, schema: config.dbSchema, poolSize: 3 });
  await migrate(db);
  const workerId = `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
  process.env.OREWATCH_WORKER_ID = workerId;
  setLogContext({ worker: workerId });
  const queues: Queues = openQueues(config);
  const concurrencyOf = (q: QueueName) => (q === 'window' ? config.concurrency : 1);
  await db.query(
    `INSERT INTO workers (worker_id, host, pid, queues, concurrency) VALUES ($1,$2,$3,$4,$5)`,
    [workerId, hostname(), process.pid, JSON.stringify(consumed), config.concurrency]);

  const active: Record<string, number> = {};
  const workers = new Map<QueueName, Worker>();
  let jobsDone = 0;
  let lastCanaryAt: Date | null = null;

  const onFailed = (job: Job | undefined, error: Error) => {
    if (!job) return;
    const scanId = (job.data as { scanId?: string }).scanId;
    const final = error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    if (job.name === 'canary' || !final) return;
    log('error', 'job failed for good', { job: job.name, jobId: job.id, scanId, attempts: job.attemptsMade, error: error.message });
    if (scanId) {
      void markScanFailed(db, scanId, { code: 'JOB.GAVE_UP', kind: 'transient', message: `${job.name} job ${job.id} gave up after ${job.attemptsMade} attempts: ${error.message}`, job: job.id })
        .catch(() => undefined); // the reconciler marks it later from the failed job
    }
  };

  const createWorker = (queue: QueueName): Worker => {
    const worker = new Worker(queue, processorPath(), {
      connection: redisOptions(config.redisUrl),
      prefix: config.prefix,
      concurrency: concurrencyOf(queue),
      useWorkerThreads: true,
      lockDuration: config.lockMs,
      stalledInterval: Math.max(1_000, Math.floor(config.lockMs / 2)),
      // A job whose worker died twice is failed rather than retried forever.
      maxStalledCount: 2,
      removeOnComplete: { age: 3_600, count: 5_000 },
    });
    active[queue] = 0;
    worker.on('active', () => { active[queue]++; });
    worker.on('completed', (job: Job) => {
      active[queue] = Math.max(0, active[queue] - 1);
      if (job.name === 'canary') {
        lastCanaryAt = new Date();
        return;
      }
      jobsDone++;
    });
    worker.on('failed', (job: Job | undefined, error: Error) => {
      active[queue] = Math.max(0, active[queue] - 1);
      onFailed(job, error);
    });
    worker.on('stalled', (jobId: string) => log('warn', 'job stalled (its worker stopped); it will run again', { jobId, stage: queue }));
    worker.on('error', (error: Error) => log('warn', 'queue connection error', { stage: queue, error: error.message }));
    return worker;
  };
  for (const q of consumed) workers.set(q, createWorker(q));
  log('info', 'worker started', { queues: consumed, concurrency: config.concurrency, prefix: config.prefix, host: hostname(), pid: process.pid });

  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((resolve) => { resolveExit = resolve; });
  let stopping = false;
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => Promise<void>, now = false) => {
    let running = false;
    const tick = async () => {
      if (running || stopping) return;
      running = true;
      try {
        await fn();
      } catch (error) {
        log('warn', 'background task failed; will try again', { error: (error as Error).message });
      } finally {
        running = false;
      }
    };
    timers.push(setInterval(() => void tick(), ms));
    if (now) void tick();
  };

  every(config.heartbeatMs, async () => {
    await db.query('UPDATE workers SET heartbeat_at = now(), jobs_done = $2, last_canary_at = COALESCE($3, last_canary_at) WHERE worker_id = $1',
      [workerId, jobsDone, lastCanaryAt]);
  });
  every(config.reconcileMs, async () => {
    const result = await reconcile(db, queues, config.reconcileMs);
    if (result && (result.requeued > 0 || result.failed > 0)) log('warn', 'reconciler re-enqueued lost work', { stage: 'reconcile', ...result });
    if (consumed.includes('discover')) await syncSchedules(db, queues);
  }, true);

  // Canary: one per queue per process, at the head of the queue (lifo).
  const stuckSince: Partial<Record<QueueName, number>> = {};
  every(config.canaryMs, async () => {
    for (const queue of consumed) {
      const jobId = jobIdFor('canary', { queue, sentBy: workerId });
      const job = await queues[queue].getJob(jobId);
      const waiting = job ? await job.getState() : null;
      const worker = workers.get(queue)!;
      const idle = active[queue] < concurrencyOf(queue);
      if (job && (waiting === 'waiting' || waiting === 'prioritized') && Date.now() - job.timestamp > 2 * config.canaryMs && idle) {
        if (stuckSince[queue]) {
          log('error', 'this worker still takes no jobs after its consumer was recreated; exiting so that its supervisor restarts it', { stage: 'canary', queue });
          resolveExit(EXIT_STUCK);
          return;
        }
        stuckSince[queue] = Date.now();
        log('error', 'canary not consumed although this worker is idle; recreating the consumer', { stage: 'canary', queue, waitedMs: Date.now() - job.timestamp });
        await worker.close(true).catch(() => undefined);
        workers.set(queue, createWorker(queue));
        continue;
      }
      if (!job) {
        delete stuckSince[queue];
        await queues[queue].add('canary', { queue, sentBy: workerId }, { jobId, lifo: true, removeOnComplete: true, removeOnFail: true, attempts: 1 });
      }
    }
  });

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    for (const t of timers) clearInterval(t);
    log('info', 'worker stopping: finishing running jobs', {});
    // Running jobs finish; if Redis is unreachable and they cannot be closed within the lock
    // time, they are left to stall and run again on another worker.
    const graceful = Promise.all([...workers.values()].map((w) => w.close().catch(() => undefined)));
    const gaveUp = await Promise.race([graceful.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), Math.max(30_000, config.lockMs)).unref())]);
    if (gaveUp) {
      log('warn', 'running jobs did not close in time (Redis unreachable?); closing anyway — they will run again elsewhere', {});
      await Promise.all([...workers.values()].map((w) => w.close(true).catch(() => undefined)));
    }
    await closeQueues(queues);
    await db.query('UPDATE workers SET stopped_at = now(), jobs_done = $2 WHERE worker_id = $1', [workerId, jobsDone]).catch(() => undefined);
    await db.close().catch(() => undefined);
    log('info', 'worker stopped', { jobsDone });
    resolveExit(0);
  };
  return { workerId, stop, exited };
}
