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
import { clamp, fbm, gaussFromHash, mix32 } from './random.js';
import type { HazeLayer, PaintPoint } from './scenario-types.js';

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

/** Strip buffers, allocated once per scene (memory ∝ width × strip height). */
interface StripBuffers {
  base: [Float32Array[], Float32Array[]];
  elevation: Float32Array;
  texture: { t: Float32Array; u: Float32Array };
  illum: Float32Array;
  tmpH: Float32Array;
  blurred: Float32Array[];
  cloudAlpha: Float32Array;
  shadowAlpha: Float32Array;
  /** Output DNs per date, so one date's strip can be compressed while the next is rendered. */
  outBands: [Uint16Array[], Uint16Array[]];
}

/** Renders and writes both images. */
export async function renderScenes(o: RenderOptions): Promise<void> {
  const { landscape: land } = o;
  const W = land.width;
  const H = land.height;
  const maxExt = o.stripRows + 4;
  const plane = (): Float32Array => new Float32Array(maxExt * W);
  const buf: StripBuffers = {
    base: [Array.from({ length: BAND_COUNT }, plane), Array.from({ length: BAND_COUNT }, plane)],
    elevation: plane(),
    texture: { t: plane(), u: plane() },
    illum: plane(),
    tmpH: plane(),
    blurred: Array.from({ length: BAND_COUNT }, () => new Float32Array(o.stripRows * W)),
    cloudAlpha: plane(),
    shadowAlpha: plane(),
    outBands: [outPlanes(o, W), outPlanes(o, W)],
  };
  // Writes in flight, per date: awaited before that date's output buffers are reused.
  const pending: [Promise<void>, Promise<void>] = [Promise.resolve(), Promise.resolve()];

  for (let r0 = 0; r0 < H; r0 += o.stripRows) {
    const r1 = Math.min(H, r0 + o.stripRows);
    // Extended rows: one for the PSF, one more for the DEM gradient.
    const e0 = Math.max(0, r0 - 2);
    const e1 = Math.min(H, r1 + 2);
    land.renderStrip(e0, e1 - e0, o.conditions, buf.base, buf.elevation, buf.texture);
    paintLayers(o, buf, e0, e1);
    for (const d of [0, 1] as const) {
      const target = buf.base[d];
      const ext = e1 - e0;
      illumination(o, buf, d, ext);
      for (let band = 0; band < BAND_COUNT; band++) multiplyInto(target[band]!, buf.illum, ext * W);
      const clouds = o.layout.clouds.filter((c) => c.date === d);
      if (clouds.length > 0) {
        buf.cloudAlpha.fill(0, 0, ext * W);
        buf.shadowAlpha.fill(0, 0, ext * W);
        for (const c of clouds) {
          stamp(c.shadowBox, c.shadow, buf.shadowAlpha, e0, e1, W);
          stamp(c.box, c.alpha, buf.cloudAlpha, e0, e1, W);
        }
        for (let band = 0; band < BAND_COUNT; band++) shade(target[band]!, buf.shadowAlpha, 1 - SHADOW_FLOOR[band]!, ext * W);
      }
      for (const h of o.layout.hazes) if (h.date === d) addHaze(target, h, e0, ext, W);
      if (clouds.length > 0) addClouds(target, buf, o.seed, e0, ext, W);
      for (let band = 0; band < BAND_COUNT; band++) {
        psf(target[band]!, buf.tmpH, buf.blurred[band]!, o.shift[d], W, ext, r0 - e0, r1 - r0);
        if (o.swirBlocks && band >= 4) swirBlocks(buf.blurred[band]!, W, r1 - r0);
      }
      await pending[d];
      const outBands = buf.outBands[d];
      const cal = o.radiometry[d];
      o.bands.forEach((band, i) => {
        const noiseSeed = mix32(o.seed * 31 + d * 977 + band * 131);
        quantize(buf.blurred[band]!, outBands[i]!, cal.gain[band]!, cal.offset[band]!, noiseSeed, o.swirBlocks && band >= 4, W, r0, r1 - r0);
      });
      if (o.withScl) classify(buf, clouds.length > 0, outBands[o.bands.length]!, W, r0 - e0, r1 - r0);
      const rowsOut: Record<string, Uint16Array> = {};
      o.bandNames.forEach((name, i) => {
        rowsOut[name] = outBands[i]!.subarray(0, (r1 - r0) * W);
      });
      pending[d] = o.writers[d].writeRows(r0, rowsOut);
      // Surface a failed write now rather than after the whole scene.
      pending[d].catch(() => undefined);
    }
  }
  await Promise.all(pending);
}

function outPlanes(o: RenderOptions, W: number): Uint16Array[] {
  return [...o.bands.map(() => new Uint16Array(o.stripRows * W)), ...(o.withScl ? [new Uint16Array(o.stripRows * W)] : [])];
}

/** Blends every surface layer overlapping rows [e0, e1) into both dates. */
function paintLayers(o: RenderOptions, buf: StripBuffers, e0: number, e1: number): void {
  const W = o.landscape.width;
  const spec = new Float64Array(BAND_COUNT);
  const point: PaintPoint = { col: 0, row: 0, date: 0, elevationM: 0, t: 0, u: 0 };
  for (const layer of o.layout.layers) {
    const b = layer.box;
    if (b.r1 <= e0 || b.r0 >= e1) continue;
    const bw = b.c1 - b.c0;
    for (let row = Math.max(b.r0, e0); row < Math.min(b.r1, e1); row++) {
      for (let col = b.c0; col < b.c1; col++) {
        const cover = layer.cover[(row - b.r0) * bw + (col - b.c0)]!;
        if (cover === 0) continue;
        const alpha = cover / 255;
        const k = (row - e0) * W + col;
        point.col = col;
        point.row = row;
        point.elevationM = buf.elevation[k]!;
        point.t = buf.texture.t[k]!;
        point.u = buf.texture.u[k]!;
        for (let d: 0 | 1 = 0; d <= 1; d = (d + 1) as 0 | 1) {
          if (!layer.dates[d]) continue;
          point.date = d;
          layer.spectrum(point, spec);
          const target = buf.base[d];
          for (let band = 0; band < BAND_COUNT; band++) {
            const v = target[band]![k]!;
            target[band]![k] = v + (spec[band]! - v) * alpha;
          }
        }
      }
    }
  }
}

/** Terrain illumination factor: direct sun on the slope (from the DEM) plus diffuse sky light. */
function illumination(o: RenderOptions, buf: StripBuffers, d: 0 | 1, ext: number): void {
  const W = o.landscape.width;
  const px = o.landscape.pixelSizeM;
  const sun = o.sun[d];
  const el = (sun.elevationDeg * Math.PI) / 180;
  const az = (sun.azimuthDeg * Math.PI) / 180;
  const sx = Math.sin(az) * Math.cos(el);
  const sy = Math.cos(az) * Math.cos(el);
  const sz = Math.sin(el);
  const elevation = buf.elevation;
  const illum = buf.illum;
  for (let r = 0; r < ext; r++) {
    const rUp = r > 0 ? r - 1 : 0;
    const rDown = r < ext - 1 ? r + 1 : ext - 1;
    const dy = Math.max(1, rDown - rUp) * px;
    for (let col = 0; col < W; col++) {
      const cL = col > 0 ? col - 1 : 0;
      const cR = col < W - 1 ? col + 1 : W - 1;
      const dzdx = (elevation[r * W + cR]! - elevation[r * W + cL]!) / ((cR - cL) * px);
      // Rows grow southwards, so north is up-row.
      const dzdy = (elevation[rUp * W + col]! - elevation[rDown * W + col]!) / dy;
      const cosI = (-dzdx * sx - dzdy * sy + sz) / Math.sqrt(dzdx * dzdx + dzdy * dzdy + 1);
      illum[r * W + col] = (0.82 * (cosI > 0 ? cosI : 0)) / sz + 0.18;
    }
  }
}

function multiplyInto(values: Float32Array, factor: Float32Array, n: number): void {
  for (let k = 0; k < n; k++) values[k] = values[k]! * factor[k]!;
}

/** Cloud shadow: the direct beam is blocked; `depth` is the share of signal lost at full shadow. */
function shade(values: Float32Array, shadow: Float32Array, depth: number, n: number): void {
  for (let k = 0; k < n; k++) {
    const s = shadow[k]!;
    if (s > 0) values[k] = values[k]! * (1 - s * depth);
  }
}

/** Haze: added path radiance, strongest in blue, with a little lost transmission. */
function addHaze(target: Float32Array[], h: HazeLayer, e0: number, ext: number, W: number): void {
  const strength = new Float32Array(W);
  // Haze varies over kilometres: evaluate every 8 columns and interpolate.
  const step = 8;
  for (let r = 0; r < ext; r++) {
    const row = e0 + r;
    for (let c0 = 0; c0 < W; c0 += step) {
      const c1 = Math.min(W - 1, c0 + step);
      const a = h.blue * hazeStrength(h, c0, row);
      const b = c1 > c0 ? h.blue * hazeStrength(h, c1, row) : a;
      for (let col = c0; col <= c1; col++) strength[col] = a + ((b - a) * (col - c0)) / Math.max(1, c1 - c0);
    }
    for (let band = 0; band < BAND_COUNT; band++) {
      const values = target[band]!;
      const shape = HAZE_SHAPE[band]!;
      for (let col = 0; col < W; col++) {
        const a = strength[col]! * shape;
        if (a > 0) values[r * W + col] = values[r * W + col]! * (1 - 1.5 * a) + a;
      }
    }
  }
}

/** Opaque cloud tops, textured, blended over the ground by opacity. */
function addClouds(target: Float32Array[], buf: StripBuffers, seed: number, e0: number, ext: number, W: number): void {
  const cloudSpec = new Float64Array(BAND_COUNT);
  for (let r = 0; r < ext; r++) {
    for (let col = 0; col < W; col++) {
      const k = r * W + col;
      const a = buf.cloudAlpha[k]!;
      if (a <= 0) continue;
      const texT = clamp(a * 0.8 + 0.35 * (fbm(seed + 71, col / 6, (e0 + r) / 6, 2) - 0.5), 0, 1);
      sampleMaterial(MATERIALS.cloud, texT, buf.texture.u[k]!, cloudSpec);
      for (let band = 0; band < BAND_COUNT; band++) target[band]![k] = target[band]![k]! + (cloudSpec[band]! - target[band]![k]!) * a;
    }
  }
}

/**
 * Sensor PSF with the date's sub-pixel shift: separable 3 taps, from extended rows `src` into
 * `rows` output rows starting at extended row `first`.
 */
function psf(src: Float32Array, tmp: Float32Array, dst: Float32Array, shift: [number, number], W: number, ext: number, first: number, rows: number): void {
  const x0 = PSF_SIDE + shift[0] / 2;
  const x1 = 1 - 2 * PSF_SIDE;
  const x2 = PSF_SIDE - shift[0] / 2;
  const y0 = PSF_SIDE + shift[1] / 2;
  const y1 = 1 - 2 * PSF_SIDE;
  const y2 = PSF_SIDE - shift[1] / 2;
  for (let r = 0; r < ext; r++) {
    const off = r * W;
    tmp[off] = x0 * src[off]! + x1 * src[off]! + x2 * src[off + 1]!;
    for (let col = 1; col < W - 1; col++) tmp[off + col] = x0 * src[off + col - 1]! + x1 * src[off + col]! + x2 * src[off + col + 1]!;
    tmp[off + W - 1] = x0 * src[off + W - 2]! + x1 * src[off + W - 1]! + x2 * src[off + W - 1]!;
  }
  for (let r = 0; r < rows; r++) {
    const er = first + r;
    const up = Math.max(0, er - 1) * W;
    const mid = er * W;
    const down = Math.min(ext - 1, er + 1) * W;
    const out = r * W;
    for (let col = 0; col < W; col++) dst[out + col] = y0 * tmp[up + col]! + y1 * tmp[mid + col]! + y2 * tmp[down + col]!;
  }
}

/** Sentinel-2 samples SWIR at 20 m: average 2 × 2 blocks, then repeat them. */
function swirBlocks(dst: Float32Array, W: number, rows: number): void {
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

/**
 * Calibration, sensor noise and DN = reflectance × 10000. Noise comes from a xorshift stream
 * seeded per row (per pair of rows and advanced per pair of columns for SWIR, which Sentinel-2
 * samples at 20 m): cheap, and the same whatever strip a row is rendered in.
 */
function quantize(src: Float32Array, out: Uint16Array, gain: number, offset: number, noiseSeed: number, block: boolean, W: number, row0: number, rows: number): void {
  for (let r = 0; r < rows; r++) {
    const row = row0 + r;
    let state = mix32(noiseSeed ^ Math.imul((block ? row >> 1 : row) + 1, 0x9e3779b1)) | 1;
    let h = 0;
    for (let col = 0; col < W; col++) {
      if (!block || (col & 1) === 0) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        h = state >>> 0;
      }
      const k = r * W + col;
      const v = src[k]! * gain + offset;
      const noisy = v + gaussFromHash(h) * (0.012 * (v > 0 ? v : -v) + 0.0018);
      const dn = Math.round(noisy * 10000);
      out[k] = dn < 1 ? 1 : dn > 65535 ? 65535 : dn;
    }
  }
}

function classify(buf: StripBuffers, haveClouds: boolean, out: Uint16Array, W: number, first: number, rows: number): void {
  const [blue, green, red, nir] = buf.blurred as [Float32Array, Float32Array, Float32Array, Float32Array];
  for (let r = 0; r < rows; r++) {
    for (let col = 0; col < W; col++) {
      const k = r * W + col;
      const ek = (first + r) * W + col;
      const ca = haveClouds ? buf.cloudAlpha[ek]! : 0;
      const sa = haveClouds ? buf.shadowAlpha[ek]! : 0;
      out[k] = sceneClass(ca, sa, blue[k]!, green[k]!, red[k]!, nir[k]!);
    }
  }
}

/** Adds a box-local raster (0–255) into strip-local rows [e0, e1) as 0–1 (max). */
function stamp(box: { c0: number; r0: number; c1: number; r1: number }, values: Uint8Array, target: Float32Array, e0: number, e1: number, W: number): void {
  const bw = box.c1 - box.c0;
  for (let row = Math.max(box.r0, e0); row < Math.min(box.r1, e1); row++) {
    for (let col = Math.max(0, box.c0); col < Math.min(W, box.c1); col++) {
      const v = values[(row - box.r0) * bw + (col - box.c0)]! / 255;
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
