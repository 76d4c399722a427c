/**
 * Decoded blocks kept between window reads of one image.
 *
 * A scan reads windows with a halo of context: a 512 px window of a COG with 512 px tiles plus a
 * 16 px halo touches nine tiles, and without a cache each tile is inflated by up to nine windows.
 * GDAL keeps a block cache for the same reason. This one keeps whole decoded blocks in LRU order
 * within a byte budget, and when a block leaves it keeps its four edge strips (in a second, smaller
 * LRU): with windows read in rows, the halo that reaches into the row above is then served from
 * the strips, and every block is inflated once.
 *
 * A piece is a rectangle of a block (block-local coordinates) with its samples, row-major, each
 * pixel `samplesPerPixel` samples wide: the whole block, or one of its edges.
 */

export type SampleArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

export interface BlockPiece {
  x0: number;
  y0: number;
  width: number;
  height: number;
  values: SampleArray;
}

export interface BlockCacheOptions {
  /** Bytes of whole blocks kept. */
  budgetBytes: number;
  /** Bytes of edge strips kept. */
  stripBudgetBytes: number;
  /** Depth of the edge strips kept of an evicted block, in pixels. */
  stripPx: number;
  samplesPerPixel: number;
}

/** Whether `piece` holds the block-local rectangle [x0, x1) × [y0, y1). */
function holds(piece: BlockPiece, x0: number, y0: number, x1: number, y1: number): boolean {
  return x0 >= piece.x0 && y0 >= piece.y0 && x1 <= piece.x0 + piece.width && y1 <= piece.y0 + piece.height;
}

/**
 * Copies a rectangle out of a piece (for the edge strips), into `reuse` (an evicted strip's
 * array of the same type and length) when given.
 */
function cut(piece: BlockPiece, x0: number, y0: number, width: number, height: number, samplesPerPixel: number, reuse?: SampleArray): BlockPiece {
  const Ctor = piece.values.constructor as new (n: number) => SampleArray;
  const length = width * height * samplesPerPixel;
  const values = reuse && reuse.constructor === Ctor && reuse.length === length ? reuse : new Ctor(length);
  const rowLength = width * samplesPerPixel;
  for (let y = 0; y < height; y++) {
    const from = ((y + y0 - piece.y0) * piece.width + (x0 - piece.x0)) * samplesPerPixel;
    values.set(piece.values.subarray(from, from + rowLength), y * rowLength);
  }
  return { x0, y0, width, height, values };
}

/** Evicted blocks' buffers kept for reuse. */
const MAX_SPARES = 4;

export class BlockCache {
  private readonly blocks = new Map<number, BlockPiece>();
  private readonly strips = new Map<number, BlockPiece[]>();
  private blockBytes = 0;
  private stripBytes = 0;
  /**
   * Buffers of evicted blocks, handed to the decoder for the next block (`takeSpare`): a fresh
   * 2 MB buffer per block costs page faults and garbage collection, about a quarter of what
   * inflating it costs.
   */
  private spares: ArrayBufferLike[] = [];
  /** Arrays of evicted edge strips, for the next strips cut. */
  private spareStrips: SampleArray[] = [];
  /** Blocks inflated and pieces served from the cache, for the benchmarks. */
  readonly stats = { decoded: 0, hits: 0, stripHits: 0 };

  constructor(private readonly options: BlockCacheOptions) {}

  /** A cached piece of `block` holding the block-local rectangle, or null. */
  find(block: number, x0: number, y0: number, x1: number, y1: number): BlockPiece | null {
    const whole = this.blocks.get(block);
    if (whole) {
      this.blocks.delete(block);
      this.blocks.set(block, whole);
      this.stats.hits++;
      return whole;
    }
    const strips = this.strips.get(block);
    const strip = strips?.find((s) => holds(s, x0, y0, x1, y1));
    if (strip) {
      this.stats.stripHits++;
      return strip;
    }
    return null;
  }

  /** Keeps a whole decoded block; evicts the least recently used ones past the budget. */
  add(block: number, piece: BlockPiece): void {
    this.stats.decoded++;
    const stale = this.strips.get(block);
    if (stale) {
      this.strips.delete(block);
      this.stripBytes -= stale.reduce((a, p) => a + p.values.byteLength, 0);
    }
    const bytes = piece.values.byteLength;
    if (bytes > this.options.budgetBytes) return;
    this.blocks.set(block, piece);
    this.blockBytes += bytes;
    while (this.blockBytes > this.options.budgetBytes) {
      const oldest = this.blocks.entries().next().value as [number, BlockPiece] | undefined;
      if (!oldest) break;
      this.blocks.delete(oldest[0]);
      this.blockBytes -= oldest[1].values.byteLength;
      this.keepStrips(oldest[0], oldest[1]);
      // Strips are copies: nothing refers to the block's buffer any more.
      if (this.spares.length < MAX_SPARES) this.spares.push(oldest[1].values.buffer);
    }
  }

  /**
   * A buffer of at least `bytes` bytes that an evicted block held, for the next block to be
   * decoded into, or undefined. It is the caller's from then on.
   */
  takeSpare(bytes: number): Uint8Array | undefined {
    const at = this.spares.findIndex((b) => b.byteLength >= bytes);
    if (at < 0) return undefined;
    const [buffer] = this.spares.splice(at, 1);
    return buffer ? new Uint8Array(buffer) : undefined;
  }

  private keepStrips(block: number, piece: BlockPiece): void {
    const spp = this.options.samplesPerPixel;
    const { width: w, height: h } = piece;
    // Small blocks keep shallower strips: four edges of a quarter of the block each at most.
    const d = Math.min(this.options.stripPx, Math.floor(Math.min(w, h) / 4));
    if (d <= 0 || this.options.stripBudgetBytes <= 0) return;
    // The arrays of strips evicted earlier are reused (same block size, same lengths): strips are
    // cut for every evicted block, and new ones each time kept the garbage collector busy.
    const spare = (): SampleArray | undefined => this.spareStrips.pop();
    const pieces = [
      cut(piece, 0, 0, w, d, spp, spare()), cut(piece, 0, h - d, w, d, spp, spare()),
      cut(piece, 0, 0, d, h, spp, spare()), cut(piece, w - d, 0, d, h, spp, spare()),
    ];
    this.strips.delete(block);
    this.strips.set(block, pieces);
    this.stripBytes += pieces.reduce((a, p) => a + p.values.byteLength, 0);
    while (this.stripBytes > this.options.stripBudgetBytes) {
      const oldest = this.strips.entries().next().value as [number, BlockPiece[]] | undefined;
      if (!oldest) break;
      this.strips.delete(oldest[0]);
      this.stripBytes -= oldest[1].reduce((a, p) => a + p.values.byteLength, 0);
      for (const p of oldest[1]) if (this.spareStrips.length < MAX_SPARES * 4) this.spareStrips.push(p.values);
    }
  }

  clear(): void {
    this.spares = [];
    this.spareStrips = [];
    this.blocks.clear();
    this.strips.clear();
    this.blockBytes = 0;
    this.stripBytes = 0;
  }
}
