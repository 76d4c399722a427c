/**
 * orewatch's native block decoding (our N-API binding, `native/orewatch_native.c`): libdeflate,
 * TIFF LZW, and the predictor and Float32 copy loops of uint16 blocks. Loaded where `npm install` built it
 * (scripts/build-native.mjs); null where it was not built (no C compiler) or was turned off with
 * OREWATCH_NATIVE=0, and decoders.ts and tiff-reader.ts then use Node's zlib and their own
 * JavaScript loops, which give the same pixels. libdeflate inflates about 1.5 times as fast as
 * zlib, into a buffer we own; the loops run several times as fast as in JavaScript.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What the binding exports (see orewatch_native.c). */
export interface NativeBlocks {
  /** Bytes written into `dst`; -1 corrupt stream; -2 the stream decodes to more than `dst` holds. */
  inflateZlib(src: Uint8Array, dst: Uint8Array): number;
  inflateRaw(src: Uint8Array, dst: Uint8Array): number;
  /** Undoes predictor 2 in place for `rows` rows of `rowSamples` little-endian uint16 samples. */
  accumulate16(block: Uint8Array, rows: number, rowSamples: number, stride: number): void;
  /**
   * Copies samples of a pixel-interleaved uint16 block into Float32 bands (see the C file):
   * geometry = [src, srcRow, step, dst, dstRow, rows, cols, lead], lead -1 for an undifferenced
   * block. Throws a RangeError rather than index outside any array.
   */
  copyU16(src: Uint16Array, geometry: Int32Array, samples: Int32Array, out: Float32Array[], valid: Uint8Array, nodata: number): void;
  /**
   * One TIFF LZW block into `dst` (256 + limit + 8 bytes; the block is written from byte 256):
   * bytes decoded, -1 past `limit`, or -(2 + code × 4097 + next free code) for a bad code.
   */
  decodeLzw(src: Uint8Array, dst: Uint8Array, limit: number): number;
}

/** `inflateZlib`'s answer for a corrupt stream. */
export const INFLATE_CORRUPT = -1;
/** `inflateZlib`'s answer for a stream that needs more room than it was given. */
export const INFLATE_TOO_LARGE = -2;

const ADDON = join('native', 'build', 'Release', 'orewatch_native.node');

/**
 * Where the addon may be: beside this module (sources run with tsx) or beside its source when
 * this module runs compiled from dist/geodata/tiff/.
 */
function candidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, ADDON), join(here, '..', '..', '..', 'geodata', 'tiff', ADDON)];
}

function load(): NativeBlocks | null {
  if (process.env.OREWATCH_NATIVE === '0') return null;
  const require = createRequire(import.meta.url);
  for (const file of candidates()) {
    if (!existsSync(file)) continue;
    try {
      const binding = require(file) as Partial<NativeBlocks>;
      const names = ['inflateZlib', 'inflateRaw', 'accumulate16', 'copyU16', 'decodeLzw'] as const;
      if (names.every((name) => typeof binding[name] === 'function')) return binding as NativeBlocks;
    } catch {
      // Built for another Node ABI or platform: fall back to zlib.
    }
  }
  return null;
}

export const nativeBlocks: NativeBlocks | null = load();

/** Which DEFLATE decoder this process uses. */
export const inflateBackend: 'libdeflate' | 'zlib' = nativeBlocks ? 'libdeflate' : 'zlib';
