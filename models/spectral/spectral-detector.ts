/**
 * Detector v0: a physically reasoned spectral change detector. No training; every rule is a
 * documented reflectance fact (REMOTE-SENSING.md). Works on the four bands every optical sensor
 * shares (blue, green, red, NIR — Gaofen-1/2, ZY-3) and uses SWIR1/SWIR2 when present.
 *
 * 1. Make the dates comparable. `calibrate` fits, per band, after ≈ gain·before + offset on
 *    pseudo-invariant pixels (clear in both dates, NDVI change and band log-ratios within 2 robust
 *    standard deviations of the scene median), then one trimmed least-squares refit. `detect`
 *    maps the later image onto the earlier one's radiometry: after' = (after − offset) / gain.
 *    This absorbs global gain/offset shifts (sun angle, season-wide phenology, calibration, uniform
 *    haze) so thresholds below hold between scenes.
 * 2. Judge each pixel against what the earlier image showed there:
 *      NDVI = (nir − red)/(nir + red); NDWI = (green − nir)/(green + nir);
 *      BSI = ((swir1 + red) − (nir + blue)) / ((swir1 + red) + (nir + blue));
 *      redness = (red − blue)/(red + blue)   (stands in for BSI without SWIR: laterite is red).
 *    - perennial vegetation before (forest, shrub, grass): NDVI_b ≥ 0.5 and not crop-like, where
 *      crop-like = nir_b > 0.30 and green_b > 0.06 (and swir1_b > 0.18 with SWIR): full-cover
 *      crops are the brightest vegetation in green and NIR (dense, flat leaf canopies), and
 *      brighter in SWIR than forest; forest and shrub canopies are darker in all three.
 *    - vegetated before: NDVI_b ≥ 0.45.
 *    - soil after: NDVI_a < 0.3 and (BSI_a > 0 with SWIR | redness_a > 0.2 without) and red_a > 0.07.
 *    - water after: NDWI_a > 0 and nir_a < 0.1 (and MNDWI_a > 0 with SWIR); water before alike.
 *    Kinds (first that applies):
 *      1 vegetation_to_bare_soil: vegetated before, soil after, ΔNDVI ≥ 0.3 (pits, cleared hilltops)
 *      2 new_turbid_water: water after, not before, ΔNDVI ≥ 0.2 (leach and sedimentation ponds)
 *      3 bright_tailings: vegetated before, NDVI_a < 0.25, brightness_a (mean of the four shared
 *        bands) ≥ 0.2 and swir1_a ≥ 0.25; without SWIR brightness_a ≥ 0.16 (grey tailings are
 *        not red, so the redness test misses them, and brightness is all that is left)
 *      4 vegetation_dieoff: perennial before, ΔNDVI ≥ 0.25 but still green-ish (leachate die-off)
 *      5 other_change: any other strong change (ΔNDVI ≥ 0.3 or brightness ×1.6) — non-mining
 * 3. Probability of mining-type disturbance = evidence × context:
 *      evidence = clamp((ΔNDVI − 0.2) / 0.3, 0, 1) (kind 1, 3, 4; ×0.8 for die-off), and for
 *      water clamp((NDWI_a − NDWI_b − 0.1) / 0.3, 0, 1);
 *      context = 1 where the earlier image shows perennial vegetation, 0.45 where it shows other
 *      vegetation (cropland: harvest and tillage expose soil every season), 0.3 otherwise.
 *    Vegetation die-off never seeds a site by itself (coreKinds), it only extends one.
 *    A pixel is change at prob ≥ 0.5: on cropland even the strongest loss stays below it, which is
 *    what keeps harvested fields out, at the price of missing mining on farmland (see README).
 */
import { OrewatchError } from '../../errors/index.js';
import type { Calibration, CanonicalBand, Detector, DetectorInput, DetectorOutput, DetectorSample, Reflectance } from '../detector.js';

export const SPECTRAL_VERSION = '0.1.0';

export const SPECTRAL_THRESHOLDS = {
  perennialNdvi: 0.5,
  cropNirMin: 0.3,
  cropGreenMin: 0.06,
  cropSwir1Min: 0.18,
  vegetatedNdvi: 0.45,
  soilNdviMax: 0.3,
  soilRedMin: 0.07,
  soilRednessMin: 0.2,
  waterNirMax: 0.1,
  lossDeltaNdvi: 0.3,
  waterDeltaNdvi: 0.2,
  dieoffDeltaNdvi: 0.25,
  tailingsBrightness: 0.2,
  tailingsSwir1: 0.25,
  tailingsBrightnessNoSwir: 0.16,
  evidenceOffset: 0.2,
  evidenceSpan: 0.3,
  contextPerennial: 1,
  contextVegetated: 0.45,
  contextOther: 0.3,
  probabilityThreshold: 0.5,
} as const;

export const SPECTRAL_KINDS: Record<number, string> = {
  1: 'vegetation_to_bare_soil',
  2: 'new_turbid_water',
  3: 'bright_tailings',
  4: 'vegetation_dieoff',
  5: 'other_change',
};

interface BandFit {
  gain: number;
  offset: number;
}

export interface SpectralCalibration extends Calibration {
  fits: Partial<Record<CanonicalBand, BandFit>>;
  pseudoInvariantPixels: number;
}

const BANDS: CanonicalBand[] = ['blue', 'green', 'red', 'nir', 'swir1', 'swir2'];

/** Median of at most 50,000 evenly strided values (robust statistics need no more). */
function median(values: Float64Array | number[]): number {
  const step = Math.max(1, Math.floor(values.length / 50_000));
  const sorted = new Float64Array(Math.ceil(values.length / step));
  for (let i = 0, k = 0; i < values.length; i += step) sorted[k++] = values[i];
  sorted.sort();
  if (sorted.length === 0) return 0;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median and MAD-based robust standard deviation. */
function robust(values: Float64Array): { center: number; sigma: number } {
  const center = median(values);
  const dev = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) dev[i] = Math.abs(values[i] - center);
  return { center, sigma: Math.max(1.4826 * median(dev), 1e-4) };
}

function ndvi(nir: number, red: number): number {
  const s = nir + red;
  return s > 1e-6 ? (nir - red) / s : 0;
}

function fitLine(x: ArrayLike<number>, y: ArrayLike<number>): BandFit {
  const n = x.length;
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i];
  }
  const den = n * sxx - sx * sx;
  if (n < 10 || Math.abs(den) < 1e-12) return { gain: 1, offset: n ? (sy - sx) / n : 0 };
  const gain = (n * sxy - sx * sy) / den;
  return { gain, offset: (sy - gain * sx) / n };
}

export interface SpectralDetectorOptions {
  /** Override documented thresholds (recorded in `describe()`). */
  thresholds?: Partial<typeof SPECTRAL_THRESHOLDS>;
}

export function createSpectralDetector(options: SpectralDetectorOptions = {}): Detector {
  for (const [key, value] of Object.entries(options.thresholds ?? {})) {
    if (!(key in SPECTRAL_THRESHOLDS) || typeof value !== 'number' || !Number.isFinite(value)) {
      throw new OrewatchError('DETECTOR.BAD_OPTION', `Expected a finite number for spectral threshold "${key}" but received ${String(value)}`, { kind: 'config' });
    }
  }
  const t = { ...SPECTRAL_THRESHOLDS, ...options.thresholds };

  function calibrate(samples: DetectorSample[]): SpectralCalibration {
    // Clear pixels of both dates, one typed array per band and date.
    const present = BANDS.filter((band) => samples.length > 0 && samples.every((x) => x.before[band] && x.after[band]));
    const total = samples.reduce((a, x) => a + x.clear.reduce((c, v) => c + v, 0), 0);
    if (total < 100 || !present.includes('nir') || !present.includes('red')) return { fits: {}, pseudoInvariantPixels: total };
    const before: Partial<Record<CanonicalBand, Float64Array>> = {};
    const after: Partial<Record<CanonicalBand, Float64Array>> = {};
    for (const band of present) { before[band] = new Float64Array(total); after[band] = new Float64Array(total); }
    let o = 0;
    for (const x of samples) {
      for (let i = 0; i < x.length; i++) {
        if (!x.clear[i]) continue;
        for (const band of present) { before[band]![o] = x.before[band]![i]; after[band]![o] = x.after[band]![i]; }
        o++;
      }
    }
    // Pseudo-invariant pixels: NDVI change and every band's log-ratio within 2 robust sigmas.
    const bN = before.nir!, bR = before.red!, aN = after.nir!, aR = after.red!;
    const dN = new Float64Array(total);
    for (let i = 0; i < total; i++) dN[i] = ndvi(aN[i], aR[i]) - ndvi(bN[i], bR[i]);
    const dNr = robust(dN);
    const keep = new Uint8Array(total);
    for (let i = 0; i < total; i++) keep[i] = Math.abs(dN[i] - dNr.center) <= 2 * dNr.sigma ? 1 : 0;
    for (const band of present) {
      const lr = new Float64Array(total);
      for (let i = 0; i < total; i++) lr[i] = Math.log(Math.max(after[band]![i], 1e-3) / Math.max(before[band]![i], 1e-3));
      const stat = robust(lr);
      for (let i = 0; i < total; i++) if (Math.abs(lr[i] - stat.center) > 2 * stat.sigma) keep[i] = 0;
    }
    const pif: number[] = [];
    for (let i = 0; i < total; i++) if (keep[i]) pif.push(i);
    const fits: Partial<Record<CanonicalBand, BandFit>> = {};
    const x = new Float64Array(pif.length), y = new Float64Array(pif.length);
    for (const band of present) {
      const b = before[band]!, a = after[band]!;
      for (let k = 0; k < pif.length; k++) { x[k] = b[pif[k]]; y[k] = a[pif[k]]; }
      let fit = fitLine(x, y);
      // One trimmed refit: drop residuals beyond 2.5 robust sigmas.
      const res = new Float64Array(pif.length);
      for (let k = 0; k < pif.length; k++) res[k] = y[k] - (fit.gain * x[k] + fit.offset);
      const rs = robust(res);
      const inX: number[] = [], inY: number[] = [];
      for (let k = 0; k < pif.length; k++) if (Math.abs(res[k] - rs.center) <= 2.5 * rs.sigma) { inX.push(x[k]); inY.push(y[k]); }
      fit = fitLine(inX, inY);
      // A gain far from 1 means the fit found no stable relation; fall back to an offset only.
      if (!(fit.gain > 0.5 && fit.gain < 2)) {
        const diff = new Float64Array(pif.length);
        for (let k = 0; k < pif.length; k++) diff[k] = y[k] - x[k];
        fit = { gain: 1, offset: median(diff) };
      }
      fits[band] = fit;
    }
    return { fits, pseudoInvariantPixels: pif.length };
  }

  function detect(input: DetectorInput, calibration: Calibration): DetectorOutput {
    const { width, height, before, after, clear } = input;
    const n = width * height;
    const fits = (calibration as SpectralCalibration).fits ?? {};
    const norm = (band: CanonicalBand, src: Reflectance): Float32Array | undefined => {
      const arr = src[band];
      const fit = fits[band];
      if (!arr || !fit) return arr;
      const out = new Float32Array(arr.length);
      for (let i = 0; i < arr.length; i++) out[i] = (arr[i] - fit.offset) / fit.gain;
      return out;
    };
    const bB = before.blue!, bG = before.green!, bR = before.red!, bN = before.nir!, bS1 = before.swir1;
    const aB = norm('blue', after)!, aG = norm('green', after)!, aR = norm('red', after)!, aN = norm('nir', after)!, aS1 = norm('swir1', after);
    const hasSwir = Boolean(bS1 && aS1);
    const prob = new Float32Array(n);
    const kind = new Uint8Array(n);
    const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
    for (let i = 0; i < n; i++) {
      if (!clear[i]) continue;
      const ndviB = ndvi(bN[i], bR[i]);
      const ndviA = ndvi(aN[i], aR[i]);
      const dNdvi = ndviB - ndviA;
      const ndwiB = (bG[i] - bN[i]) / Math.max(bG[i] + bN[i], 1e-6);
      const ndwiA = (aG[i] - aN[i]) / Math.max(aG[i] + aN[i], 1e-6);
      const cropLike = bN[i] > t.cropNirMin && bG[i] > t.cropGreenMin && (!hasSwir || bS1![i] > t.cropSwir1Min);
      const perennial = ndviB >= t.perennialNdvi && !cropLike;
      const vegetated = ndviB >= t.vegetatedNdvi;
      let soilA: boolean;
      if (hasSwir) {
        const s = aS1![i] + aR[i], v = aN[i] + aB[i];
        soilA = ndviA < t.soilNdviMax && (s - v) / Math.max(s + v, 1e-6) > 0 && aR[i] > t.soilRedMin;
      } else {
        soilA = ndviA < t.soilNdviMax && (aR[i] - aB[i]) / Math.max(aR[i] + aB[i], 1e-6) > t.soilRednessMin && aR[i] > t.soilRedMin;
      }
      const mndwiOk = (mG: number, s1: number | undefined) => (s1 === undefined ? true : (mG - s1) / Math.max(mG + s1, 1e-6) > 0);
      const waterA = ndwiA > 0 && aN[i] < t.waterNirMax && mndwiOk(aG[i], hasSwir ? aS1![i] : undefined);
      const waterB = ndwiB > 0 && bN[i] < t.waterNirMax && mndwiOk(bG[i], hasSwir ? bS1![i] : undefined);
      const brightA = (aB[i] + aG[i] + aR[i] + aN[i]) / 4;
      const brightB = (bB[i] + bG[i] + bR[i] + bN[i]) / 4;
      const context = perennial ? t.contextPerennial : vegetated ? t.contextVegetated : t.contextOther;
      const lossEvidence = clamp01((dNdvi - t.evidenceOffset) / t.evidenceSpan);
      let k = 0;
      let evidence = 0;
      if (vegetated && soilA && dNdvi >= t.lossDeltaNdvi) {
        k = 1; evidence = lossEvidence;
      } else if (waterA && !waterB && dNdvi >= t.waterDeltaNdvi) {
        k = 2; evidence = clamp01((ndwiA - ndwiB - 0.1) / t.evidenceSpan);
      } else if (vegetated && ndviA < 0.25 && (hasSwir ? brightA >= t.tailingsBrightness && aS1![i] >= t.tailingsSwir1 : brightA >= t.tailingsBrightnessNoSwir)) {
        k = 3; evidence = lossEvidence;
      } else if (perennial && dNdvi >= t.dieoffDeltaNdvi) {
        k = 4; evidence = 0.8 * lossEvidence;
      } else if (Math.abs(dNdvi) >= t.lossDeltaNdvi || brightA > 1.6 * brightB || brightB > 1.6 * brightA) {
        k = 5; evidence = 0;
      }
      kind[i] = k;
      prob[i] = evidence * context;
    }
    return { prob, kind };
  }

  return {
    name: 'spectral',
    version: SPECTRAL_VERSION,
    requiredBands: ['blue', 'green', 'red', 'nir'],
    optionalBands: ['swir1', 'swir2'],
    kinds: SPECTRAL_KINDS,
    miningKinds: [1, 2, 3, 4],
    // Die-off alone is weak evidence (drought, disease, thin cloud over forest all lower NDVI);
    // it belongs to a site only around exposed soil, water or tailings.
    coreKinds: [1, 2, 3],
    haloPx: 0,
    threshold: t.probabilityThreshold,
    calibrate,
    detect,
    describe: () => ({ name: 'spectral', version: SPECTRAL_VERSION, thresholds: t }),
  };
}
