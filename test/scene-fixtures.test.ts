// The scene reader against GeoTIFFs written by GDAL (scripts/make-fixtures.sh): every encoding,
// data type, layout and CRS of the fixture set must give exactly the pixels GDAL reads, the same
// geotransform and CRS, nodata, band names, dates and overviews; and the same scene must read
// identically over HTTP range requests while fetching only a fraction of the file.
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openScene, type Scene } from '../geodata/scene-reader.js';
import type { SampleType, WindowPixels } from '../geodata/types.js';
import { pixelHash, rejection } from './helpers/scenes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const fixtures = path.join(here, '.tmp', 'fixtures');

function gdalMissing(): string | null {
  if (spawnSync('gdal_translate', ['--version']).status !== 0) return 'gdal_translate is not installed (apt-get install gdal-bin)';
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  if (spawnSync(python, ['-c', 'import rasterio, numpy']).status !== 0) return 'python3-rasterio is not installed';
  return null;
}
const missing = gdalMissing();
if (missing) console.warn(`scene-fixtures tests skipped: ${missing}`);

interface Expected {
  file: string;
  width: number;
  height: number;
  count: number;
  dtype: 'uint8' | 'uint16' | 'int16' | 'float32';
  transform: number[];
  epsg: number | null;
  nodata: number | 'nan' | null;
  descriptions: (string | null)[];
  tags: Record<string, string>;
  scales: number[];
  offsets: number[];
  sha256: string;
  window: { col: number; row: number; width: number; height: number; sha256: string };
  invalid_pixels: number;
  overviews: { width: number; height: number; sha256: string }[];
}




let expected: Expected[] = [];

describe.skipIf(missing !== null)('GDAL-made fixtures (scripts/make-fixtures.sh)', () => {
  beforeAll(() => {
    execFileSync('bash', [path.join(root, 'scripts/make-fixtures.sh'), fixtures], { cwd: root, stdio: 'pipe', timeout: 120_000 });
    expected = JSON.parse(readFileSync(path.join(fixtures, 'expected.json'), 'utf8')) as Expected[];
  }, 180_000);

  it('made the whole set', () => {
    expect(expected.length).toBeGreaterThanOrEqual(16);
    const epsg = new Set(expected.map((e) => e.epsg));
    for (const code of [4326, 4490, 32650, 32723, 4526, 4547, 4498]) expect(epsg.has(code)).toBe(true);
  });

  // One test per fixture; the list is only known once the script ran, so iterate inside.
  it('reads every fixture exactly as GDAL does', async () => {
    const failures: string[] = [];
    for (const e of expected) {
      const scene = await openScene(path.join(fixtures, e.file));
      try {
        const { info } = scene;
        const check = (ok: boolean, what: string): void => {
          if (!ok) failures.push(`${e.file}: ${what}`);
        };
        check(info.grid.width === e.width && info.grid.height === e.height, 'size');
        check(info.bands.length === e.count, 'band count');
        check(info.sampleType === (e.dtype satisfies SampleType), `sample type ${info.sampleType}`);
        check(info.grid.crs.code === `EPSG:${e.epsg}`, `CRS ${info.grid.crs.code}`);
        check(info.grid.transform.every((v, i) => Math.abs(v - (e.transform[i] ?? NaN)) <= Math.abs(e.transform[i] ?? 0) * 1e-12 + 1e-12), `transform ${info.grid.transform.join(',')}`);
        if (e.nodata === 'nan') check(Number.isNaN(info.nodata), 'nodata NaN');
        else check(info.nodata === e.nodata, `nodata ${info.nodata}`);
        if (e.descriptions.every((d) => d)) check(info.bands.join() === e.descriptions.join(), `bands ${info.bands.join()}`);
        else check(info.bands.join() === info.bands.map((_, i) => String(i + 1)).join(), `generic bands ${info.bands.join()}`);
        check(info.overviews.length === e.overviews.length, 'overview count');

        const all = await scene.readWindow({ col: 0, row: 0, width: e.width, height: e.height });
        check(pixelHash(all, info.bands, e.dtype) === e.sha256, 'pixels');
        check(all.valid.length - all.valid.reduce((s, v) => s + v, 0) === e.invalid_pixels, `invalid pixels (GDAL ${e.invalid_pixels})`);
        const w = await scene.readWindow({ col: e.window.col, row: e.window.row, width: e.window.width, height: e.window.height });
        check(pixelHash(w, info.bands, e.dtype) === e.window.sha256, 'window pixels');
        for (const [i, o] of e.overviews.entries()) {
          check(info.overviews[i]?.width === o.width && info.overviews[i]?.height === o.height, `overview ${i} size`);
          const ov = await scene.readWindow({ col: 0, row: 0, width: o.width, height: o.height }, undefined, { overview: i });
          check(pixelHash(ov, info.bands, e.dtype) === o.sha256, `overview ${i} pixels`);
        }
      } finally {
        await scene.close();
      }
    }
    expect(failures).toEqual([]);
  });

  it('reads band descriptions, scales, offsets, per-band metadata and dates from GDAL metadata', async () => {
    const scene = await openScene(path.join(fixtures, 'u16_lzw_pred2_tiled_32650.tif'), { bandNames: ['B08'] });
    try {
      expect(scene.info.bands).toEqual(['B04', 'B08', 'B11']);
      expect(scene.info.acquisitionDate).toBe('2023-11-05');
      expect(scene.info.scales).toEqual([0.0001, 0.0001, 0.0001]);
      expect(scene.info.offsets).toEqual([-0.1, -0.1, -0.1]);
      expect(scene.info.metadata['BOA_ADD_OFFSET:B04']).toBe('-1000');
      expect(scene.info.metadata.ACQUISITION_DATE).toBe('2023-11-05');
      const pixels = await scene.readWindow({ col: 0, row: 0, width: 3, height: 2 }, ['B11', 'B04']);
      expect(Object.keys(pixels.bands)).toEqual(['B11', 'B04']);
    } finally {
      await scene.close();
    }
    const cog = await openScene(path.join(fixtures, 'u16_cog_32650.tif'));
    try {
      // From TIFFTAG_DATETIME "2024:01:09 03:04:05".
      expect(cog.info.acquisitionDate).toBe('2024-01-09');
      expect(cog.info.scales).toEqual([null, null, null]);
    } finally {
      await cog.close();
    }
  });

  it('reads windows partly outside the image: outside pixels invalid, inside exact', async () => {
    const file = path.join(fixtures, 'i16_lzw_strip_32723.tif');
    const scene = await openScene(file);
    try {
      const inside = await scene.readWindow({ col: 0, row: 0, width: 10, height: 10 });
      const partial = await scene.readWindow({ col: -5, row: -3, width: 15, height: 13 });
      for (let r = 0; r < 13; r++) {
        for (let c = 0; c < 15; c++) {
          const i = r * 15 + c;
          if (r < 3 || c < 5) {
            expect(partial.valid[i]).toBe(0);
          } else {
            expect(partial.bands['1']?.[i]).toBe(inside.bands['1']?.[(r - 3) * 10 + (c - 5)]);
            expect(partial.valid[i]).toBe(inside.valid[(r - 3) * 10 + (c - 5)]);
          }
        }
      }
      const outside = await scene.readWindow({ col: 1000, row: 1000, width: 4, height: 4 });
      expect(outside.valid.every((v) => v === 0)).toBe(true);
      expect(outside.bands['1']?.every((v) => v === -9999)).toBe(true);
    } finally {
      await scene.close();
    }
  });

  describe('over HTTP', () => {
    let server: Server;
    let base = '';
    let bytesServed = 0;
    let requests = 0;
    let mode: 'range' | 'no-range' | 'error' = 'range';
    let stall = false;
    const stalled: { destroy(): void }[] = [];

    beforeAll(async () => {
      server = createServer((req, res) => {
        requests++;
        const name = decodeURIComponent((req.url ?? '/').slice(1));
        const file = path.join(fixtures, path.basename(name));
        if (stall) {
          stalled.push(res);
          return;
        }
        if (mode === 'error') {
          res.writeHead(503).end();
          return;
        }
        if (!existsSync(file)) {
          res.writeHead(404).end('not found');
          return;
        }
        const size = statSync(file).size;
        const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
        if (mode === 'range' && range) {
          const start = Number(range[1]);
          const end = Math.min(size - 1, Number(range[2]));
          if (start >= size) {
            res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
            return;
          }
          res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': end - start + 1, 'Accept-Ranges': 'bytes' });
          bytesServed += end - start + 1;
          createReadStream(file, { start, end }).pipe(res);
          return;
        }
        res.writeHead(200, { 'Content-Length': size });
        bytesServed += size;
        createReadStream(file).pipe(res);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      for (const res of stalled) res.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    async function read(uri: string, window: { col: number; row: number; width: number; height: number }): Promise<WindowPixels> {
      const scene: Scene = await openScene(uri);
      try {
        return await scene.readWindow(window);
      } finally {
        await scene.close();
      }
    }

    it('reads a small window of a tiled scene with range requests, fetching a fraction of the file', async () => {
      const name = 'u16_big_tiled_32650.tif';
      const window = { col: 700, row: 500, width: 40, height: 30 };
      const local = await read(path.join(fixtures, name), window);
      mode = 'range';
      bytesServed = 0;
      const remote = await read(`${base}/${name}`, window);
      expect(Buffer.from((remote.bands['1'] ?? new Float32Array()).buffer).equals(Buffer.from((local.bands['1'] ?? new Float32Array()).buffer))).toBe(true);
      expect(Array.from(remote.valid)).toEqual(Array.from(local.valid));
      const size = statSync(path.join(fixtures, name)).size;
      expect(bytesServed).toBeLessThan(size / 5);
    });

    it('gives up on a stalled server with a transient error, then reads again once it answers', async () => {
      mode = 'range';
      const scene = await openScene(`${base}/u16_big_tiled_32650.tif`, { timeoutMs: 1500 });
      try {
        const window = { col: 1400, row: 900, width: 10, height: 10 };
        stall = true;
        const started = Date.now();
        const error = await rejection(scene.readWindow(window));
        stall = false;
        expect(error.kind).toBe('transient');
        expect(error.message).toContain('u16_big_tiled_32650.tif');
        expect(Date.now() - started).toBeLessThan(5000);
        const pixels = await scene.readWindow(window);
        expect(pixels.valid.every((v) => v === 1)).toBe(true);
      } finally {
        stall = false;
        await scene.close();
      }
    });

    it('accepts a small file from a server that ignores Range', async () => {
      mode = 'no-range';
      const window = { col: 10, row: 10, width: 20, height: 20 };
      const remote = await read(`${base}/u8_none_strip_4326.tif`, window);
      mode = 'range';
      const local = await read(path.join(fixtures, 'u8_none_strip_4326.tif'), window);
      expect(Array.from(remote.bands['2'] ?? [])).toEqual(Array.from(local.bands['2'] ?? []));
    });

    it('maps 404 to SCENE.NOT_FOUND and server or network failures to transient errors', async () => {
      mode = 'range';
      const url = `${base}/missing.tif`;
      const notFound = await rejection(openScene(url));
      expect(notFound.code).toBe('SCENE.NOT_FOUND');
      expect(notFound.kind).toBe('input');
      expect(notFound.message).toContain(url);

      mode = 'error';
      const unavailable = await rejection(openScene(`${base}/u8_none_strip_4326.tif`));
      expect(unavailable.kind).toBe('transient');
      expect(unavailable.retryable).toBe(true);
      mode = 'range';

      // A port nobody listens on: connection refused.
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const refused = await rejection(openScene(`http://127.0.0.1:${port}/x.tif`));
      expect(refused.code).toBe('SCENE.NETWORK');
      expect(refused.kind).toBe('transient');
      expect(requests).toBeGreaterThan(0);
    });
  });
});
