/**
 * The change gate of the ONNX detector: cheap per-pixel evidence that something changed between
 * the dates, so that the network runs only on the model tiles where it could find something. A
 * window of unchanged land costs the evidence (about 0.05 µs a pixel) instead of the network
 * (about 1.2 µs a pixel on one thread, packing and blending included).
 *
 * Evidence, at a clear pixel, the later date first mapped onto the earlier one's radiometry by
 * the calibration's per-band fits (as the network sees it), any of:
 *   vegetation loss   NDVI_before − NDVI_after ≥ minNdviLoss
 *   new water         NDWI_after − NDWI_before ≥ minNdwiGain
 *   brightening       brightness_after − brightness_before ≥ minBrightening × brightness_before
 *                     (brightness = blue + green + red + NIR: bare soil and tailings)
 * with NDVI = (nir − red)/(nir + red) and NDWI = (green − nir)/(green + nir), their denominators
 * floored at 0.05, and the earlier brightness at 0.2, so that noise on dark water and shadow is
 * not read as change. These are the changes the network's mining class is made of; greening and
 * darkening alone never are. Then an erosion with a 3×3 block keeps only the centres of full
 * 3×3 blocks of such pixels: single noisy pixels and lines one or two pixels wide (new roads,
 * field margins, misregistered edges) are not a change the network could make a site of — the
 * window stage opens site cores with the same block.
 *
 * A model tile runs when its area grown by `marginPx` on every side (clipped to the window) holds
 * at least `minPixels` evidence pixels; the margin covers the network's context (its receptive
 * field is about 60 px), so a tile beside a change still runs. A skipped tile outputs probability
 * 0 and kind 0 ("no change"), blended with its neighbours like any tile.
 *
 * Why it loses nothing (measured, models/README.md): on the seeds that chose the thresholds every
 * pixel the ungated network puts at P(mining) ≥ 0.3 — below the window stage's support level of
 * 0.35 — lies within 12 px of an evidence pixel, so every tile holding such a pixel runs, and a
 * skipped tile can only lower the blended probability of pixels that were below 0.3 already.
 *
 * Pure functions, no state: the same input gives the same tiles.
 */
import type { Calibration, CanonicalBand, DetectorInput } from '../detector.js';

export interface ChangeGate {
  /** NDVI drop (before − after) at or above which a clear pixel is evidence. */
  minNdviLoss: number;
  /** NDWI rise (after − before) at or above which a clear pixel is evidence. */
  minNdwiGain: number;
  /** Brightness rise as a share of the earlier brightness at or above which a clear pixel is evidence. */
  minBrightening: number;
  /** Pixels around a model tile searched for evidence. */
  marginPx: number;
  /** Evidence pixels the grown tile must hold for the network to run on it. */
  minPixels: number;
}

interface BandFit { gain: number; offset: number }

/** Floor of the NDVI and NDWI denominators (reflectance). */
const INDEX_FLOOR = 0.05;
/** Floor of the earlier brightness (sum of four bands, i.e. a mean of 0.05) brightening is measured against. */
const BRIGHTNESS_FLOOR = 0.2;

/**
 * Per-pixel evidence of change: 1 at the centre of a full 3×3 block of clear pixels that show
 * vegetation loss, new water or brightening beyond the gate's thresholds, else 0 (an erosion:
 * noisy single pixels and lines one or two pixels wide — roads, field margins — are not a change
 * the network could make a site of, as the window stage opens site cores with the same 3×3 block).
 */
export function changeEvidence(input: DetectorInput, calibration: Calibration, gate: ChangeGate): Uint8Array {
  const { width, height, before, after, clear } = input;
  const n = width * height;
  const raw = new Uint8Array(n);
  const fits = ((calibration as { fits?: Partial<Record<CanonicalBand, BandFit>> }).fits) ?? {};
  const bands = ['blue', 'green', 'red', 'nir'] as const;
  const src = bands.map((band) => {
    const fit = fits[band] ?? { gain: 1, offset: 0 };
    return { b: before[band]!, a: after[band]!, inv: 1 / fit.gain, off: fit.offset };
  });
  const [bl, gr, rd, ni] = src as [typeof src[0], typeof src[0], typeof src[0], typeof src[0]];
  const { minNdviLoss, minNdwiGain, minBrightening } = gate;
  for (let i = 0; i < n; i++) {
    if (!clear[i]) continue;
    const bB = bl.b[i]!, bG = gr.b[i]!, bR = rd.b[i]!, bN = ni.b[i]!;
    const aB = (bl.a[i]! - bl.off) * bl.inv, aG = (gr.a[i]! - gr.off) * gr.inv;
    const aR = (rd.a[i]! - rd.off) * rd.inv, aN = (ni.a[i]! - ni.off) * ni.inv;
    const ndviLoss = (bN - bR) / Math.max(bN + bR, INDEX_FLOOR) - (aN - aR) / Math.max(aN + aR, INDEX_FLOOR);
    if (ndviLoss >= minNdviLoss) { raw[i] = 1; continue; }
    const ndwiGain = (aG - aN) / Math.max(aG + aN, INDEX_FLOOR) - (bG - bN) / Math.max(bG + bN, INDEX_FLOOR);
    if (ndwiGain >= minNdwiGain) { raw[i] = 1; continue; }
    const brightB = bB + bG + bR + bN, brightA = aB + aG + aR + aN;
    if (brightA - brightB >= minBrightening * Math.max(brightB, BRIGHTNESS_FLOOR)) raw[i] = 1;
  }
  // Erosion with a 3×3 element: keep the centres of full 3×3 blocks.
  const row = new Uint8Array(n);
  for (let y = 0; y < height; y++) {
    for (let x = 1, i = y * width + 1; x + 1 < width; x++, i++) row[i] = raw[i - 1]! & raw[i]! & raw[i + 1]!;
  }
  const out = new Uint8Array(n);
  for (let i = width; i < n - width; i++) out[i] = row[i - width]! & row[i]! & row[i + width]!;
  return out;
}

/**
 * Counts set pixels in rectangles of a width×height mask in constant time (a summed-area table).
 * @returns count(col, row, w, h) over the rectangle clipped to the mask.
 */
export function createAreaCounter(mask: Uint8Array, width: number, height: number): (col: number, row: number, w: number, h: number) => number {
  const W = width + 1;
  const sat = new Int32Array(W * (height + 1));
  for (let y = 0; y < height; y++) {
    let rowSum = 0;
    for (let x = 0; x < width; x++) {
      rowSum += mask[y * width + x]!;
      sat[(y + 1) * W + x + 1] = sat[y * W + x + 1]! + rowSum;
    }
  }
  return (col, row, w, h) => {
    const x0 = Math.max(0, col), y0 = Math.max(0, row);
    const x1 = Math.min(width, col + w), y1 = Math.min(height, row + h);
    if (x1 <= x0 || y1 <= y0) return 0;
    return sat[y1 * W + x1]! - sat[y0 * W + x1]! - sat[y1 * W + x0]! + sat[y0 * W + x0]!;
  };
}

/**
 * Which model tiles (top-left corners, `tile` px square, clipped to the window) the network must
 * run on: those whose area grown by the gate's margin holds enough evidence.
 */
export function gateTiles(evidence: Uint8Array, width: number, height: number, tiles: readonly (readonly [number, number])[], tile: number, gate: ChangeGate): boolean[] {
  const count = createAreaCounter(evidence, width, height);
  const m = gate.marginPx;
  return tiles.map(([c0, r0]) => count(c0 - m, r0 - m, tile + 2 * m, tile + 2 * m) >= gate.minPixels);
}

/** Checks gate settings (from a manifest or options); returns the first problem, or null. */
export function gateProblem(gate: ChangeGate): string | null {
  for (const key of ['minNdviLoss', 'minNdwiGain', 'minBrightening'] as const) {
    if (!(Number.isFinite(gate[key]) && gate[key] > 0)) return `Expected a positive number for gate ${key} but received ${String(gate[key])}`;
  }
  if (!(Number.isInteger(gate.marginPx) && gate.marginPx >= 0)) return `Expected a non-negative integer for gate marginPx but received ${String(gate.marginPx)}`;
  if (!(Number.isInteger(gate.minPixels) && gate.minPixels >= 1)) return `Expected a positive integer for gate minPixels but received ${String(gate.minPixels)}`;
  return null;
}
