/** Masks: SCL classes, and the own cloud / haze / shadow test judged against the other date. */
import { describe, expect, it } from 'vitest';
import { detectCloudsAndShadows, estimateMaskBaseline, maskFromScl, MASK_CLEAR, MASK_CLOUD, MASK_HAZE, MASK_NODATA, MASK_SHADOW, type MaskBands } from '../geodata/masks.js';

const W = 40, H = 40;

/** A forest scene (reflectance), same everywhere. */
function forest(): MaskBands & { swir1: Float32Array } {
  const f = (v: number) => new Float32Array(W * H).fill(v);
  return { blue: f(0.03), green: f(0.05), red: f(0.03), nir: f(0.35), swir1: f(0.15) };
}

function paint(bands: MaskBands & { swir1: Float32Array }, x0: number, y0: number, x1: number, y1: number, v: [number, number, number, number, number]) {
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
    const i = y * W + x;
    [bands.blue[i], bands.green[i], bands.red[i], bands.nir[i], bands.swir1[i]] = v;
  }
}

const count = (m: Uint8Array, v: number) => m.reduce((s, x) => s + (x === v ? 1 : 0), 0);

describe('maskFromScl', () => {
  it('masks classes 3, 8, 9, 10 and treats 0 and 1 as nodata', () => {
    const scl = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect([...maskFromScl(scl)]).toEqual([1, 1, 0, 3, 0, 0, 0, 0, 2, 2, 4, 0]);
  });
});

describe('own cloud and shadow test', () => {
  it('finds a cloud and its shadow, and leaves the rest clear', () => {
    const before = forest(), after = forest();
    paint(after, 5, 5, 15, 15, [0.45, 0.45, 0.46, 0.5, 0.4]); // thick cloud
    paint(after, 22, 22, 32, 32, [0.012, 0.02, 0.012, 0.12, 0.05]); // its shadow: every band ×0.35
    const m = detectCloudsAndShadows(after, before, W, H);
    expect(m[10 * W + 10]).toBe(MASK_CLOUD);
    expect(m[27 * W + 27]).toBe(MASK_SHADOW);
    expect(m[38 * W + 2]).toBe(MASK_CLEAR);
    // Dilated by 2 px.
    expect(m[3 * W + 10]).toBe(MASK_CLOUD);
  });

  it('new bright red soil and tailings are change, not cloud or haze', () => {
    const before = forest(), after = forest();
    paint(after, 5, 5, 20, 20, [0.08, 0.12, 0.18, 0.25, 0.34]); // laterite
    paint(after, 22, 5, 35, 20, [0.16, 0.18, 0.2, 0.31, 0.35]); // bright tailings
    const m = detectCloudsAndShadows(after, before, W, H);
    expect(count(m, MASK_CLEAR)).toBe(W * H);
  });

  it('haze raises blue more than red and is masked; a whole-scene shift is not', () => {
    const before = forest(), after = forest();
    paint(after, 0, 0, 20, 40, [0.09, 0.09, 0.06, 0.37, 0.15]);
    const m = detectCloudsAndShadows(after, before, W, H);
    expect(m[20 * W + 5]).toBe(MASK_HAZE);
    expect(m[20 * W + 35]).toBe(MASK_CLEAR);
    // The same haze over the whole scene is a uniform difference between dates: the baseline absorbs it.
    const all = forest();
    paint(all, 0, 0, 40, 40, [0.09, 0.09, 0.06, 0.37, 0.15]);
    const baseline = estimateMaskBaseline(all, before, new Uint8Array(W * H).fill(1));
    expect(count(detectCloudsAndShadows(all, before, W, H, undefined, baseline), MASK_CLEAR)).toBe(W * H);
  });

  it('a single bright roof is not a cloud (patches below the minimum size stay clear)', () => {
    const before = forest(), after = forest();
    paint(after, 10, 10, 12, 12, [0.4, 0.4, 0.4, 0.42, 0.4]);
    expect(count(detectCloudsAndShadows(after, before, W, H), MASK_CLEAR)).toBe(W * H);
  });

  it('keeps nodata from the base mask', () => {
    const base = new Uint8Array(W * H);
    base[0] = MASK_NODATA;
    expect(detectCloudsAndShadows(forest(), forest(), W, H, base)[0]).toBe(MASK_NODATA);
  });
});
