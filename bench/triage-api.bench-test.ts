/**
 * GET /api/alerts with 100,000 alerts in PostgreSQL: the queue as each role asks for it (default
 * view, filters, bbox, another sort, a deep page), over a real HTTP socket. Prints median and p95
 * per case and the ratio to `GET /api/health` measured in the same run (the fixed cost of HTTP,
 * the session look-up excluded). Never fails on timing. `npm run bench -- bench/triage-api.bench-test.ts`
 */
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTriageServer } from '../api/server.js';
import { createUser } from '../api/users.js';
import { openDatabase, type Database } from '../pipeline/store/database.js';
import { migrate } from '../pipeline/store/migrations.js';
import { postgresAvailable, TEST_DATABASE_URL } from '../test/helpers/databases.js';

const N = 100_000;
const COUNTIES = 20;
const RUNS = 40;
const pgUp = await postgresAvailable();

/** 100,000 alerts over 20 counties of 360700, six categories, ten statuses (70 % new), 2025–2026. */
async function seed(db: Database): Promise<void> {
  await db.query(`INSERT INTO scans (scan_id, scan_key, before_uri, after_uri, before_date, after_date, detector, detector_version, rules, layers, started_at)
    VALUES ('SCAN-BENCH', 'bench', 'before.tif', 'after.tif', '2025-01-01', '2026-01-01', 'spectral', '0.1.0', '{}', '[]', now())`);
  await db.query(`
    INSERT INTO alerts (alert_id, category, flags, status, confidence, score, area_ha, area_outside_ha, permit_id, county_code, county_name,
      change_kind, geometry, centroid_lon, centroid_lat, min_lon, min_lat, max_lon, max_lat, first_seen, last_seen, observation_count,
      rule_trace, summary, rules, detector, detector_version, last_scan_id)
    SELECT 'OW-' || upper(lpad(to_hex(i), 12, '0')),
      (ARRAY['protected_area','closed_site_reactivated','expired_permit','exploration_only','out_of_bounds','unlicensed'])[(1 + (i * 7) % 6)::int],
      '[]'::jsonb,
      CASE WHEN i % 10 < 7 THEN 'new' ELSE (ARRAY['triaged','suspected_illegal','pseudo_change','licensed','needs_field_check','closed'])[(1 + i % 6)::int] END,
      CASE WHEN i % 4 = 0 THEN 'confirmed' ELSE 'provisional' END,
      ((i * 2654435761::bigint) % 1000) / 1000.0, 0.3 + ((i * 40503) % 500) / 100.0, NULL, NULL,
      '3607' || lpad((1 + i % ${COUNTIES})::text, 2, '0'), '县' || (1 + i % ${COUNTIES}),
      'vegetation_to_bare_soil',
      jsonb_build_object('type', 'Polygon', 'coordinates', jsonb_build_array(jsonb_build_array(
        jsonb_build_array(lon, lat), jsonb_build_array(lon + 0.001, lat), jsonb_build_array(lon + 0.001, lat + 0.001),
        jsonb_build_array(lon, lat + 0.001), jsonb_build_array(lon, lat)))),
      lon + 0.0005, lat + 0.0005, lon, lat, lon + 0.001, lat + 0.001,
      d, d, 1, '[]'::jsonb, 'bench alert', '{}'::jsonb, 'spectral', '0.1.0', 'SCAN-BENCH'
    FROM (SELECT i, 114.5 + (i % 1000) * 0.0015 AS lon, 24.5 + (i / 1000) * 0.01 AS lat,
                 DATE '2025-01-01' + (i % 700)::int AS d FROM generate_series(1::bigint, ${N}) AS i) s`);
  // A settled table, as autovacuum leaves it (the visibility map lets count(*) read the index only).
  await db.query('VACUUM ANALYZE alerts');
}

async function time(url: string, cookie: string): Promise<{ ms: number; total: number; items: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { cookie } });
  const body = await res.json() as { total?: number; items?: unknown[] };
  const ms = performance.now() - t0;
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return { ms, total: body.total ?? 0, items: body.items?.length ?? 0 };
}

function stats(values: number[]): { median: number; p95: number } {
  const s = [...values].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p95: s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)] };
}

describe.skipIf(!pgUp)(`GET /api/alerts with ${N.toLocaleString('en')} alerts in PostgreSQL`, () => {
  const schema = `bench_triage_${process.pid}`;
  let db: Database;
  let base: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    db = await openDatabase({ databaseUrl: TEST_DATABASE_URL, schema, poolSize: 8 });
    await migrate(db);
    const t0 = performance.now();
    await seed(db);
    process.stdout.write(`seeded ${N} alerts in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    for (const [username, role, codes] of [['admin', 'admin', []], ['county', 'county', ['360707']], ['province', 'province', ['360000']]] as const) {
      await createUser(db, { username, role, jurisdictions: [...codes], password: 'bench password' });
    }
    const app = await createTriageServer({ db, loginRateLimit: { max: 100, windowMs: 60_000 } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    close = async () => { await app.close(); };
  }, 600_000);

  afterAll(async () => {
    await close?.();
    await db?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db?.close();
  });

  it('prints median and p95 per query, and the ratio to GET /api/health', async () => {
    const cookies: Record<string, string> = {};
    for (const user of ['admin', 'county', 'province']) {
      const res = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: user, password: 'bench password' }) });
      cookies[user] = (res.headers.get('set-cookie') ?? '').split(';')[0];
    }
    const cases: [string, string, string][] = [
      ['health (reference)', 'admin', '/api/health'],
      ['admin, default queue (status=new, priority, 50)', 'admin', '/api/alerts?status=new'],
      ['admin, no filter, 50', 'admin', '/api/alerts'],
      ['county, default queue', 'county', '/api/alerts?status=new'],
      ['province, category + date range', 'province', '/api/alerts?status=new&category=unlicensed,out_of_bounds&from=2025-06-01&to=2025-09-30'],
      ['province, bbox', 'province', '/api/alerts?bbox=114.6,24.6,114.9,25.0'],
      ['admin, sort by area, 200', 'admin', '/api/alerts?sort=area&limit=200'],
      ['admin, deep page (offset 20,000)', 'admin', '/api/alerts?offset=20000'],
      ['admin, id prefix search', 'admin', '/api/alerts?q=OW-00000000FF'],
      ['admin, one alert by id', 'admin', '/api/alerts/OW-0000000000FF'],
    ];
    const results: { name: string; median: number; p95: number; total: number; items: number }[] = [];
    for (const [name, user, path] of cases) {
      for (let i = 0; i < 5; i++) await time(`${base}${path}`, cookies[user]);
      const runs: { ms: number; total: number; items: number }[] = [];
      for (let i = 0; i < RUNS; i++) runs.push(await time(`${base}${path}`, cookies[user]));
      results.push({ name, ...stats(runs.map((r) => r.ms)), total: runs[0].total, items: runs[0].items });
    }
    const ref = results[0].median;
    const lines = results.map((r) => `${r.name.padEnd(52)} ${r.median.toFixed(1).padStart(7)} ms  p95 ${r.p95.toFixed(1).padStart(7)} ms  ×${(r.median / ref).toFixed(1).padStart(5)}  total ${String(r.total).padStart(6)}  items ${r.items}`);
    process.stdout.write(`\nGET /api/alerts, ${N} alerts in PostgreSQL, ${RUNS} runs each (median, p95, ratio to /api/health):\n${lines.join('\n')}\n`);
    expect(results[1].total).toBe(N * 0.7);
    const county = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM alerts WHERE county_code = '360707' AND status = 'new'`);
    expect(results[3].total).toBe(county.rows[0].n);
  }, 600_000);
});
