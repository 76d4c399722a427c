/**
 * Server mode from the outside, for tests: worker processes (`orewatch worker`, the built CLI) with
 * their JSON log lines collected, the environment that points the CLI and the workers at one
 * Redis prefix and one PostgreSQL schema, and a generated scene pair to scan.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { generateScenario } from '../../pipeline/eval/scenario-generator.js';
import { ROOT } from './cli.js';

export interface ServerEnv {
  REDIS_URL: string;
  DATABASE_URL: string;
  OREWATCH_DB_SCHEMA: string;
  OREWATCH_QUEUE_PREFIX: string;
  [key: string]: string;
}

/** A fresh schema and queue prefix on the given servers, with fast lock, reconcile and canary timings. */
export function serverEnv(redisUrl: string, databaseUrl: string, extra: Record<string, string> = {}): ServerEnv {
  const id = `${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  return {
    REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, OREWATCH_DB_SCHEMA: `srv_${id}`, OREWATCH_QUEUE_PREFIX: `owt_${id}`,
    OREWATCH_LOCK_MS: '4000', OREWATCH_RECONCILE_MS: '2000', OREWATCH_CANARY_MS: '3000', OREWATCH_HEARTBEAT_MS: '1000',
    OREWATCH_BACKOFF_MS: '500', OREWATCH_JOB_ATTEMPTS: '10', ...extra,
  };
}

export interface LogLine {
  time: string;
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface WorkerProc {
  proc: ChildProcessWithoutNullStreams;
  pid: number;
  lines: LogLine[];
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  waitFor(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(timeoutMs?: number): Promise<number | string>;
}

export function spawnWorker(env: Record<string, string>, args: string[] = []): WorkerProc {
  const proc = spawn(process.execPath, [resolve(ROOT, 'bin', 'orewatch.mjs'), 'worker', ...args], { env: { ...process.env, ...env }, cwd: ROOT });
  const lines: LogLine[] = [];
  let err = '';
  let buffer = '';
  const waiters: { predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { time: '', level: 'raw', msg: text };
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.predicate(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const exited = new Promise<number | string>((res) => proc.on('exit', (code, signal) => res(code ?? signal ?? -1)));
  return {
    proc, pid: proc.pid!, lines, stderr: () => err, exited,
    waitFor(predicate, timeoutMs = 60_000) {
      const hit = lines.find(predicate);
      if (hit) return Promise.resolve(hit);
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${lines.slice(-8).map((l) => JSON.stringify(l)).join('\n')}\n${err.slice(-2000)}`)), timeoutMs);
        waiters.push({ predicate, resolve: (l) => { clearTimeout(timer); res(l); } });
      });
    },
    async stop(timeoutMs = 15_000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      // A worker whose Redis is gone for good cannot finish cleanly: do not wait for it forever.
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface ScenarioFiles {
  dir: string;
  before: string;
  after: string;
  permits: string;
  closedSites: string;
  protectedAreas: string;
}

/** A generated pair (cached under test/.tmp by size and seed). */
export async function scenario(size: number, seed: number): Promise<ScenarioFiles> {
  const dir = resolve(ROOT, 'test', '.tmp', `server-scenario-${size}-${seed}`);
  if (!existsSync(join(dir, 'manifest.json'))) {
    mkdirSync(dir, { recursive: true });
    await generateScenario({ seed, size, outDir: dir });
  }
  return {
    dir, before: join(dir, 'before.tif'), after: join(dir, 'after.tif'), permits: join(dir, 'permits.geojson'),
    closedSites: join(dir, 'closed-sites.geojson'), protectedAreas: join(dir, 'protected-areas.geojson'),
  };
}

export function scanArgs(s: ScenarioFiles, extra: string[] = []): string[] {
  return ['scan', '--before', s.before, '--after', s.after, '--permits', s.permits, '--closed-sites', s.closedSites,
    '--protected-areas', s.protectedAreas, '--quiet', ...extra];
}

/** Runs SQL in the test's schema. */
export async function sql<R extends Record<string, unknown>>(env: ServerEnv, text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: env.DATABASE_URL, options: `-c search_path=${env.OREWATCH_DB_SCHEMA}` });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as R[];
  } finally {
    await client.end();
  }
}

export async function dropSchema(env: ServerEnv): Promise<void> {
  const client = new pg.Client({ connectionString: env.DATABASE_URL });
  await client.connect().catch(() => undefined);
  await client.query(`DROP SCHEMA IF EXISTS ${env.OREWATCH_DB_SCHEMA} CASCADE`).catch(() => undefined);
  await client.end().catch(() => undefined);
}

/** Alerts of a GeoJSON file keyed by id, without the per-scan field. */
export function alertsById(geojson: { features: { properties: Record<string, unknown> }[] }): Map<string, string> {
  return new Map(geojson.features.map((f) => {
    const { scan_id: _scan, ...rest } = f.properties;
    return [String(rest.alert_id), JSON.stringify({ ...f, properties: rest })];
  }));
}

export function waitUntil<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs: number, what: string, everyMs = 200): Promise<T> {
  const started = Date.now();
  return new Promise((res, rej) => {
    const tick = async () => {
      try {
        const v = await probe();
        if (v) return res(v);
      } catch { /* not yet */ }
      if (Date.now() - started > timeoutMs) return rej(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(() => void tick(), everyMs);
    };
    void tick();
  });
}
