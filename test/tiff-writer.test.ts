/**
 * The streaming GeoTIFF writer, read back three ways: geotiff.js (what orewatch reads with),
 * GDAL's own CLI (gdalinfo for CRS / geotransform / descriptions / metadata / nodata,
 * gdal_translate for the pixels) and rasterio. The GDAL checks are skipped where it is absent.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync, spawnSync } from 'node:child_process';
import { fromFile } from 'geotiff';
import { createGeoTiffWriter, type GeoTiffWriterOptions, type TiffWriterSampleType } from '../geodata/tiff-writer.js';
import { isOrewatchError } from '../errors/index.js';

const hasGdal = (() => {
  try {
    execFileSync('gdalinfo', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();
const hasRasterio = (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import rasterio, numpy'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tiff-writer-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Samples = Uint8Array | Uint16Array | Float32Array;

/** A deterministic pattern per band with structure (so predictor and deflate have work to do). */
function pattern(type: TiffWriterSampleType, width: number, height: number, band: number): Samples {
  const n = width * height;
  const out = type === 'uint8' ? new Uint8Array(n) : type === 'uint16' ? new Uint16Array(n) : new Float32Array(n);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const v = (c * 7 + r * 13 + band * 101 + ((c * r) % 17)) % (type === 'uint8' ? 250 : 60000);
      out[r * width + c] = type === 'float32' ? v / 7 - 3.5 : v + 1;
    }
  }
  return out;
}

interface Written {
  path: string;
  options: GeoTiffWriterOptions;
  data: Samples[];
}

async function writeSample(name: string, options: Partial<GeoTiffWriterOptions>, rowChunk = 37): Promise<Written> {
  const full: GeoTiffWriterOptions = {
    width: 300,
    height: 170,
    bands: ['B02', 'B03', 'B04', 'B08', 'B11', 'B12'],
    sampleType: 'uint16',
    tileSize: 128,
    crs: { epsg: 32650 },
    transform: [390000, 10, 0, 2755000, 0, -10],
    nodata: 0,
    metadata: { ACQUISITION_DATE: '2026-10-17', NOTE: `a <b> & "c" 'd'` },
    ...options,
  };
  const path = join(dir, `${name}.tif`);
  const data = full.bands.map((_, b) => pattern(full.sampleType, full.width, full.height, b));
  const writer = await createGeoTiffWriter(path, full);
  for (let row0 = 0; row0 < full.height; row0 += rowChunk) {
    const n = Math.min(rowChunk, full.height - row0);
    const rows: Record<string, Samples> = {};
    full.bands.forEach((band, b) => {
      rows[band] = data[b]!.subarray(row0 * full.width, (row0 + n) * full.width);
    });
    await writer.writeRows(row0, rows);
  }
  await writer.close();
  return { path, options: full, data };
}

async function expectGeotiffJsEqual(written: Written): Promise<void> {
  const tiff = await fromFile(written.path);
  const image = await tiff.getImage();
  expect(image.getWidth()).toBe(written.options.width);
  expect(image.getHeight()).toBe(written.options.height);
  expect(image.getSamplesPerPixel()).toBe(written.options.bands.length);
  const t = written.options.transform;
  expect(image.getOrigin()).toEqual([t[0], t[3], 0]);
  expect(image.getResolution()).toEqual([t[1], t[5], 0]);
  const rasters = await image.readRasters();
  written.data.forEach((expected, b) => {
    expect(Array.from(rasters[b] as ArrayLike<number>)).toEqual(Array.from(expected));
  });
  const metadata = await image.getGDALMetadata();
  expect(metadata?.['ACQUISITION_DATE']).toBe('2026-10-17');
  const band3 = await image.getGDALMetadata(3);
  expect(band3?.['DESCRIPTION']).toBe(written.options.bands[3]);
  if (written.options.nodata !== undefined) expect(image.getGDALNoData()).toBe(written.options.nodata);
}

describe('createGeoTiffWriter', () => {
  const variants: [string, Partial<GeoTiffWriterOptions>][] = [
    ['uint16-deflate-pixel', {}],
    ['uint16-deflate-pred2-band', { predictor: 2, interleave: 'band' }],
    ['uint8-none', { sampleType: 'uint8', compression: 'none', bands: ['a', 'b', 'c', 'd'] }],
    ['float32-deflate-pred2', { sampleType: 'float32', predictor: 2, nodata: -9999, bands: ['x'] }],
    ['geographic-4490', { crs: { epsg: 4490 }, transform: [114.9, 0.0001, 0, 24.95, 0, -0.0001], bands: ['B08', 'B04'] }],
  ];

  for (const [name, options] of variants) {
    it(`reads back equal with geotiff.js: ${name}`, async () => {
      await expectGeotiffJsEqual(await writeSample(name, options));
    });
  }

  it.skipIf(!hasGdal)('gdalinfo sees CRS, geotransform, descriptions, metadata and nodata', async () => {
    const written = await writeSample('gdalinfo', { predictor: 2 });
    const info = JSON.parse(execFileSync('gdalinfo', ['-json', '-mdd', 'all', written.path], { encoding: 'utf8' })) as {
      size: number[];
      geoTransform: number[];
      coordinateSystem: { wkt: string };
      metadata: Record<string, Record<string, string>>;
      bands: { description?: string; noDataValue?: number; type: string; block: number[] }[];
    };
    expect(info.size).toEqual([300, 170]);
    expect(info.geoTransform).toEqual([390000, 10, 0, 2755000, 0, -10]);
    expect(info.coordinateSystem.wkt).toContain('UTM zone 50N');
    expect(info.coordinateSystem.wkt).toMatch(/ID\["EPSG",32650\]\]$/);
    expect(info.metadata['']?.['ACQUISITION_DATE']).toBe('2026-10-17');
    expect(info.metadata['']?.['NOTE']).toBe(`a <b> & "c" 'd'`);
    expect(info.metadata['IMAGE_STRUCTURE']?.['COMPRESSION']).toBe('DEFLATE');
    expect(info.metadata['IMAGE_STRUCTURE']?.['INTERLEAVE']).toBe('PIXEL');
    expect(info.metadata['IMAGE_STRUCTURE']?.['PREDICTOR']).toBe('2');
    expect(info.bands.map((b) => b.description)).toEqual(['B02', 'B03', 'B04', 'B08', 'B11', 'B12']);
    expect(info.bands.every((b) => b.noDataValue === 0 && b.type === 'UInt16')).toBe(true);
    expect(info.bands[0]?.block).toEqual([128, 128]);

    // No warnings from GDAL about the file's structure (e.g. missing ExtraSamples).
    const plain = spawnSync('gdalinfo', [written.path], { encoding: 'utf8' });
    expect(plain.status).toBe(0);
    expect(plain.stderr).not.toMatch(/Warning|ERROR/);

    const geographic = await writeSample('gdalinfo-4490', { crs: { epsg: 4490 }, transform: [114.9, 0.0001, 0, 24.95, 0, -0.0001] });
    const geoInfo = JSON.parse(execFileSync('gdalinfo', ['-json', geographic.path], { encoding: 'utf8' })) as { coordinateSystem: { wkt: string } };
    expect(geoInfo.coordinateSystem.wkt).toContain('China Geodetic Coordinate System 2000');
  });

  it.skipIf(!hasGdal)('gdal_translate pixels equal what was written (all variants)', async () => {
    for (const [name, options] of variants) {
      const written = await writeSample(`gt-${name}`, options);
      const raw = join(dir, `${name}.bin`);
      execFileSync('gdal_translate', ['-q', '-of', 'ENVI', '-co', 'INTERLEAVE=BSQ', written.path, raw]);
      const bytes = readFileSync(raw);
      const expected = Buffer.concat(written.data.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
      expect(bytes.equals(expected), name).toBe(true);
    }
  });

  it.skipIf(!hasRasterio)('rasterio reads the same pixels, CRS and transform', async () => {
    const written = await writeSample('rasterio', { interleave: 'band', predictor: 2 }, 64);
    const script = [
      'import rasterio, sys, json',
      'ds = rasterio.open(sys.argv[1])',
      'a = ds.read()',
      'sys.stdout.write(json.dumps({"crs": ds.crs.to_epsg(), "t": list(ds.transform)[:6], "desc": list(ds.descriptions), "nodata": ds.nodata, "tags": ds.tags(), "sha": __import__("hashlib").sha256(a.astype("<u2").tobytes()).hexdigest()}))',
    ].join('\n');
    const out = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, written.path], { encoding: 'utf8' })) as {
      crs: number;
      t: number[];
      desc: string[];
      nodata: number;
      tags: Record<string, string>;
      sha: string;
    };
    expect(out.crs).toBe(32650);
    expect(out.t).toEqual([10, 0, 390000, 0, -10, 2755000]);
    expect(out.desc).toEqual(written.options.bands);
    expect(out.nodata).toBe(0);
    expect(out.tags['ACQUISITION_DATE']).toBe('2026-10-17');
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256');
    for (const d of written.data) hash.update(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    expect(out.sha).toBe(hash.digest('hex'));
  });

  it('writeTile in any order equals writeRows; unwritten tiles are nodata', async () => {
    const options: GeoTiffWriterOptions = {
      width: 40,
      height: 33,
      bands: ['a', 'b'],
      sampleType: 'uint16',
      tileSize: 16,
      crs: { epsg: 32650 },
      transform: [0, 10, 0, 100, 0, -10],
      nodata: 7,
    };
    const path = join(dir, 'tiles.tif');
    const writer = await createGeoTiffWriter(path, options);
    const tiles: [number, number][] = [
      [2, 2],
      [0, 0],
      [1, 2],
      [2, 0],
    ];
    for (const [tc, tr] of tiles) {
      const data = { a: new Uint16Array(256).fill(tc * 10 + tr + 100), b: new Uint16Array(256).fill(5) };
      await writer.writeTile(tc, tr, data);
    }
    await writer.close();
    const image = await (await fromFile(path)).getImage();
    const [a] = (await image.readRasters()) as unknown as Uint16Array[];
    expect(a![0]).toBe(100);
    expect(a![20 * 40 + 35]).toBe(7); // tile (2,1) never written → nodata
    expect(a![32 * 40 + 39]).toBe(122);
    expect(a![32 * 40 + 20]).toBe(112);
  });

  it('rejects bad options with one uniform message', async () => {
    const base: GeoTiffWriterOptions = {
      width: 10,
      height: 10,
      bands: ['a'],
      sampleType: 'uint16',
      crs: { epsg: 32650 },
      transform: [0, 10, 0, 0, 0, -10],
    };
    const cases: Partial<GeoTiffWriterOptions>[] = [
      { width: 0 },
      { tileSize: 100 },
      { bands: ['a', 'a'] },
      { transform: [0, 10, 1, 0, 0, -10] },
      { nodata: 70000 },
    ];
    for (const bad of cases) {
      const error = await createGeoTiffWriter(join(dir, 'bad.tif'), { ...base, ...bad }).catch((e: unknown) => e);
      expect(isOrewatchError(error) && error.code === 'TIFF_WRITER.INVALID_OPTION').toBe(true);
      expect(String((error as Error).message)).toMatch(/^Expected .* for .* but received /);
    }
    const writer = await createGeoTiffWriter(join(dir, 'bad-rows.tif'), base);
    await expect(writer.writeRows(3, { a: new Uint16Array(10) })).rejects.toThrow(/row0/);
    await expect(writer.writeRows(0, { b: new Uint16Array(10) })).rejects.toThrow(/rows\.a/);
    await writer.writeRows(0, { a: new Float32Array(100).fill(70000.4) });
    await writer.close();
    const [a] = (await (await (await fromFile(join(dir, 'bad-rows.tif'))).getImage()).readRasters()) as unknown as Uint16Array[];
    expect(a![0]).toBe(65535); // clamped, not wrapped
  });

  it('switches to BigTIFF when asked (and the header says so)', async () => {
    const written = await writeSample('bigtiff', { bigTiff: true });
    const head = readFileSync(written.path).subarray(0, 4);
    expect(head.readUInt16LE(2)).toBe(43);
    await expectGeotiffJsEqual(written);
    if (hasGdal) {
      const info = execFileSync('gdalinfo', [written.path], { encoding: 'utf8' });
      expect(info).toContain('Driver: GTiff');
      expect(existsSync(written.path)).toBe(true);
    }
  });
});
