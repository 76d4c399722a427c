// The bounded block decoders (geodata/tiff/decoders.ts): correct output on known and real data,
// and refusal of blocks that would inflate past their budget (LZW, PackBits, ZSTD, DEFLATE),
// both when our reader calls them and when geotiff.js's own readRasters does.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { fromArrayBuffer, getDecoder } from 'geotiff';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { isOrewatchError } from '../errors/index.js';
import {
  createBlockDecoder,
  decodeLzw,
  decodeLzwNative,
  inflateZstd,
  jpegFrameSize,
  registerOrewatchDecoders,
  unpackBits,
  zstdBackend,
  type BlockDecoderParameters,
} from '../geodata/tiff/decoders.js';
import { openByteSource } from '../geodata/tiff/byte-source.js';
import { decodeLzwWasm } from '../geodata/tiff/lzw-wasm.js';
import { nativeBlocks } from '../geodata/tiff/native.js';
import { guardTiff } from '../geodata/tiff/guard.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const lzwFile = path.resolve(here, '../../shared/data/geotiff-encoding-matrix/u16_lzw_strip.tif');

const tooLarge = (): Error => new Error('too large');
const corrupt = (why: string): Error => new Error(`corrupt: ${why}`);

/** Writes LZW codes MSB-first with the code widths a TIFF LZW decoder expects. */
function lzwCodes(codes: number[]): Uint8Array {
  const bits: number[] = [];
  let width = 9;
  let next = 258;
  let previous = false;
  for (const code of codes) {
    for (let b = width - 1; b >= 0; b--) bits.push((code >> b) & 1);
    if (code === 256) {
      width = 9;
      next = 258;
      previous = false;
      continue;
    }
    if (code === 257) break;
    if (previous && next < 4096) next++;
    previous = true;
    if (next + 1 >= 1 << width && width < 12) width++;
  }
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((bit, i) => {
    if (bit) out[i >> 3] = (out[i >> 3] ?? 0) | (0x80 >> (i & 7));
  });
  return out;
}

/** Codes of one "KwKwK" run: literal 0 then every next code, each one byte longer than the last. */
function lzwBombCycle(): number[] {
  const codes = [256, 0];
  for (let code = 258; code < 4093; code++) codes.push(code);
  return codes;
}

/** A zstd frame of RLE blocks (128 KiB of zeros each): a few bytes per block. */
function zstdRleFrame(blocks: number): Uint8Array {
  const out = new Uint8Array(6 + blocks * 4);
  out.set([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]); // magic, no content size, 128 KiB window
  for (let i = 0; i < blocks; i++) {
    const last = i === blocks - 1 ? 1 : 0;
    const header = (131072 << 3) | (1 << 1) | last; // RLE block of 131072 bytes
    const at = 6 + i * 4;
    out[at] = header & 0xff;
    out[at + 1] = (header >> 8) & 0xff;
    out[at + 2] = (header >> 16) & 0xff;
    out[at + 3] = 0; // the repeated byte
  }
  return out;
}

function params(overrides: Partial<BlockDecoderParameters> = {}): BlockDecoderParameters {
  return {
    tileWidth: 512, tileHeight: 512, planarConfiguration: 1, bitsPerSample: [8], samplesPerPixel: 1,
    predictor: 1, littleEndian: true, maxDecodedBytes: 512 * 512 + 4096, file: 'bomb.tif', ...overrides,
  };
}

async function decodeError(compression: number, stored: Uint8Array, overrides: Partial<BlockDecoderParameters> = {}): Promise<string> {
  try {
    await createBlockDecoder(compression, params(overrides)).decode(new Uint8Array(stored).buffer);
  } catch (error) {
    expect(isOrewatchError(error)).toBe(true);
    if (isOrewatchError(error)) {
      expect(error.file).toBe('bomb.tif');
      return error.code;
    }
  }
  return 'no error';
}

beforeAll(async () => {
  await registerOrewatchDecoders();
});

describe('decodeLzw', () => {
  it('decodes the KwKwK chain and refuses it past the budget', () => {
    const stream = lzwCodes([...lzwBombCycle(), 257]);
    const n = 4093 - 258 + 1; // strings of 1..n bytes
    const decoded = decodeLzw(stream, 10_000_000, tooLarge, corrupt);
    expect(decoded.length).toBe((n * (n + 1)) / 2);
    expect(decoded.every((b) => b === 0)).toBe(true);
    expect(() => decodeLzw(stream, 1_000_000, tooLarge, corrupt)).toThrow('too large');
  });

  it('refuses codes that are not in the table', () => {
    expect(() => decodeLzw(lzwCodes([256, 65, 300, 257]), 1000, tooLarge, corrupt)).toThrow(/corrupt: invalid code 300/);
  });

  it('an LZW bomb of ~1 GB is refused by the decoder for a 512×512 tile', async () => {
    const cycles = Array.from({ length: 140 }, lzwBombCycle).flat();
    const stream = lzwCodes([...cycles, 257]);
    expect(stream.length).toBeLessThan(1_000_000);
    expect(await decodeError(5, stream)).toBe('SCENE.CORRUPT_BLOCK');
  });

  it.skipIf(!existsSync(lzwFile))('decodes every strip of a GDAL LZW file to the bytes of the same strip uncompressed', async () => {
    const source = await openByteSource(lzwFile);
    const summary = await guardTiff(source, lzwFile);
    const ifd = summary.ifds[0];
    expect(ifd).toBeDefined();
    if (!ifd) return;
    // Same pixels, same strip layout, no compression (geotiff-encoding-matrix/u16_none_strip.tif).
    const raw = await openByteSource(lzwFile.replace('u16_lzw_strip', 'u16_none_strip'));
    const rawSummary = await guardTiff(raw, 'raw');
    for (let i = 0; i < ifd.blockOffsets.length; i++) {
      const stored = await source.read(ifd.blockOffsets[i] ?? 0, ifd.blockByteCounts[i] ?? 0);
      const ours = decodeLzw(stored, ifd.maxBlockBytes + 4096, tooLarge, corrupt);
      const rawIfd = rawSummary.ifds[0];
      const expected = await raw.read(rawIfd?.blockOffsets[i] ?? 0, rawIfd?.blockByteCounts[i] ?? 0);
      expect(Buffer.from(ours).equals(Buffer.from(expected))).toBe(true);
    }
    await source.close();
    await raw.close();
  });
});

/** What a decoder made of a stream: its bytes, or which refusal. */
function outcome(decode: () => Uint8Array | null): string {
  try {
    const bytes = decode();
    return bytes ? Buffer.from(bytes).toString('hex') : 'declined';
  } catch (error) {
    return (error as Error).message.startsWith('corrupt') ? 'corrupt' : (error as Error).message;
  }
}

describe('decodeLzwWasm (the WebAssembly decoder)', () => {
  // Codes mostly valid (below the next free code), some not; clears, ends, tight budgets.
  const streams = fc.array(fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0, max: 255 }) },
    { weight: 12, arbitrary: fc.integer({ min: 258, max: 700 }) },
    { weight: 1, arbitrary: fc.constant(256) },
    { weight: 1, arbitrary: fc.integer({ min: 701, max: 4095 }) },
  ), { minLength: 1, maxLength: 1500 });

  it('decodes exactly as decodeLzw does, refusals included, whatever the codes', () => {
    fc.assert(fc.property(streams, fc.boolean(), fc.integer({ min: 1, max: 20000 }), (codes, end, limit) => {
      const stream = lzwCodes([256, ...codes, ...(end ? [257] : [])]);
      expect(outcome(() => decodeLzwWasm(stream, limit, tooLarge, corrupt))).toBe(outcome(() => decodeLzw(stream, limit, tooLarge, corrupt)));
    }), { numRuns: 300 });
  });

  it.skipIf(!nativeBlocks)('the native decoder (native.ts) decodes exactly as decodeLzw does, refusals included', () => {
    fc.assert(fc.property(streams, fc.boolean(), fc.integer({ min: 1, max: 20000 }), (codes, end, limit) => {
      const stream = lzwCodes([256, ...codes, ...(end ? [257] : [])]);
      // Messages compared whole: the same bad code and next free code.
      const whole = (decode: () => Uint8Array | null): string => { try { return Buffer.from(decode() ?? []).toString('hex'); } catch (error) { return (error as Error).message; } };
      expect(whole(() => decodeLzwNative(stream, limit, tooLarge, corrupt))).toBe(whole(() => decodeLzw(stream, limit, tooLarge, corrupt)));
    }), { numRuns: 300 });
    // The ~1 GB bomb, refused for a 512 × 512 tile.
    const bomb = lzwCodes([...Array.from({ length: 140 }, lzwBombCycle).flat(), 257]);
    expect(() => decodeLzwNative(bomb, 512 * 512 * 8, tooLarge, corrupt)).toThrow('too large');
  });

  it.skipIf(!existsSync(lzwFile))('decodes a GDAL LZW file strip by strip as decodeLzw does', async () => {
    const source = await openByteSource(lzwFile);
    const ifd = (await guardTiff(source, lzwFile)).ifds[0];
    for (let i = 0; i < (ifd?.blockOffsets.length ?? 0); i++) {
      const stored = await source.read(ifd?.blockOffsets[i] ?? 0, ifd?.blockByteCounts[i] ?? 0);
      const limit = (ifd?.maxBlockBytes ?? 0) + 4096;
      expect(outcome(() => decodeLzwWasm(stored, limit, tooLarge, corrupt))).toBe(outcome(() => decodeLzw(stored, limit, tooLarge, corrupt)));
    }
    await source.close();
  });
});

describe('decodeLzw into a reused buffer', () => {
  it('decodes one stream after another into the same buffer, each exactly', () => {
    const first = lzwCodes([256, 65, 66, 258, 260, 67, 257]); // A B AB ABA C
    const second = lzwCodes([256, 120, 121, 122, 258, 259, 257]); // x y z xy yz
    const output = new Uint8Array(256 + 64 + 8);
    const a = Buffer.from(decodeLzw(first, 64, tooLarge, corrupt, output)).toString('latin1');
    expect(a).toBe('ABABABAC');
    const b = decodeLzw(second, 64, tooLarge, corrupt, output);
    expect(b.buffer).toBe(output.buffer);
    expect(Buffer.from(b).toString('latin1')).toBe('xyzxyyz');
    expect(() => decodeLzw(first, 7, tooLarge, corrupt, output)).toThrow('too large');
  });
});

describe('unpackBits', () => {
  it('decodes the example of the TIFF 6.0 specification', () => {
    const input = Uint8Array.from([0xfe, 0xaa, 0x02, 0x80, 0x00, 0x2a, 0xfd, 0xaa, 0x03, 0x80, 0x00, 0x2a, 0x22, 0xf7, 0xaa]);
    const expected = [0xaa, 0xaa, 0xaa, 0x80, 0x00, 0x2a, 0xaa, 0xaa, 0xaa, 0xaa, 0x80, 0x00, 0x2a, 0x22, ...Array.from({ length: 10 }, () => 0xaa)];
    expect(Array.from(unpackBits(input, 100, tooLarge))).toEqual(expected);
    expect(() => unpackBits(input, 10, tooLarge)).toThrow('too large');
  });

  it('refuses a PackBits run past the budget', async () => {
    const runs = new Uint8Array(20_000).map((_, i) => (i % 2 === 0 ? 0x81 : 0)); // 128 bytes per pair
    expect(await decodeError(32773, runs)).toBe('SCENE.CORRUPT_BLOCK');
  });
});

describe('ZSTD', () => {
  it('decodes a valid frame and refuses one that inflates past the budget', async () => {
    const decoded = await createBlockDecoder(50000, params({ maxDecodedBytes: 3 * 131072 })).decode(zstdRleFrame(3).buffer as ArrayBuffer);
    expect(decoded.byteLength).toBe(3 * 131072);
    // 8192 RLE blocks = 1 GiB from 32 KiB.
    expect(await decodeError(50000, zstdRleFrame(8192))).toBe('SCENE.CORRUPT_BLOCK');
    // A broken frame is refused at once (zstddec alone would spin on it forever).
    expect(await decodeError(50000, Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]))).toBe('SCENE.CORRUPT_BLOCK');
  });

  it('uses libzstd through zstd-napi where it is installed', () => {
    // An optional dependency: where its build failed, the WebAssembly decoder takes over.
    expect(['native', 'wasm']).toContain(zstdBackend);
    if (process.env.OREWATCH_ZSTD !== 'wasm' && existsSync(path.resolve(here, '../node_modules/zstd-napi/build/Release/binding.node'))) {
      expect(zstdBackend).toBe('native');
    }
  });

  it('the WebAssembly fallback decodes the same frame and refuses the same bomb, naming the file', () => {
    expect(inflateZstd(zstdRleFrame(3), params({ maxDecodedBytes: 3 * 131072 }), 'ZSTD').length).toBe(3 * 131072);
    expect(() => inflateZstd(zstdRleFrame(8192), params(), 'ZSTD')).toThrow(/bomb\.tif: a ZSTD block would decode to more than/);
    expect(() => inflateZstd(Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]), params(), 'ZSTD')).toThrow(/bomb\.tif: a ZSTD block cannot be decoded/);
  });

  it('with reuseOutput, decodes block after block into one buffer of the decoder', async () => {
    const decoder = createBlockDecoder(50000, params({ maxDecodedBytes: 3 * 131072 }));
    const a = await decoder.decodeBytes(zstdRleFrame(2), { reuseOutput: true });
    const b = await decoder.decodeBytes(zstdRleFrame(3), { reuseOutput: true });
    expect(a.length).toBe(2 * 131072);
    expect(b.length).toBe(3 * 131072);
    if (zstdBackend === 'native') expect(b.buffer).toBe(a.buffer);
    // Without it, every block gets its own buffer.
    const c = await decoder.decodeBytes(zstdRleFrame(1));
    expect(c.buffer).not.toBe(b.buffer);
  });
});

describe('DEFLATE', () => {
  it('refuses a block that inflates past the budget and a broken stream', async () => {
    expect(await decodeError(8, deflateSync(new Uint8Array(600_000)))).toBe('SCENE.CORRUPT_BLOCK');
    expect(await decodeError(8, Uint8Array.from([1, 2, 3, 4]))).toBe('SCENE.CORRUPT_BLOCK');
    const ok = await createBlockDecoder(8, params()).decode(deflateSync(new Uint8Array(512 * 512).fill(7)).buffer as ArrayBuffer);
    expect(ok.byteLength).toBe(512 * 512);
  });

  it('bounds geotiff.js\'s own readRasters too, through the registry', async () => {
    // A hand-made 512×512 single-tile TIFF with a 2 MiB-of-zeros DEFLATE tile.
    const tile = deflateSync(new Uint8Array(2 * 1024 * 1024));
    const entries: [number, number, number, number][] = [
      [256, 4, 1, 512], [257, 4, 1, 512], [258, 3, 1, 8], [259, 3, 1, 8], [262, 3, 1, 1],
      [277, 3, 1, 1], [322, 4, 1, 512], [323, 4, 1, 512], [324, 4, 1, 8], [325, 4, 1, tile.length],
    ];
    const ifdAt = 8 + tile.length + (tile.length % 2);
    const bytes = new Uint8Array(ifdAt + 2 + entries.length * 12 + 4);
    const view = new DataView(bytes.buffer);
    bytes.set([0x49, 0x49]);
    view.setUint16(2, 42, true);
    view.setUint32(4, ifdAt, true);
    bytes.set(tile, 8);
    view.setUint16(ifdAt, entries.length, true);
    entries.forEach(([tag, type, count, value], i) => {
      const at = ifdAt + 2 + i * 12;
      view.setUint16(at, tag, true);
      view.setUint16(at + 2, type, true);
      view.setUint32(at + 4, count, true);
      if (type === 3) view.setUint16(at + 8, value, true);
      else view.setUint32(at + 8, value, true);
    });
    const tiff = await fromArrayBuffer(bytes.buffer);
    const image = await tiff.getImage();
    await expect(image.readRasters()).rejects.toMatchObject({ code: 'SCENE.CORRUPT_BLOCK' });
    // The registry now hands out our decoder.
    const decoder = await getDecoder(8, { tileWidth: 4, tileHeight: 4, predictor: 1, bitsPerSample: [8], planarConfiguration: 1 });
    expect(decoder.constructor.name).toBe('DeflateDecoder');
  });
});

describe('jpegFrameSize', () => {
  it('reads the frame size from the start-of-frame marker', () => {
    const jpeg = Uint8Array.from([
      0xff, 0xd8, // SOI
      0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, // APP0, 2 bytes of payload
      0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x80, 0x01, 0x00, 0x01, 0x01, 0x11, 0x00, // SOF0 128 × 256, 1 component
    ]);
    expect(jpegFrameSize(jpeg)).toEqual({ width: 256, height: 128, components: 1 });
    expect(jpegFrameSize(Uint8Array.from([0x00, 0x01]))).toBeNull();
  });
});
