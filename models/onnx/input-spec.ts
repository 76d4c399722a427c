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
  const { width, height, before, after, clear } = input;
  const n = width * height;
  const B = spec.bands.length;
  const out = new Float32Array(channelCount(spec) * n);
  const fits = ((calibration as { fits?: Partial<Record<CanonicalBand, BandFit>> }).fits) ?? {};
  const swir = spec.optional.every((b) => before[b] && after[b]) ? 1 : 0;
  spec.bands.forEach((band, k) => {
    const mean = spec.mean[k]!, std = spec.std[k]!;
    const b = before[band], a = after[band];
    if (!b || !a) return;
    const fit = fits[band] ?? { gain: 1, offset: 0 };
    const ob = k * n, oa = (B + k) * n;
    for (let i = 0; i < n; i++) {
      if (!clear[i]) continue;
      out[ob + i] = clampNorm((b[i]! - mean) / std);
      out[oa + i] = clampNorm(((a[i]! - fit.offset) / fit.gain - mean) / std);
    }
  });
  const os = 2 * B * n, oc = (2 * B + 1) * n;
  for (let i = 0; i < n; i++) {
    out[os + i] = swir;
    out[oc + i] = clear[i] ? 1 : 0;
  }
  return out;
}

function clampNorm(v: number): number {
  return v < -5 ? -5 : v > 10 ? 10 : v;
}
