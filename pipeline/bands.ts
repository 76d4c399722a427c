/**
 * From a scene's own band names and stored numbers to what detectors speak: canonical bands
 * (blue, green, red, nir, swir1, swir2) in reflectance 0–1, plus the SCL band when present.
 */
import { inputError } from '../errors/index.js';
import type { SceneInfo } from '../geodata/types.js';
import type { CanonicalBand } from '../models/detector.js';

/** Accepted names per canonical band: Sentinel-2's, and the plain names (for Gaofen, ZY-3, …). */
const ALIASES: Record<CanonicalBand, string[]> = {
  blue: ['B02', 'B2', 'BLUE'],
  green: ['B03', 'B3', 'GREEN'],
  red: ['B04', 'B4', 'RED'],
  nir: ['B08', 'B8', 'NIR'],
  swir1: ['B11', 'SWIR1', 'SWIR16'],
  swir2: ['B12', 'SWIR2', 'SWIR22'],
};

export interface BandPlan {
  /** canonical band → the scene's band name */
  bands: Partial<Record<CanonicalBand, string>>;
  /** the scene's SCL band name, when it has one */
  scl: string | null;
  /** per scene band name: reflectance = raw * scale + offset */
  scaling: Record<string, { scale: number; offset: number }>;
}

function canonicalOf(name: string): CanonicalBand | null {
  const upper = name.trim().toUpperCase();
  for (const [canonical, names] of Object.entries(ALIASES) as [CanonicalBand, string[]][]) {
    if (names.includes(upper)) return canonical;
  }
  return null;
}

/**
 * How raw values become reflectance. GDAL scale/offset metadata wins; else integer Sentinel-2-style
 * digital numbers are reflectance × 10000, with BOA_ADD_OFFSET (L2A processing baseline ≥ 04.00,
 * usually −1000) applied when the metadata carries it; floats are taken as reflectance already.
 */
function scalingFor(info: SceneInfo, index: number, name: string): { scale: number; offset: number } {
  const scale = info.scales[index];
  const offset = info.offsets[index];
  if (scale !== null && scale !== undefined) return { scale, offset: offset ?? 0 };
  if (info.sampleType === 'float32' || info.sampleType === 'float64') return { scale: 1, offset: 0 };
  const boa = info.metadata[`BOA_ADD_OFFSET:${name}`] ?? info.metadata[`BOA_ADD_OFFSET_${name}`] ?? info.metadata.BOA_ADD_OFFSET;
  const add = boa !== undefined && Number.isFinite(Number(boa)) ? Number(boa) : 0;
  return { scale: 1 / 10000, offset: add / 10000 };
}

/** Maps a scene's bands onto the canonical ones; refuses a scene that lacks what the detector needs. */
export function planBands(info: SceneInfo, required: readonly CanonicalBand[], optional: readonly CanonicalBand[]): BandPlan {
  const bands: Partial<Record<CanonicalBand, string>> = {};
  let scl: string | null = null;
  const scaling: BandPlan['scaling'] = {};
  info.bands.forEach((name, index) => {
    if (name.trim().toUpperCase() === 'SCL') {
      scl = name;
      return;
    }
    const canonical = canonicalOf(name);
    if (canonical && !bands[canonical] && (required.includes(canonical) || optional.includes(canonical))) {
      bands[canonical] = name;
      scaling[name] = scalingFor(info, index, name);
    }
  });
  const missing = required.filter((b) => !bands[b]);
  if (missing.length > 0) {
    const wanted = missing.map((b) => `${b} (${ALIASES[b][0]})`).join(', ');
    throw inputError('SCENE.MISSING_BANDS',
      `${info.uri}: the scene's bands are [${info.bands.join(', ')}] but the detector needs ${wanted}; name the bands with --bands, e.g. --bands B02,B03,B04,B08 or blue,green,red,nir`,
      info.uri);
  }
  return { bands, scl, scaling };
}

/** Bands both scenes have, so the detector compares like with like. */
export function commonBands(a: BandPlan, b: BandPlan): CanonicalBand[] {
  return (Object.keys(a.bands) as CanonicalBand[]).filter((k) => b.bands[k] !== undefined);
}
