/**
 * A scan reads window after window into the arrays of the window it detected last
 * (readWindowInput's `reuse`), and scales the bands to reflectance in place: the pixels, the
 * masks and the detection must be exactly those of fresh reads, whatever the previous window was
 * (inside, at the edge with another size, over nodata).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openScene, type Scene } from '../geodata/scene-reader.js';
import { createGeoTiffWriter } from '../geodata/tiff-writer.js';
import type { PixelWindow } from '../geodata/types.js';
import { createSpectralDetector } from '../models/spectral/spectral-detector.js';
import type { Calibration } from '../models/detector.js';
import { generateScenario } from '../pipeline/eval/scenario-generator.js';
import {
  createPairPlan, detectWindowInput, outerWindow, planWindows, readWindowInput, samplePair, type PairPlan, type WindowInput,
} from '../pipeline/scan/detect-window.js';

const tmp = mkdtempSync(join(tmpdir(), 'orewatch-reuse-'));
const detector = createSpectralDetector();
let scenes: Scene[] = [];
let plan: PairPlan;
let calibration: Calibration;

/** A copy of `src` with nodata (0) over a stripe and a square, so `valid` varies from window to window. */
async function withNodata(src: string, dst: string): Promise<void> {
  const scene = await openScene(src);
  const { width, height, transform, crs } = scene.info.grid;
  const px = await scene.readWindow({ col: 0, row: 0, width, height });
  await scene.close();
  for (const band of Object.values(px.bands)) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) if ((y >= 200 && y < 230) || (x >= 400 && x < 470 && y >= 380 && y < 450)) band[y * width + x] = 0;
    }
  }
  const writer = await createGeoTiffWriter(dst, {
    width, height, bands: scene.info.bands, sampleType: 'uint16', crs: { epsg: Number(crs.code!.split(':')[1]) }, transform, nodata: 0,
  });
  await writer.writeRows(0, px.bands);
  await writer.close();
}

beforeAll(async () => {
  const m = await generateScenario({ seed: 241, size: 600, sensor: 's2', outDir: tmp });
  await withNodata(join(tmp, m.files.before), join(tmp, 'before-nodata.tif'));
  scenes = [await openScene(join(tmp, 'before-nodata.tif')), await openScene(join(tmp, m.files.after))];
  plan = createPairPlan(scenes[0]!, scenes[1]!, detector);
  calibration = detector.calibrate(await samplePair(plan));
}, 120_000);

afterAll(async () => {
  await Promise.all(scenes.map((s) => s.close()));
  rmSync(tmp, { recursive: true, force: true });
});

/** Every array of an input, copied, by name. */
function snapshot(input: WindowInput): Record<string, number[]> {
  const out: Record<string, number[]> = { valid: [...input.raw.valid] };
  for (const [date, r] of [['before', input.raw.before], ['after', input.raw.after]] as const) {
    for (const [band, arr] of Object.entries(r)) out[`${date}.${band}`] = [...arr!];
  }
  if (input.raw.sclBefore) out.sclBefore = [...input.raw.sclBefore];
  if (input.raw.sclAfter) out.sclAfter = [...input.raw.sclAfter];
  return out;
}

describe('reading scan windows into the previous window\'s arrays', () => {
  it('gives the pixels, masks and change of fresh reads, and refills the arrays when sizes match', async () => {
    // 128 px windows of a 600 px grid: inner windows (with their halo) share a size, edge ones do not.
    const windows: PixelWindow[] = planWindows(plan.pair.grid.width, plan.pair.grid.height, 128);
    expect(windows.length).toBeGreaterThan(4);
    let previous: WindowInput | null = null;
    let refilled = 0;
    let sawNodata = false;
    for (const window of windows) {
      const fresh = await readWindowInput(plan, window, detector);
      const expected = snapshot(fresh);
      if (fresh.raw.valid.includes(0)) sawNodata = true;
      const expectedResult = await detectWindowInput(plan, fresh, detector, calibration);
      const reused = await readWindowInput(plan, window, detector, previous);
      expect(snapshot(reused), JSON.stringify(window)).toEqual(expected);
      if (previous && previous.outer.width === reused.outer.width && previous.outer.height === reused.outer.height) {
        expect(reused.raw.before.red).toBe(previous.raw.before.red);
        expect(reused.raw.valid).toBe(previous.raw.valid);
        refilled++;
      }
      const result = await detectWindowInput(plan, reused, detector, calibration);
      expect(Buffer.from(result.mask).equals(Buffer.from(expectedResult.mask)), JSON.stringify(window)).toBe(true);
      expect(result.maskCounts).toEqual(expectedResult.maskCounts);
      previous = reused;
    }
    expect(refilled).toBeGreaterThan(0);
    expect(sawNodata).toBe(true);
  }, 120_000);

  it('scales each band to reflectance once (in place), as the scene\'s scale and offset say', async () => {
    const window = { col: 100, row: 120, width: 64, height: 48 };
    const input = await readWindowInput(plan, window, detector);
    const outer = outerWindow(plan, window, detector);
    const name = plan.after.bands.red!;
    if (plan.pair.afterMode.kind !== 'aligned') throw new Error('the generated pair is on one grid');
    const { col, row } = plan.pair.afterMode;
    const px = await scenes[1]!.readWindow({ ...outer, col: outer.col + col, row: outer.row + row }, [name]);
    const { scale, offset } = plan.after.scaling[name]!;
    expect(scale === 1 && offset === 0).toBe(false);
    const raw = px.bands[name]!;
    const red = input.raw.after.red!;
    for (let i = 0; i < raw.length; i++) expect(red[i]).toBe(Math.fround(raw[i]! * scale + offset));
  });
});
