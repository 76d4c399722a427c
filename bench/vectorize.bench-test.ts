/**
 * Performance sanity check of the vectorizer (prints timings, asserts only correctness): a
 * 2048×2048 scene with ~2% of its pixels in random blobs, added as 64 windows of 256×256.
 * Timings are printed, never asserted; benchmarks proper belong in bench/.
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { createChangeAccumulator } from '../geodata/vectorize.js';

const SIZE = 2048;
const TILE = 256;

/** Seeded blobs: discs of radius 1–8 px with ragged edges, until 2% of the scene is change. */
function blobScene(seed: number): { mask: Uint8Array; prob: Float32Array; changePixels: number } {
  let state = seed >>> 0;
  const rnd = (): number => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const mask = new Uint8Array(SIZE * SIZE);
  const prob = new Float32Array(SIZE * SIZE);
  let changePixels = 0;
  while (changePixels < 0.02 * SIZE * SIZE) {
    const cx = Math.floor(rnd() * SIZE);
    const cy = Math.floor(rnd() * SIZE);
    const r = 1 + rnd() * 7;
    const kind = 1 + Math.floor(rnd() * 3);
    for (let y = Math.max(0, Math.floor(cy - r - 1)); y <= Math.min(SIZE - 1, cy + r + 1); y++) {
      for (let x = Math.max(0, Math.floor(cx - r - 1)); x <= Math.min(SIZE - 1, cx + r + 1); x++) {
        const d = Math.hypot(x - cx, y - cy);
        if (d > r + (rnd() - 0.5) * 1.5) continue;
        const i = y * SIZE + x;
        if (mask[i] === 0) changePixels++;
        mask[i] = kind;
        prob[i] = 0.5 + 0.5 * rnd();
      }
    }
  }
  return { mask, prob, changePixels };
}

describe('vectorize performance (printed, not asserted)', () => {
  it('2048×2048, 2% random blobs, 256-px windows', () => {
    const { mask, prob, changePixels } = blobScene(20240601);
    const t0 = performance.now();
    const acc = createChangeAccumulator(SIZE, SIZE);
    const wm = new Uint8Array(TILE * TILE);
    const wp = new Float32Array(TILE * TILE);
    for (let row = 0; row < SIZE; row += TILE) {
      for (let col = 0; col < SIZE; col += TILE) {
        for (let y = 0; y < TILE; y++) {
          wm.set(mask.subarray((row + y) * SIZE + col, (row + y) * SIZE + col + TILE), y * TILE);
          wp.set(prob.subarray((row + y) * SIZE + col, (row + y) * SIZE + col + TILE), y * TILE);
        }
        acc.addWindow({ col, row, width: TILE, height: TILE }, wm, wp);
      }
    }
    const t1 = performance.now();
    const sites = acc.finish({ minPixels: 0 });
    const t2 = performance.now();
    const filled = acc.finish({ minPixels: 10, fillHolesSmallerThan: 30 });
    const t3 = performance.now();
    const simple = acc.finish({ minPixels: 10, fillHolesSmallerThan: 30, simplifyTolerancePx: 1 });
    const t4 = performance.now();
    const vertices = (list: typeof sites): number => list.reduce((n, s) => n + s.polygons.flat(2).length, 0);
    console.log(
      [
        `vectorize ${SIZE}×${SIZE}, ${changePixels} change pixels (${((100 * changePixels) / SIZE / SIZE).toFixed(1)}%), ${(SIZE / TILE) ** 2} windows:`,
        `  addWindow (all)          ${(t1 - t0).toFixed(0)} ms`,
        `  finish                   ${(t2 - t1).toFixed(0)} ms → ${sites.length} sites, ${vertices(sites)} vertices`,
        `  finish + fill + MMU      ${(t3 - t2).toFixed(0)} ms → ${filled.length} sites`,
        `  … + simplify 1 px        ${(t4 - t3).toFixed(0)} ms → ${vertices(simple)} vertices`,
      ].join('\n'),
    );
    expect(sites.reduce((n, s) => n + s.pixelCount, 0)).toBe(changePixels);
  });
});
