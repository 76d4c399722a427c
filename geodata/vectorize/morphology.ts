/**
 * Binary morphology on window masks, for detectors cleaning up their change masks before the
 * vectorizer sees them. Radius r means r iterations of the 3×3 square structuring element, i.e.
 * one (2r + 1)² square, computed as two separable running counts: O(width × height) for any r.
 *
 * Border handling is explicit because windows are cut from larger scenes:
 * - 'nearest' (default): pixels outside the mask repeat the nearest edge pixel, so a window edge
 *   is not taken for an edge of the change (erosion does not eat into it, dilation is unchanged);
 * - 'background': pixels outside are 0 (erosion clears a band of r pixels along the edges).
 * Masks are read as binary (any non-zero value is 1); results hold 0 and 1.
 */
import { expectInteger, expectLength, argumentError } from './validate.js';

export type MaskBorder = 'nearest' | 'background';

export interface MorphologyOptions {
  /** What lies beyond the mask's edges (default 'nearest'). */
  border?: MaskBorder;
}

function checkMask(mask: Uint8Array, width: number, height: number, radius: number, options: MorphologyOptions): MaskBorder {
  expectInteger(width, 'width', 1);
  expectInteger(height, 'height', 1);
  expectLength(mask, 'mask', width * height);
  expectInteger(radius, 'radius', 0);
  const border = options.border ?? 'nearest';
  if (border !== 'nearest' && border !== 'background') throw argumentError("'nearest' or 'background'", 'border', border);
  return border;
}

/**
 * Min (erode) or max (dilate) over a (2r + 1)² square. With 'nearest', the window is clipped to
 * the mask (the same as repeating edge pixels); with 'background', a window reaching outside
 * counts the missing pixels as 0.
 */
function squareFilter(mask: Uint8Array, width: number, height: number, radius: number, erode: boolean, border: MaskBorder): Uint8Array {
  const out = new Uint8Array(width * height);
  if (radius === 0) {
    for (let i = 0; i < out.length; i++) out[i] = mask[i] !== 0 ? 1 : 0;
    return out;
  }
  const clipped = border === 'nearest';
  const full = 2 * radius + 1;
  const tmp = new Uint8Array(width * height);
  // Horizontal pass: tmp = result of the 1-D filter along each row.
  for (let y = 0; y < height; y++) {
    const base = y * width;
    let ones = 0;
    for (let x = 0; x < Math.min(radius, width); x++) ones += mask[base + x] !== 0 ? 1 : 0;
    for (let x = 0; x < width; x++) {
      const enter = x + radius;
      if (enter < width) ones += mask[base + enter] !== 0 ? 1 : 0;
      const leave = x - radius - 1;
      if (leave >= 0) ones -= mask[base + leave] !== 0 ? 1 : 0;
      const inside = Math.min(width - 1, x + radius) - Math.max(0, x - radius) + 1;
      tmp[base + x] = erode ? (ones === (clipped ? inside : full) ? 1 : 0) : ones > 0 ? 1 : 0;
    }
  }
  // Vertical pass on tmp.
  for (let x = 0; x < width; x++) {
    let ones = 0;
    for (let y = 0; y < Math.min(radius, height); y++) ones += tmp[y * width + x];
    for (let y = 0; y < height; y++) {
      const enter = y + radius;
      if (enter < height) ones += tmp[enter * width + x];
      const leave = y - radius - 1;
      if (leave >= 0) ones -= tmp[leave * width + x];
      const inside = Math.min(height - 1, y + radius) - Math.max(0, y - radius) + 1;
      out[y * width + x] = erode ? (ones === (clipped ? inside : full) ? 1 : 0) : ones > 0 ? 1 : 0;
    }
  }
  return out;
}

/**
 * Dilation by a (2·radius + 1)² square.
 * @param mask width*height row-major, non-zero = set
 * @param radius in pixels (0 copies the mask as 0/1)
 * @returns a new width*height mask of 0/1
 */
export function dilateMask(mask: Uint8Array, width: number, height: number, radius: number, options: MorphologyOptions = {}): Uint8Array {
  const border = checkMask(mask, width, height, radius, options);
  return squareFilter(mask, width, height, radius, false, border);
}

/** Erosion by a (2·radius + 1)² square; arguments as for dilateMask. */
export function erodeMask(mask: Uint8Array, width: number, height: number, radius: number, options: MorphologyOptions = {}): Uint8Array {
  const border = checkMask(mask, width, height, radius, options);
  return squareFilter(mask, width, height, radius, true, border);
}

/** Opening (erode, then dilate): removes specks and lines thinner than 2·radius + 1 pixels. */
export function openMask(mask: Uint8Array, width: number, height: number, radius: number, options: MorphologyOptions = {}): Uint8Array {
  const border = checkMask(mask, width, height, radius, options);
  return squareFilter(squareFilter(mask, width, height, radius, true, border), width, height, radius, false, border);
}

/** Closing (dilate, then erode): fills gaps and notches narrower than 2·radius + 1 pixels. */
export function closeMask(mask: Uint8Array, width: number, height: number, radius: number, options: MorphologyOptions = {}): Uint8Array {
  const border = checkMask(mask, width, height, radius, options);
  return squareFilter(squareFilter(mask, width, height, radius, false, border), width, height, radius, true, border);
}

/**
 * Clears connected components (of non-zero pixels, any values together) smaller than minPixels,
 * keeping the values of the others (kind codes survive).
 * @param connectivity 8 (default, as the vectorizer's sites) or 4
 * @returns a new width*height mask
 */
export function removeSmallComponents(mask: Uint8Array, width: number, height: number, minPixels: number, options: { connectivity?: 4 | 8 } = {}): Uint8Array {
  checkMask(mask, width, height, 0, {});
  const connectivity = options.connectivity ?? 8;
  if (connectivity !== 4 && connectivity !== 8) throw argumentError('4 or 8', 'connectivity', connectivity);
  const out = Uint8Array.from(mask);
  const seen = new Uint8Array(width * height);
  const stack = new Int32Array(width * height);
  const members: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (mask[start] === 0 || seen[start] === 1) continue;
    members.length = 0;
    let top = 0;
    stack[top++] = start;
    seen[start] = 1;
    while (top > 0) {
      const i = stack[--top];
      members.push(i);
      const x = i % width;
      const y = (i - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          if ((dx === 0 && dy === 0) || (connectivity === 4 && dx !== 0 && dy !== 0)) continue;
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const j = ny * width + nx;
          if (mask[j] !== 0 && seen[j] === 0) {
            seen[j] = 1;
            stack[top++] = j;
          }
        }
      }
    }
    if (members.length < minPixels) for (const i of members) out[i] = 0;
  }
  return out;
}
