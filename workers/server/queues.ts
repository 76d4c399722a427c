/**
 * The queues of server mode and their jobs. Payloads carry references (scan id, window index, area
 * id), never pixels; job ids are deterministic, so enqueuing the same work twice is one job.
 *
 * - `scan`: calibrate (plan a scan into windows), finalize (merge windows → sites → alerts), chips.
 * - `window`: read → mask → detect one window of a scan.
 * - `discover`: find new scenes for a watched area and queue their scans (scheduled, cron).
 * Every queue also carries canary jobs (see worker-process.ts).
 */
import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { RedisOptions } from 'bullmq';
import { OrewatchError } from '../../errors/index.js';
import type { ServerConfig } from './config.js';

export const QUEUE_NAMES = ['scan', 'window', 'discover'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface JobPayloads {
  calibrate: { scanId: string };
  window: { scanId: string; idx: number };
  finalize: { scanId: string };
  chips: { scanId: string };
  discover: { aoiId: number; trigger?: string };
  canary: { queue: QueueName; sentBy: string };
}
export type JobName = keyof JobPayloads;

export const QUEUE_OF: Record<JobName, QueueName | null> = {
  calibrate: 'scan', finalize: 'scan', chips: 'scan', window: 'window', discover: 'discover', canary: null,
};

/** Deterministic job id ("finalize.SCAN-…"); BullMQ ids may not contain ':'. */
export function jobIdFor<N extends JobName>(name: N, data: JobPayloads[N]): string {
  switch (name) {
    case 'window': { const d = data as JobPayloads['window']; return `window.${d.scanId}.${d.idx}`; }
    case 'discover': { const d = data as JobPayloads['discover']; return `discover.${d.aoiId}.${d.trigger ?? 'manual'}`; }
    case 'canary': { const d = data as JobPayloads['canary']; return `canary.${d.queue}.${d.sentBy}`; }
    default: return `${name}.${(data as { scanId: string }).scanId}`;
  }
}

/** ioredis options from a redis:// or rediss:// URL. Workers need maxRetriesPerRequest null (BullMQ). */
export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OrewatchError('CONFIG.BAD_REDIS_URL', `REDIS_URL: expected redis://host:port[/db] but received "${url}"`, { kind: 'config' });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new OrewatchError('CONFIG.BAD_REDIS_URL', `REDIS_URL: expected redis:// or rediss:// but received "${u.protocol}//"`, { kind: 'config' });
  }
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    db: Number.isInteger(db) ? db : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    // Reconnect forever with a capped delay: a Redis restart must not end a worker.
    retryStrategy: (times: number) => Math.min(200 * times, 2_000),
    connectTimeout: 10_000,
  };
}

export function defaultJobOptions(config: ServerConfig): JobsOptions {
  return {
    attempts: config.attempts,
    backoff: { type: 'exponential', delay: config.backoffMs },
    removeOnComplete: { age: 3_600, count: 5_000 },
    removeOnFail: { age: 14 * 86_400 },
  };
}

export type Queues = Record<QueueName, Queue>;

export function openQueues(config: ServerConfig): Queues {
  const connection = redisOptions(config.redisUrl);
  const make = (name: QueueName) => new Queue(name, { connection, prefix: config.prefix, defaultJobOptions: defaultJobOptions(config) });
  const queues = { scan: make('scan'), window: make('window'), discover: make('discover') };
  // A queue's own connection error must not crash the process; calls fail and are retried.
  for (const q of Object.values(queues)) q.on('error', () => undefined);
  return queues;
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close().catch(() => undefined)));
}

/** Adds a job under its deterministic id (a no-op when that job is already queued or running). */
export async function enqueue<N extends Exclude<JobName, 'canary'>>(queues: Queues, name: N, data: JobPayloads[N], options: JobsOptions = {}): Promise<string> {
  const jobId = jobIdFor(name, data);
  await queues[QUEUE_OF[name]!].add(name, data, { jobId, ...options });
  return jobId;
}

/** Adds many window jobs at once. */
export async function enqueueWindows(queues: Queues, scanId: string, indices: number[]): Promise<void> {
  for (let i = 0; i < indices.length; i += 500) {
    await queues.window.addBulk(indices.slice(i, i + 500).map((idx) => ({ name: 'window', data: { scanId, idx }, opts: { jobId: jobIdFor('window', { scanId, idx }) } })));
  }
}

/** processor.ts ends the reason of a job it refused at once (input, config) with "[CODE]". */
const UNRECOVERABLE_REASON = /\[[A-Z0-9_]+\.[A-Z0-9_.]+\]$/;

/** A failed job that will not run again: out of attempts, or refused at once. */
export function failedForGood(job: Pick<Job, 'attemptsMade' | 'opts' | 'failedReason'>): boolean {
  return job.attemptsMade >= (job.opts.attempts ?? 1) || UNRECOVERABLE_REASON.test(job.failedReason ?? '');
}
