// The scene reader on the real files of ../shared/data: every lossless encoding of
// geotiff-encoding-matrix must reproduce manifest.json's pixel checksum (or be refused with a
// clear error), the OSCD stacks give band names and dates from their metadata, and files written
// by other producers open and read. Expected georeferencing values were read with GDAL 3.6.2
// (rasterio 1.3.5, gdaltransform) from the same files.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WGS84, createTransform } from '../geodata/crs.js';
import { openScene, type Scene } from '../geodata/scene-reader.js';
import type { GeoTransform, WindowPixels } from '../geodata/types.js';
import { pixelHash, rejection } from './helpers/scenes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sharedData = path.resolve(here, '../../shared/data');
const matrixDir = path.join(sharedData, 'geotiff-encoding-matrix');
const foreignDir = path.join(sharedData, 'geotiff-foreign-producers');
const oscdDir = path.join(sharedData, 's2-oscd-change-pairs');
const landsatDir = path.join(sharedData, 'landsat7-rgb-rasterio');

interface ManifestEntry {
  file: string;
  width: number;
  height: number;
  bands: number;
  dtype: 'uint8' | 'uint16' | 'int16' | 'float32';
  crs: string;
  compression: string;
  nodata: string | null;
  overviews: number[];
  lossless: boolean;
  sha256_pixels_bsq_le: string;
  band0_first_row_first8: (number | null)[];
}



async function readAll(scene: Scene, overview?: number): Promise<WindowPixels> {
  const size = overview === undefined ? scene.info.grid : scene.info.overviews[overview];
  if (!size) throw new Error(`no overview ${overview}`);
  return scene.readWindow({ col: 0, row: 0, width: size.width, height: size.height }, undefined, overview === undefined ? {} : { overview });
}

async function withScene<T>(file: string, use: (scene: Scene) => Promise<T>, options: Parameters<typeof openScene>[1] = {}): Promise<T> {
  const scene = await openScene(file, options);
  try {
    return await use(scene);
  } finally {
    await scene.close();
  }
}


function count(valid: Uint8Array): number {
  return valid.reduce((sum, v) => sum + v, 0);
}

function expectTransform(actual: GeoTransform, expected: number[]): void {
  actual.forEach((value, i) => {
    const want = expected[i] ?? NaN;
    expect(Math.abs(value - want)).toBeLessThanOrEqual(Math.abs(want) * 1e-12 + 1e-15);
  });
}

const REFUSED: Record<string, [string, string]> = {
  'u16_lzma_strip.tif': ['SCENE.UNSUPPORTED_COMPRESSION', 'LZMA'],
  'u8_webp_lossless_rgb.tif': ['SCENE.UNSUPPORTED_COMPRESSION', 'WebP'],
  'u16_plain_tiff_no_geokeys.tif': ['SCENE.NO_GEOREFERENCE', 'no georeferencing'],
};
/** Lossy encodings whose decoded pixels legitimately differ between decoders. */
const JPEG = new Set(['u8_rgb_jpeg_ycbcr_tiled.tif', 'u8_rgb_jpeg_rgb_strip.tif']);

describe.skipIf(!existsSync(path.join(matrixDir, 'manifest.json')))('geotiff-encoding-matrix', () => {
  const manifest: ManifestEntry[] = existsSync(path.join(matrixDir, 'manifest.json'))
    ? JSON.parse(readFileSync(path.join(matrixDir, 'manifest.json'), 'utf8')) as ManifestEntry[]
    : [];

  it('covers the whole manifest', () => {
    expect(manifest.length).toBe(37);
  });

  const exact = manifest.filter((e) => !REFUSED[e.file] && !JPEG.has(e.file));
  it.each(exact.map((e) => [e.file, e] as const))('%s reproduces the manifest checksum', async (file, entry) => {
    await withScene(path.join(matrixDir, file), async (scene) => {
      const { info } = scene;
      expect(info.grid.width).toBe(entry.width);
      expect(info.grid.height).toBe(entry.height);
      expect(info.bands.length).toBe(entry.bands);
      expect(info.grid.crs.code).toBe(entry.crs);
      expect(info.overviews.length).toBe(entry.overviews.length);
      if (entry.nodata === 'nan') expect(info.nodata).toBeNaN();
      else expect(info.nodata).toBe(entry.nodata === null ? null : Number(entry.nodata));
      const pixels = await readAll(scene);
      expect(pixelHash(pixels, info.bands, entry.dtype)).toBe(entry.sha256_pixels_bsq_le);
      const first = Array.from((pixels.bands[info.bands[0] ?? ''] ?? new Float32Array()).subarray(0, 8), (v) => (Number.isNaN(v) ? null : v));
      expect(first.map((v, i) => (v === null ? null : Math.abs(v - (entry.band0_first_row_first8[i] ?? NaN)) < 1e-6))).toEqual(
        entry.band0_first_row_first8.map((v) => (v === null ? null : true)),
      );
    });
  });

  it.each(Object.entries(REFUSED))('%s is refused with %s, naming the file', async (file, [code, text]) => {
    const full = path.join(matrixDir, file);
    const error = await rejection(openScene(full));
    expect(error.code).toBe(code);
    expect(error.kind).toBe('input');
    expect(error.message).toContain(full);
    expect(error.message).toContain(text);
  });

  it('decodes JPEG (YCbCr converted to RGB) close to the lossless original', async () => {
    const window = { col: 0, row: 0, width: 260, height: 180 };
    const original = await withScene(path.join(matrixDir, 'u8_rgb_deflate_pred2.tif'), (s) => s.readWindow(window));
    for (const file of JPEG) {
      const pixels = await withScene(path.join(matrixDir, file), (s) => s.readWindow(window));
      for (const band of ['1', '2', '3']) {
        const a = pixels.bands[band] ?? new Float32Array();
        const b = original.bands[band] ?? new Float32Array();
        let sum = 0;
        for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] ?? 0) - (b[i] ?? 0));
        // GDAL's own decode differs from the original by a mean of up to 5.9 DN (quality 90).
        expect(sum / a.length).toBeLessThan(8);
      }
    }
  });

  it('reads nodata, NaN and the internal mask into `valid`', async () => {
    // 29 432 pixels lie inside the cutline ellipse in all three files.
    for (const file of ['u16_nodata0_cutline.tif', 'u16_internal_mask.tif', 'f32_nodata_nan_cutline.tif']) {
      const valid = await withScene(path.join(matrixDir, file), async (s) => (await readAll(s)).valid);
      expect(count(valid)).toBe(29_432);
    }
    const ndvi = await withScene(path.join(matrixDir, 'i16_ndvi_deflate_pred2.tif'), async (s) => {
      expect(s.info.nodata).toBe(-32768);
      expect(s.info.sampleType).toBe('int16');
      return readAll(s);
    });
    expect(Math.min(...(ndvi.bands[Object.keys(ndvi.bands)[0] ?? ''] ?? []))).toBeLessThan(0);
  });

  it('georeferences like GDAL: PixelIsPoint, ModelTransformation, UTM', async () => {
    const base = [-48.0406338827619, 9.187970838095928e-05, 0.0, -15.830148287048408, 0.0, -9.186388832271617e-05];
    for (const file of ['u16_none_strip.tif', 'u16_pixelispoint.tif']) {
      await withScene(path.join(matrixDir, file), async (s) => {
        expectTransform(s.info.grid.transform, base);
        expect(s.info.acquisitionDate).toBe('2017-10-15');
        expect(s.info.bands).toEqual(['B02', 'B03', 'B04', 'B08']);
      });
    }
    await withScene(path.join(matrixDir, 'u16_rotated_modeltransformation.tif'), async (s) => {
      expectTransform(s.info.grid.transform, [-48.0406338827619, 9.048384915806946e-05, 1.5951996800638064e-05, -15.830148287048408, 1.5954743924922566e-05, -9.046826944205852e-05]);
    });
    await withScene(path.join(matrixDir, 'u16_utm23s_deflate.tif'), async (s) => {
      expect(s.info.grid.crs.code).toBe('EPSG:32723');
      expectTransform(s.info.grid.transform, [174273.3621917356, 10.0, 0.0, 8247530.194263275, 0.0, -10.0]);
    });
  });

  it('reads overviews at their own resolution, as GDAL does', async () => {
    // SHA-256 of GDAL's overview pixels (rasterio overview_level=0/1), 4 bands BSQ uint16 LE.
    await withScene(path.join(matrixDir, 'u16_cog_deflate.tif'), async (s) => {
      expect(s.info.overviews).toEqual([{ width: 130, height: 90 }, { width: 65, height: 45 }]);
      expect(pixelHash(await readAll(s, 0), s.info.bands, 'uint16')).toBe('4b3e6a830b627303dd3f3a28b1b7dcee884891344a5839a11fed4532668c27a1');
      expect(pixelHash(await readAll(s, 1), s.info.bands, 'uint16')).toBe('f4b3dc69102370836c9695be25a39449f6570e9e7d33d7f549bd56e4084fc19b');
      const error = await rejection(s.readWindow({ col: 0, row: 0, width: 2, height: 2 }, undefined, { overview: 2 }));
      expect(error.code).toBe('SCENE.UNKNOWN_OVERVIEW');
    });
    await withScene(path.join(matrixDir, 'u16_lzw_internal_overviews.tif'), async (s) => {
      expect(pixelHash(await readAll(s, 1), s.info.bands, 'uint16')).toBe('0a4f3218dcf39044a79130c657796a556699b9daa18bb3e735979208525c1146');
    });
  });
});

function listTifs(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => /\.(tif|tiff|cog)$/i.test(f)).sort().map((f) => path.join(dir, f)) : [];
}

describe.skipIf(!existsSync(oscdDir))('OSCD stacked 10 m COGs', () => {
  const stacks = ['aguasclaras', 'bercy'].flatMap((city) => listTifs(path.join(oscdDir, city, 'stacked_10m')));

  it.each(stacks.map((f) => [path.basename(f), f] as const))('%s: band names from descriptions, date from metadata', async (name, file) => {
    await withScene(file, async (s) => {
      expect(s.info.bands).toEqual(['B02', 'B03', 'B04', 'B08', 'B11', 'B12']);
      const date = /_(\d{4})(\d{2})(\d{2})_/.exec(name);
      expect(s.info.acquisitionDate).toBe(`${date?.[1]}-${date?.[2]}-${date?.[3]}`);
      expect(s.info.metadata.SENSING_DATE).toBeDefined();
      expect(s.info.grid.crs.code).toBe('EPSG:4326');
      expect(s.info.overviews.length).toBeGreaterThan(0);
      const pixels = await s.readWindow({ col: 100, row: 100, width: 64, height: 48 }, ['B04', 'B08']);
      expect(Object.keys(pixels.bands)).toEqual(['B04', 'B08']);
      expect(count(pixels.valid)).toBe(64 * 48);
    });
  });

  it('B02 of the stack equals the original OSCD B02 file', async () => {
    const imgs = path.join(oscdDir, 'aguasclaras', 'imgs_2');
    const original = listTifs(imgs).find((f) => /B02\.tif$/i.test(f));
    const stack = stacks.find((f) => f.includes('aguasclaras_20171015'));
    expect(original).toBeDefined();
    expect(stack).toBeDefined();
    if (!original || !stack) return;
    const window = { col: 0, row: 0, width: 525, height: 471 };
    const a = await withScene(stack, (s) => s.readWindow(window, ['B02']));
    const b = await withScene(original, (s) => s.readWindow(window));
    expect(Buffer.from((a.bands.B02 ?? new Float32Array()).buffer).equals(Buffer.from((b.bands['1'] ?? new Float32Array()).buffer))).toBe(true);
  });

  it('takes --bands names that are among the descriptions, refuses others', async () => {
    const stack = stacks[0];
    if (!stack) return;
    await withScene(stack, async (s) => {
      expect(s.info.bands).toEqual(['B02', 'B03', 'B04', 'B08', 'B11', 'B12']);
    }, { bandNames: ['B04', 'B08'] });
    const error = await rejection(openScene(stack, { bandNames: ['B4', 'B8'] }));
    expect(error.code).toBe('SCENE.BAND_NAMES');
    expect(error.message).toContain(stack);
    expect(error.message).toContain('B4,B8');
  });
});

describe.skipIf(!existsSync(foreignDir))('geotiff-foreign-producers and landsat7-rgb-rasterio', () => {
  const files = [...listTifs(foreignDir), ...listTifs(landsatDir)];

  it.each(files.map((f) => [path.basename(f), f] as const))('%s opens and reads a window', async (_name, file) => {
    await withScene(file, async (s) => {
      const { width, height } = s.info.grid;
      const pixels = await s.readWindow({ col: Math.floor(width / 2) - 32, row: Math.floor(height / 2) - 32, width: 64, height: 64 });
      expect(pixels.valid.length).toBe(64 * 64);
      expect(Object.keys(pixels.bands)).toEqual(s.info.bands);
    });
  });

  it('reads a Float32 polar COG with FLT_MAX nodata and PixelIsPoint like GDAL', async () => {
    await withScene(path.join(foreignDir, 'GA4886_VanderfordGlacier_2022_EGM2008_64m-epsg3031.cog'), async (s) => {
      expect(s.info.grid.crs.code).toBe('EPSG:3031');
      expect(s.info.nodata).toBe(3.4028234663852886e38);
      expect(s.info.bands).toEqual(['Depth']);
      expect(s.info.overviews.length).toBe(3);
      expectTransform(s.info.grid.transform, [2409289.215427182, 65.02367379354763, 0.0, -835539.3414387774, 0.0, -65.02367379354763]);
      // gdaltransform: pixel (10, 20) → 109.149310376742, -66.8288438730888.
      const t = s.info.grid.transform;
      const [lon, lat] = createTransform(s.info.grid.crs, WGS84).forward(t[0] + 10 * t[1], t[3] + 20 * t[5]);
      expect(lon).toBeCloseTo(109.149310376742, 7);
      expect(lat).toBeCloseTo(-66.8288438730888, 7);
      const corner = await s.readWindow({ col: 0, row: 0, width: 8, height: 8 });
      expect(count(corner.valid)).toBe(0);
    });
  });

  it('reads a CRS without EPSG code and a GeogTOWGS84 datum shift like GDAL', async () => {
    await withScene(path.join(foreignDir, 'nt_20201024_f18_nrt_s.tif'), async (s) => {
      expect(s.info.grid.crs.code).toBeNull();
      const [lon, lat] = createTransform(s.info.grid.crs, WGS84).forward(s.info.grid.transform[0], s.info.grid.transform[3]);
      expect(lon).toBeCloseTo(-42.2408923413797, 6);
      expect(lat).toBeCloseTo(-39.2308884002773, 6);
    });
    await withScene(path.join(foreignDir, 'GeogToWGS84GeoKey5.tif'), async (s) => {
      const t = s.info.grid.transform;
      // gdaltransform: pixel (50, 50) → 8.99998611528355, 52.0000138927097 (WGS 84).
      const [lon, lat] = createTransform(s.info.grid.crs, WGS84).forward(t[0] + 50 * t[1], t[3] + 50 * t[5]);
      expect(lon).toBeCloseTo(8.99998611528355, 6);
      expect(lat).toBeCloseTo(52.0000138927097, 6);
    });
  });
});
