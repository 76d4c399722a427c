/**
 * The change-detector contract. Every detector — the spectral one here, the ONNX network of a
 * later release, a province's own model — takes two co-registered, cloud-masked windows in
 * surface reflectance and returns, per pixel, the probability of mining-type disturbance and the
 * kind of change. Detectors are built once by a factory that validates their options, then run
 * window by window (no I/O inside `detect`).
 */

/** Canonical band names the detectors speak; scenes' own names are mapped onto them. */
export const CANONICAL_BANDS = ['blue', 'green', 'red', 'nir', 'swir1', 'swir2'] as const;
export type CanonicalBand = (typeof CANONICAL_BANDS)[number];

/** Reflectance (0–1) per canonical band, width*height values, row-major. */
export type Reflectance = Partial<Record<CanonicalBand, Float32Array>>;

export interface DetectorInput {
  width: number;
  height: number;
  before: Reflectance;
  after: Reflectance;
  /** 1 where both dates are valid and clear (no nodata, cloud or shadow), else 0. */
  clear: Uint8Array;
}

/** Per-pixel change kinds. 0 is no change; kinds ≥ 1 are named by `Detector.kinds`. */
export interface DetectorOutput {
  /** Probability (0–1) of mining-type disturbance per pixel; 0 where not clear. */
  prob: Float32Array;
  /** Change kind per pixel (0 = none). */
  kind: Uint8Array;
}

/**
 * Scene-wide statistics a detector fits once per pair before detecting (e.g. a relative
 * radiometric normalization). Plain JSON, so server-mode workers can pass it in job payloads.
 */
export type Calibration = Record<string, unknown>;

export interface DetectorSample {
  before: Reflectance;
  after: Reflectance;
  clear: Uint8Array;
  length: number;
}

export interface Detector {
  readonly name: string;
  readonly version: string;
  /** Bands the detector cannot work without, and bands it uses when present. */
  readonly requiredBands: readonly CanonicalBand[];
  readonly optionalBands: readonly CanonicalBand[];
  /** Kind code → name (e.g. 1 → 'vegetation_to_bare_soil'). */
  readonly kinds: Readonly<Record<number, string>>;
  /** Kinds that count as mining-type disturbance (sites are made of these). */
  readonly miningKinds: readonly number[];
  /**
   * Mining kinds strong enough to seed a site on their own (its core); the other mining kinds
   * only extend a site that has one (e.g. vegetation die-off around a leaching site).
   */
  readonly coreKinds: readonly number[];
  /** Pixels of context the detector needs around a window (for neighbourhood operations). */
  readonly haloPx: number;
  /** Probability at or above which a pixel of a mining kind is change. */
  readonly threshold: number;
  /** Fit scene-wide statistics on pixels sampled from the whole pair. */
  calibrate(samples: DetectorSample[]): Calibration;
  detect(input: DetectorInput, calibration: Calibration): DetectorOutput | Promise<DetectorOutput>;
  /** Thresholds and settings, recorded with every alert. */
  describe(): Record<string, unknown>;
}
