/**
 * Masks that keep bad pixels from ever producing change: nodata, cloud, cloud shadow and haze.
 * From the Sentinel-2 SCL band when the scene has one, else from orewatch's own spectral test,
 * which compares each date with the other (clouds brighten and whiten, haze raises blue over red,
 * shadows darken every band by a similar factor). Pure raster maths on window arrays.
 *
 * Values: 0 clear, 1 nodata, 2 cloud, 3 shadow, 4 haze. All arrays are width*height, row-major.
 */

import { removeSmallComponents } from './vectorize.js';

export const MASK_CLEAR = 0;
export const MASK_NODATA = 1;
export const MASK_CLOUD = 2;
export const MASK_SHADOW = 3;
export const MASK_HAZE = 4;
export const MASK_NAMES = ['clear', 'nodata', 'cloud', 'shadow', 'haze'] as const;

/** SCL classes masked: 0 no data, 1 saturated/defective → nodata; 3 shadow; 8, 9 cloud; 10 cirrus. */
export function maskFromScl(scl: Float32Array): Uint8Array {
  const out = new Uint8Array(scl.length);
  for (let i = 0; i < scl.length; i++) {
    const c = scl[i];
    if (c === 0 || c === 1 || Number.isNaN(c)) out[i] = MASK_NODATA;
    else if (c === 3) out[i] = MASK_SHADOW;
    else if (c === 8 || c === 9) out[i] = MASK_CLOUD;
    else if (c === 10) out[i] = MASK_HAZE;
  }
  return out;
}

/** Reflectance (0–1) of one date: the four shared bands, SWIR1 when present. */
export interface MaskBands {
  blue: Float32Array;
  green: Float32Array;
  red: Float32Array;
  nir: Float32Array;
  swir1?: Float32Array;
}

/**
 * Thresholds of the own cloud/shadow/haze test (reflectance units). Documented with their reason:
 * - cloudBlue 0.18: clouds are bright in blue (REMOTE-SENSING.md: > ~0.2); 0.18 catches thick
 *   edges; whiteness keeps bright red soil and tailings (blue ≪ red) out.
 * - cloudWhiteness 0.25: max |band − mean| / mean over blue, green, red and NIR; clouds are flat
 *   from the visible to the near infrared (bright soil and tailings are not: NIR ≫ blue).
 * - cloudDeltaBlue 0.08: and brighter in blue than the other date by this much. Bright roofs,
 *   concrete and dry soils are bright and flat too, but on both dates; a cloud is there once.
 *   (A pixel bright and white on both dates is cloudy on both only if both are overcast there —
 *   thickCloudBlue 0.35 catches that case: few land surfaces are that bright in blue.)
 * - hazeDeltaHot 0.035: increase of the haze-optimized transform HOT = blue − 0.5·red − 0.08
 *   from the other date; thin cloud and haze raise blue far more than red. Haze is path
 *   radiance, which falls with wavelength, so the rise must also be larger in blue than in red
 *   and (with SWIR) SWIR1 must rise less than half as much as blue. New bright tailings and
 *   bare soil raise blue too, but red and SWIR more.
 * - minPatchPx 12: clouds, haze and cloud shadows are extended; flagged patches smaller than
 *   this (8-connected) are single roofs, cars, glints — real surfaces — and are not masked.
 * - shadowRatio 0.55 / shadowSpread 2.2: every band at most 0.55× the other date (a change of
 *   sun angle between seasons dims slopes facing away by less than that), and the band
 *   ratios within a factor 2.2 of each other (a shadow dims all bands alike; a new pond darkens
 *   NIR but brightens the visible bands).
 */
export const CLOUD_TEST = {
  cloudBlue: 0.18,
  cloudWhiteness: 0.25,
  cloudDeltaBlue: 0.08,
  thickCloudBlue: 0.35,
  hazeDeltaHot: 0.035,
  shadowRatio: 0.55,
  shadowSpread: 2.2,
  dilatePx: 2,
  minPatchPx: 12,
} as const;

function hot(blue: number, red: number): number {
  return blue - 0.5 * red - 0.08;
}

/**
 * Scene-wide difference between the dates that is not cloud: the median change of HOT and the
 * median ratio of each band (target / other). A hazier or brighter date as a whole (season, sun,
 * calibration) shifts these; the own test judges each pixel against them, so a uniformly
 * different date is not masked wholesale. Medians are robust to clouds on up to half the scene.
 */
export interface MaskBaseline {
  deltaHot: number;
  /** median target/other ratio of blue, green, red, nir, swir1 (1 when absent) */
  ratios: [number, number, number, number, number];
}

export const NO_BASELINE: MaskBaseline = { deltaHot: 0, ratios: [1, 1, 1, 1, 1] };

/** Median of at most 50,000 evenly strided values: ample for a robust scene statistic. */
function medianOf(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const step = Math.max(1, Math.floor(values.length / 50_000));
  const picked = new Float64Array(Math.ceil(values.length / step));
  for (let i = 0, k = 0; i < values.length; i += step) picked[k++] = values[i];
  picked.sort();
  return picked[picked.length >> 1];
}

/** Baseline of `target` against `other` from sampled pixels (valid in both dates). */
export function estimateMaskBaseline(target: MaskBands, other: MaskBands, valid: Uint8Array): MaskBaseline {
  const dHot: number[] = [];
  const r: number[][] = [[], [], [], [], []];
  const keys = ['blue', 'green', 'red', 'nir', 'swir1'] as const;
  for (let i = 0; i < valid.length; i++) {
    if (!valid[i]) continue;
    dHot.push(hot(target.blue[i], target.red[i]) - hot(other.blue[i], other.red[i]));
    keys.forEach((k, j) => {
      const a = target[k], b = other[k];
      if (a && b && b[i] > 1e-3) r[j].push(a[i] / b[i]);
    });
  }
  if (dHot.length < 100) return NO_BASELINE;
  const ratios = r.map((v) => (v.length ? medianOf(v) : 1)) as MaskBaseline['ratios'];
  return { deltaHot: medianOf(dHot), ratios };
}

/**
 * Own cloud, haze and shadow test of `target` against `other` (the other date, same grid).
 * Pixels already masked in `base` keep their value. Returns the mask after dilating cloud and
 * shadow by `CLOUD_TEST.dilatePx` (cloud edges are soft; shadows are offset by a few pixels).
 */
export function detectCloudsAndShadows(target: MaskBands, other: MaskBands, width: number, height: number, base?: Uint8Array, baseline: MaskBaseline = NO_BASELINE): Uint8Array {
  const n = width * height;
  const mask = base ? Uint8Array.from(base) : new Uint8Array(n);
  const t = CLOUD_TEST;
  for (let i = 0; i < n; i++) {
    if (mask[i] !== MASK_CLEAR) continue;
    const b = target.blue[i], g = target.green[i], r = target.red[i], nir = target.nir[i];
    const mean = (b + g + r + nir) / 4;
    const whiteness = mean > 0 ? Math.max(Math.abs(b - mean), Math.abs(g - mean), Math.abs(r - mean), Math.abs(nir - mean)) / mean : 1;
    const ob = other.blue[i], or = other.red[i];
    if (whiteness < t.cloudWhiteness && (b > t.thickCloudBlue || (b > t.cloudBlue && b - ob * baseline.ratios[0] > t.cloudDeltaBlue))) {
      mask[i] = MASK_CLOUD;
      continue;
    }
    const dBlue = b - ob * baseline.ratios[0], dRed = r - or * baseline.ratios[2];
    const dSwir = target.swir1 && other.swir1 ? target.swir1[i] - other.swir1[i] * baseline.ratios[4] : 0;
    if (hot(b, r) - hot(ob, or) - baseline.deltaHot > t.hazeDeltaHot && dBlue > dRed && dSwir < 0.5 * dBlue) {
      mask[i] = MASK_HAZE;
      continue;
    }
    const q = baseline.ratios;
    const ratios = [b / Math.max(ob, 1e-4) / q[0], g / Math.max(other.green[i], 1e-4) / q[1], r / Math.max(or, 1e-4) / q[2], nir / Math.max(other.nir[i], 1e-4) / q[3]];
    if (target.swir1 && other.swir1) ratios.push(target.swir1[i] / Math.max(other.swir1[i], 1e-4) / q[4]);
    let lo = Infinity, hi = -Infinity;
    for (const q of ratios) {
      if (q < lo) lo = q;
      if (q > hi) hi = q;
    }
    if (hi < t.shadowRatio && hi / Math.max(lo, 1e-4) < t.shadowSpread) mask[i] = MASK_SHADOW;
  }
  const flagged = new Uint8Array(n);
  for (let i = 0; i < n; i++) flagged[i] = mask[i] > MASK_NODATA && (!base || base[i] === MASK_CLEAR) ? 1 : 0;
  const kept = removeSmallComponents(flagged, width, height, t.minPatchPx);
  for (let i = 0; i < n; i++) if (flagged[i] && !kept[i]) mask[i] = MASK_CLEAR;
  return dilateClasses(mask, width, height, t.dilatePx);
}

/** Grows cloud, shadow and haze by `radius` pixels (square), never over nodata. */
export function dilateClasses(mask: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  if (radius <= 0) return mask;
  const out = Uint8Array.from(mask);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = mask[y * width + x];
      if (v === MASK_CLEAR || v === MASK_NODATA) continue;
      for (let yy = Math.max(0, y - radius); yy <= Math.min(height - 1, y + radius); yy++) {
        for (let xx = Math.max(0, x - radius); xx <= Math.min(width - 1, x + radius); xx++) {
          const j = yy * width + xx;
          if (out[j] === MASK_CLEAR) out[j] = v;
        }
      }
    }
  }
  return out;
}
