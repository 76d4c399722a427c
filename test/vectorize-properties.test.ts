/**
 * Property tests of the vectorizer on random masks (up to 64×64) and random window tilings:
 * area = pixel count, validity (our strict check and JSTS), pixel centres inside the polygons =
 * the mask, statistics = an independent flood fill, independence of tiling and window order,
 * hole filling, the minimum mapping unit, and topology-preserving simplification.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createChangeAccumulator, findPolygonProblems, type ChangeComponent, type FinishOptions } from '../geodata/vectorize.js';

type Window = [number, number, number, number];

interface Case {
  width: number;
  height: number;
  mask: Uint8Array;
  prob: Float32Array;
  tilingA: Window[];
  tilingB: Window[];
}

/** Guillotine tiling: cut the rectangle at random positions, recursively, then shuffle. */
function tiling(width: number, height: number, cuts: number[], order: number[]): Window[] {
  const out: Window[] = [];
  let c = 0;
  const split = (col: number, row: number, w: number, h: number, depth: number): void => {
    const v = cuts[c++ % cuts.length];
    if (depth > 4 || v % 5 === 0 || (w < 2 && h < 2)) {
      out.push([col, row, w, h]);
      return;
    }
    if ((v % 2 === 0 && w >= 2) || h < 2) {
      const at = 1 + (v % (w - 1));
      split(col, row, at, h, depth + 1);
      split(col + at, row, w - at, h, depth + 1);
    } else {
      const at = 1 + (v % (h - 1));
      split(col, row, w, at, depth + 1);
      split(col, row + at, w, h - at, depth + 1);
    }
  };
  split(0, 0, width, height, 0);
  // Fisher-Yates driven by the order values.
  for (let i = out.length - 1; i > 0; i--) {
    const j = order[i % order.length] % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({ width: fc.integer({ min: 1, max: 64 }), height: fc.integer({ min: 1, max: 64 }), density: fc.integer({ min: 5, max: 95 }), kinds: fc.integer({ min: 1, max: 3 }) })
  .chain(({ width, height, density, kinds }) =>
    fc.record({
      width: fc.constant(width),
      height: fc.constant(height),
      cells: fc.uint8Array({ minLength: width * height, maxLength: width * height }),
      density: fc.constant(density),
      kinds: fc.constant(kinds),
      cutsA: fc.array(fc.nat(1000), { minLength: 1, maxLength: 40 }),
      cutsB: fc.array(fc.nat(1000), { minLength: 1, maxLength: 40 }),
      order: fc.array(fc.nat(1000), { minLength: 1, maxLength: 40 }),
    }),
  )
  .map(({ width, height, cells, density, kinds, cutsA, cutsB, order }) => {
    const mask = new Uint8Array(width * height);
    const prob = new Float32Array(width * height);
    cells.forEach((v, i) => {
      // Low bits decide change, high bits the kind and the probability (independent enough).
      if ((v * 100) / 256 < density) mask[i] = 1 + ((v >> 3) % kinds);
      prob[i] = (v % 17) / 16;
    });
    return { width, height, mask, prob, tilingA: tiling(width, height, cutsA, order), tilingB: tiling(width, height, cutsB, [...order].reverse()) };
  });

function cut<T extends Uint8Array | Float32Array>(a: T, width: number, [col, row, w, h]: Window): T {
  const out = new (a.constructor as new (n: number) => T)(w * h);
  for (let y = 0; y < h; y++) out.set(a.subarray((row + y) * width + col, (row + y) * width + col + w), y * w);
  return out;
}

function run(c: Case, windows: Window[], options: FinishOptions, skipEmpty = false): ChangeComponent[] {
  const acc = createChangeAccumulator(c.width, c.height);
  for (const win of windows) {
    const mask = cut(c.mask, c.width, win);
    if (skipEmpty && mask.every((v) => v === 0)) continue;
    acc.addWindow({ col: win[0], row: win[1], width: win[2], height: win[3] }, mask, cut(c.prob, c.width, win));
  }
  return acc.finish(options);
}

/** Independent 8-connected labelling by flood fill: label per pixel (0 = none), 1-based in scan order. */
function floodLabels(c: Case): { labels: Int32Array; count: number } {
  const labels = new Int32Array(c.width * c.height);
  let count = 0;
  for (let start = 0; start < labels.length; start++) {
    if (c.mask[start] === 0 || labels[start] !== 0) continue;
    labels[start] = ++count;
    const stack = [start];
    while (stack.length > 0) {
      const i = stack.pop() as number;
      const x = i % c.width;
      const y = (i - x) / c.width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= c.width || ny >= c.height) continue;
          const j = ny * c.width + nx;
          if (c.mask[j] !== 0 && labels[j] === 0) {
            labels[j] = count;
            stack.push(j);
          }
        }
      }
    }
  }
  return { labels, count };
}

function signedArea2(ring: [number, number][]): number {
  let sum = 0;
  for (let i = 0; i + 1 < ring.length; i++) sum += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
  return sum;
}

/** Even-odd over all rings of a site: inside its polygons (holes excluded). */
function contains(component: ChangeComponent, x: number, y: number): boolean {
  let inside = false;
  for (const polygon of component.polygons) {
    for (const ring of polygon) {
      for (let i = 0; i + 1 < ring.length; i++) {
        const [ax, ay] = ring[i];
        const [bx, by] = ring[i + 1];
        if (ay > y !== by > y && x < ax + ((bx - ax) * (y - ay)) / (by - ay)) inside = !inside;
      }
    }
  }
  return inside;
}

/** id of the site whose polygons hold each pixel centre (0: none); fails on a pixel in two sites. */
function ownerRaster(c: Case, sites: ChangeComponent[]): Int32Array {
  const owner = new Int32Array(c.width * c.height);
  for (const site of sites) {
    const { col, row, width, height } = site.bbox;
    for (let y = row; y < row + height; y++) {
      for (let x = col; x < col + width; x++) {
        if (!contains(site, x + 0.5, y + 0.5)) continue;
        if (owner[y * c.width + x] !== 0) throw new Error(`pixel (${x}, ${y}) is in sites ${owner[y * c.width + x]} and ${site.id}`);
        owner[y * c.width + x] = site.id;
      }
    }
  }
  return owner;
}

interface Jsts {
  io: { GeoJSONReader: new () => { read(geometry: object): object } };
  operation: { valid: { IsValidOp: new (geometry: object) => { isValid(): boolean; getValidationError(): unknown } } };
}
const jsts = createRequire(import.meta.url)('jsts') as Jsts;
const jstsReader = new jsts.io.GeoJSONReader();
function jstsProblem(polygons: [number, number][][][]): string | null {
  const op = new jsts.operation.valid.IsValidOp(jstsReader.read({ type: 'MultiPolygon', coordinates: polygons }));
  return op.isValid() ? null : String(op.getValidationError());
}

const RUNS = Number(process.env.VECTORIZE_PROPERTY_RUNS ?? 100);

describe('vectorize properties', () => {
  it('area = pixel count, valid polygons, pixel centres = the mask, statistics = a flood fill', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const sites = run(c, c.tilingA, { minPixels: 0 });
        const { labels, count } = floodLabels(c);
        expect(sites).toHaveLength(count);
        for (const site of sites) {
          const area = -site.polygons.flat().reduce((s, ring) => s + signedArea2(ring), 0) / 2;
          expect(area).toBe(site.pixelCount);
          expect(site.changePixelCount).toBe(site.pixelCount);
          expect(findPolygonProblems(site.polygons)).toEqual([]);
          expect(jstsProblem(site.polygons)).toBeNull();
        }
        // All sites together are valid too: no two overlap.
        expect(findPolygonProblems(sites.flatMap((s) => s.polygons))).toEqual([]);
        // Flood-fill labels are numbered in scan order of their first pixel, as site ids are.
        const owner = ownerRaster(c, sites);
        expect([...owner]).toEqual([...labels]);
        const kinds = sites.map(() => new Map<number, number>());
        const sums = sites.map(() => 0);
        const maxes = sites.map(() => 0);
        labels.forEach((l, i) => {
          if (l === 0) return;
          kinds[l - 1].set(c.mask[i], (kinds[l - 1].get(c.mask[i]) ?? 0) + 1);
          sums[l - 1] += c.prob[i];
          maxes[l - 1] = Math.max(maxes[l - 1], c.prob[i]);
        });
        sites.forEach((site, k) => {
          expect(site.kindCounts).toEqual(Object.fromEntries(kinds[k]));
          expect(site.meanProb).toBeCloseTo(sums[k] / site.pixelCount, 9);
          expect(site.maxProb).toBe(maxes[k]);
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('does not depend on the tiling, the window order, or windows without change being left out', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const a = run(c, c.tilingA, { minPixels: 0 });
        expect(run(c, c.tilingB, { minPixels: 0 })).toEqual(a);
        expect(run(c, [[0, 0, c.width, c.height]], { minPixels: 0 })).toEqual(a);
        expect(run(c, c.tilingB, { minPixels: 0 }, true)).toEqual(a);
      }),
      { numRuns: RUNS },
    );
  });

  it('gives [] for an empty mask, whatever the tiling', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        expect(run({ ...c, mask: new Uint8Array(c.width * c.height) }, c.tilingA, { minPixels: 0 })).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });

  it('fills holes below the threshold: sites stay valid, disjoint and pixel-exact', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 1, max: 200 }), (c, threshold) => {
        const plain = run(c, c.tilingA, { minPixels: 0 });
        const filled = run(c, c.tilingB, { minPixels: 0, fillHolesSmallerThan: threshold });
        expect(findPolygonProblems(filled.flatMap((s) => s.polygons))).toEqual([]);
        const owner = ownerRaster(c, filled);
        let covered = 0;
        for (const site of filled) {
          const area = -site.polygons.flat().reduce((s, ring) => s + signedArea2(ring), 0) / 2;
          expect(area).toBe(site.pixelCount);
          expect(jstsProblem(site.polygons)).toBeNull();
          covered += site.pixelCount;
        }
        // Every change pixel is in exactly one site; besides them, only filled hole pixels are.
        c.mask.forEach((v, i) => {
          if (v !== 0) expect(owner[i]).not.toBe(0);
        });
        expect(owner.filter((o) => o !== 0).length).toBe(covered);
        expect(filled.reduce((s, x) => s + x.changePixelCount, 0)).toBe(plain.reduce((s, x) => s + x.pixelCount, 0));
        // Hole filling never splits or creates sites beyond absorbing islands.
        expect(filled.length).toBeLessThanOrEqual(plain.length);
      }),
      { numRuns: RUNS },
    );
  });

  it('leaves no hole at all when every hole is below the threshold', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const filled = run(c, c.tilingA, { minPixels: 0, fillHolesSmallerThan: Number.MAX_SAFE_INTEGER });
        for (const site of filled) for (const polygon of site.polygons) expect(polygon).toHaveLength(1);
        expect(findPolygonProblems(filled.flatMap((s) => s.polygons))).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('drops exactly the sites below minPixels', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 0, max: 40 }), (c, minPixels) => {
        const all = run(c, c.tilingA, { minPixels: 0 });
        const kept = run(c, c.tilingB, { minPixels });
        expect(kept).toEqual(all.filter((s) => s.pixelCount >= minPixels).map((s, i) => ({ ...s, id: i + 1 })));
      }),
      { numRuns: RUNS },
    );
  });

  it('simplifies without breaking validity or the nesting of sites', () => {
    fc.assert(
      fc.property(caseArb, fc.double({ min: 0.3, max: 4, noNaN: true }), (c, tolerance) => {
        const exact = run(c, c.tilingA, { minPixels: 0 });
        const simple = run(c, c.tilingA, { minPixels: 0, simplifyTolerancePx: tolerance });
        expect(simple.map((s) => ({ ...s, polygons: [] }))).toEqual(exact.map((s) => ({ ...s, polygons: [] })));
        expect(findPolygonProblems(simple.flatMap((s) => s.polygons))).toEqual([]);
        for (const site of simple) expect(jstsProblem(site.polygons)).toBeNull();
        const vertices = (sites: ChangeComponent[]): number => sites.reduce((n, s) => n + s.polygons.flat(2).length, 0);
        expect(vertices(simple)).toBeLessThanOrEqual(vertices(exact));
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});
