/**
 * Surface reflectance (0–1) of the materials in the synthetic scenes, for the six Sentinel-2
 * bands B02, B03, B04, B08, B11, B12 (in that order; Gaofen scenes keep the first four).
 * Ranges follow ../shared/REMOTE-SENSING.md and the brief: dense evergreen forest, shrub, crops
 * at their stages, paddy water, clear and turbid water, red laterite, tailings, roofs, roads.
 *
 * A material is a low and a high spectrum and a sign per band: a pixel's value is
 * lo + (hi − lo) × mix(t or 1 − t, u), where t is a slowly varying "vigour / turbidity" field and
 * u a brightness field, both from the landscape's texture. For vegetation the visible and SWIR
 * bands fall as vigour rises while NIR climbs (sign −1 / +1), so NDVI varies realistically.
 */

/** Number of spectral bands modelled (B02, B03, B04, B08, B11, B12). */
export const BAND_COUNT = 6;
export const S2_BANDS = ['B02', 'B03', 'B04', 'B08', 'B11', 'B12'] as const;

export interface Material {
  readonly lo: readonly number[];
  readonly hi: readonly number[];
  /** +1: band rises with t; −1: falls with t. */
  readonly sign: readonly number[];
}

const VEG = [-1, -1, -1, 1, -1, -1];
const ALL = [1, 1, 1, 1, 1, 1];
const m = (lo: number[], hi: number[], sign: number[] = ALL): Material => ({ lo, hi, sign });

/** The material table. Values are surface reflectance; see the module header for how they mix. */
export const MATERIALS = {
  forest: m([0.02, 0.04, 0.02, 0.28, 0.12, 0.05], [0.035, 0.06, 0.04, 0.42, 0.18, 0.09], VEG),
  shrub: m([0.028, 0.048, 0.035, 0.22, 0.16, 0.08], [0.045, 0.07, 0.065, 0.32, 0.23, 0.13], VEG),
  grass: m([0.035, 0.058, 0.05, 0.2, 0.2, 0.11], [0.05, 0.08, 0.08, 0.28, 0.26, 0.16], VEG),
  /** Broadleaf deciduous stand without leaves (winter): twigs over litter. */
  leafOff: m([0.04, 0.055, 0.05, 0.17, 0.2, 0.12], [0.055, 0.07, 0.07, 0.22, 0.26, 0.17], VEG),
  /** Vegetation killed or stressed by leachate: NDVI drop without bare soil. */
  dieOff: m([0.04, 0.06, 0.07, 0.17, 0.22, 0.14], [0.06, 0.08, 0.1, 0.23, 0.28, 0.2], VEG),
  /** Full-cover green crop: brighter visible and SWIR than forest. */
  crop: m([0.025, 0.06, 0.025, 0.32, 0.18, 0.09], [0.045, 0.09, 0.06, 0.48, 0.26, 0.14], VEG),
  /** Ripening rice / yellowing crop. */
  ripeCrop: m([0.05, 0.08, 0.09, 0.26, 0.28, 0.18], [0.07, 0.1, 0.12, 0.32, 0.34, 0.22], VEG),
  /** Tilled grey-brown paddy or field soil, dry. */
  fieldSoil: m([0.06, 0.08, 0.1, 0.15, 0.23, 0.19], [0.09, 0.11, 0.14, 0.21, 0.31, 0.26]),
  stubble: m([0.06, 0.08, 0.1, 0.18, 0.26, 0.2], [0.09, 0.11, 0.14, 0.24, 0.33, 0.27]),
  /** Flooded paddy: shallow muddy water with a little green. */
  paddyWater: m([0.04, 0.05, 0.04, 0.04, 0.02, 0.01], [0.06, 0.08, 0.07, 0.09, 0.05, 0.03]),
  /** Clear river / pond water: NIR < 0.05, SWIR < 0.02. */
  water: m([0.03, 0.035, 0.02, 0.01, 0.003, 0.002], [0.05, 0.06, 0.04, 0.04, 0.015, 0.01]),
  /** Turbid leach / sedimentation pond water: brighter in red than clear water, NIR-dark. */
  turbidWater: m([0.07, 0.09, 0.08, 0.04, 0.02, 0.01], [0.09, 0.12, 0.12, 0.07, 0.04, 0.03]),
  /** Exposed wet pond bottom. */
  mud: m([0.05, 0.065, 0.075, 0.11, 0.14, 0.11], [0.07, 0.085, 0.1, 0.15, 0.19, 0.15]),
  /** Bare red laterite (ion-adsorption clay): mines, new roads in the hills, orchard terraces. */
  laterite: m([0.07, 0.1, 0.15, 0.22, 0.3, 0.25], [0.1, 0.14, 0.22, 0.3, 0.38, 0.32]),
  /** Tailings: sandy, brighter than the pit floor. */
  tailings: m([0.12, 0.15, 0.19, 0.25, 0.34, 0.3], [0.16, 0.2, 0.25, 0.32, 0.42, 0.36]),
  concrete: m([0.14, 0.15, 0.16, 0.19, 0.22, 0.2], [0.22, 0.23, 0.24, 0.28, 0.3, 0.27]),
  redRoof: m([0.07, 0.08, 0.13, 0.19, 0.26, 0.22], [0.1, 0.11, 0.18, 0.25, 0.32, 0.27]),
  /** Dark grey tile / weathered concrete roofs of older village houses. */
  greyRoof: m([0.07, 0.08, 0.085, 0.11, 0.14, 0.13], [0.11, 0.12, 0.13, 0.16, 0.2, 0.18]),
  blueRoof: m([0.16, 0.15, 0.12, 0.17, 0.15, 0.12], [0.22, 0.2, 0.16, 0.22, 0.2, 0.16]),
  asphalt: m([0.06, 0.07, 0.075, 0.09, 0.11, 0.1], [0.08, 0.09, 0.1, 0.12, 0.14, 0.13]),
  /** Opaque cumulus top (SWIR lower than visible: ice-free water cloud). */
  cloud: m([0.35, 0.36, 0.37, 0.4, 0.3, 0.2], [0.65, 0.66, 0.67, 0.7, 0.5, 0.35]),
} satisfies Record<string, Material>;

export type MaterialName = keyof typeof MATERIALS;

/**
 * Writes a material's spectrum for texture values t (vigour, 0–1) and u (brightness, 0–1) into
 * `out[0..5]`.
 */
export function sampleMaterial(material: Material, t: number, u: number, out: Float64Array): void {
  for (let b = 0; b < BAND_COUNT; b++) {
    const tv = material.sign[b]! > 0 ? t : 1 - t;
    const lo = material.lo[b]!;
    out[b] = lo + (material.hi[b]! - lo) * (0.65 * tv + 0.35 * u);
  }
}

/** out = out × (1 − alpha) + spectrum × alpha, per band. */
export function blendInto(out: Float64Array, spectrum: Float64Array, alpha: number): void {
  if (alpha >= 1) {
    for (let b = 0; b < BAND_COUNT; b++) out[b] = spectrum[b]!;
    return;
  }
  for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (spectrum[b]! - out[b]!) * alpha;
}

/**
 * Path radiance added by haze of unit strength, per band: strongest in blue, falling with
 * wavelength (Rayleigh and fine aerosol), nearly nothing in SWIR.
 */
export const HAZE_SHAPE = [1, 0.78, 0.58, 0.32, 0.09, 0.04];

/** Fraction of surface signal left in a full cloud shadow, per band (diffuse sky light is bluish). */
export const SHADOW_FLOOR = [0.42, 0.36, 0.31, 0.24, 0.2, 0.18];
