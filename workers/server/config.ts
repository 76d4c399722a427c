/**
 * Server-mode settings, from the environment (and flags that override it). One place that says
 * what every knob is, its default, and why.
 */
import { availableParallelism } from 'node:os';
import { OrewatchError } from '../../errors/index.js';

export interface ServerConfig {
  redisUrl: string;
  databaseUrl: string;
  /** PostgreSQL schema (tests use their own; production leaves it unset → public). */
  dbSchema: string | undefined;
  /** Redis key prefix of orewatch's queues; a test or a second deployment uses its own. */
  prefix: string;
  /** Window jobs run at once in this process (each in its own worker thread). */
  concurrency: number;
  /** A job's lock: a worker that stops renewing it (killed, frozen) loses the job after this. */
  lockMs: number;
  /** How often a worker looks for scans whose jobs Redis lost, and re-enqueues them. */
  reconcileMs: number;
  /** How often a canary job goes through each queue; twice this without consumption = stuck. */
  canaryMs: number;
  heartbeatMs: number;
  /** Attempts per job for transient failures (network, Redis or PostgreSQL briefly gone). */
  attempts: number;
  /** First retry delay; doubles with each attempt. */
  backoffMs: number;
}

const DEFAULTS = {
  prefix: 'orewatch', lockMs: 30_000, reconcileMs: 30_000, canaryMs: 60_000, heartbeatMs: 10_000, attempts: 8, backoffMs: 2_000,
};

/** True when the environment asks for server mode: both REDIS_URL and DATABASE_URL are set. */
export function serverModeRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.REDIS_URL && env.DATABASE_URL);
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new OrewatchError('CONFIG.BAD_NUMBER', `${name}: expected a positive integer but received "${raw}"`, { kind: 'config' });
  return n;
}

export function serverConfigFromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<ServerConfig> = {}): ServerConfig {
  const redisUrl = overrides.redisUrl ?? env.REDIS_URL;
  const databaseUrl = overrides.databaseUrl ?? env.DATABASE_URL;
  if (!redisUrl) throw new OrewatchError('CONFIG.NO_REDIS', 'Server mode needs REDIS_URL (e.g. redis://127.0.0.1:6379)', { kind: 'config' });
  if (!databaseUrl) throw new OrewatchError('CONFIG.NO_DATABASE', 'Server mode needs DATABASE_URL (e.g. postgres://user@host:5432/orewatch)', { kind: 'config' });
  const prefix = overrides.prefix ?? env.OREWATCH_QUEUE_PREFIX ?? DEFAULTS.prefix;
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(prefix)) throw new OrewatchError('CONFIG.BAD_PREFIX', `OREWATCH_QUEUE_PREFIX: expected letters, digits, - or _ but received "${prefix}"`, { kind: 'config' });
  return {
    redisUrl,
    databaseUrl,
    dbSchema: overrides.dbSchema ?? (env.OREWATCH_DB_SCHEMA || undefined),
    prefix,
    concurrency: overrides.concurrency ?? positiveInt(env, 'OREWATCH_CONCURRENCY', Math.max(1, availableParallelism())),
    lockMs: overrides.lockMs ?? positiveInt(env, 'OREWATCH_LOCK_MS', DEFAULTS.lockMs),
    reconcileMs: overrides.reconcileMs ?? positiveInt(env, 'OREWATCH_RECONCILE_MS', DEFAULTS.reconcileMs),
    canaryMs: overrides.canaryMs ?? positiveInt(env, 'OREWATCH_CANARY_MS', DEFAULTS.canaryMs),
    heartbeatMs: overrides.heartbeatMs ?? positiveInt(env, 'OREWATCH_HEARTBEAT_MS', DEFAULTS.heartbeatMs),
    attempts: overrides.attempts ?? positiveInt(env, 'OREWATCH_JOB_ATTEMPTS', DEFAULTS.attempts),
    backoffMs: overrides.backoffMs ?? positiveInt(env, 'OREWATCH_BACKOFF_MS', DEFAULTS.backoffMs),
  };
}
