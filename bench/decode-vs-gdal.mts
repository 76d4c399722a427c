// Windowed-read throughput of orewatch's TIFF reader against GDAL on the same COGs, in the same
// run. The machine is shared and noisy, so the readers are interleaved window by window: every
// pair of windows is read by every reader in turn (the order rotating from pair to pair), and
// each reader's time is the sum over the pairs. All readers thus see the same mix of load.
//
// Inputs: 10980 × 10980, 4-band (B02, B03, B04, B08) uint16 COGs that GDAL writes once from the
// generated scenario (bench/make-scenario.mts) into bench/.cache/decode/: DEFLATE + PREDICTOR=2,
// ZSTD + PREDICTOR=2 (level 9, the COG driver's default), LZW + PREDICTOR=2; pixel-interleaved,
// 512 × 512 blocks (GDAL's COG default; --block 1024 for the block size of Earth Search's
// Sentinel-2 COGs), no overviews (only the full resolution is read). Windows of 1024 × 1024 tile
// the whole image; every window reads all 4 bands.
//
// Readers (Mpx/s counts pixels with all bands, as GDAL's figures in issue 7 do):
// - GDAL 1 thread: rasterio (Debian's python3-rasterio, GDAL 3.6 with libdeflate), NUM_THREADS=1;
// - GDAL all cores: the better of NUM_THREADS=ALL_CPUS (GTiff decodes the blocks of one window
//   in parallel) and two Python threads, each with its own dataset, reading the two windows of a
//   pair at once (rasterio releases the GIL while GDAL reads);
// - ours 1 thread: TiffScene.readWindow in this thread (Float32 per band + `valid`);
// - ours 1 worker: openScene() (one decode worker; pixels transferred back);
// - ours 2 workers: openScene({ decodeThreads: 2 }), the better of two ways, as for GDAL: the
//   windows of a pair one after the other, each split across the two workers ("split"), and
//   both windows of a pair at once ("pair", as GDAL's two Python threads);
// - before: the reader as it was before issue 7 (a copy of geodata/tiff in
//   bench/.cache/decode/before-reader, made with --snapshot-before GIT_REV), one thread, on every
//   --before-every'th pair only (it is slow), its ratio taken against GDAL 1 thread on the same
//   pairs.
// Output memory: by default every reader reads window after window into the same arrays, one
// set per window size (and per thread): GDAL through rasterio's `out=`, ours through
// ReadWindowOptions.reuse (TiffScene's `into` in this thread); the reader before issue 7 had no
// such option. --fresh gives every read new arrays instead, in every reader.
// GDAL's block cache is limited to 256 MB; no block is read by two windows; the first pair warms
// every reader up (JIT, decode workers) and is left out. Before timing, a sample of windows is
// decoded by every reader and compared with GDAL's (per-band sums). Besides wall-clock Mpx/s the
// table gives Mpx per CPU-second (user + system time of the reader's process), which the load of
// other processes on a shared machine distorts far less.
//
//   node --import tsx bench/decode-vs-gdal.mts [--scenario DIR] [--block 512] [--window 1024]
//     [--codecs deflate,zstd,lzw] [--windows N] [--before-every 8] [--snapshot-before GIT_REV] [--fresh]
// Prints figures; never fails on them.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { openScene } from '../geodata/scene-reader.js';
import { zstdBackend } from '../geodata/tiff/decoders.js';
import { inflateBackend } from '../geodata/tiff/native.js';
import { TiffScene, type RawWindow } from '../geodata/tiff/tiff-reader.js';
import type { PixelWindow, WindowPixels } from '../geodata/types.js';

const root = resolve(import.meta.dirname, '..');

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

const scenarioDir = resolve(root, option('scenario', 'bench/.cache/scenario-10980'));
const blockSize = Number(option('block', '512'));
const windowSize = Number(option('window', '1024'));
const codecs = option('codecs', 'deflate,zstd,lzw').split(',');
const windowLimit = Number(option('windows', '0'));
const beforeEvery = Number(option('before-every', '8'));
const snapshotRev = option('snapshot-before', '');
const fresh = process.argv.includes('--fresh');
const cacheDir = join(root, 'bench', '.cache', 'decode');
const beforeDir = join(cacheDir, 'before-reader', 'tiff');
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const CREATION: Record<string, string[]> = {
  deflate: ['-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=2'],
  zstd: ['-co', 'COMPRESS=ZSTD', '-co', 'PREDICTOR=2'],
  lzw: ['-co', 'COMPRESS=LZW', '-co', 'PREDICTOR=2'],
};

mkdirSync(cacheDir, { recursive: true });

if (snapshotRev) {
  // A copy of the reader at REV (read with `git show`, nothing checked out), imports rewritten to
  // the live errors/ and geodata/ modules, for the "before" column.
  mkdirSync(beforeDir, { recursive: true });
  const files = execFileSync('git', ['ls-tree', '--name-only', `${snapshotRev}:geodata/tiff`], { cwd: root, encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const text = execFileSync('git', ['show', `${snapshotRev}:geodata/tiff/${file}`], { cwd: root, encoding: 'utf8' })
      .replaceAll("'../../errors/", "'../../../../../errors/")
      .replace(/'\.\.\/([a-z-]+)\.js'/g, "'../../../../../geodata/$1.js'");
    writeFileSync(join(beforeDir, file), text);
  }
  writeFileSync(join(cacheDir, 'before-reader', 'SOURCE'), `snapshot of geodata/tiff at ${snapshotRev}\n`);
  console.log(`snapshot of geodata/tiff at ${snapshotRev} in ${beforeDir}`);
}

// ---------------------------------------------------------------------------------------------
// Inputs.

const source = join(scenarioDir, 'before.tif');
if (!existsSync(join(scenarioDir, 'manifest.json'))) {
  console.error(`${scenarioDir} is not ready (no manifest.json): node --import tsx bench/make-scenario.mts 10980 ${scenarioDir}`);
  process.exit(1);
}

function cogFor(codec: string): string {
  const size = /scenario-(\d+)/.exec(scenarioDir)?.[1] ?? 'x';
  const file = join(cacheDir, `s2-${size}-${codec}-b${blockSize}.tif`);
  if (existsSync(file)) return file;
  const args = CREATION[codec];
  if (!args) throw new Error(`unknown codec ${codec}; use ${Object.keys(CREATION).join(', ')}`);
  const t0 = performance.now();
  const partial = `${file}.partial.tif`;
  execFileSync('gdal_translate', ['-q', '-of', 'COG', '-b', '1', '-b', '2', '-b', '3', '-b', '4', ...args,
    '-co', `BLOCKSIZE=${blockSize}`, '-co', 'OVERVIEWS=NONE', '-co', 'NUM_THREADS=ALL_CPUS', source, partial]);
  renameSync(partial, file);
  console.log(`made ${file} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return file;
}

const files = Object.fromEntries(codecs.map((c) => [c, cogFor(c)] as const));
const probe = await TiffScene.open(files[codecs[0] ?? 'deflate'] ?? '');
const { width, height } = probe.info.grid;
await probe.close();

const allWindows: PixelWindow[] = [];
for (let row = 0; row < height; row += windowSize) {
  for (let col = 0; col < width; col += windowSize) {
    allWindows.push({ col, row, width: Math.min(windowSize, width - col), height: Math.min(windowSize, height - row) });
  }
}
/** `n` windows spread evenly over the image (all when n is 0 or too large). */
function sample(n: number): PixelWindow[] {
  if (!(n > 0) || n >= allWindows.length) return allWindows;
  return Array.from({ length: n }, (_, i) => allWindows[Math.floor(((i + 0.5) * allWindows.length) / n)] as PixelWindow);
}
const windows = sample(windowLimit);
const pairs: PixelWindow[][] = [];
for (let i = 0; i < windows.length; i += 2) pairs.push(windows.slice(i, i + 2));
const megapixels = (list: PixelWindow[]): number => list.reduce((s, w) => s + w.width * w.height, 0) / 1e6;

// ---------------------------------------------------------------------------------------------
// GDAL, in one long-lived Python process that answers one JSON line per command.

const GDAL_SERVER = String.raw`
import sys, json, time
from concurrent.futures import ThreadPoolExecutor
import numpy as np, rasterio
from rasterio.windows import Window

pool = ThreadPoolExecutor(2)
handles = {}
fresh = FRESH
outs = {}

def read(ds, w, slot):
    if fresh:
        return ds.read(window=w)
    key = (slot, int(w.height), int(w.width))
    out = outs.get(key)
    if out is None:
        out = outs[key] = np.empty((ds.count, int(w.height), int(w.width)), dtype=ds.dtypes[0])
    return ds.read(window=w, out=out)

def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n"); sys.stdout.flush()

for line in sys.stdin:
    cmd = json.loads(line)
    op = cmd["op"]
    if op == "open":
        # mode: one (NUM_THREADS=1), all_cpus (NUM_THREADS=ALL_CPUS), py_threads (two datasets)
        mode = cmd["mode"]
        threads = "ALL_CPUS" if mode == "all_cpus" else "1"
        n = 2 if mode == "py_threads" else 1
        handles[cmd["key"]] = [rasterio.open(cmd["file"], NUM_THREADS=threads) for _ in range(n)]
        answer({})
    elif op == "read":
        datasets = handles[cmd["key"]]
        wins = [Window(*w) for w in cmd["windows"]]
        t0, c0 = time.perf_counter(), time.process_time()
        if len(datasets) == 1:
            for w in wins: read(datasets[0], w, 0)
        else:
            list(pool.map(lambda job: read(job[0], job[1], job[2]), [(datasets[i % 2], w, i % 2) for i, w in enumerate(wins)]))
        answer({"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0})
    elif op == "sums":
        with rasterio.open(cmd["file"]) as ds:
            answer({"sums": [[int(b.sum(dtype=np.uint64)) for b in ds.read(window=Window(*w))] for w in cmd["windows"]]})
    elif op == "close":
        for ds in handles.pop(cmd["key"], []): ds.close()
        answer({})
`;

class Gdal {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;

  constructor() {
    this.child = spawn(python, ['-c', GDAL_SERVER.replace('FRESH', fresh ? 'True' : 'False')], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, GDAL_CACHEMAX: '256' } });
    this.child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async ask<T>(command: object): Promise<T> {
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
    const { value, done } = await this.lines.next();
    if (done) throw new Error('the GDAL helper stopped');
    return JSON.parse(value) as T;
  }

  close(): void {
    this.child.stdin.end();
  }
}

const asList = (list: PixelWindow[]): number[][] => list.map((w) => [w.col, w.row, w.width, w.height]);

// ---------------------------------------------------------------------------------------------
// Readers: each opens a file and returns a function that reads some windows, in seconds.

/** Wall-clock and CPU seconds (every thread of the reader's process) of one read. */
interface Timing {
  seconds: number;
  cpu: number;
}

interface OpenReader {
  read(list: PixelWindow[]): Promise<Timing>;
  close(): Promise<void>;
}
type Reader = (file: string) => Promise<OpenReader>;

const BANDS = [0, 1, 2, 3];
let gdalKeys = 0;

function gdalReader(gdal: Gdal, mode: 'one' | 'all_cpus' | 'py_threads'): Reader {
  return async (file) => {
    const key = `k${gdalKeys++}`;
    await gdal.ask({ op: 'open', key, file, mode });
    return {
      read: (list) => gdal.ask<Timing>({ op: 'read', key, windows: asList(list) }),
      close: async () => { await gdal.ask({ op: 'close', key }); },
    };
  };
}

/** Reads one window, given the output of its last read of the same size (null: none yet, or --fresh). */
interface WindowReader<T> {
  readWindow(window: PixelWindow, previous: T | null): Promise<T>;
  close(): Promise<void>;
}

/**
 * Times reads of the windows of a pair: one after the other, or (`together`, as GDAL's two
 * Python threads do) both at once, each reusing the output of the last read of its slot.
 */
function timed<T>(reader: WindowReader<T>, together = false): OpenReader {
  const last = new Map<string, T>();
  const readOne = async (w: PixelWindow, slot: number): Promise<void> => {
    const key = `${slot}:${w.width}x${w.height}`;
    const out = await reader.readWindow(w, fresh ? null : (last.get(key) ?? null));
    if (!fresh) last.set(key, out);
  };
  return {
    async read(list) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      if (together) await Promise.all(list.map((w, i) => readOne(w, i)));
      else for (const w of list) await readOne(w, 0);
      const cpu = process.cpuUsage(c0);
      return { seconds: (performance.now() - t0) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
    },
    close: () => reader.close(),
  };
}

const ours1: Reader = async (file) => {
  const scene = await TiffScene.open(file);
  return timed<RawWindow>({ readWindow: (w, previous) => scene.readWindow(w, BANDS, null, previous ?? undefined), close: () => scene.close() });
};

function oursWorkers(threads: number, together = false): Reader {
  return async (file) => {
    const scene = await openScene(file, { decodeThreads: threads });
    return timed<WindowPixels>({ readWindow: (w, previous) => scene.readWindow(w, undefined, previous ? { reuse: previous } : {}), close: () => scene.close() }, together);
  };
}

let before: Reader | null = null;
if (existsSync(join(beforeDir, 'tiff-reader.ts'))) {
  // The reader before issue 7 had no output arrays to reuse: new arrays every read.
  const module = (await import(pathToFileURL(join(beforeDir, 'tiff-reader.ts')).href)) as {
    TiffScene: { open(file: string): Promise<{ readWindow(w: PixelWindow, b: number[]): Promise<unknown>; close(): Promise<void> }> };
  };
  before = async (file) => {
    const scene = await module.TiffScene.open(file);
    return timed<unknown>({ readWindow: (w) => scene.readWindow(w, BANDS), close: () => scene.close() });
  };
}

/** Per-band sums of some windows, for the exactness check. */
async function oursSums(scene: { readWindow(w: PixelWindow, b: number[]): Promise<{ bands: Float32Array[] }> }, list: PixelWindow[]): Promise<number[][]> {
  const out: number[][] = [];
  for (const w of list) out.push((await scene.readWindow(w, BANDS)).bands.map((band) => band.reduce((s, v) => s + v, 0)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Run.

const gdal = new Gdal();
console.log(`${width} × ${height} × 4 bands uint16, blocks ${blockSize}, windows ${windowSize} (${windows.length} of ${allWindows.length}, ${megapixels(windows).toFixed(0)} Mpx per reader and file), interleaved by pairs of windows; ${availableParallelism()} cores; DEFLATE decoder: ${inflateBackend}; ZSTD decoder: ${zstdBackend}; output arrays: ${fresh ? 'new for every read (--fresh)' : 'reused from read to read'}`);

// Exactness first: the same windows must give the same per-band sums in every reader.
const checkWindows = sample(5);
for (const codec of codecs) {
  const file = files[codec] ?? '';
  const expected = JSON.stringify((await gdal.ask<{ sums: number[][] }>({ op: 'sums', file, windows: asList(checkWindows) })).sums);
  const direct = await TiffScene.open(file);
  const workers = await openScene(file, { decodeThreads: 2 });
  const results: [string, string][] = [
    ['ours 1 thread', JSON.stringify(await oursSums(direct, checkWindows))],
    ['ours 2 workers', JSON.stringify(await oursSums({ readWindow: async (w) => { const px = await workers.readWindow(w); return { bands: workers.info.bands.map((b) => px.bands[b] ?? new Float32Array()) }; } }, checkWindows))],
  ];
  await direct.close();
  await workers.close();
  for (const [name, got] of results) if (got !== expected) console.error(`MISMATCH ${codec} ${name}: ${got} vs GDAL ${expected}`);
}
console.log('checked: every reader decodes 5 sample windows of each file to GDAL\'s per-band sums');

type Column = 'gdal1' | 'gdalCpus' | 'gdalThreads' | 'ours1' | 'oursW1' | 'oursW2' | 'oursW2Pair';
const COLUMNS: [Column, Reader][] = [
  ['gdal1', gdalReader(gdal, 'one')],
  ['gdalCpus', gdalReader(gdal, 'all_cpus')],
  ['gdalThreads', gdalReader(gdal, 'py_threads')],
  ['ours1', ours1],
  ['oursW1', oursWorkers(1)],
  ['oursW2', oursWorkers(2)],
  ['oursW2Pair', oursWorkers(2, true)],
];
const figures = new Map<string, number>();

for (const codec of codecs) {
  const file = files[codec] ?? '';
  const open = await Promise.all(COLUMNS.map(async ([column, reader]) => [column, await reader(file)] as const));
  const openBefore = before ? await before(file) : null;
  // Warm-up (JIT, decode workers) on the first pair, which is then left out: GDAL would find its
  // blocks in its cache.
  for (const [, reader] of open) await reader.read(pairs[0] ?? []);
  await openBefore?.read(pairs[0] ?? []);
  const timed = pairs.slice(1);
  // Per column, plus 'before' and 'gdal1Sample' (GDAL 1 thread on the pairs `before` read).
  const seconds = new Map<string, Timing>();
  const add = (column: string, t: Timing): void => {
    const sum = seconds.get(column) ?? { seconds: 0, cpu: 0 };
    seconds.set(column, { seconds: sum.seconds + t.seconds, cpu: sum.cpu + t.cpu });
  };
  let beforeMpx = 0;
  for (const [i, pair] of timed.entries()) {
    const withBefore = openBefore !== null && i % beforeEvery === 0;
    for (let k = 0; k < open.length; k++) {
      const [column, reader] = open[(i + k) % open.length] ?? open[0] ?? ['gdal1', null];
      if (!reader) continue;
      const t = await reader.read(pair);
      add(column, t);
      if (column === 'gdal1' && withBefore) add('gdal1Sample', t);
    }
    if (openBefore && withBefore) {
      add('before', await openBefore.read(pair));
      beforeMpx += megapixels(pair);
    }
  }
  for (const [, reader] of open) await reader.close();
  await openBefore?.close();
  const mpx = megapixels(timed.flat());
  for (const [column, t] of seconds) {
    const m = column === 'before' || column === 'gdal1Sample' ? beforeMpx : mpx;
    figures.set(`${codec}/${column}`, m / t.seconds);
    figures.set(`${codec}/${column}/cpu`, m / t.cpu);
  }
  console.log(`${codec} done`);
}
gdal.close();

const get = (codec: string, column: string): number => figures.get(`${codec}/${column}`) ?? Number.NaN;
const f = (v: number): string => (Number.isNaN(v) ? '—' : v.toFixed(1)).padStart(7);
const r = (v: number): string => (Number.isNaN(v) ? '—' : `${v.toFixed(2)}×`).padStart(7);
console.log(`\nMpx/s (pixels of 4 bands) over ${megapixels(pairs.slice(1).flat()).toFixed(0)} Mpx per reader and file (before: every ${beforeEvery}th pair); ratios against GDAL in this run, interleaved`);
console.log('codec    GDAL 1t  GDAL 2c  (NUM_THREADS / 2 threads)   before   ratio   ours 1t   ratio   ours 1w   ours 2w  (split / pair)   ratio');
for (const codec of codecs) {
  const g1 = get(codec, 'gdal1');
  const gAll = Math.max(get(codec, 'gdalCpus'), get(codec, 'gdalThreads'));
  const w2 = Math.max(get(codec, 'oursW2'), get(codec, 'oursW2Pair'));
  console.log(`${codec.padEnd(8)} ${f(g1)}  ${f(gAll)}  (${f(get(codec, 'gdalCpus'))} / ${f(get(codec, 'gdalThreads'))})        ${f(get(codec, 'before'))} ${r(get(codec, 'before') / get(codec, 'gdal1Sample'))}   ${f(get(codec, 'ours1'))} ${r(get(codec, 'ours1') / g1)}   ${f(get(codec, 'oursW1'))}   ${f(w2)}  (${f(get(codec, 'oursW2'))} / ${f(get(codec, 'oursW2Pair'))}) ${r(w2 / gAll)}`);
}
console.log('\nThe same per CPU-second (user + system time of every thread of the reader\'s process), which the load of other processes distorts far less:');
console.log('codec    GDAL 1t   before   ratio   ours 1t   ratio   ours 1w   ratio');
for (const codec of codecs) {
  const g1 = get(codec, 'gdal1/cpu');
  console.log(`${codec.padEnd(8)} ${f(g1)}  ${f(get(codec, 'before/cpu'))} ${r(get(codec, 'before/cpu') / get(codec, 'gdal1Sample/cpu'))}   ${f(get(codec, 'ours1/cpu'))} ${r(get(codec, 'ours1/cpu') / g1)}   ${f(get(codec, 'oursW1/cpu'))} ${r(get(codec, 'oursW1/cpu') / g1)}`);
}
console.log('\nratios: before and ours 1t / 1w against GDAL 1 thread (before: on the same sample of pairs); ours 2w (the better of split and pair) against GDAL\'s best with both cores');
