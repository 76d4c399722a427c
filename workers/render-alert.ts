/**
 * Before/after chips of one alert: reads the pair around the alert (with a margin), renders both
 * dates in true colour with one joint stretch, draws the alert outline, writes a PNG.
 */
import { createTransform, WGS84 } from '../geodata/crs.js';
import { inverseTransform } from '../geodata/pair.js';
import { drawRings, jointStretch, toRgb8, writeSideBySidePng } from '../geodata/render.js';
import { openScene } from '../geodata/scene-reader.js';
import type { Detector } from '../models/detector.js';
import { createPairPlan, readPairPixels } from '../pipeline/scan/detect-window.js';
import type { AreaGeometry } from '../pipeline/types.js';

export async function renderAlertPng(options: { before: string; after: string; bands?: string[]; geometry: AreaGeometry; out: string; detector: Detector; marginPx?: number }): Promise<void> {
  const before = await openScene(options.before, { bandNames: options.bands });
  const after = await openScene(options.after, { bandNames: options.bands });
  try {
    const plan = createPairPlan(before, after, options.detector);
    const grid = plan.pair.grid;
    const toGrid = createTransform(grid.crs, WGS84);
    const toPixel = inverseTransform(grid.transform);
    const polys = options.geometry.type === 'Polygon' ? [options.geometry.coordinates] : options.geometry.coordinates;
    const rings = polys.flatMap((p) => p.map((ring) => ring.map(([lon, lat]) => {
      const [x, y] = toGrid.inverse(lon, lat);
      return toPixel(x, y);
    })));
    const xs = rings.flat().map((p) => p[0]), ys = rings.flat().map((p) => p[1]);
    const margin = options.marginPx ?? 12;
    const col = Math.max(0, Math.floor(Math.min(...xs)) - margin), row = Math.max(0, Math.floor(Math.min(...ys)) - margin);
    const width = Math.min(grid.width, Math.ceil(Math.max(...xs)) + margin) - col;
    const height = Math.min(grid.height, Math.ceil(Math.max(...ys)) + margin) - row;
    const px = await readPairPixels(plan, { col, row, width, height });
    const stretch = jointStretch([px.before.red!, px.before.green!, px.before.blue!, px.after.red!, px.after.green!, px.after.blue!]);
    const b = toRgb8({ red: px.before.red!, green: px.before.green!, blue: px.before.blue! }, width, height, stretch);
    const a = toRgb8({ red: px.after.red!, green: px.after.green!, blue: px.after.blue! }, width, height, stretch);
    const local = rings.map((ring) => ring.map(([x, y]) => [x - col, y - row] as [number, number]));
    drawRings(b, width, height, local, [255, 230, 0]);
    drawRings(a, width, height, local, [255, 230, 0]);
    const scale = Math.max(2, Math.min(8, Math.floor(480 / Math.max(width, height))));
    await writeSideBySidePng(options.out, b, a, width, height, scale);
  } finally {
    await Promise.all([before.close(), after.close()]);
  }
}
