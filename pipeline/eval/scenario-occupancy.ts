/**
 * A coarse occupancy raster (2-px cells) that keeps the generator's objects apart: villages and
 * roads, truth features (changes and traps, with a margin), existing pits and reference
 * polygons each set a bit; a candidate is placed only where the bits it must avoid are clear.
 */
import { boxWidth, type Box } from './scenario-geometry.js';

export const BIT_BUILT = 1;
export const BIT_TRUTH = 2;
export const BIT_MINE = 4;
export const BIT_REF = 8;
const CELL = 2;

/** Coarse occupancy raster (2-px cells) used to keep objects apart. */
export class Occupancy {
  readonly cols: number;
  readonly rows: number;
  readonly bits: Uint8Array;
  constructor(width: number, height: number) {
    this.cols = Math.ceil(width / CELL);
    this.rows = Math.ceil(height / CELL);
    this.bits = new Uint8Array(this.cols * this.rows);
  }
  private cellsOf(box: Box, mask: Uint8Array): Set<number> {
    const w = boxWidth(box);
    const cells = new Set<number>();
    for (let i = 0; i < mask.length; i++) {
      if (!mask[i]) continue;
      const c = (box.c0 + (i % w)) >> 1;
      const r = (box.r0 + Math.floor(i / w)) >> 1;
      cells.add(r * this.cols + c);
    }
    return cells;
  }
  mark(box: Box, mask: Uint8Array, bit: number, dilatePx: number): void {
    const d = Math.ceil(dilatePx / CELL);
    for (const cell of this.cellsOf(box, mask)) {
      const c = cell % this.cols;
      const r = Math.floor(cell / this.cols);
      for (let y = Math.max(0, r - d); y <= Math.min(this.rows - 1, r + d); y++) {
        for (let x = Math.max(0, c - d); x <= Math.min(this.cols - 1, c + d); x++) this.bits[y * this.cols + x]! |= bit;
      }
    }
  }
  free(box: Box, mask: Uint8Array, bits: number): boolean {
    for (const cell of this.cellsOf(box, mask)) if (this.bits[cell]! & bits) return false;
    return true;
  }
  pointFree(x: number, y: number, bits: number): boolean {
    const c = Math.floor(x) >> 1;
    const r = Math.floor(y) >> 1;
    if (c < 0 || r < 0 || c >= this.cols || r >= this.rows) return false;
    return (this.bits[r * this.cols + c]! & bits) === 0;
  }
}
