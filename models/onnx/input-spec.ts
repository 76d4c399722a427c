/**
 * What the change network sees: the pure pre-processing shared by the training-set exporter
 * (scripts/training/make-training-set.mts) and the ONNX detector, so that training and inference
 * cannot drift apart.
 *
 * Channels, in order (C = 2·B + 2 for B model bands):
 *   before[band] for each band of `bands`, then after[band] (mapped onto the earlier date's
 *   radiometry by the spectral detector's pseudo-invariant fit), each normalised as
 *   clamp((reflectance − mean) / std, −5, 10); then `swir_present` (1 where the scene has SWIR,
 *   else 0) and `clear` (1 where both dates are valid and clear). Bands a scene lacks, and every
 *   band at pixels that are not clear, are 0 after normalisation — the value the network was
 *   trained to read as "no information".
 */
import type { Calibration, CanonicalBand, DetectorInput, DetectorSample } from '../detector.js';
import { createSpectralDetector } from '../spectral/spectral-detector.js';

export interface InputNormalisation {
  /** Band order of the model's input channels. */
  bands: CanonicalBand[];
  /** Per band, reflectance units (0–1). */
  mean: number[];
  std: number[];
  /** Bands that may be absent (then zero and `swir_present` = 0). */
  optional: CanonicalBand[];
}

/** The normalisation of orewatch-change-v1 (copied into its manifest at training time). */
export const DEFAULT_INPUT: InputNormalisation = {
  bands: ['blue', 'green', 'red', 'nir', 'swir1', 'swir2'],
  mean: [0.06, 0.08, 0.08, 0.25, 0.2, 0.13],
  std: [0.04, 0.05, 0.06, 0.1, 0.08, 0.07],
  optional: ['swir1', 'swir2'],
};

/** Number of input channels for a normalisation. */
export function channelCount(spec: InputNormalisation): number {
  return 2 * spec.bands.length + 2;
}

/**
 * Scene-wide radiometric fit (after ≈ gain·before + offset on pseudo-invariant pixels): the
 * spectral detector's documented calibration, reused so both detectors see comparable dates.
 */
export function calibrateInput(samples: DetectorSample[]): Calibration {
  return createSpectralDetector().calibrate(samples);
}

interface BandFit { gain: number; offset: number }

/**
 * Packs a detector input into the network's channels.
 * @returns Float32Array of shape [C, height, width], row-major per channel.
 */
export function packChannels(input: DetectorInput, calibration: Calibration, spec: InputNormalisation): Float32Array {
  const { width, height } = input;
  const out = new Float32Array(channelCount(spec) * width * height);
  packChannelsInto(input, calibration, spec, { col: 0, row: 0, width, height }, out, 0, width, height);
  return out;
}

/**
 * Packs a rectangle of a detector input into `out` from `offset` on, as C planes of
 * planeWidth × planeHeight (the rectangle in their top-left corner). Values beyond the rectangle
 * are left as they are: pass zeros there, which the network reads as "not clear".
 */
export function packChannelsInto(input: DetectorInput, calibration: Calibration, spec: InputNormalisation,
  rect: { col: number; row: number; width: number; height: number }, out: Float32Array, offset: number, planeWidth: number, planeHeight: number): void {
  const { width, before, after, clear } = input;
  const plane = planeWidth * planeHeight;
  const B = spec.bands.length;
  const fits = ((calibration as { fits?: Partial<Record<CanonicalBand, BandFit>> }).fits) ?? {};
  const swir = spec.optional.every((b) => before[b] && after[b]) ? 1 : 0;
  spec.bands.forEach((band, k) => {
    const mean = spec.mean[k]!, std = spec.std[k]!;
    const b = before[band], a = after[band];
    if (!b || !a) return;
    const fit = fits[band] ?? { gain: 1, offset: 0 };
    const ob = offset + k * plane, oa = offset + (B + k) * plane;
    for (let y = 0; y < rect.height; y++) {
      for (let x = 0, i = (rect.row + y) * width + rect.col, o = y * planeWidth; x < rect.width; x++, i++, o++) {
        if (!clear[i]) continue;
        out[ob + o] = clampNorm((b[i]! - mean) / std);
        out[oa + o] = clampNorm(((a[i]! - fit.offset) / fit.gain - mean) / std);
      }
    }
  });
  const os = offset + 2 * B * plane, oc = offset + (2 * B + 1) * plane;
  for (let y = 0; y < rect.height; y++) {
    for (let x = 0, i = (rect.row + y) * width + rect.col, o = y * planeWidth; x < rect.width; x++, i++, o++) {
      out[os + o] = swir;
      out[oc + o] = clear[i] ? 1 : 0;
    }
  }
}

function clampNorm(v: number): number {
  return v < -5 ? -5 : v > 10 ? 10 : v;
}
