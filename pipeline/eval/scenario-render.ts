/**
 * Renders a layout into the two images, one strip of rows at a time, straight into the GeoTIFF
 * writers (memory ∝ width × strip height, whatever the scene size).
 *
 * Per pixel and date: landscape surface → layers (objects, changes, traps) → terrain
 * illumination from the DEM and that date's sun → cloud shadow → haze path radiance → cloud →
 * sensor: a small PSF (mixed pixels along edges, with the date's sub-pixel misregistration),
 * SWIR at 20 m (2 × 2 blocks, as Sentinel-2 samples B11/B12), calibration gain/offset, noise,
 * DN = reflectance × 10000. SCL (optional) is derived like Sen2Cor would: from the spectra and the
 * cloud/shadow opacity, with its usual false cloud on bright roofs and "dark area" in deep shade.
 */
import type { GeoTiffWriter } from '../../geodata/tiff-writer.js';
import type { Landscape, DateConditions } from './landscape.js';
import type { Layout } from './scenario-layout.js';
import { hazeStrength } from './scenario-layout.js';
import { BAND_COUNT, HAZE_SHAPE, MATERIALS, SHADOW_FLOOR, sampleMaterial } from './scenario-spectra.js';
import { clamp, fbm, gaussFromHash, hash3 } from './random.js';
import type { PaintPoint } from './scenario-types.js';

/** Per-date radiometric calibration: value' = value × gain + offset, per band. */
export interface Radiometry {
  gain: number[];
  offset: number[];
}

export interface RenderOptions {
  seed: number;
  landscape: Landscape;
  layout: Layout;
  conditions: [DateConditions, DateConditions];
  sun: [{ elevationDeg: number; azimuthDeg: number }, { elevationDeg: number; azimuthDeg: number }];
  radiometry: [Radiometry, Radiometry];
  /** Sub-pixel misregistration per date, pixels [dx, dy]. */
  shift: [[number, number], [number, number]];
  /** Indices (0–5 of B02…B12) of the bands to write, in order. */
  bands: number[];
  withScl: boolean;
  /** Whether B11/B12 are sampled at twice the pixel size (Sentinel-2 at 10 m). */
  swirBlocks: boolean;
  writers: [GeoTiffWriter, GeoTiffWriter];
  /** Names the writers expect, in order (bands, then SCL). */
  bandNames: string[];
  stripRows: number;
}

const PSF_SIDE = 0.2;

/** Renders and writes both images. */
export async function renderScenes(o: RenderOptions): Promise<void> {
  const { landscape: land, layout } = o;
  const W = land.width;
  const H = land.height;
  const px = land.pixelSizeM;
  const maxExt = o.stripRows + 4;
  const base: [Float32Array[], Float32Array[]] = [
    Array.from({ length: BAND_COUNT }, () => new Float32Array(maxExt * W)),
    Array.from({ length: BAND_COUNT }, () => new Float32Array(maxExt * W)),
  ];
  const elevation = new Float32Array(maxExt * W);
  const texture = { t: new Float32Array(maxExt * W), u: new Float32Array(maxExt * W) };
  const tmpH = new Float32Array(maxExt * W);
  const blurred = Array.from({ length: BAND_COUNT }, () => new Float32Array(o.stripRows * W));
  const cloudAlpha = new Float32Array(maxExt * W);
  const shadowAlpha = new Float32Array(maxExt * W);
  const outBands = [...o.bands.map(() => new Uint16Array(o.stripRows * W)), ...(o.withScl ? [new Uint16Array(o.stripRows * W)] : [])];
  const spec = new Float64Array(BAND_COUNT);
  const cloudSpec = new Float64Array(BAND_COUNT);
  const point: PaintPoint = { col: 0, row: 0, date: 0, elevationM: 0, t: 0, u: 0 };

  for (let r0 = 0; r0 < H; r0 += o.stripRows) {
    const r1 = Math.min(H, r0 + o.stripRows);
    const rows = r1 - r0;
    // Extended rows: one for the PSF, one more for the DEM gradient.
    const e0 = Math.max(0, r0 - 2);
    const e1 = Math.min(H, r1 + 2);
    const ext = e1 - e0;
    land.renderStrip(e0, ext, o.conditions, base, elevation, texture);

    // Layers, in order.
    for (const layer of layout.layers) {
      const b = layer.box;
      if (b.r1 <= e0 || b.r0 >= e1) continue;
      const bw = b.c1 - b.c0;
      for (let row = Math.max(b.r0, e0); row < Math.min(b.r1, e1); row++) {
        for (let col = b.c0; col < b.c1; col++) {
          const alpha = layer.cover[(row - b.r0) * bw + (col - b.c0)]!;
          if (alpha <= 0) continue;
          const k = (row - e0) * W + col;
          point.col = col;
          point.row = row;
          point.elevationM = elevation[k]!;
          point.t = texture.t[k]!;
          point.u = texture.u[k]!;
          for (let d = 0 as 0 | 1; d < 2; d = (d + 1) as 0 | 1) {
            if (!layer.dates[d]) continue;
            point.date = d;
            layer.spectrum(point, spec);
            const target = base[d];
            for (let band = 0; band < BAND_COUNT; band++) {
              const v = target[band]![k]!;
              target[band]![k] = v + (spec[band]! - v) * alpha;
            }
          }
        }
      }
    }

    for (let d = 0 as 0 | 1; d < 2; d = (d + 1) as 0 | 1) {
      const target = base[d];
      // Terrain illumination: direct sun on the slope plus diffuse sky light.
      const sun = o.sun[d];
      const el = (sun.elevationDeg * Math.PI) / 180;
      const az = (sun.azimuthDeg * Math.PI) / 180;
      const sx = Math.sin(az) * Math.cos(el);
      const sy = Math.cos(az) * Math.cos(el);
      const sz = Math.sin(el);
      for (let r = 0; r < ext; r++) {
        const rUp = Math.max(0, r - 1);
        const rDown = Math.min(ext - 1, r + 1);
        for (let col = 0; col < W; col++) {
          const cL = Math.max(0, col - 1);
          const cR = Math.min(W - 1, col + 1);
          const dzdx = (elevation[r * W + cR]! - elevation[r * W + cL]!) / ((cR - cL) * px);
          // Rows grow southwards, so north is up-row.
          const dzdy = (elevation[rUp * W + col]! - elevation[rDown * W + col]!) / (Math.max(1, rDown - rUp) * px);
          const norm = Math.sqrt(dzdx * dzdx + dzdy * dzdy + 1);
          const cosI = (-dzdx * sx - dzdy * sy + sz) / norm;
          const f = (0.82 * Math.max(0, cosI)) / sz + 0.18;
          const k = r * W + col;
          for (let band = 0; band < BAND_COUNT; band++) target[band]![k] = target[band]![k]! * f;
        }
      }

      // Clouds and shadows of this date.
      const clouds = layout.clouds.filter((c) => c.date === d);
      if (clouds.length > 0) {
        cloudAlpha.fill(0, 0, ext * W);
        shadowAlpha.fill(0, 0, ext * W);
        for (const c of clouds) {
          stamp(c.shadowBox, c.shadow, shadowAlpha, e0, e1, W);
          stamp(c.box, c.alpha, cloudAlpha, e0, e1, W);
        }
        for (let k = 0; k < ext * W; k++) {
          const s = shadowAlpha[k]!;
          if (s > 0) for (let band = 0; band < BAND_COUNT; band++) target[band]![k] = target[band]![k]! * (1 - s * (1 - SHADOW_FLOOR[band]!));
        }
      }
      // Haze: added path radiance, strongest in blue, with a little lost transmission.
      for (const h of layout.hazes) {
        if (h.date !== d) continue;
        for (let r = 0; r < ext; r++) {
          const row = e0 + r;
          for (let col = 0; col < W; col++) {
            const a = h.blue * hazeStrength(h, col, row);
            if (a <= 0) continue;
            const k = r * W + col;
            for (let band = 0; band < BAND_COUNT; band++) target[band]![k] = target[band]![k]! * (1 - 1.5 * a * HAZE_SHAPE[band]!) + a * HAZE_SHAPE[band]!;
          }
        }
      }
      if (clouds.length > 0) {
        for (let r = 0; r < ext; r++) {
          for (let col = 0; col < W; col++) {
            const k = r * W + col;
            const a = cloudAlpha[k]!;
            if (a <= 0) continue;
            const texT = clamp(a * 0.8 + 0.35 * (fbm(o.seed + 71, col / 6, (e0 + r) / 6, 2) - 0.5), 0, 1);
            sampleMaterial(MATERIALS.cloud, texT, texture.u[k]!, cloudSpec);
            for (let band = 0; band < BAND_COUNT; band++) target[band]![k] = target[band]![k]! + (cloudSpec[band]! - target[band]![k]!) * a;
          }
        }
      }

      // Sensor PSF with this date's sub-pixel shift: separable 3 taps.
      const [shx, shy] = o.shift[d];
      const wx = [PSF_SIDE + shx / 2, 1 - 2 * PSF_SIDE, PSF_SIDE - shx / 2];
      const wy = [PSF_SIDE + shy / 2, 1 - 2 * PSF_SIDE, PSF_SIDE - shy / 2];
      for (let band = 0; band < BAND_COUNT; band++) {
        const src = target[band]!;
        for (let r = 0; r < ext; r++) {
          const off = r * W;
          for (let col = 0; col < W; col++) {
            const cL = col > 0 ? col - 1 : 0;
            const cR = col < W - 1 ? col + 1 : W - 1;
            tmpH[off + col] = wx[0]! * src[off + cL]! + wx[1]! * src[off + col]! + wx[2]! * src[off + cR]!;
          }
        }
        const dst = blurred[band]!;
        for (let r = 0; r < rows; r++) {
          const er = r0 - e0 + r;
          const up = Math.max(0, er - 1) * W;
          const mid = er * W;
          const down = Math.min(ext - 1, er + 1) * W;
          for (let col = 0; col < W; col++) dst[r * W + col] = wy[0]! * tmpH[up + col]! + wy[1]! * tmpH[mid + col]! + wy[2]! * tmpH[down + col]!;
        }
        if (o.swirBlocks && band >= 4) {
          // Sentinel-2 samples SWIR at 20 m: average 2 × 2 blocks, then repeat them.
          for (let r = 0; r < rows; r += 2) {
            const r2 = Math.min(rows - 1, r + 1);
            for (let col = 0; col < W; col += 2) {
              const c2 = Math.min(W - 1, col + 1);
              const mean = (dst[r * W + col]! + dst[r * W + c2]! + dst[r2 * W + col]! + dst[r2 * W + c2]!) / 4;
              dst[r * W + col] = mean;
              dst[r * W + c2] = mean;
              dst[r2 * W + col] = mean;
              dst[r2 * W + c2] = mean;
            }
          }
        }
      }

      // Calibration, noise, quantisation.
      const cal = o.radiometry[d];
      for (let i = 0; i < o.bands.length; i++) {
        const band = o.bands[i]!;
        const src = blurred[band]!;
        const out = outBands[i]!;
        const gain = cal.gain[band]!;
        const offset = cal.offset[band]!;
        const block = o.swirBlocks && band >= 4;
        const noiseSeed = o.seed * 31 + d * 977 + band * 131;
        for (let r = 0; r < rows; r++) {
          const row = r0 + r;
          for (let col = 0; col < W; col++) {
            const k = r * W + col;
            const v = src[k]! * gain + offset;
            const h = block ? hash3(noiseSeed, col >> 1, row >> 1) : hash3(noiseSeed, col, row);
            const noisy = v + gaussFromHash(h) * (0.012 * Math.abs(v) + 0.0018);
            const dn = Math.round(noisy * 10000);
            out[k] = dn < 1 ? 1 : dn > 65535 ? 65535 : dn;
          }
        }
      }
      if (o.withScl) {
        const out = outBands[o.bands.length]!;
        const haveClouds = clouds.length > 0;
        for (let r = 0; r < rows; r++) {
          const er = r0 - e0 + r;
          for (let col = 0; col < W; col++) {
            const k = r * W + col;
            const ek = er * W + col;
            const ca = haveClouds ? cloudAlpha[ek]! : 0;
            const sa = haveClouds ? shadowAlpha[ek]! : 0;
            out[k] = sceneClass(ca, sa, blurred[0]![k]!, blurred[1]![k]!, blurred[2]![k]!, blurred[3]![k]!);
          }
        }
      }
      const rowsOut: Record<string, Uint16Array> = {};
      o.bandNames.forEach((name, i) => {
        rowsOut[name] = outBands[i]!.subarray(0, rows * W);
      });
      await o.writers[d].writeRows(r0, rowsOut);
    }
  }
}

/** Adds a box-local raster into strip-local rows [e0, e1) (max). */
function stamp(box: { c0: number; r0: number; c1: number; r1: number }, values: Float32Array, target: Float32Array, e0: number, e1: number, W: number): void {
  const bw = box.c1 - box.c0;
  for (let row = Math.max(box.r0, e0); row < Math.min(box.r1, e1); row++) {
    for (let col = Math.max(0, box.c0); col < Math.min(W, box.c1); col++) {
      const v = values[(row - box.r0) * bw + (col - box.c0)]!;
      const k = (row - e0) * W + col;
      if (v > target[k]!) target[k] = v;
    }
  }
}

/**
 * Sentinel-2 L2A scene classification, approximated: clouds by opacity (9 high, 8 medium, 10
 * thin), shadow (3), water (6), vegetation (4), not vegetated (5), dark area (2) — plus the
 * classic confusion of bright roofs and tailings for medium-probability cloud.
 */
export function sceneClass(cloud: number, shadow: number, blue: number, green: number, red: number, nir: number): number {
  if (cloud >= 0.6) return 9;
  if (cloud >= 0.3) return 8;
  if (cloud >= 0.1) return 10;
  if (shadow >= 0.3) return 3;
  const ndvi = (nir - red) / Math.max(1e-6, nir + red);
  const ndwi = (green - nir) / Math.max(1e-6, green + nir);
  if (ndwi > 0.05 && nir < 0.1) return 6;
  if (ndvi >= 0.4) return 4;
  if (blue > 0.2 && ndvi < 0.25) return 8;
  if (nir < 0.06 && red < 0.04) return 2;
  return 5;
}
