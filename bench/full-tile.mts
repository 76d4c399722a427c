// The whole pipeline on a full Sentinel-2-sized tile pair (issue 7).
//
// Makes once (cached under bench/.cache/full-tile-<size>-scl/) a generated pair of <size>×<size> px
// with six 10 m bands plus SCL, written as COGs by GDAL (DEFLATE, predictor 2, 512 px blocks,
// overviews: what Sentinel-2 L2A COGs look like), then runs `orewatch scan` on it:
//   embedded     one process, the embedded store (created before the timed run);
//   server-1/-2  server mode with 1 and 2 `orewatch worker` processes (PostgreSQL + Redis);
//   http-aoi     an area scan over HTTP range requests: bytes fetched against the file and
//                against the tiles the area touches plus the header/IFDs;
//   gdal         GDAL (rasterio, one thread) reading the same windows with the same halo, for
//                the ratio of the read stage to GDAL.
// For each run: seconds, Mpx/s and share of the total per stage, and the peak RSS of every process
// (GNU time). Prints figures; never fails on them.
//
//   node --import tsx bench/full-tile.mts [--size 10980] [--runs embedded,server-1,server-2,http-aoi,gdal]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { fromFile } from 'geotiff';
import { generateScenario } from '../pipeline/eval/scenario-generator.js';
import { createTransform, WGS84 } from '../geodata/crs.js';
import { inverseTransform, pixelToCrs } from '../geodata/pair.js';
import { openScene } from '../geodata/scene-reader.js';
import { scanWindows } from '../pipeline/scan/stages.js';
import { HALO_PX, planWindows, readingOrder } from '../pipeline/scan/detect-window.js';
import { TiffScene, type RawWindow } from '../geodata/tiff/tiff-reader.js';
import { createDetector } from '../models/registry.js';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '10980' },
    runs: { type: 'string', default: 'embedded,server-1,server-2,http-aoi,gdal' },
    'window-size': { type: 'string', default: '512' },
  },
});
const size = Number(args.size);
const windowSize = Number(args['window-size']);
const runs = new Set(String(args.runs).split(','));
const root = resolve(import.meta.dirname, '..');
const cache = join(root, 'bench', '.cache', `full-tile-${size}-scl`);
const scenario = join(root, 'bench', '.cache', `scenario-${size}-scl`);
const work = join(cache, 'work');
const cli = join(root, 'bin', 'orewatch.mjs');
mkdirSync(work, { recursive: true });

// ---------------------------------------------------------------------------------------------
// Inputs, made once.

if (!existsSync(join(scenario, 'manifest.json'))) {
  const t0 = performance.now();
  await generateScenario({ seed: 5490, size, outDir: scenario, withScl: true });
  console.log(`generated the ${size}×${size} scenario in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
const cogs = { before: join(cache, 'before.cog.tif'), after: join(cache, 'after.cog.tif') };
for (const date of ['before', 'after'] as const) {
  if (existsSync(cogs[date])) continue;
  const t0 = performance.now();
  execFileSync('gdal_translate', ['-q', '-of', 'COG', '-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=2', '-co', 'BLOCKSIZE=512',
    '-co', 'NUM_THREADS=ALL_CPUS', '-co', 'BIGTIFF=IF_SAFER', join(scenario, `${date}.tif`), `${cogs[date]}.tmp`]);
  execFileSync('mv', [`${cogs[date]}.tmp`, cogs[date]]);
  console.log(`wrote ${cogs[date]} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
const layers = ['--permits', join(scenario, 'permits.geojson'), '--closed-sites', join(scenario, 'closed-sites.geojson'),
  '--protected-areas', join(scenario, 'protected-areas.geojson')];
const mpx = (size * size) / 1e6;
const fileBytes = statSync(cogs.before).size + statSync(cogs.after).size;
console.log(`pair: ${size}×${size} px (${mpx.toFixed(1)} Mpx a date), COGs ${(fileBytes / 2 ** 20).toFixed(0)} MiB together`);
execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });

// ---------------------------------------------------------------------------------------------
// Running processes under GNU time.

interface Measured { code: number | null; stdout: string; peakRssMiB: number; wallS: number }

function timed(argv: string[], env: NodeJS.ProcessEnv, label: string): { child: ChildProcess; done: Promise<Measured> } {
  const timeFile = join(work, `time-${label}.txt`);
  const child = spawn('/usr/bin/time', ['-v', '-o', timeFile, process.execPath, cli, ...argv], { cwd: root, env: { ...process.env, ...env } });
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
    if (process.env.BENCH_VERBOSE) process.stderr.write(`[${label}] ${d.toString()}`);
  });
  const done = new Promise<Measured>((resolveDone) => {
    child.on('close', (code) => {
      const text = existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
      const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(text)?.[1] ?? 0) / 1024;
      const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(text);
      const wallS = wall ? Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]) : 0;
      if (code !== 0 && code !== null) writeFileSync(join(work, `stderr-${label}.txt`), stderr);
      resolveDone({ code, stdout, peakRssMiB: rss, wallS });
    });
  });
  return { child, done };
}

const STAGES = ['validate', 'calibrate', 'read', 'read_wait', 'mask', 'detect', 'vectorize', 'classify', 'store'];

function printStages(label: string, timings: { seconds: Record<string, number> }, extra: string[] = []): void {
  const s = timings.seconds;
  const total = s.total ?? 0;
  console.log(`\n${label}: total ${total.toFixed(1)} s for the pair (${(mpx / total).toFixed(2)} Mpx/s of the grid)`);
  console.log('| stage | seconds | Mpx/s | share of total |');
  console.log('| --- | --- | --- | --- |');
  for (const stage of STAGES) {
    const v = s[stage];
    if (v === undefined) continue;
    console.log(`| ${stage} | ${v.toFixed(1)} | ${v > 0 ? (mpx / v).toFixed(1) : '—'} | ${((100 * v) / total).toFixed(1)} % |`);
  }
  for (const line of extra) console.log(line);
}

const readSeconds: Record<string, number> = {};

// ---------------------------------------------------------------------------------------------
// Embedded.

if (runs.has('embedded')) {
  const dataDir = join(work, 'store');
  rmSync(dataDir, { recursive: true, force: true });
  // The store exists before the timed scan, as on a machine that scans every night.
  execFileSync(process.execPath, [cli, 'import', 'permits', join(scenario, 'permits.geojson'), '--data-dir', dataDir], { cwd: root, stdio: 'ignore' });
  const timings = join(work, 'timings-embedded.json');
  const run = timed(['scan', '--before', cogs.before, '--after', cogs.after, ...layers, '--data-dir', dataDir, '--quiet',
    '--window-size', String(windowSize), '--timings', timings, '--out', join(work, 'alerts-embedded.geojson')], {}, 'embedded');
  const m = await run.done;
  if (m.code !== 0) throw new Error(`embedded scan failed (${m.code}): ${m.stdout}`);
  const t = JSON.parse(readFileSync(timings, 'utf8')) as { seconds: Record<string, number> };
  readSeconds.embedded = t.seconds.read ?? 0;
  printStages('embedded', t, [`peak RSS: scan process ${m.peakRssMiB.toFixed(0)} MiB; wall ${m.wallS.toFixed(1)} s`, m.stdout.trim()]);
}

// ---------------------------------------------------------------------------------------------
// Server mode with 1 and 2 worker processes.

/** The node process GNU time runs (its only child). */
function timedChild(timePid: number | undefined): number | null {
  if (timePid === undefined) return null;
  try {
    const out = execFileSync('pgrep', ['-P', String(timePid)]).toString().trim().split('\n')[0];
    return out ? Number(out) : null;
  } catch {
    return null;
  }
}

function workerPeakMiB(timePid: number | undefined): number {
  const pid = timedChild(timePid);
  if (pid === null) return 0;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function killWorker(timePid: number | undefined): void {
  const pid = timedChild(timePid);
  if (pid !== null) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
  }
}

async function serverRun(workers: number): Promise<void> {
  const id = `${process.pid}_${workers}`;
  const env = {
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    DATABASE_URL: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    OREWATCH_DB_SCHEMA: `bench_full_${id}`,
    OREWATCH_QUEUE_PREFIX: `bench_full_${id}`,
  };
  const procs = Array.from({ length: workers }, (_, i) => timed(['worker', '--concurrency', '1'], env, `server-${workers}-worker-${i}`));
  try {
    const timings = join(work, `timings-server-${workers}.json`);
    const scan = timed(['scan', '--before', cogs.before, '--after', cogs.after, ...layers, '--quiet', '--window-size', String(windowSize),
      '--timings', timings, '--out', join(work, `alerts-server-${workers}.geojson`)], env, `server-${workers}-scan`);
    const m = await scan.done;
    if (m.code !== 0) throw new Error(`server scan failed (${m.code}): ${m.stdout} (stderr in ${work}/stderr-server-${workers}-scan.txt)`);
    // The scan is done; the workers would go on rendering evidence chips. Their peak RSS is read
    // from /proc (GNU time cannot report a child it is killed with), then they are stopped.
    const peaks = procs.map((p) => workerPeakMiB(p.child.pid));
    for (const p of procs) killWorker(p.child.pid);
    const measured = (await Promise.all(procs.map((p) => p.done))).map((w, i) => ({ ...w, peakRssMiB: Math.max(w.peakRssMiB, peaks[i] ?? 0) }));
    const t = JSON.parse(readFileSync(timings, 'utf8')) as { seconds: Record<string, number> };
    readSeconds[`server-${workers}`] = t.seconds.read ?? 0;
    printStages(`server mode, ${workers} worker process${workers > 1 ? 'es' : ''}`, t, [
      'read, mask and detect are summed over all window jobs (with 2 workers they run side by side); total is the wall time of `orewatch scan`.',
      `peak RSS: scan (queue and wait) process ${m.peakRssMiB.toFixed(0)} MiB; ${measured.map((w, i) => `worker ${i + 1} ${w.peakRssMiB.toFixed(0)} MiB`).join('; ')}`,
      m.stdout.trim(),
    ]);
  } finally {
    for (const p of procs) killWorker(p.child.pid);
    const client = new pg.Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${env.OREWATCH_DB_SCHEMA} CASCADE`);
    await client.end();
  }
}
for (const workers of [1, 2]) if (runs.has(`server-${workers}`)) await serverRun(workers);

// ---------------------------------------------------------------------------------------------
// GDAL reading the same windows (with the same halo), one thread.

if (runs.has('gdal')) {
  const detector = createDetector('onnx', {});
  const halo = Math.max(HALO_PX, detector.haloPx);
  const script = `
import sys, time, rasterio
from rasterio.windows import Window
import numpy as np
size, win, halo, reuse = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == 'reuse'
out = {}
t0 = time.perf_counter()
for path in sys.argv[1:3]:
    with rasterio.open(path) as ds:
        for row in range(0, size, win):
            for col in range(0, size, win):
                c0, r0 = max(0, col - halo), max(0, row - halo)
                c1, r1 = min(size, col + win + halo), min(size, row + win + halo)
                w = Window(c0, r0, c1 - c0, r1 - r0)
                if reuse:
                    shape = (ds.count, r1 - r0, c1 - c0)
                    if shape not in out: out[shape] = np.empty(shape, dtype=ds.dtypes[0])
                    ds.read(window=w, out=out[shape])
                else:
                    ds.read(window=w)
print(time.perf_counter() - t0)
`;
  const gdalVersion = JSON.parse(execFileSync('/usr/bin/python3', ['-c', 'import json, rasterio; print(json.dumps(rasterio.__gdal_version__))']).toString()) as string;
  // Twice: new arrays for every window, then every window into the arrays of the last one of its
  // size (rasterio's out=, our `into`), as scans now read (readWindowInput's `reuse`).
  let gdalFresh = 0;
  for (const mode of ['fresh', 'reuse'] as const) {
    const seconds = Number(execFileSync('/usr/bin/python3', ['-c', script, cogs.before, cogs.after, String(size), String(windowSize), String(halo), mode],
      { env: { ...process.env, GDAL_NUM_THREADS: '1', GDAL_CACHEMAX: '512' } }).toString().trim());
    if (mode === 'fresh') gdalFresh = seconds;
    const arraysLabel = mode === 'fresh' ? 'new arrays' : 'arrays reused';
    console.log(`\nGDAL ${gdalVersion}, one thread, reading the scan's windows with a ${halo} px halo from both COGs, ${arraysLabel}: ${seconds.toFixed(1)} s (${((2 * mpx) / seconds).toFixed(1)} Mpx/s of 7-band pixels)`);
    // Our reader alone on the same windows, one thread, in the order an embedded scan reads them.
    const t0 = performance.now();
    const stats: string[] = [];
    for (const path of [cogs.before, cogs.after]) {
      const scene = await TiffScene.open(path);
      const arrays = new Map<string, RawWindow>();
      const bands = scene.info.bands.map((_, i) => i);
      for (const w of readingOrder(planWindows(size, size, windowSize), windowSize)) {
        const c0 = Math.max(0, w.col - halo), r0 = Math.max(0, w.row - halo);
        const c1 = Math.min(size, w.col + w.width + halo), r1 = Math.min(size, w.row + w.height + halo);
        const key = `${c1 - c0}x${r1 - r0}`;
        const px = await scene.readWindow({ col: c0, row: r0, width: c1 - c0, height: r1 - r0 }, bands, null, mode === 'reuse' ? arrays.get(key) : undefined);
        if (mode === 'reuse') arrays.set(key, px);
      }
      const c = scene.cacheStats;
      stats.push(`${c.decoded} tiles inflated, ${c.hits + c.stripHits} pieces from the cache`);
      await scene.close();
    }
    const ours = (performance.now() - t0) / 1000;
    console.log(`orewatch's reader, one thread, the same windows in the scan's reading order, ${arraysLabel}: ${ours.toFixed(1)} s (${((2 * mpx) / ours).toFixed(1)} Mpx/s) = ${(ours / seconds).toFixed(2)} × GDAL's time (${stats.join('; ')})`);
  }
  for (const [run, read] of Object.entries(readSeconds)) {
    console.log(`read stage of ${run}: ${read.toFixed(1)} s = ${(read / gdalFresh).toFixed(2)} × GDAL's time with new arrays`);
  }
}

// ---------------------------------------------------------------------------------------------
// An area scan over HTTP range requests: bytes fetched.

function serveFiles(files: Record<string, string>): Promise<{ server: Server; url: string; served: Map<string, number> }> {
  const served = new Map<string, number>();
  const server = createServer((req, res) => {
    const name = (req.url ?? '').slice(1);
    const path = files[name];
    if (!path) { res.statusCode = 404; res.end(); return; }
    const total = statSync(path).size;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] ? Math.min(total - 1, Number(range[2])) : total - 1;
    if (start >= total) { res.writeHead(416, { 'Content-Range': `bytes */${total}` }); res.end(); return; }
    res.writeHead(range ? 206 : 200, { 'Content-Length': end - start + 1, 'Accept-Ranges': 'bytes', ...(range ? { 'Content-Range': `bytes ${start}-${end}/${total}` } : {}) });
    served.set(name, (served.get(name) ?? 0) + end - start + 1);
    createReadStream(path, { start, end }).pipe(res);
  });
  return new Promise((resolveServe) => server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    resolveServe({ server, url: `http://127.0.0.1:${port}`, served });
  }));
}

/** Bytes of the tiles of the full-resolution image that a pixel box touches, and the header/IFD bytes (everything before the first tile). */
async function touchedTileBytes(path: string, box: { minCol: number; minRow: number; maxCol: number; maxRow: number }): Promise<{ tiles: number; tileBytes: number; headerBytes: number }> {
  const tiff = await fromFile(path);
  const image = await tiff.getImage(0);
  const dir = image.fileDirectory;
  const offsets = (await dir.loadValue('TileOffsets')) as ArrayLike<number>;
  const counts = (await dir.loadValue('TileByteCounts')) as ArrayLike<number>;
  const tw = image.getTileWidth(), th = image.getTileHeight();
  const across = Math.ceil(image.getWidth() / tw);
  let tiles = 0, tileBytes = 0, firstData = Infinity;
  for (let i = 0; i < offsets.length; i++) firstData = Math.min(firstData, Number(offsets[i]));
  const imageCount = await tiff.getImageCount();
  for (let k = 1; k < imageCount; k++) {
    const ov = await (await tiff.getImage(k)).fileDirectory.loadValue('TileOffsets') as ArrayLike<number>;
    for (let i = 0; i < ov.length; i++) firstData = Math.min(firstData, Number(ov[i]));
  }
  for (let ty = Math.floor(box.minRow / th); ty <= Math.floor((box.maxRow - 1) / th); ty++) {
    for (let tx = Math.floor(box.minCol / tw); tx <= Math.floor((box.maxCol - 1) / tw); tx++) {
      tiles++;
      tileBytes += Number(counts[ty * across + tx]);
    }
  }
  tiff.close?.();
  return { tiles, tileBytes, headerBytes: firstData };
}

if (runs.has('http-aoi')) {
  // A 4.1 km × 2.9 km area off the tile grid, in the middle of the tile, in lon/lat.
  const scene = await openScene(cogs.after);
  const grid = scene.info.grid;
  await scene.close();
  const toLonLat = createTransform(grid.crs, WGS84);
  const c0 = Math.round(size * 0.43) + 37, r0 = Math.round(size * 0.51) + 11, c1 = c0 + 410, r1 = r0 + 290;
  const ring = [[c0, r0], [c1, r0], [c1, r1], [c0, r1], [c0, r0]].map(([c, r]) => {
    const [x, y] = pixelToCrs(grid.transform, c!, r!);
    return toLonLat.forward(x, y);
  });
  const area = { type: 'Polygon' as const, coordinates: [ring] };
  const areaFile = join(work, 'aoi.geojson');
  writeFileSync(areaFile, JSON.stringify(area));
  // The pixel box of the area as the scan computes it (the ring's corners back on the grid).
  const toPixel = inverseTransform(grid.transform);
  const px = ring.map(([lon, lat]) => toPixel(...toLonLat.inverse(lon!, lat!)));
  const box = {
    minCol: Math.floor(Math.min(...px.map((p) => p[0]))), maxCol: Math.ceil(Math.max(...px.map((p) => p[0]))),
    minRow: Math.floor(Math.min(...px.map((p) => p[1]))), maxRow: Math.ceil(Math.max(...px.map((p) => p[1]))),
  };
  const windows = scanWindows(grid, windowSize, area);
  const { server, url, served } = await serveFiles({ 'before.tif': cogs.before, 'after.tif': cogs.after });
  try {
    const dataDir = join(work, 'store-http');
    rmSync(dataDir, { recursive: true, force: true });
    execFileSync(process.execPath, [cli, 'import', 'permits', join(scenario, 'permits.geojson'), '--data-dir', dataDir], { cwd: root, stdio: 'ignore' });
    const timings = join(work, 'timings-http.json');
    const run = timed(['scan', '--before', `${url}/before.tif`, '--after', `${url}/after.tif`, ...layers, '--data-dir', dataDir, '--quiet',
      '--window-size', String(windowSize), '--aoi', areaFile, '--timings', timings], {}, 'http-aoi');
    const m = await run.done;
    if (m.code !== 0) throw new Error(`http area scan failed (${m.code}): ${m.stdout}`);
    const fetched = [...served.values()].reduce((a, b) => a + b, 0);
    let touchedTiles = 0, touched = 0, header = 0;
    for (const path of [cogs.before, cogs.after]) {
      const t = await touchedTileBytes(path, box);
      touchedTiles += t.tiles; touched += t.tileBytes; header += t.headerBytes;
    }
    printStages(`area scan over HTTP (${c1 - c0}×${r1 - r0} px area, ${windows.length} windows of ${windowSize} px)`,
      JSON.parse(readFileSync(timings, 'utf8')) as { seconds: Record<string, number> }, [
        `bytes fetched ${(fetched / 2 ** 20).toFixed(2)} MiB = ${((100 * fetched) / fileBytes).toFixed(2)} % of the ${(fileBytes / 2 ** 20).toFixed(0)} MiB in the two files`,
        `tiles the area touches: ${touchedTiles} (both dates) holding ${(touched / 2 ** 20).toFixed(2)} MiB, header and IFDs ${(header / 1024).toFixed(0)} KiB; fetched / (tiles + header) = ${(fetched / (touched + header)).toFixed(2)}`,
        `peak RSS: ${m.peakRssMiB.toFixed(0)} MiB`,
      ]);
  } finally {
    server.close();
  }
}
