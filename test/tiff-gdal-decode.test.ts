// Exactness of the fast decode path (issue 7) against GDAL, pixel by pixel: small GeoTIFFs that
// gdal_translate writes at test time into test/.tmp/tiff-gdal-decode (seeded synthetic uint16
// data, 4 and 6 bands, 64-pixel tiles so that windows cross tile edges) in the encodings and
// layouts the reader has its own code for: DEFLATE, ZSTD and LZW with predictor 2 (the fused
// predictor-and-copy path), big-endian with predictor 2 (which geotiff.js 3.0.5 gets wrong),
// NBITS=14 with 4 pixel-interleaved bands (idem), int16 with predictor 2, planar, 6 bands read as
// 4, and a sparse file with nodata. rasterio (GDAL 3.6) dumps what it decodes; every reader path
// (TiffScene in this thread, openScene with one and with two decode workers) must give exactly
// those values, on whole images, on windows that start mid-tile and on windows partly outside.
// Skipped, with a message, where gdal_translate or python3-rasterio is missing.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openScene, splitRows } from '../geodata/scene-reader.js';
import { TiffScene } from '../geodata/tiff/tiff-reader.js';
import type { PixelWindow, WindowPixels } from '../geodata/types.js';
import { decodeDigests, type DigestJob } from './helpers/decode-digest.js';
import { rejection } from './helpers/scenes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dirOfHelpers = path.join(here, 'helpers');

/** Runs a TypeScript file with tsx in another Node process; its stdout, or a rejection with its stderr. */
function runNode(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env: { ...process.env, ...env }, cwd: path.join(here, '..') });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  });
}
const dir = path.join(here, '.tmp', 'tiff-gdal-decode');
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function gdalMissing(): string | null {
  if (spawnSync('gdal_translate', ['--version']).status !== 0) return 'gdal_translate is not installed (apt-get install gdal-bin)';
  if (spawnSync(python, ['-c', 'import rasterio, numpy']).status !== 0) return 'python3-rasterio is not installed';
  return null;
}
const missing = gdalMissing();
if (missing) console.warn(`tiff-gdal-decode tests skipped: ${missing}`);

/** gdal_translate options per fixture; sources: s4 (4-band uint16), s6 (6 bands), si (int16), ss (sparse). */
const FIXTURES: Record<string, [source: string, options: string[]]> = {
  'deflate_pred2.tif': ['s4', ['-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=2', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=64', '-co', 'BLOCKYSIZE=64']],
  'zstd_pred2_cog.tif': ['s4', ['-of', 'COG', '-co', 'COMPRESS=ZSTD', '-co', 'PREDICTOR=2', '-co', 'BLOCKSIZE=128', '-co', 'OVERVIEWS=NONE']],
  'lzw_pred2.tif': ['s4', ['-co', 'COMPRESS=LZW', '-co', 'PREDICTOR=2', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=64', '-co', 'BLOCKYSIZE=64']],
  'lzw_pred2_strips.tif': ['s4', ['-co', 'COMPRESS=LZW', '-co', 'PREDICTOR=2', '-co', 'BLOCKYSIZE=7']],
  'deflate_pred2_bigendian.tif': ['s4', ['-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=2', '-co', 'ENDIANNESS=BIG', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=64', '-co', 'BLOCKYSIZE=64']],
  'lzw_pred2_bigendian.tif': ['s4', ['-co', 'COMPRESS=LZW', '-co', 'PREDICTOR=2', '-co', 'ENDIANNESS=BIG']],
  'nbits14.tif': ['s4', ['-co', 'NBITS=14', '-co', 'COMPRESS=DEFLATE', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=64', '-co', 'BLOCKYSIZE=64']],
  'nbits14_strips.tif': ['s4', ['-co', 'NBITS=14']],
  'zstd_pred2_planar.tif': ['s4', ['-co', 'COMPRESS=ZSTD', '-co', 'PREDICTOR=2', '-co', 'INTERLEAVE=BAND', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=64', '-co', 'BLOCKYSIZE=64']],
  'deflate_pred2_6bands.tif': ['s6', ['-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=2', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=64', '-co', 'BLOCKYSIZE=64']],
  'int16_zstd_pred2.tif': ['si', ['-co', 'COMPRESS=ZSTD', '-co', 'PREDICTOR=2', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=64', '-co', 'BLOCKYSIZE=64']],
  'sparse_nodata_lzw.tif': ['ss', ['-co', 'COMPRESS=LZW', '-co', 'PREDICTOR=2', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=64', '-co', 'BLOCKYSIZE=64', '-co', 'SPARSE_OK=TRUE']],
};

/** Seeded sources (smooth fields + noise + some nodata zeros) and, per fixture, GDAL's decode. */
const MAKE_SOURCES = String.raw`
import sys, numpy as np, rasterio
from rasterio.transform import from_origin
out = sys.argv[1]
rng = np.random.default_rng(7)
H, W = 150, 230
yy, xx = np.mgrid[0:H, 0:W]
def bands(n, lo, hi, dtype):
    planes = []
    for b in range(n):
        base = (np.sin(xx / (9.0 + b)) + np.cos(yy / (13.0 + b))) * (hi - lo) / 5 + (hi + lo) / 2
        planes.append(np.clip(np.rint(base + rng.normal(0, (hi - lo) / 40, (H, W))), lo, hi).astype(dtype))
    return np.stack(planes)
def write(name, data, nodata=None):
    profile = dict(driver='GTiff', width=W, height=H, count=data.shape[0], dtype=str(data.dtype),
                   crs='EPSG:32650', transform=from_origin(276000.0, 2757000.0, 10.0, 10.0))
    if nodata is not None:
        profile['nodata'] = nodata
    with rasterio.open(f'{out}/{name}.tif', 'w', **profile) as dst:
        dst.write(data)
s4 = bands(4, 1, 16383, 'uint16')   # fits NBITS=14
s4[:, 40:44, 100:110] = 0          # nodata holes in some bands only
s4[1, 90:95, 10:20] = 0
write('s4', s4, nodata=0)
write('s6', bands(6, 0, 65535, 'uint16'))
write('si', bands(4, -20000, 20000, 'int16'), nodata=-32768)
ss = bands(4, 1, 60000, 'uint16')
ss[:, 64:128, 64:192] = 0          # whole tiles of nodata: written sparse
write('ss', ss, nodata=0)
`;

const DUMP = String.raw`
import sys, numpy as np, rasterio
path = sys.argv[1]
with rasterio.open(path) as src:
    data = src.read()
    sys.stdout.write(f"{src.count} {src.height} {src.width} {data.dtype}\n")
    sys.stdout.flush()
    sys.stdout.buffer.write(data.astype(data.dtype.newbyteorder('<')).tobytes())
`;

interface Decoded {
  bands: number;
  height: number;
  width: number;
  /** Band-sequential values as GDAL decodes them. */
  values: Float64Array;
}

/** What GDAL decodes from `file`. */
function gdalDecode(file: string): Decoded {
  const raw = execFileSync(python, ['-c', DUMP, file], { maxBuffer: 64 * 1024 * 1024 });
  const newline = raw.indexOf(10);
  const [bands = 0, height = 0, width = 0, dtype = ''] = raw.subarray(0, newline).toString().split(' ');
  const body = raw.subarray(newline + 1);
  const copy = new Uint8Array(body).buffer;
  const typed = dtype.trim() === 'int16' ? new Int16Array(copy) : new Uint16Array(copy);
  return { bands: Number(bands), height: Number(height), width: Number(width), values: Float64Array.from(typed) };
}

/** Indices of the first values where `window` of `bandIndices` differs from GDAL (or no differences). */
function differences(expected: Decoded, window: PixelWindow, bandIndices: number[], bands: Float32Array[], valid: Uint8Array, nodata: number | null): string[] {
  const out: string[] = [];
  for (let row = 0; row < window.height; row++) {
    for (let col = 0; col < window.width; col++) {
      const r = window.row + row;
      const c = window.col + col;
      const at = row * window.width + col;
      const inside = r >= 0 && c >= 0 && r < expected.height && c < expected.width;
      let wantValid = inside ? 1 : 0;
      bandIndices.forEach((band, i) => {
        const got = bands[i]?.[at];
        const want = inside ? (expected.values[(band * expected.height + r) * expected.width + c] ?? NaN) : (nodata ?? 0);
        if (inside && want === nodata) wantValid = 0;
        if (got !== want && out.length < 5) out.push(`band ${band} row ${r} col ${c}: ${got} instead of ${want}`);
      });
      if (valid[at] !== wantValid && out.length < 5) out.push(`valid at row ${r} col ${c}: ${valid[at]} instead of ${wantValid}`);
    }
  }
  return out;
}

describe.skipIf(missing !== null)('the decoders against GDAL, pixel by pixel', () => {
  const expected = new Map<string, Decoded>();

  beforeAll(() => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync(python, ['-c', MAKE_SOURCES, dir]);
    for (const [file, [source, options]] of Object.entries(FIXTURES)) {
      execFileSync('gdal_translate', ['-q', ...options, path.join(dir, `${source}.tif`), path.join(dir, file)]);
      expected.set(file, gdalDecode(path.join(dir, file)));
    }
  }, 120_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Windows: the whole image, one starting mid-tile, one hanging over the bottom-right corner. */
  const windowsOf = (e: Decoded): PixelWindow[] => [
    { col: 0, row: 0, width: e.width, height: e.height },
    { col: 37, row: 23, width: 101, height: 90 },
    { col: e.width - 50, row: e.height - 20, width: 80, height: 60 },
  ];

  it.each(Object.keys(FIXTURES))('%s: TiffScene decodes every pixel as GDAL does', async (file) => {
    const e = expected.get(file);
    expect(e).toBeDefined();
    if (!e) return;
    const scene = await TiffScene.open(path.join(dir, file));
    try {
      const all = Array.from({ length: e.bands }, (_, i) => i);
      const subsets = e.bands === 6 ? [all, [0, 2, 3, 5], [5, 1, 4, 0]] : [all, [2], [3, 1]];
      for (const window of windowsOf(e)) {
        for (const bands of subsets) {
          const px = await scene.readWindow(window, bands);
          expect(differences(e, window, bands, px.bands, px.valid, scene.info.nodata), `${file} ${JSON.stringify(window)} bands ${bands.join(',')}`).toEqual([]);
        }
      }
    } finally {
      await scene.close();
    }
  });

  it('the block cache serves halos from whole blocks and from edge strips with the same pixels', async () => {
    // Windows as a scan reads them: row by row, each with a halo reaching into the next tiles.
    // A cache of six blocks forces evictions, so halos in the row above come from strips.
    const file = 'deflate_pred2.tif';
    const e = expected.get(file);
    if (!e) throw new Error(`no GDAL decode of ${file}`);
    const saved = process.env.OREWATCH_DECODE_CACHE_MB;
    process.env.OREWATCH_DECODE_CACHE_MB = '0.2';
    const scene = await TiffScene.open(path.join(dir, file));
    try {
      const bands = [0, 1, 2, 3];
      for (let row = 0; row < e.height; row += 64) {
        for (let col = 0; col < e.width; col += 64) {
          const window = { col: col - 8, row: row - 8, width: 64 + 16, height: 64 + 16 };
          const px = await scene.readWindow(window, bands);
          expect(differences(e, window, bands, px.bands, px.valid, scene.info.nodata), JSON.stringify(window)).toEqual([]);
        }
      }
      expect(scene.cacheStats.stripHits).toBeGreaterThan(0);
      expect(scene.cacheStats.hits).toBeGreaterThan(0);
    } finally {
      await scene.close();
      if (saved === undefined) delete process.env.OREWATCH_DECODE_CACHE_MB;
      else process.env.OREWATCH_DECODE_CACHE_MB = saved;
    }
  });

  it('without the block cache (blocks decoded once, predictor undone while copying) every pixel is as GDAL decodes it', async () => {
    const saved = process.env.OREWATCH_DECODE_CACHE_MB;
    process.env.OREWATCH_DECODE_CACHE_MB = '0';
    try {
      for (const file of Object.keys(FIXTURES)) {
        const e = expected.get(file);
        if (!e) throw new Error(`no GDAL decode of ${file}`);
        const scene = await TiffScene.open(path.join(dir, file));
        try {
          const all = Array.from({ length: e.bands }, (_, i) => i);
          for (const window of windowsOf(e)) {
            for (const bands of [all, all.slice(0, 4), [e.bands - 1, 0]]) {
              const px = await scene.readWindow(window, bands);
              expect(differences(e, window, bands, px.bands, px.valid, scene.info.nodata), `${file} ${JSON.stringify(window)} bands ${bands.join(',')}`).toEqual([]);
            }
          }
        } finally {
          await scene.close();
        }
      }
    } finally {
      if (saved === undefined) delete process.env.OREWATCH_DECODE_CACHE_MB;
      else process.env.OREWATCH_DECODE_CACHE_MB = saved;
    }
  });

  it('the native binding and the JavaScript fallback (OREWATCH_NATIVE=0, another process) read the same pixels', async () => {
    // This process decodes with whatever native.ts loaded (libdeflate and the native loops where
    // `npm install` built them), the child with Node's zlib and the JavaScript loops; with the
    // block cache (small, so that blocks are evicted and their buffers reused) and without.
    const jobs: DigestJob[] = Object.keys(FIXTURES).map((file) => {
      const e = expected.get(file) as Decoded;
      const all = Array.from({ length: e.bands }, (_, i) => i);
      return { file: path.join(dir, file), windows: windowsOf(e), subsets: [all, [e.bands - 1, 0]] };
    });
    const saved = process.env.OREWATCH_DECODE_CACHE_MB;
    try {
      for (const cacheMb of ['0.05', '0']) {
        process.env.OREWATCH_DECODE_CACHE_MB = cacheMb;
        const here = await decodeDigests(jobs);
        const child = await runNode([path.join(dirOfHelpers, 'decode-digest.ts'), JSON.stringify(jobs)], { OREWATCH_NATIVE: '0', OREWATCH_DECODE_CACHE_MB: cacheMb });
        expect(JSON.parse(child) as string[], `cache ${cacheMb} MB`).toEqual(here);
      }
    } finally {
      if (saved === undefined) delete process.env.OREWATCH_DECODE_CACHE_MB;
      else process.env.OREWATCH_DECODE_CACHE_MB = saved;
    }
  }, 120_000);

  it.each([1, 2])('openScene with %i decode worker(s) gives the same pixels', async (decodeThreads) => {
    for (const file of ['deflate_pred2.tif', 'lzw_pred2_bigendian.tif', 'nbits14.tif', 'sparse_nodata_lzw.tif', 'zstd_pred2_cog.tif']) {
      const e = expected.get(file);
      if (!e) throw new Error(`no GDAL decode of ${file}`);
      const scene = await openScene(path.join(dir, file), { decodeThreads });
      try {
        const bands = scene.info.bands.map((_, i) => i);
        for (const window of windowsOf(e)) {
          const px = await scene.readWindow(window);
          const arrays = scene.info.bands.map((b) => px.bands[b] ?? new Float32Array());
          expect(differences(e, window, bands, arrays, px.valid, scene.info.nodata), `${file} ${JSON.stringify(window)}`).toEqual([]);
        }
        // Reading into the arrays of the previous read (reuse): windows inside, over the
        // corner and above the image, so values and validity of an earlier window must not stay.
        const same = [
          { col: 37, row: 23, width: 101, height: 90 },
          { col: e.width - 50, row: e.height - 20, width: 101, height: 90 },
          { col: -10, row: -5, width: 101, height: 90 },
          { col: 60, row: 40, width: 101, height: 90 },
        ];
        let previous: WindowPixels | undefined;
        for (const window of same) {
          // Moved memory cannot go to two workers at once: with two, only shared memory is reused.
          const expectReuse = previous !== undefined && (decodeThreads === 1 || previous.valid.buffer instanceof SharedArrayBuffer);
          const px: WindowPixels = await scene.readWindow(window, undefined, previous ? { reuse: previous } : {});
          const arrays = scene.info.bands.map((b) => px.bands[b] ?? new Float32Array());
          expect(differences(e, window, bands, arrays, px.valid, scene.info.nodata), `reused: ${file} ${JSON.stringify(window)}`).toEqual([]);
          // The same memory: shared arrays come back as they are, others were moved (detached).
          if (previous && expectReuse) expect(px.valid === previous.valid || previous.valid.byteLength === 0, 'reused').toBe(true);
          previous = px;
        }
        // Windows read at once go to the least busy worker; results do not depend on the order.
        const windows = windowsOf(e);
        const together = await Promise.all(windows.map((w) => scene.readWindow(w)));
        together.forEach((px, i) => {
          const window = windows[i] as PixelWindow;
          const arrays = scene.info.bands.map((b) => px.bands[b] ?? new Float32Array());
          expect(differences(e, window, bands, arrays, px.valid, scene.info.nodata)).toEqual([]);
        });
      } finally {
        await scene.close();
      }
    }
  });
});

describe('decode threads', () => {
  it('splits a window at block-row boundaries, evenly, rows outside the image with the first and last part', () => {
    expect(splitRows({ col: 0, row: 0, width: 100, height: 1024 }, 512, 10980, 2)).toEqual([
      { col: 0, row: 0, width: 100, height: 512 },
      { col: 0, row: 512, width: 100, height: 512 },
    ]);
    // Starts mid-block: the first part ends at a block boundary.
    expect(splitRows({ col: 5, row: 300, width: 10, height: 1000 }, 512, 10980, 2).map((w) => [w.row, w.height])).toEqual([[300, 724], [1024, 276]]);
    // Within one block row, or one thread: one part.
    expect(splitRows({ col: 0, row: 10, width: 10, height: 100 }, 512, 10980, 4)).toHaveLength(1);
    expect(splitRows({ col: 0, row: 0, width: 10, height: 4096 }, 512, 10980, 1)).toHaveLength(1);
    // Partly above and below the image.
    const parts = splitRows({ col: 0, row: -100, width: 10, height: 400 }, 64, 200, 3);
    expect(parts[0]?.row).toBe(-100);
    expect(parts.reduce((s, p) => s + p.height, 0)).toBe(400);
    expect(parts.at(-1)?.row ?? 0).toBeGreaterThanOrEqual(128);
    for (const [i, p] of parts.entries()) if (i > 0) expect(p.row % 64).toBe(0);
  });

  it('refuses a decodeThreads that is not an integer from 1 to 16, naming it', async () => {
    for (const value of [0, 1.5, 17, Number.NaN]) {
      const error = await rejection(openScene(path.join(here, 'nothing-here.tif'), { decodeThreads: value }));
      expect(error.code).toBe('SCENE.INVALID_OPTION');
      expect(error.message).toContain('decodeThreads');
    }
  });
});
