/**
 * A Sentinel-2 STAC Item as one scene (`openScene('stac:…')`): the same reflectance as one
 * multi-band file built from the same arrays, 20 m bands resampled onto the 10 m grid (bilinear
 * for reflectance — exact on a linear ramp —, nearest for SCL), only the needed assets fetched,
 * both asset namings, relative hrefs, and errors that name the item and the field.
 *
 * Fixtures: band COGs written here with geodata/tiff-writer.ts (tiled GeoTIFFs, IFD first) from
 * seeded arrays, served by test/helpers/stac-server.ts. No GDAL, no network.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openScene } from '../geodata/scene-reader.js';
import { createGeoTiffWriter } from '../geodata/tiff-writer.js';
import type { GeoTransform } from '../geodata/types.js';
import { planBands } from '../pipeline/bands.js';
import { rejection } from './helpers/scenes.js';
import { EARTH_SEARCH_KEYS, makeS2Item, startStacServer, type S2AssetSpec, type S2Band, type StacServer } from './helpers/stac-server.js';

const W10 = 256, H10 = 256, W20 = 128, H20 = 128;
const X0 = 400_000, Y0 = 2_800_020;
const T10: GeoTransform = [X0, 10, 0, Y0, 0, -10];
const T20: GeoTransform = [X0, 20, 0, Y0, 0, -20];
const EPSG = 32650;
/** Where the grid lies (UTM 50N, ~116.0 E, 25.3 N). */
const BBOX: [number, number, number, number] = [116.0065, 25.2904, 116.0322, 25.3134];

const TEN_M: S2Band[] = ['B02', 'B03', 'B04', 'B08'];
const TWENTY_M: S2Band[] = ['B11', 'B12', 'SCL'];

/** 10 m bands: a pattern that changes every pixel (any misalignment shows); B02 has a nodata block. */
function tenMetre(band: S2Band, col: number, row: number): number {
  if (band === 'B02' && col < 4 && row < 4) return 0;
  const k = TEN_M.indexOf(band);
  return 1000 + ((col * 31 + row * 17 + k * 101) % 997) + k * 50;
}
/** 20 m reflectance: linear ramps (bilinear resampling reproduces them exactly inside the image). */
const b11 = (u: number, v: number): number => 2000 + 10 * u + 3 * v;
const b12 = (u: number, v: number): number => 1500 + 5 * u + 7 * v;
/** SCL classes 1–11 (0 would be nodata). */
const scl = (u: number, v: number): number => ((u + 2 * v) % 11) + 1;

function values(width: number, height: number, f: (col: number, row: number) => number): Float32Array {
  const out = new Float32Array(width * height);
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) out[r * width + c] = f(c, r);
  return out;
}

function bandValues(band: S2Band): Float32Array {
  if (TEN_M.includes(band)) return values(W10, H10, (c, r) => tenMetre(band, c, r));
  return values(W20, H20, band === 'B11' ? b11 : band === 'B12' ? b12 : scl);
}

async function writeBand(path: string, band: S2Band, options: { epsg?: number; transform?: GeoTransform; bands?: number } = {}): Promise<void> {
  const ten = TEN_M.includes(band);
  const names = Array.from({ length: options.bands ?? 1 }, (_, i) => (i === 0 ? band : `${band}_${i}`));
  const data = bandValues(band);
  const writer = await createGeoTiffWriter(path, {
    width: ten ? W10 : W20, height: ten ? H10 : H20, bands: names,
    sampleType: band === 'SCL' ? 'uint8' : 'uint16', tileSize: 64, compression: 'none',
    crs: { epsg: options.epsg ?? EPSG }, transform: options.transform ?? (ten ? T10 : T20),
  });
  await writer.writeRows(0, Object.fromEntries(names.map((n) => [n, data])));
  await writer.close();
}

const tmp = mkdtempSync(join(tmpdir(), 'orewatch-stac-scene-'));
const fileName = (band: S2Band): string => `${band}.tif`;
let server: StacServer;
/** The same 10 m arrays in one four-band file, as a user would have made it with gdal_merge. */
const stackPath = join(tmp, 'stack.tif');

function assetSpec(band: S2Band, href: string, declareGrid: boolean): S2AssetSpec {
  const ten = TEN_M.includes(band);
  return {
    href,
    ...(declareGrid ? { grid: { epsg: EPSG, width: ten ? W10 : W20, height: ten ? H10 : H20, transform: ten ? T10 : T20 } } : {}),
    nodata: 0,
    dataType: band === 'SCL' ? 'uint8' : 'uint16',
    ...(band === 'SCL' ? {} : { scale: 0.0001, offset: -0.1 }),
  };
}

function item(id: string, options: { declareGrid?: boolean; bands?: S2Band[]; href?: (band: S2Band) => string; style?: 'earth-search' | 'planetary' } = {}) {
  const bands = options.bands ?? [...TEN_M, ...TWENTY_M];
  const href = options.href ?? ((band: S2Band) => server.assetUrl(fileName(band)));
  const assets: Partial<Record<S2Band, S2AssetSpec>> = {};
  for (const band of bands) {
    const spec = assetSpec(band, href(band), options.declareGrid ?? true);
    // Planetary Computer items carry no raster:bands: scaling comes from the processing baseline.
    assets[band] = options.style === 'planetary' ? { href: spec.href, ...(spec.grid ? { grid: spec.grid } : {}) } : spec;
  }
  return makeS2Item({ id, datetime: '2024-01-10T03:04:05.024Z', cloudCover: 7.5, bbox: BBOX, tile: '50RKV', style: options.style ?? 'earth-search', assets });
}

beforeAll(async () => {
  for (const band of [...TEN_M, ...TWENTY_M]) await writeBand(join(tmp, fileName(band)), band);
  await writeBand(join(tmp, 'B12_zone49.tif'), 'B12', { epsg: 32649 });
  await writeBand(join(tmp, 'B02_3band.tif'), 'B02', { bands: 3 });
  const stack = await createGeoTiffWriter(stackPath, {
    width: W10, height: H10, bands: TEN_M, sampleType: 'uint16', tileSize: 64, crs: { epsg: EPSG }, transform: T10, nodata: 0,
    metadata: { ACQUISITION_DATE: '2024-01-10', BOA_ADD_OFFSET: '-1000' },
  });
  await stack.writeRows(0, Object.fromEntries(TEN_M.map((b) => [b, bandValues(b)])));
  await stack.close();
  server = await startStacServer({ assetsDir: tmp });
  server.addItems([
    item('S2B_50RKV_20240110_0_L2A'),
    item('S2B_50RKV_20240110_0_L2A_PC', { style: 'planetary' }),
    item('S2B_NOPROJ', { declareGrid: false }),
    item('S2B_NO_NIR', { bands: ['B02', 'B03', 'B04', 'SCL'] }),
    item('S2B_MISSING_FILE', { href: (b) => server.assetUrl(b === 'B04' ? 'absent.tif' : fileName(b)) }),
    item('S2B_RELATIVE', { href: (b) => `../../../assets/${fileName(b)}` }),
    item('S2B_ZONE49_UNDECLARED', { declareGrid: false, href: (b) => server.assetUrl(b === 'B12' ? 'B12_zone49.tif' : fileName(b)) }),
    item('S2B_ZONE49_DECLARED', { href: (b) => server.assetUrl(b === 'B12' ? 'B12_zone49.tif' : fileName(b)) }),
    item('S2B_THREE_BANDS', { declareGrid: false, href: (b) => server.assetUrl(b === 'B02' ? 'B02_3band.tif' : fileName(b)) }),
  ]);
});

afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const stacUri = (id: string): string => `stac:${server.itemUrl('sentinel-2-l2a', id)}`;

describe('STAC item scene', () => {
  it('describes the item: 10 m grid, Sentinel-2 band names, date, scaling and provenance', async () => {
    const scene = await openScene(stacUri('S2B_50RKV_20240110_0_L2A'));
    try {
      const { info } = scene;
      expect(info.bands).toEqual(['B02', 'B03', 'B04', 'B08', 'B11', 'B12', 'SCL']);
      expect(info.grid.width).toBe(W10);
      expect(info.grid.height).toBe(H10);
      expect(info.grid.transform).toEqual(T10);
      expect(info.grid.crs.code).toBe('EPSG:32650');
      expect(info.acquisitionDate).toBe('2024-01-10');
      expect(info.sampleType).toBe('uint16');
      expect(info.nodata).toBe(0);
      expect(info.scales).toEqual([0.0001, 0.0001, 0.0001, 0.0001, 0.0001, 0.0001, null]);
      expect(info.offsets).toEqual([-0.1, -0.1, -0.1, -0.1, -0.1, -0.1, null]);
      expect(info.metadata).toMatchObject({
        STAC_ITEM_ID: 'S2B_50RKV_20240110_0_L2A', STAC_COLLECTION: 'sentinel-2-l2a', CLOUD_COVER: '7.5', MGRS_TILE: '50RKV',
        PLATFORM: 'sentinel-2b', 'STAC_ASSET:B11': 'swir16',
      });
      expect(info.metadata.BOA_ADD_OFFSET).toBeUndefined();
      expect(info.overviews).toEqual([]);
    } finally {
      await scene.close();
    }
  });

  it('reads the same reflectance as one multi-band file made from the same arrays', async () => {
    const window = { col: 0, row: 0, width: 120, height: 90 };
    const stack = await openScene(stackPath);
    const earth = await openScene(stacUri('S2B_50RKV_20240110_0_L2A'));
    const planetary = await openScene(stacUri('S2B_50RKV_20240110_0_L2A_PC'));
    try {
      const [a, b, c] = await Promise.all([stack.readWindow(window, TEN_M), earth.readWindow(window, TEN_M), planetary.readWindow(window, TEN_M)]);
      for (const band of TEN_M) {
        expect(Array.from(b.bands[band] ?? [])).toEqual(Array.from(a.bands[band] ?? []));
        expect(Array.from(c.bands[band] ?? [])).toEqual(Array.from(a.bands[band] ?? []));
      }
      // nodata: raster:bands nodata 0 in the item, GDAL_NODATA 0 in the stack.
      expect(Array.from(b.valid)).toEqual(Array.from(a.valid));
      expect(a.valid[0]).toBe(0);
      // Reflectance through bands.ts: raster:bands scale/offset (Earth Search), baseline 05.10 offset
      // (Planetary Computer, BOA_ADD_OFFSET from the item) and the stack's BOA_ADD_OFFSET agree.
      expect(planetary.info.metadata.BOA_ADD_OFFSET).toBe('-1000');
      const plans = [stack, earth, planetary].map((s) => planBands(s.info, ['blue', 'green', 'red', 'nir'], []));
      for (const canonical of ['blue', 'green', 'red', 'nir'] as const) {
        const scalings = plans.map((p) => p.scaling[p.bands[canonical] as string]);
        for (const s of scalings) {
          expect(s?.scale).toBeCloseTo(0.0001, 12);
          expect(s?.offset).toBeCloseTo(-0.1, 12);
        }
      }
    } finally {
      await Promise.all([stack.close(), earth.close(), planetary.close()]);
    }
  });

  it('resamples 20 m bands onto the 10 m grid: bilinear for reflectance, nearest for SCL', async () => {
    const scene = await openScene(stacUri('S2B_50RKV_20240110_0_L2A'));
    try {
      // A window that runs past the bottom-right edge: outside pixels are invalid.
      for (const window of [{ col: 0, row: 0, width: W10, height: H10 }, { col: 201, row: 187, width: 70, height: 80 }]) {
        const px = await scene.readWindow(window, ['B11', 'B12', 'SCL']);
        const clamp = (v: number, max: number): number => Math.max(0, Math.min(max, v));
        let maxErr = 0, checked = 0;
        for (let y = 0; y < window.height; y++) {
          for (let x = 0; x < window.width; x++) {
            const col = window.col + x, row = window.row + y, p = y * window.width + x;
            if (col >= W10 || row >= H10) {
              expect(px.valid[p]).toBe(0);
              continue;
            }
            expect(px.valid[p]).toBe(1);
            // 10 m pixel centre (col + 0.5) lies at 20 m pixel coordinate col/2 + 0.25, i.e. col/2 − 0.25 from a centre.
            const u = clamp(col / 2 - 0.25, W20 - 1), v = clamp(row / 2 - 0.25, H20 - 1);
            maxErr = Math.max(maxErr, Math.abs((px.bands.B11?.[p] ?? NaN) - b11(u, v)), Math.abs((px.bands.B12?.[p] ?? NaN) - b12(u, v)));
            expect(px.bands.SCL?.[p]).toBe(scl(Math.floor(col / 2), Math.floor(row / 2)));
            checked++;
          }
        }
        expect(checked).toBeGreaterThan(0);
        expect(maxErr).toBeLessThan(1e-3);
      }
    } finally {
      await scene.close();
    }
  });

  it('opens and fetches only the assets the requested bands need, and only part of each', async () => {
    server.resetCounters();
    const scene = await openScene(stacUri('S2B_50RKV_20240110_0_L2A'));
    try {
      // The grid is declared by the item: opening it reads the item and no asset.
      expect(server.requests.filter((r) => r.path.startsWith('/assets/'))).toEqual([]);
      const px = await scene.readWindow({ col: 10, row: 20, width: 32, height: 32 }, ['B04', 'B11']);
      expect(px.bands.B04?.[0]).toBe(tenMetre('B04', 10, 20));
      const touched = new Set(server.requests.filter((r) => r.path.startsWith('/assets/')).map((r) => r.path));
      expect([...touched].sort()).toEqual(['/assets/B04.tif', '/assets/B11.tif']);
      expect(server.requests.filter((r) => r.path.startsWith('/assets/')).every((r) => r.range !== null)).toBe(true);
      const size = statSync(join(tmp, 'B04.tif')).size;
      expect(server.bytesServed('B04.tif')).toBeGreaterThan(0);
      expect(server.bytesServed('B04.tif')).toBeLessThan(size * 0.6);
    } finally {
      await scene.close();
    }

    // bandNames limits the scene to those bands; without proj:* only the finest asset is opened up front.
    server.resetCounters();
    const limited = await openScene(stacUri('S2B_NOPROJ'), { bandNames: ['red', 'nir', 'SCL'] });
    try {
      expect(limited.info.bands).toEqual(['B04', 'B08', 'SCL']);
      expect(limited.info.grid.transform).toEqual(T10);
      expect(new Set(server.requests.filter((r) => r.path.startsWith('/assets/')).map((r) => r.path))).toEqual(new Set(['/assets/B04.tif']));
      await limited.readWindow({ col: 0, row: 0, width: 8, height: 8 }, ['SCL']);
      expect(new Set(server.requests.filter((r) => r.path.startsWith('/assets/')).map((r) => r.path))).toEqual(new Set(['/assets/B04.tif', '/assets/SCL.tif']));
    } finally {
      await limited.close();
    }
  });

  it('resolves relative asset hrefs against the item, over HTTP and on disk', async () => {
    const remote = await openScene(stacUri('S2B_RELATIVE'));
    const itemPath = join(tmp, 'item.json');
    const local = item('S2B_LOCAL', { style: 'planetary', href: (b) => `./${fileName(b)}` });
    writeFileSync(itemPath, JSON.stringify(local));
    const onDisk = await openScene(`stac:${itemPath}`);
    try {
      const window = { col: 100, row: 100, width: 16, height: 16 };
      const [a, b] = await Promise.all([remote.readWindow(window, ['B08', 'B11']), onDisk.readWindow(window, ['B08', 'B11'])]);
      expect(Array.from(a.bands.B08 ?? [])).toEqual(Array.from(b.bands.B08 ?? []));
      expect(Array.from(a.bands.B11 ?? [])).toEqual(Array.from(b.bands.B11 ?? []));
      expect(a.bands.B08?.[0]).toBe(tenMetre('B08', 100, 100));
      expect(onDisk.info.metadata['HREF:B08']).toBe(join(tmp, 'B08.tif'));
    } finally {
      await Promise.all([remote.close(), onDisk.close()]);
    }
  });

  describe('errors name the item and the field', () => {
    it('a band without an asset', async () => {
      const error = await rejection(openScene(stacUri('S2B_NO_NIR'), { bandNames: ['B02', 'B08'] }));
      expect(error.code).toBe('STAC.MISSING_ASSET');
      expect(error.kind).toBe('input');
      expect(error.message).toContain('S2B_NO_NIR');
      expect(error.message).toContain('"nir"');
      // Without bandNames the item opens with the bands it has; asking a read for B08 is refused.
      const scene = await openScene(stacUri('S2B_NO_NIR'));
      try {
        expect(scene.info.bands).toEqual(['B02', 'B03', 'B04', 'SCL']);
        expect((await rejection(scene.readWindow({ col: 0, row: 0, width: 4, height: 4 }, ['B08']))).code).toBe('SCENE.UNKNOWN_BAND');
      } finally {
        await scene.close();
      }
    });

    it('an asset that is not there (HTTP 404) fails the read that needs it, naming item and asset', async () => {
      const scene = await openScene(stacUri('S2B_MISSING_FILE'));
      try {
        await scene.readWindow({ col: 0, row: 0, width: 4, height: 4 }, ['B02']);
        const error = await rejection(scene.readWindow({ col: 0, row: 0, width: 4, height: 4 }, ['B04']));
        expect(error.code).toBe('SCENE.NOT_FOUND');
        expect(error.message).toContain('S2B_MISSING_FILE');
        expect(error.message).toContain('asset "red"');
        expect(error.message).toContain('absent.tif');
      } finally {
        await scene.close();
      }
    });

    it('item 404 is an input error, 500 a transient one', async () => {
      const missing = await rejection(openScene(stacUri('NO_SUCH_ITEM')));
      expect(missing.code).toBe('STAC.ITEM_NOT_FOUND');
      expect(missing.kind).toBe('input');
      expect(missing.message).toContain('NO_SUCH_ITEM');
      server.fault('/items/S2B_50RKV_20240110_0_L2A', { status: 503 }, 1);
      const unavailable = await rejection(openScene(stacUri('S2B_50RKV_20240110_0_L2A')));
      expect(unavailable.code).toBe('STAC.NETWORK');
      expect(unavailable.kind).toBe('transient');
      expect(unavailable.retryable).toBe(true);
      expect(unavailable.message).toContain('503');
      const missingFile = await rejection(openScene(`stac:${join(tmp, 'nothing.json')}`));
      expect(missingFile.code).toBe('STAC.ITEM_NOT_FOUND');
    });

    it('bad JSON, a missing datetime, a scheme it cannot read', async () => {
      server.fault('/items/S2B_50RKV_20240110_0_L2A', { status: 200, body: '{"type": "Feature", "id": ' }, 1);
      const badJson = await rejection(openScene(stacUri('S2B_50RKV_20240110_0_L2A')));
      expect(badJson.code).toBe('STAC.INVALID_JSON');
      expect(badJson.message).toContain('/items/S2B_50RKV_20240110_0_L2A');

      const undated = item('S2B_UNDATED');
      undated.properties.datetime = null;
      const undatedPath = join(tmp, 'undated.json');
      writeFileSync(undatedPath, JSON.stringify(undated));
      const noDate = await rejection(openScene(`stac:${undatedPath}`));
      expect(noDate.code).toBe('STAC.INVALID_ITEM');
      expect(noDate.message).toContain('S2B_UNDATED');
      expect(noDate.message).toContain('properties.start_datetime');

      const s3 = item('S2B_S3', { href: (b) => `s3://sentinel-cogs/${fileName(b)}` });
      const s3Path = join(tmp, 's3.json');
      writeFileSync(s3Path, JSON.stringify(s3));
      const scheme = await rejection(openScene(`stac:${s3Path}`));
      expect(scheme.code).toBe('STAC.UNSUPPORTED_HREF');
      expect(scheme.message).toContain('asset "blue"');
    });

    it('assets in another CRS: refused at open when declared, at the first read otherwise', async () => {
      const declared = item('S2B_ZONE49_DECLARED');
      const assets = declared.assets as Record<string, Record<string, unknown>>;
      (assets[EARTH_SEARCH_KEYS.B12] as Record<string, unknown>)['proj:epsg'] = 32649;
      const declaredPath = join(tmp, 'zone49.json');
      writeFileSync(declaredPath, JSON.stringify(declared));
      const atOpen = await rejection(openScene(`stac:${declaredPath}`));
      expect(atOpen.code).toBe('STAC.CRS_MISMATCH');
      expect(atOpen.message).toContain('asset "swir22"');
      expect(atOpen.message).toContain('EPSG:32649');

      const scene = await openScene(stacUri('S2B_ZONE49_UNDECLARED'));
      try {
        const atRead = await rejection(scene.readWindow({ col: 0, row: 0, width: 4, height: 4 }, ['B02', 'B12']));
        expect(atRead.code).toBe('STAC.CRS_MISMATCH');
        expect(atRead.message).toContain('S2B_ZONE49_UNDECLARED');
        expect(atRead.message).toContain('B12_zone49.tif');
      } finally {
        await scene.close();
      }

      // Declared as UTM 50 but the file is UTM 49: the declaration is checked against the file.
      const lying = await openScene(stacUri('S2B_ZONE49_DECLARED'));
      try {
        expect((await rejection(lying.readWindow({ col: 0, row: 0, width: 4, height: 4 }, ['B12']))).code).toBe('STAC.CRS_MISMATCH');
      } finally {
        await lying.close();
      }
    });

    it('an asset with several bands, and a declared grid the file does not have', async () => {
      const threeBands = await rejection(openScene(stacUri('S2B_THREE_BANDS')));
      expect(threeBands.code).toBe('STAC.INVALID_ASSET');
      expect(threeBands.message).toContain('single-band');

      const wrongGrid = item('S2B_WRONG_GRID');
      const assets = wrongGrid.assets as Record<string, Record<string, unknown>>;
      (assets.swir16 as Record<string, unknown>)['proj:shape'] = [100, 100];
      const path = join(tmp, 'wrong-grid.json');
      writeFileSync(path, JSON.stringify(wrongGrid));
      const scene = await openScene(`stac:${path}`);
      try {
        const error = await rejection(scene.readWindow({ col: 0, row: 0, width: 4, height: 4 }, ['B11']));
        expect(error.code).toBe('STAC.GRID_MISMATCH');
        expect(error.message).toContain('proj:shape');
      } finally {
        await scene.close();
      }
    });
  });
});
