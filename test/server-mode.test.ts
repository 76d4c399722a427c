/**
 * Server mode end to end with real processes: `orewatch worker` processes on the machine's Redis
 * (a queue prefix of their own) and PostgreSQL (a schema of their own), and the CLI as a user
 * runs it. The server scan must give exactly the alerts of an embedded scan of the same pair; the
 * same scan queued twice is one scan and one alert per site; bad input fails at once, with its
 * reason, without retries; workers refuse an evicting Redis.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orewatch } from './helpers/cli.js';
import { corruptPixelData } from './helpers/corrupt.js';
import { postgresAvailable, TEST_DATABASE_URL } from './helpers/databases.js';
import { alertsById, dropSchema, scanArgs, scenario, serverEnv, spawnWorker, sql, waitUntil, type ScenarioFiles, type ServerEnv, type WorkerProc } from './helpers/server-mode.js';
import { serversAvailable, startRedis } from './helpers/servers.js';

const SHARED_REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const pgUp = await postgresAvailable();

describe.skipIf(!pgUp)('server mode (BullMQ workers, PostgreSQL)', () => {
  let env: ServerEnv;
  let tmp: string;
  let s: ScenarioFiles;
  let worker: WorkerProc;

  beforeAll(async () => {
    env = serverEnv(SHARED_REDIS, TEST_DATABASE_URL);
    tmp = mkdtempSync(join(tmpdir(), 'orewatch-server-'));
    s = await scenario(768, 201);
    worker = spawnWorker(env, ['--concurrency', '2']);
    await worker.waitFor((l) => l.msg === 'worker started', 30_000);
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await dropSchema(env);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('gives the alerts of an embedded scan of the same pair, and writes the same --out', async () => {
    const embedded = await orewatch([...scanArgs(s, ['--window-size', '256']), '--data-dir', join(tmp, 'embedded'), '--out', join(tmp, 'embedded.geojson')]);
    expect(embedded.status, embedded.stderr).toBe(0);
    const server = await orewatch([...scanArgs(s, ['--window-size', '256']), '--out', join(tmp, 'server.geojson')], env);
    expect(server.status, server.stderr).toBe(0);
    expect(server.stdout).toMatch(/9 windows/);
    const a = alertsById(JSON.parse(readFileSync(join(tmp, 'embedded.geojson'), 'utf8')));
    const b = alertsById(JSON.parse(readFileSync(join(tmp, 'server.geojson'), 'utf8')));
    expect(a.size).toBeGreaterThan(5);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [id, feature] of a) expect(b.get(id), id).toBe(feature);
    // The scan ran as window jobs on the workers, recorded window by window.
    const windows = await sql<{ n: number; workers: number }>(env, `SELECT count(*)::int AS n, count(DISTINCT worker)::int AS workers FROM scan_windows`);
    expect(windows[0].n).toBe(9);
    const logged = worker.lines.filter((l) => l.msg === 'job done' && l.job === 'window');
    expect(logged.length).toBeGreaterThanOrEqual(9);
    expect(logged[0]).toMatchObject({ scanId: expect.stringMatching(/^SCAN-/), jobId: expect.stringMatching(/^window\./), stage: 'window', durationMs: expect.any(Number) });
  }, 180_000);

  it('keeps one scan and one alert per site when the same scan is queued twice at once', async () => {
    const args = scanArgs(s, ['--window-size', '384']);
    const [first, second] = await Promise.all([orewatch(args, env), orewatch(args, env)]);
    expect(first.status, first.stderr).toBe(0);
    expect(second.status, second.stderr).toBe(0);
    const idOf = (out: string) => /scan (SCAN-\S+):/.exec(out)?.[1];
    expect(idOf(first.stdout)).toBe(idOf(second.stdout));
    // Two scans of the pair so far (256 px and 384 px windows): every site is one alert with two observations.
    const dup = await sql<{ n: number }>(env, `SELECT count(*)::int AS n FROM (SELECT alert_id FROM observations GROUP BY alert_id, scene_key HAVING count(*) > 1) d`);
    expect(dup[0].n).toBe(0);
    const scans = await sql<{ n: number }>(env, `SELECT count(*)::int AS n FROM scans WHERE status = 'done'`);
    expect(scans[0].n).toBe(2);
    const alerts = await sql<{ n: number }>(env, `SELECT count(*)::int AS n FROM alerts`);
    const first256 = alertsById(JSON.parse(readFileSync(join(tmp, 'server.geojson'), 'utf8')));
    expect(alerts[0].n).toBe(first256.size);
  }, 180_000);

  it('prints the scan id and returns at once with --no-wait', async () => {
    const r = await orewatch([...scanArgs(s, ['--window-size', '512']), '--no-wait'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^SCAN-\d{8}T\d{6}-[0-9a-f]{6}$/);
    const status = await orewatch(['status'], env);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/Queues/);
    expect(status.stdout).toMatch(/Workers \(1 alive\)/);
  }, 60_000);

  it('fails a scan of a corrupt scene at once, with the reason, and does not retry it', async () => {
    const bad = join(tmp, 'corrupt-after.tif');
    copyFileSync(s.after, bad);
    corruptPixelData(s.after, bad);
    const r = await orewatch(['scan', '--before', s.before, '--after', bad, '--permits', s.permits, '--quiet', '--window-size', '256'], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/corrupt-after\.tif.*DEFLATE block cannot be decoded/);
    expect(r.stderr).toMatch(/SCENE\.CORRUPT_BLOCK/);
    const failed = await sql<{ error: { code: string } }>(env, `SELECT error FROM scans WHERE status = 'failed'`);
    expect(failed.map((f) => f.error.code)).toContain('SCENE.CORRUPT_BLOCK');
    const retried = worker.lines.filter((l) => l.msg === 'job failed (will retry)' && /corrupt/.test(String(l.error)));
    expect(retried).toEqual([]);
    const status = await orewatch(['status', '--json'], env);
    const report = JSON.parse(status.stdout) as { failedJobs: { reason: string; attempts: number }[]; failedScans: { error: { code: string } }[] };
    expect(report.failedJobs.some((j) => /DEFLATE block/.test(j.reason) && j.attempts === 1)).toBe(true);
    expect(report.failedScans[0].error.code).toBe('SCENE.CORRUPT_BLOCK');

    // The operator replaces the damaged file and retries: the scan resumes where it stopped.
    const scanId = (await sql<{ scan_id: string }>(env, `SELECT scan_id FROM scans WHERE status = 'failed'`))[0].scan_id;
    copyFileSync(s.after, bad);
    const retry = await orewatch(['retry', '--scan', scanId], env);
    expect(retry.status, retry.stderr).toBe(0);
    expect(retry.stdout).toMatch(new RegExp(`retried [1-9]\\d* job\\(s\\); resumed 1 scan\\(s\\): ${scanId}`));
    await waitUntil(async () => (await sql<{ status: string }>(env, `SELECT status FROM scans WHERE scan_id = $1`, [scanId]))[0]?.status === 'done', 120_000, 'the retried scan to finish');
    const audit = await sql<{ action: string }>(env, `SELECT action FROM audit_log WHERE scan_id = $1 ORDER BY audit_id`, [scanId]);
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['scan_queued', 'scan_failed', 'scan_retried', 'scan']));
  }, 180_000);

  it('records canaries, and on SIGTERM lets running jobs finish, then exits', async () => {
    await waitUntil(async () => (await sql<{ last_canary_at: Date | null }>(env, `SELECT last_canary_at FROM workers WHERE pid = $1`, [worker.pid]))[0]?.last_canary_at, 30_000, 'a consumed canary');
    const second = spawnWorker(env, ['--concurrency', '1']);
    try {
      await second.waitFor((l) => l.msg === 'worker started', 30_000);
      const queued = await orewatch([...scanArgs(s, ['--window-size', '128']), '--no-wait'], env);
      expect(queued.status, queued.stderr).toBe(0);
      const scanId = queued.stdout.trim();
      await worker.waitFor((l) => l.msg === 'job done' && l.job === 'window' && l.scanId === scanId, 60_000);
      worker.proc.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      const stopping = worker.lines.findIndex((l) => l.msg === 'worker stopping: finishing running jobs');
      const stopped = worker.lines.findIndex((l) => l.msg === 'worker stopped');
      expect(stopping).toBeGreaterThanOrEqual(0);
      expect(stopped).toBeGreaterThan(stopping);
      await waitUntil(async () => (await sql<{ status: string }>(env, `SELECT status FROM scans WHERE scan_id = $1`, [scanId]))[0]?.status === 'done', 120_000, 'the scan to finish on the other worker');
      // Nothing was left half-done by the stopped worker: no job of it had to be recovered as stalled.
      expect(second.lines.filter((l) => /stalled/.test(l.msg))).toEqual([]);
      const windows = await sql<{ n: number }>(env, `SELECT count(*)::int AS n FROM scan_windows WHERE scan_id = $1 AND status = 'done'`, [scanId]);
      expect(windows[0].n).toBe(36);
    } finally {
      await second.stop();
    }
  }, 180_000);

  it('refuses to start against a Redis that may evict keys', async () => {
    const avail = serversAvailable();
    if (!avail.redis) return;
    const redis = await startRedis({ maxmemoryPolicy: 'allkeys-lru' });
    try {
      const w = spawnWorker({ ...env, REDIS_URL: redis.url });
      expect(await w.exited).toBe(2);
      expect(w.stderr()).toMatch(/maxmemory-policy "allkeys-lru".*noeviction/);
    } finally {
      await redis.cleanup();
    }
  }, 60_000);
});
