/**
 * Faults, with real processes against real servers (issue 3): a worker killed with SIGKILL in the
 * middle of a multi-window scan, Redis restarted mid-scan (with persistence on), PostgreSQL stopped
 * while alerts are written, and Redis losing all its data (FLUSHALL). Tests that stop or restart a
 * server start their own instance on a spare port (test/helpers/servers.ts); the machine's shared
 * servers are never disturbed. Each test prints its figures.
 *
 * Every scan here must end with exactly the alerts of an embedded scan of the same pair: no
 * window lost, no alert doubled.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orewatch } from './helpers/cli.js';
import { postgresAvailable, TEST_DATABASE_URL } from './helpers/databases.js';
import {
  alertsById, dropSchema, scanArgs, scenario, serverEnv, spawnWorker, sql, waitUntil, type ScenarioFiles, type ServerEnv, type WorkerProc,
} from './helpers/server-mode.js';
import { serversAvailable, startPostgres, startRedis } from './helpers/servers.js';

const SHARED_REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const pgUp = await postgresAvailable();
const avail = serversAvailable();
const WINDOW = '128';

describe.skipIf(!pgUp || !avail.redis || !avail.postgres)('server mode under faults', () => {
  let tmp: string;
  let s: ScenarioFiles;
  let expected: string[];
  let windowsTotal: number;
  const workers: WorkerProc[] = [];
  const envs: ServerEnv[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'orewatch-faults-'));
    s = await scenario(1024, 202);
    const embedded = await orewatch([...scanArgs(s, ['--window-size', WINDOW]), '--data-dir', join(tmp, 'embedded'), '--out', join(tmp, 'embedded.geojson')]);
    expect(embedded.status, embedded.stderr).toBe(0);
    expected = [...alertsById(JSON.parse(readFileSync(join(tmp, 'embedded.geojson'), 'utf8'))).keys()].sort();
    windowsTotal = Number(/in (\d+) windows/.exec(embedded.stdout)?.[1]);
    expect(windowsTotal).toBe(64);
    expect(expected.length).toBeGreaterThan(10);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    for (const env of envs) await dropSchema(env);
    rmSync(tmp, { recursive: true, force: true });
  });

  async function stopWorkers(): Promise<void> {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  }

  function start(env: ServerEnv, count: number, extra: Record<string, string> = {}): Promise<WorkerProc[]> {
    const started = Array.from({ length: count }, () => spawnWorker({ ...env, ...extra }, ['--concurrency', '1']));
    workers.push(...started);
    return Promise.all(started.map(async (w) => { await w.waitFor((l) => l.msg === 'worker started', 30_000); return w; }));
  }

  async function progress(env: ServerEnv): Promise<{ status: string; windows_done: number } | undefined> {
    return (await sql<{ status: string; windows_done: number }>(env, `SELECT status, windows_done FROM scans ORDER BY started_at DESC LIMIT 1`))[0];
  }

  /** The scan's alerts equal the embedded run's, every window is done once, no observation is doubled. */
  async function expectCompleteAndExact(env: ServerEnv): Promise<{ windows: number; alerts: number; doubled: number }> {
    const scan = (await sql<{ status: string; windows_done: number; windows_total: number; stats: { alert_ids: string[] } }>(env,
      `SELECT status, windows_done, windows_total, stats FROM scans ORDER BY started_at DESC LIMIT 1`))[0];
    expect(scan.status).toBe('done');
    const windows = await sql<{ n: number }>(env, `SELECT count(*)::int AS n FROM scan_windows WHERE status = 'done'`);
    expect(windows[0].n).toBe(windowsTotal);
    expect(scan.windows_done).toBe(windowsTotal);
    const alerts = await sql<{ alert_id: string }>(env, `SELECT alert_id FROM alerts ORDER BY alert_id`);
    expect(alerts.map((a) => a.alert_id)).toEqual(expected);
    expect([...scan.stats.alert_ids].sort()).toEqual(expected);
    const doubled = (await sql<{ n: number }>(env, `SELECT count(*)::int AS n FROM observations o GROUP BY alert_id HAVING count(*) > 1`)).length;
    expect(doubled).toBe(0);
    return { windows: windows[0].n, alerts: alerts.length, doubled };
  }

  it('finishes a scan when one of two workers is killed with SIGKILL mid-scan', async () => {
    const env = serverEnv(SHARED_REDIS, TEST_DATABASE_URL);
    envs.push(env);
    const [a, b] = await start(env, 2);
    const queued = await orewatch([...scanArgs(s, ['--window-size', WINDOW]), '--no-wait'], env);
    expect(queued.status, queued.stderr).toBe(0);
    const at = await waitUntil(async () => { const p = await progress(env); return p && p.windows_done >= 10 ? p.windows_done : null; }, 90_000, '10 windows');
    const victim = a.lines.some((l) => l.msg === 'job done' && l.job === 'window') ? a : b;
    const survivor = victim === a ? b : a;
    const t0 = Date.now();
    victim.proc.kill('SIGKILL');
    expect(await victim.exited).toBe('SIGKILL');
    await waitUntil(async () => (await progress(env))?.status === 'done', 120_000, 'the scan to finish');
    const figures = await expectCompleteAndExact(env);
    const stalled = survivor.lines.filter((l) => /stalled/.test(l.msg)).length;
    console.log(`[fault] kill -9: ${figures.windows} window jobs, 1 of 2 workers killed at ${at}/${windowsTotal} windows; ` +
      `finished ${((Date.now() - t0) / 1000).toFixed(1)} s later; lost 0, doubled ${figures.doubled}; ${figures.alerts} alerts = embedded; stalled-job notices ${stalled}`);
  }, 240_000);

  it('survives a Redis restart mid-scan (persistence on): the workers reconnect and the waiting CLI gets its alerts', async () => {
    const redis = await startRedis({ appendonly: true });
    try {
      const env = serverEnv(redis.url, TEST_DATABASE_URL);
      envs.push(env);
      await start(env, 2);
      const cli = orewatch([...scanArgs(s, ['--window-size', WINDOW]), '--out', join(tmp, 'redis-restart.geojson')], env);
      const at = await waitUntil(async () => { const p = await progress(env); return p && p.windows_done >= 8 ? p.windows_done : null; }, 90_000, '8 windows');
      const t0 = Date.now();
      await redis.restart(1500);
      const result = await cli;
      expect(result.status, result.stderr).toBe(0);
      await expectCompleteAndExact(env);
      expect([...alertsById(JSON.parse(readFileSync(join(tmp, 'redis-restart.geojson'), 'utf8'))).keys()].sort()).toEqual(expected);
      console.log(`[fault] Redis restart (1.5 s down) at ${at}/${windowsTotal} windows: scan finished ${((Date.now() - t0) / 1000).toFixed(1)} s after the restart; lost 0, doubled 0`);
    } finally {
      await stopWorkers();
      await redis.cleanup();
    }
  }, 240_000);

  it('retries alert writing while PostgreSQL is stopped for a few seconds, and finishes', async () => {
    const postgres = await startPostgres();
    try {
      const env = serverEnv(SHARED_REDIS, postgres.url);
      envs.push(env);
      const [w] = await start(env, 1, { OREWATCH_FAULT_PAUSE_BEFORE_STORE_MS: '2500' });
      const cli = orewatch([...scanArgs(s, ['--window-size', WINDOW]), '--out', join(tmp, 'pg-stop.geojson')], env);
      await w.waitFor((l) => l.stage === 'store-pause', 120_000);
      const t0 = Date.now();
      await postgres.stop();
      await new Promise((r) => setTimeout(r, 4000));
      await postgres.start();
      const result = await cli;
      expect(result.status, result.stderr).toBe(0);
      await expectCompleteAndExact(env);
      const retries = w.lines.filter((l) => l.msg === 'job failed (will retry)' && l.job === 'finalize');
      expect(retries.length).toBeGreaterThan(0);
      expect(retries[0].code).toBe('STORE.UNAVAILABLE');
      expect(w.proc.exitCode).toBeNull();
      console.log(`[fault] PostgreSQL stopped 4 s during alert writing: ${retries.length} finalize attempt(s) failed and were retried; ` +
        `scan finished ${((Date.now() - t0) / 1000).toFixed(1)} s after the stop; worker stayed up; lost 0, doubled 0`);
    } finally {
      await stopWorkers();
      await postgres.cleanup();
    }
  }, 240_000);

  it('re-enqueues lost work from PostgreSQL after Redis loses all its data (FLUSHALL)', async () => {
    const redis = await startRedis({ appendonly: false });
    try {
      const env = serverEnv(redis.url, TEST_DATABASE_URL);
      envs.push(env);
      const started = await start(env, 2);
      const queued = await orewatch([...scanArgs(s, ['--window-size', WINDOW]), '--no-wait'], env);
      expect(queued.status, queued.stderr).toBe(0);
      const at = await waitUntil(async () => { const p = await progress(env); return p && p.windows_done >= 8 ? p.windows_done : null; }, 90_000, '8 windows');
      const t0 = Date.now();
      await redis.flushAll();
      await waitUntil(async () => (await progress(env))?.status === 'done', 120_000, 'the scan to finish after FLUSHALL');
      const figures = await expectCompleteAndExact(env);
      const reconciled = started.flatMap((w) => w.lines.filter((l) => l.msg === 'reconciled a stalled scan'));
      expect(reconciled.length).toBeGreaterThan(0);
      const requeued = reconciled.reduce((n, l) => n + Number(l.requeued ?? 0), 0);
      console.log(`[fault] FLUSHALL at ${at}/${windowsTotal} windows: reconciler re-enqueued ${requeued} job(s); scan finished ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s later; lost 0, doubled ${figures.doubled}`);
    } finally {
      await stopWorkers();
      await redis.cleanup();
    }
  }, 240_000);
});
