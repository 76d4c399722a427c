/**
 * Pairing two scenes: same grid (cropped to the overlap by whole-pixel offsets) and different
 * grids (resampled onto the earlier grid: bilinear for reflectance, nearest for classes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pairScenes, readAfter, readBefore } from '../geodata/pair.js';
import { openScene, type Scene } from '../geodata/scene-reader.js';
import { createGeoTiffWriter } from '../geodata/tiff-writer.js';
import type { GeoTransform } from '../geodata/types.js';

const tmp = mkdtempSync(join(tmpdir(), 'orewatch-pair-'));
const opened: Scene[] = [];
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  rmSync(tmp, { recursive: true, force: true });
});

/** A scene whose band `v` holds a linear ramp of the CRS x coordinate, and `cls` a class per 100 m column. */
async function rampScene(name: string, width: number, height: number, transform: GeoTransform, epsg = 32650): Promise<Scene> {
  const path = join(tmp, name);
  const w = await createGeoTiffWriter(path, { width, height, bands: ['v', 'cls'], sampleType: 'float32', crs: { epsg }, transform, metadata: { ACQUISITION_DATE: '2026-01-01' } });
  const v = new Float32Array(width * height), cls = new Float32Array(width * height);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const x = transform[0] + (c + 0.5) * transform[1];
      const y = transform[3] + (r + 0.5) * transform[5];
      v[r * width + c] = (x - 500_000) * 0.01 + (y - 2_750_000) * 0.001;
      cls[r * width + c] = Math.floor((x - 500_000) / 100);
    }
  }
  await w.writeRows(0, { v, cls });
  await w.close();
  const scene = await openScene(path);
  opened.push(scene);
  return scene;
}

describe('pairScenes', () => {
  it('same grid with a whole-pixel offset: crops to the overlap and reads without resampling', async () => {
    const a = await rampScene('a.tif', 100, 80, [500_000, 10, 0, 2_750_800, 0, -10]);
    const b = await rampScene('b.tif', 100, 80, [500_200, 10, 0, 2_750_700, 0, -10]); // 20 px east, 10 px south
    const pair = pairScenes(a, b);
    expect(pair.afterMode.kind).toBe('aligned');
    expect(pair.grid.width).toBe(80);
    expect(pair.grid.height).toBe(70);
    expect(pair.grid.transform[0]).toBe(500_200);
    expect(pair.grid.transform[3]).toBe(2_750_700);
    const win = { col: 5, row: 7, width: 30, height: 20 };
    const [pb, pa] = await Promise.all([readBefore(pair, win, ['v']), readAfter(pair, win, ['v'])]);
    // Both dates show the same ground at the same pixel.
    for (let i = 0; i < pb.bands.v.length; i++) expect(pa.bands.v[i]).toBe(pb.bands.v[i]);
  });

  it('a half-pixel shifted grid is resampled bilinearly (exact on a linear ramp)', async () => {
    const a = await rampScene('c.tif', 60, 60, [500_000, 10, 0, 2_750_600, 0, -10]);
    const b = await rampScene('d.tif', 60, 60, [500_005, 10, 0, 2_750_595, 0, -10]);
    const pair = pairScenes(a, b);
    expect(pair.afterMode.kind).toBe('resampled');
    const win = { col: 2, row: 2, width: 40, height: 40 };
    const [pb, pa] = await Promise.all([readBefore(pair, win, ['v', 'cls']), readAfter(pair, win, ['v', 'cls'], ['cls'])]);
    let maxErr = 0;
    for (let i = 0; i < pb.bands.v.length; i++) {
      expect(pa.valid[i]).toBe(1);
      maxErr = Math.max(maxErr, Math.abs(pa.bands.v[i] - pb.bands.v[i]));
      // Classes are never averaged: every value is one of the source's integers.
      expect(Number.isInteger(pa.bands.cls[i])).toBe(true);
    }
    expect(maxErr).toBeLessThan(1e-3);
  });

  it('another CRS (UTM 49N vs 50N) is resampled onto the earlier grid', async () => {
    // The same ground (around 114.9E, 24.85N) in zone 50 and zone 49; the ramp is in each scene's
    // own coordinates, so compare the class band's geometry instead: valid overlap and no NaN.
    const a = await rampScene('e.tif', 50, 50, [287_800, 10, 0, 2_750_000, 0, -10], 32650);
    const b = await rampScene('f.tif', 120, 120, [893_700, 10, 0, 2_754_500, 0, -10], 32649);
    const pair = pairScenes(a, b);
    expect(pair.afterMode.kind).toBe('resampled');
    const px = await readAfter(pair, { col: 0, row: 0, width: pair.grid.width, height: pair.grid.height }, ['v']);
    const valid = px.valid.reduce((s, v) => s + v, 0);
    expect(valid).toBe(pair.grid.width * pair.grid.height);
    // The ramp is linear in zone-49 coordinates: the resampled value at each earlier-grid pixel
    // equals the ramp at that pixel centre's zone-49 position (bilinear is exact on a plane).
    const { createTransform } = await import('../geodata/crs.js');
    const t = createTransform(a.info.grid.crs, b.info.grid.crs);
    let maxErr = 0;
    for (let r = 0; r < pair.grid.height; r++) {
      for (let c = 0; c < pair.grid.width; c++) {
        const [x, y] = t.forward(pair.grid.transform[0] + (c + 0.5) * 10, pair.grid.transform[3] - (r + 0.5) * 10);
        const expected = (x - 500_000) * 0.01 + (y - 2_750_000) * 0.001;
        maxErr = Math.max(maxErr, Math.abs(px.bands.v[r * pair.grid.width + c] - expected));
      }
    }
    expect(maxErr).toBeLessThan(0.01); // 1 m of ground at this ramp's slope
  });

  it('scenes that do not overlap are refused naming both files', async () => {
    const a = await rampScene('g.tif', 20, 20, [500_000, 10, 0, 2_750_000, 0, -10]);
    const b = await rampScene('h.tif', 20, 20, [600_000, 10, 0, 2_750_000, 0, -10]);
    expect(() => pairScenes(a, b)).toThrow(/g\.tif and .*h\.tif|do not overlap/);
  });
});
