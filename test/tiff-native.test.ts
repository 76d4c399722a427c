// The native block decoding binding (geodata/tiff/native: libdeflate and the uint16 loops) on its
// own: the same bytes as Node's zlib and as plain loops, its error codes, and its refusal to
// index outside the arrays it is given (a hostile file's geometry must not write out of bounds).
// Where the binding was not built (no C compiler at `npm install`) or OREWATCH_NATIVE=0, the
// reader uses zlib and JavaScript and these tests say so and skip.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync, deflateSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { INFLATE_CORRUPT, INFLATE_TOO_LARGE, inflateBackend, nativeBlocks } from '../geodata/tiff/native.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const built = existsSync(path.join(here, '..', 'geodata', 'tiff', 'native', 'build', 'Release', 'orewatch_native.node'));
if (!nativeBlocks) console.warn(`native block decoding tests skipped: ${built ? 'OREWATCH_NATIVE=0' : 'the binding was not built (node scripts/install/build-native.mjs)'}`);

/** Deterministic bytes that compress somewhat, like image rows. */
function sampleBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (i % 97 < 60 ? (i >> 5) & 0xff : x >>> 24) & 0xff;
  }
  return out;
}

describe('the native block decoding binding', () => {
  it('is what the reader uses where npm install built it', () => {
    if (process.env.OREWATCH_NATIVE === '0' || !built) expect(inflateBackend).toBe('zlib');
    else expect(inflateBackend).toBe('libdeflate');
  });

  describe.skipIf(!nativeBlocks)('with the binding', () => {
    const n = nativeBlocks as NonNullable<typeof nativeBlocks>;

    it('inflates zlib and raw streams to the bytes zlib gives, ignoring bytes after the stream', () => {
      for (const [length, level] of [[0, 6], [1, 1], [4096, 9], [512 * 512 * 8, 6], [100_003, 0]] as const) {
        const data = sampleBytes(length, length + level);
        const stream = deflateSync(data, { level });
        const out = new Uint8Array(length + 16);
        const written = n.inflateZlib(stream, out);
        expect(written).toBe(length);
        expect(Buffer.from(out.subarray(0, written)).equals(Buffer.from(inflateSync(stream)))).toBe(true);
        const trailing = new Uint8Array(stream.length + 5);
        trailing.set(stream);
        expect(n.inflateZlib(trailing, out)).toBe(length);
        const raw = deflateRawSync(data, { level });
        expect(n.inflateRaw(raw, out)).toBe(length);
        expect(Buffer.from(out.subarray(0, length)).equals(Buffer.from(data))).toBe(true);
      }
    });

    it('answers -2 for a stream that needs more room and -1 for a corrupt one', () => {
      const data = sampleBytes(10_000, 3);
      const stream = deflateSync(data);
      expect(INFLATE_TOO_LARGE).toBe(-2);
      expect(n.inflateZlib(stream, new Uint8Array(9_999))).toBe(INFLATE_TOO_LARGE);
      // A bomb: a megabyte of zeros in about a kilobyte, into a 4 KiB budget.
      expect(n.inflateZlib(deflateSync(new Uint8Array(1 << 20)), new Uint8Array(4096))).toBe(INFLATE_TOO_LARGE);
      const corrupt = new Uint8Array(stream);
      corrupt[stream.length - 1] = (corrupt[stream.length - 1] ?? 0) ^ 0xff; // the Adler-32 checksum
      expect(n.inflateZlib(corrupt, new Uint8Array(10_000))).toBe(INFLATE_CORRUPT);
      expect(n.inflateZlib(stream.subarray(0, stream.length >> 1), new Uint8Array(10_000))).toBe(INFLATE_CORRUPT);
      expect(n.inflateZlib(new Uint8Array([1, 2, 3]), new Uint8Array(16))).toBe(INFLATE_CORRUPT);
    });

    it('undoes predictor 2 on 16-bit samples as a plain loop does, for 1 to 7 samples a pixel', () => {
      for (const stride of [1, 2, 3, 4, 7]) {
        const rows = 5;
        const rowSamples = 33 * stride;
        const bytes = sampleBytes(rows * rowSamples * 2, stride);
        const expected = new Uint16Array(new Uint8Array(bytes).buffer);
        for (let r = 0; r < rows; r++) {
          for (let i = r * rowSamples + stride; i < (r + 1) * rowSamples; i++) expected[i] = ((expected[i] ?? 0) + (expected[i - stride] ?? 0)) & 0xffff;
        }
        n.accumulate16(bytes, rows, rowSamples, stride);
        expect(Array.from(new Uint16Array(bytes.buffer))).toEqual(Array.from(expected));
      }
      expect(() => n.accumulate16(new Uint8Array(10), 2, 4, 1)).toThrow(RangeError);
    });

    /** What copyU16 must write, by a plain loop. */
    function reference(src: Uint16Array, g: number[], samples: number[], size: number, nodata: number): { out: Float32Array[]; valid: Uint8Array } {
      const [first = 0, srcRow = 0, step = 0, dst = 0, dstRow = 0, rows = 0, cols = 0, lead = -1] = g;
      const out = samples.map(() => new Float32Array(size).fill(-1));
      const valid = new Uint8Array(size).fill(1);
      for (let r = 0; r < rows; r++) {
        const sums = samples.map(() => 0);
        const start = first + r * srcRow - Math.max(lead, 0) * step;
        for (let c = 0; c < Math.max(lead, 0) + cols; c++) {
          samples.forEach((s, k) => {
            const raw = src[start + c * step + s] ?? 0;
            sums[k] = lead < 0 ? raw : ((sums[k] ?? 0) + raw) & 0xffff;
          });
          if (c < Math.max(lead, 0)) continue;
          const d = dst + r * dstRow + c - Math.max(lead, 0);
          samples.forEach((_, k) => { (out[k] as Float32Array)[d] = sums[k] ?? 0; });
          if (sums.some((v) => v === nodata)) valid[d] = 0;
        }
      }
      return { out, valid };
    }

    it('copies uint16 samples into Float32 bands as a plain loop does, differenced or not, with and without nodata', () => {
      const step = 6;
      const blockWidth = 40;
      const src = new Uint16Array(sampleBytes(blockWidth * 30 * step * 2, 11).buffer);
      src[(3 * blockWidth + 5) * step + 2] = 7; // a nodata sample
      for (const samples of [[0, 1, 2, 3], [5, 2], [4], [0, 1, 2, 3, 4, 5]]) {
        for (const lead of [-1, 0, 6]) {
          for (const nodata of [Number.NaN, 7]) {
            const g = [(2 * blockWidth + 6) * step, blockWidth * step, step, 13, 50, 20, 25, lead];
            const size = 50 * 25;
            const want = reference(src, g, samples, size, nodata);
            const out = samples.map(() => new Float32Array(size).fill(-1));
            const valid = new Uint8Array(size).fill(1);
            n.copyU16(src, Int32Array.from(g), Int32Array.from(samples), out, valid, nodata);
            expect(out.map((o) => Array.from(o)), `samples ${samples} lead ${lead} nodata ${nodata}`).toEqual(want.out.map((o) => Array.from(o)));
            expect(Array.from(valid)).toEqual(Array.from(want.valid));
          }
        }
      }
    });

    it('refuses a copy that would reach outside the block or the window, writing nothing', () => {
      const src = new Uint16Array(4 * 10 * 10);
      const out = [new Float32Array(100), new Float32Array(100)];
      const valid = new Uint8Array(100).fill(1);
      const geometry = (g: Partial<Record<'src' | 'srcRow' | 'step' | 'dst' | 'dstRow' | 'rows' | 'cols' | 'lead', number>>): Int32Array =>
        Int32Array.from([g.src ?? 0, g.srcRow ?? 40, g.step ?? 4, g.dst ?? 0, g.dstRow ?? 10, g.rows ?? 10, g.cols ?? 10, g.lead ?? -1]);
      const samples = Int32Array.from([0, 3]);
      expect(() => n.copyU16(src, geometry({}), samples, out, valid, Number.NaN)).not.toThrow();
      for (const bad of [{ rows: 11 }, { cols: 11 }, { src: 4 }, { dst: 1 }, { dstRow: 9 }, { lead: 1 }, { src: -4 }, { step: 3 }]) {
        out.forEach((o) => o.fill(-1));
        expect(() => n.copyU16(src, geometry(bad), samples, out, valid, Number.NaN), JSON.stringify(bad)).toThrow(RangeError);
        expect(out.every((o) => o.every((v) => v === -1))).toBe(true);
      }
      expect(() => n.copyU16(src, geometry({}), Int32Array.from([4]), out, valid, Number.NaN)).toThrow(RangeError);
      expect(() => n.copyU16(src, geometry({}), samples, [new Float32Array(99), new Float32Array(100)], valid, Number.NaN)).toThrow(RangeError);
      expect(() => n.copyU16(src, geometry({}), samples, out, new Uint8Array(99), Number.NaN)).toThrow(RangeError);
      expect(() => n.copyU16(new Uint16Array(399), geometry({}), samples, out, valid, Number.NaN)).toThrow(RangeError);
    });
  });
});
