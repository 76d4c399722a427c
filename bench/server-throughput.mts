// Throughput of server mode with 1, 2 and 4 worker processes on one multi-window scan, against the
// embedded scan of the same pair. Uses the machine's PostgreSQL and Redis (a schema and a queue
// prefix of its own, dropped afterwards). Prints figures; never fails on them.
//   node --import tsx bench/server-throughput.mts [size=2048] [window=256] [workers=1,2,4]
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';

const root = resolve(import.meta.dirname, '..');
const size = Number(process.argv[2] ?? 2048);
const windowSize = process.argv[3] ?? '256';
const counts = (process.argv[4] ?? '1,2,4').split(',').map(Number);
const databaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const dir = join(root, 'bench', '.cache', `scenario-${size}`);

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env } });
    let out = '', err = '';
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { err += d; });
    p.on('exit', (code) => res({ code: code ?? -1, out, err }));
  });
}

await run(['--import', 'tsx', 'bench/make-scenario.mts', String(size), dir]);
const scan = ['bin/orewatch.mjs', 'scan', '--before', join(dir, 'before.tif'), '--after', join(dir, 'after.tif'), '--permits', join(dir, 'permits.geojson'),
  '--closed-sites', join(dir, 'closed-sites.geojson'), '--protected-areas', join(dir, 'protected-areas.geojson'), '--window-size', windowSize, '--quiet'];
const mpx = (size * size) / 1e6;

rmSync(join(dir, 'bench-store'), { recursive: true, force: true });
const t0 = performance.now();
const embedded = await run([...scan, '--data-dir', join(dir, 'bench-store')], { DATABASE_URL: '', REDIS_URL: '' });
const embeddedS = (performance.now() - t0) / 1000;
if (embedded.code !== 0) throw new Error(embedded.err);
const windows = Number(/in (\d+) windows/.exec(embedded.out)?.[1]);
console.log(`${size}×${size} pair (${mpx.toFixed(1)} Mpx), ${windows} windows of ${windowSize} px`);
console.log(`embedded (1 process):      ${embeddedS.toFixed(1)} s, ${(mpx / embeddedS).toFixed(2)} Mpx/s`);

let base = 0;
for (const n of counts) {
  const id = `bench_${process.pid}_${n}`;
  const env = { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, OREWATCH_DB_SCHEMA: id, OREWATCH_QUEUE_PREFIX: id, OREWATCH_CONCURRENCY: '1' };
  const workers = Array.from({ length: n }, () => spawn(process.execPath, ['bin/orewatch.mjs', 'worker'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] }));
  await Promise.all(workers.map((w) => new Promise<void>((res) => {
    let buf = '';
    w.stdout!.on('data', (d: Buffer) => { buf += d; if (buf.includes('worker started')) res(); });
  })));
  const t = performance.now();
  const r = await run(scan, env);
  const s = (performance.now() - t) / 1000;
  if (r.code !== 0) console.log(`  ${n} worker(s): failed: ${r.err}`);
  base ||= s;
  console.log(`server, ${n} worker process(es): ${s.toFixed(1)} s, ${(mpx / s).toFixed(2)} Mpx/s, ${(windows / s).toFixed(1)} windows/s, speed-up ×${(base / s).toFixed(2)} over 1 worker`);
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => new Promise((res) => w.on('exit', res))));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${id} CASCADE`);
  await client.end();
}
console.log('(2 cores here: more than 2 busy processes only share them)');
