/**
 * The window-by-window accumulator: change masks of a large scene arrive window by window (in any
 * order), are kept as run-length rows, and are turned into sites with pixel-exact polygons once
 * the scene is done. This module holds the public shapes of the vectorizer and the orchestration;
 * labelling lives in sites.ts, tracing in trace-rings.ts, simplification in simplify-rings.ts.
 */
import type { PixelWindow } from '../types.js';
import { RunStore } from './run-store.js';
import { buildSites } from './sites.js';
import { simplifyComponents } from './simplify-rings.js';
import { traceRings, type Ring } from './trace-rings.js';
import { argumentError, expectInteger, expectLength, expectNumber } from './validate.js';

/** Rings of one polygon: [outer, ...holes], each closed, coordinates [col, row] in grid pixels. */
export type PixelPolygon = Ring[];

/** One change site: an 8-connected component of change pixels, with the holes it absorbed. */
export interface ChangeComponent {
  /** 1-based rank of the site in (top row, left column) order of its top-left pixel (0 is left for "no site" in label rasters). */
  id: number;
  /** Pixels the site covers (change pixels plus filled holes); equals its polygon area in pixel units. */
  pixelCount: number;
  /** Change pixels of the site (the sum of kindCounts); less than pixelCount when holes were filled. */
  changePixelCount: number;
  /** Bounding box in grid pixels. */
  bbox: PixelWindow;
  /**
   * Pixel-corner coordinates [col, row] in grid pixel space, GeoJSON-like: polygons[i] =
   * [outerRing, ...holes]. Rings are closed; outer rings are counter-clockwise and holes clockwise
   * in a y-up sense (RFC 7946 right-hand after a transform with negative row scale); collinear
   * vertices are removed. One polygon per 4-connected piece: pixels that touch only at a corner
   * become separate polygons touching at that point (a valid MultiPolygon), because a single ring
   * pinched at a vertex is not a valid GeoJSON / OGC polygon.
   */
  polygons: PixelPolygon[];
  /** Mean change probability over the change pixels (0..1). */
  meanProb: number;
  /** Largest change probability (0..1). */
  maxProb: number;
  /** Change pixel count per change kind code. */
  kindCounts: Record<number, number>;
}

export interface FinishOptions {
  /** Minimum mapping unit in pixels: sites with fewer pixels (filled holes included) are dropped. */
  minPixels: number;
  /**
   * Holes enclosing fewer than this many pixels (islands inside them included) are filled and
   * become part of the site, islands and all. Default 0: no hole is filled.
   */
  fillHolesSmallerThan?: number;
  /**
   * Douglas-Peucker tolerance in pixels. Default 0: the exact pixel staircase. When set, the
   * rings stay valid and keep their nesting (see simplifyComponents), but the area no longer
   * equals pixelCount.
   */
  simplifyTolerancePx?: number;
}

/** Accumulates change pixels window by window. Memory ∝ number of change pixels (run-length rows), not scene size. */
export interface ChangeAccumulator {
  /**
   * @param window where the arrays sit in the grid (grid pixels); must lie inside the grid and
   *   must not overlap a window added before
   * @param mask width*height row-major: 0 = no change, k > 0 = change kind code
   * @param prob width*height row-major change probability 0..1 (read at change pixels only)
   */
  addWindow(window: PixelWindow, mask: Uint8Array, prob: Float32Array): void;
  /**
   * Connected components (8-connectivity, across window borders too) → one site each, ordered by
   * (top row, left col). Does not consume the accumulated runs: it may be called again.
   */
  finish(options: FinishOptions): ChangeComponent[];
}

/**
 * @param gridWidth grid width in pixels
 * @param gridHeight grid height in pixels
 */
export function createChangeAccumulator(gridWidth: number, gridHeight: number): ChangeAccumulator {
  expectInteger(gridWidth, 'gridWidth', 1);
  expectInteger(gridHeight, 'gridHeight', 1);
  const runs = new RunStore();
  const windows: PixelWindow[] = [];

  return {
    addWindow(window: PixelWindow, mask: Uint8Array, prob: Float32Array): void {
      const col = expectInteger(window?.col, 'window.col', 0);
      const row = expectInteger(window?.row, 'window.row', 0);
      const width = expectInteger(window.width, 'window.width', 1);
      const height = expectInteger(window.height, 'window.height', 1);
      if (col + width > gridWidth || row + height > gridHeight) {
        throw argumentError(`a window inside the ${gridWidth}×${gridHeight} grid`, 'window', window, 'VECTORIZE.WINDOW_OUTSIDE_GRID');
      }
      expectLength(mask, 'mask', width * height);
      expectLength(prob, 'prob', width * height);
      for (const w of windows) {
        if (col < w.col + w.width && w.col < col + width && row < w.row + w.height && w.row < row + height) {
          throw argumentError(`a window not overlapping ${JSON.stringify(w)}`, 'window', window, 'VECTORIZE.OVERLAPPING_WINDOW');
        }
      }
      const before = runs.count;
      for (let y = 0; y < height; y++) {
        const base = y * width;
        let x = 0;
        while (x < width) {
          const kind = mask[base + x];
          if (kind === 0) {
            x++;
            continue;
          }
          const x0 = x;
          let sum = 0;
          let max = 0;
          while (x < width && mask[base + x] === kind) {
            const p = prob[base + x];
            if (!(p >= 0 && p <= 1)) {
              runs.truncate(before);
              throw argumentError('a probability in 0..1', `prob at window pixel (col ${x}, row ${y})`, p);
            }
            sum += p;
            if (p > max) max = p;
            x++;
          }
          runs.push(row + y, col + x0, col + x, kind, sum, max);
        }
      }
      windows.push({ col, row, width, height });
    },

    finish(options: FinishOptions): ChangeComponent[] {
      const minPixels = expectNumber(options?.minPixels, 'minPixels', 0);
      const fillHolesSmallerThan = expectNumber(options.fillHolesSmallerThan ?? 0, 'fillHolesSmallerThan', 0);
      const tolerance = expectNumber(options.simplifyTolerancePx ?? 0, 'simplifyTolerancePx', 0);
      const { sites, spans } = buildSites(runs.sorted(gridHeight), gridWidth, gridHeight, { minPixels, fillHolesSmallerThan });
      const polygons: PixelPolygon[][] = sites.map(() => []);
      const polygonOfPiece = new Int32Array(spans.pieceCount).fill(-1);
      const rings = traceRings(spans, gridHeight);
      for (const traced of rings) {
        if (!traced.outer) continue;
        polygonOfPiece[traced.piece] = polygons[traced.site].length;
        polygons[traced.site].push([traced.ring]);
      }
      for (const traced of rings) {
        if (traced.outer) continue;
        polygons[traced.site][polygonOfPiece[traced.piece]].push(traced.ring);
      }
      const components = sites.map((site, i): ChangeComponent => ({
        id: i + 1,
        pixelCount: site.pixelCount,
        changePixelCount: site.changePixelCount,
        bbox: site.bbox,
        polygons: polygons[i],
        meanProb: site.changePixelCount > 0 ? site.sumProb / site.changePixelCount : 0,
        maxProb: site.maxProb,
        kindCounts: site.kindCounts,
      }));
      return tolerance > 0 ? simplifyComponents(components, tolerance) : components;
    },
  };
}
