/**
 * Rendering image chips with sharp: reflectance → 8-bit RGB with one joint stretch for both dates
 * (so a colour shift between chips is real change, not a display artefact), outlines drawn on
 * top, and before/after composed side by side into a PNG. Raw pixels go in; sharp never parses
 * an untrusted TIFF.
 */
import sharp from 'sharp';

export interface RgbBands {
  red: Float32Array;
  green: Float32Array;
  blue: Float32Array;
}

/** 2nd and 98th percentile over all given arrays (finite values only). */
export function jointStretch(arrays: Float32Array[]): { lo: number; hi: number } {
  const values: number[] = [];
  for (const a of arrays) for (let i = 0; i < a.length; i += Math.max(1, Math.floor(a.length / 20000))) if (Number.isFinite(a[i])) values.push(a[i]);
  if (values.length === 0) return { lo: 0, hi: 1 };
  values.sort((x, y) => x - y);
  const lo = values[Math.floor(values.length * 0.02)], hi = values[Math.min(values.length - 1, Math.floor(values.length * 0.98))];
  return { lo, hi: hi > lo ? hi : lo + 1e-3 };
}

/** Interleaved 8-bit RGB (width*height*3) from three bands, stretched linearly lo→0, hi→255. */
export function toRgb8(bands: RgbBands, width: number, height: number, stretch: { lo: number; hi: number }): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const scale = 255 / (stretch.hi - stretch.lo);
  const src = [bands.red, bands.green, bands.blue];
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const v = (src[c][i] - stretch.lo) * scale;
      out[i * 3 + c] = v <= 0 || !Number.isFinite(v) ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return out;
}

/** Draws closed rings (pixel coordinates, x right, y down) onto an RGB image, in place. */
export function drawRings(rgb: Uint8Array, width: number, height: number, rings: [number, number][][], color: [number, number, number]): void {
  const plot = (x: number, y: number) => {
    const xi = Math.round(x), yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= width || yi >= height) return;
    const k = (yi * width + xi) * 3;
    rgb[k] = color[0]; rgb[k + 1] = color[1]; rgb[k + 2] = color[2];
  };
  for (const ring of rings) {
    for (let i = 0; i + 1 < ring.length; i++) {
      const [x0, y0] = ring[i], [x1, y1] = ring[i + 1];
      const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0)) * 2));
      for (let s = 0; s <= steps; s++) plot(x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps);
    }
  }
}

/**
 * Writes two RGB chips side by side as one PNG, each enlarged by `scale` (nearest neighbour, so
 * pixels stay visible as pixels), with a white gap between them.
 */
export async function writeSideBySidePng(path: string, left: Uint8Array, right: Uint8Array, width: number, height: number, scale = 4): Promise<void> {
  const gap = 8;
  const enlarge = (rgb: Uint8Array) => sharp(Buffer.from(rgb), { raw: { width, height, channels: 3 } })
    .resize(width * scale, height * scale, { kernel: 'nearest' }).raw().toBuffer();
  const [l, r] = await Promise.all([enlarge(left), enlarge(right)]);
  await sharp({ create: { width: width * scale * 2 + gap, height: height * scale, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite([
      { input: l, raw: { width: width * scale, height: height * scale, channels: 3 }, left: 0, top: 0 },
      { input: r, raw: { width: width * scale, height: height * scale, channels: 3 }, left: width * scale + gap, top: 0 },
    ])
    .png()
    .toFile(path);
}
