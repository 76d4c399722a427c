// The TIFF guard and the scene reader against hostile and broken files, all built in this test:
// IFD loops, a DEFLATE bomb, absurd sizes, truncation, non-TIFF input; plus hand-built valid
// files (big-endian, BigTIFF, predictor 2) read back exactly. Needs neither GDAL nor shared data,
// except the one test that cuts a real GeoTIFF in half.
import { constants, deflateRawSync, deflateSync, inflateSync } from 'node:zlib';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openScene, type Scene } from '../geodata/scene-reader.js';
import { guardTiff, type RangeReader } from '../geodata/tiff/guard.js';
import { rejection } from './helpers/scenes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = path.join(here, '.tmp', 'hostile');
const sharedData = path.resolve(here, '../../shared/data');
const sharedStrip = path.join(sharedData, 'geotiff-encoding-matrix/u16_deflate_strip.tif');
const sharedCog = path.join(sharedData, 'geotiff-encoding-matrix/u16_cog_deflate.tif');

// ---------------------------------------------------------------------------------------------
// A minimal TIFF writer: enough to build valid and deliberately broken files.

type TagValue = { type: 3 | 4 | 12 | 16; values: number[] } | { type: 2; text: string };

interface ImageSpec {
  width: number;
  height: number;
  samples?: number;
  bits?: number;
  sampleFormat?: number;
  compression?: number;
  predictor?: number;
  planar?: number;
  tile?: [number, number];
  rowsPerStrip?: number;
  /** Stored bytes of each block, in TIFF block order. */
  blocks: Uint8Array[];
  georef?: boolean;
  newSubfileType?: number;
  /** Extra or overriding tags (applied last). */
  extra?: Record<number, TagValue>;
}

interface FileSpec {
  littleEndian?: boolean;
  bigTiff?: boolean;
  images: ImageSpec[];
  /** Index of the IFD the last IFD's "next" pointer goes back to (a loop). */
  loopTo?: number;
  /** Overrides the number of entries written in the first IFD's count field. */
  entryCountOverride?: number;
}

const TYPE_SIZE: Record<number, number> = { 2: 1, 3: 2, 4: 4, 12: 8, 16: 8 };

function tagsFor(image: ImageSpec, blockOffsets: number[], bigTiff: boolean): Map<number, TagValue> {
  const samples = image.samples ?? 1;
  const bits = image.bits ?? 8;
  const tags = new Map<number, TagValue>();
  const short = (v: number[]): TagValue => ({ type: 3, values: v });
  const long = (v: number[]): TagValue => ({ type: 4, values: v });
  const offsetType = (v: number[]): TagValue => (bigTiff ? { type: 16, values: v } : long(v));
  if (image.newSubfileType !== undefined) tags.set(254, long([image.newSubfileType]));
  tags.set(256, long([image.width]));
  tags.set(257, long([image.height]));
  tags.set(258, short(Array.from({ length: samples }, () => bits)));
  tags.set(259, short([image.compression ?? 1]));
  tags.set(262, short([samples >= 3 ? 2 : 1]));
  tags.set(277, short([samples]));
  tags.set(284, short([image.planar ?? 1]));
  if (image.predictor) tags.set(317, short([image.predictor]));
  tags.set(339, short(Array.from({ length: samples }, () => image.sampleFormat ?? 1)));
  const counts = image.blocks.map((b) => b.length);
  if (image.tile) {
    tags.set(322, long([image.tile[0]]));
    tags.set(323, long([image.tile[1]]));
    tags.set(324, offsetType(blockOffsets));
    tags.set(325, long(counts));
  } else {
    tags.set(278, long([image.rowsPerStrip ?? image.height]));
    tags.set(273, offsetType(blockOffsets));
    tags.set(279, long(counts));
  }
  if (image.georef ?? true) {
    tags.set(33550, { type: 12, values: [0.001, 0.001, 0] });
    tags.set(33922, { type: 12, values: [0, 0, 0, 114, 25, 0] });
    tags.set(34735, short([1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326]));
  }
  for (const [tag, value] of Object.entries(image.extra ?? {})) tags.set(Number(tag), value);
  return tags;
}

function buildTiff(spec: FileSpec): Uint8Array {
  const le = spec.littleEndian ?? true;
  const big = spec.bigTiff ?? false;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const append = (bytes: Uint8Array): number => {
    const at = size;
    chunks.push(bytes);
    size += bytes.length;
    if (size % 2) {
      chunks.push(new Uint8Array(1));
      size += 1;
    }
    return at;
  };
  const header = new Uint8Array(big ? 16 : 8);
  append(header);
  const ifdOffsets: number[] = [];
  const nextFieldAt: number[] = [];
  const ifdBuffers: Uint8Array[] = [];
  spec.images.forEach((image, imageIndex) => {
    const blockOffsets = image.blocks.map((b) => append(b));
    const tags = [...tagsFor(image, blockOffsets, big).entries()].sort((a, b) => a[0] - b[0]);
    // Out-of-line values first, then the IFD.
    const inline = big ? 8 : 4;
    const encoded = tags.map(([tag, value]) => {
      const count = value.type === 2 ? value.text.length + 1 : value.values.length;
      const bytes = new Uint8Array(Math.max(count * (TYPE_SIZE[value.type] ?? 1), 1));
      const view = new DataView(bytes.buffer);
      if (value.type === 2) bytes.set(new TextEncoder().encode(value.text));
      else {
        value.values.forEach((v, i) => {
          if (value.type === 3) view.setUint16(i * 2, v, le);
          else if (value.type === 4) view.setUint32(i * 4, v, le);
          else if (value.type === 12) view.setFloat64(i * 8, v, le);
          else view.setBigUint64(i * 8, BigInt(v), le);
        });
      }
      const offset = bytes.length > inline ? append(bytes) : -1;
      return { tag, type: value.type, count, bytes, offset };
    });
    const entrySize = big ? 20 : 12;
    const countSize = big ? 8 : 2;
    const ifd = new Uint8Array(countSize + encoded.length * entrySize + (big ? 8 : 4));
    const view = new DataView(ifd.buffer);
    const entries = imageIndex === 0 && spec.entryCountOverride !== undefined ? spec.entryCountOverride : encoded.length;
    if (big) view.setBigUint64(0, BigInt(entries), le);
    else view.setUint16(0, entries, le);
    encoded.forEach((e, i) => {
      const at = countSize + i * entrySize;
      view.setUint16(at, e.tag, le);
      view.setUint16(at + 2, e.type, le);
      if (big) view.setBigUint64(at + 4, BigInt(e.count), le);
      else view.setUint32(at + 4, e.count, le);
      const field = at + (big ? 12 : 8);
      if (e.offset >= 0) {
        if (big) view.setBigUint64(field, BigInt(e.offset), le);
        else view.setUint32(field, e.offset, le);
      } else {
        ifd.set(e.bytes.subarray(0, inline), field);
      }
    });
    ifdOffsets.push(append(ifd));
    nextFieldAt.push(countSize + encoded.length * entrySize);
    ifdBuffers.push(ifd);
  });
  // Chain the IFDs.
  ifdBuffers.forEach((ifd, i) => {
    const view = new DataView(ifd.buffer);
    const target = i + 1 < ifdBuffers.length ? ifdOffsets[i + 1] : spec.loopTo !== undefined ? ifdOffsets[spec.loopTo] : 0;
    if (big) view.setBigUint64(nextFieldAt[i] ?? 0, BigInt(target ?? 0), le);
    else view.setUint32(nextFieldAt[i] ?? 0, target ?? 0, le);
  });
  const hv = new DataView(header.buffer);
  header[0] = header[1] = le ? 0x49 : 0x4d;
  hv.setUint16(2, big ? 43 : 42, le);
  if (big) {
    hv.setUint16(4, 8, le);
    hv.setBigUint64(8, BigInt(ifdOffsets[0] ?? 0), le);
  } else {
    hv.setUint32(4, ifdOffsets[0] ?? 0, le);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Pixels of a `width`×`height`×`samples` uint16 test pattern, pixel-interleaved. */
function pattern16(width: number, height: number, samples: number): Uint16Array {
  const out = new Uint16Array(width * height * samples);
  for (let i = 0; i < out.length; i++) out[i] = (i * 7919 + (i >> 3) * 31) % 65536;
  return out;
}

/** Encodes uint16 samples with horizontal differencing, in the given byte order. */
function encodePredictor16(values: Uint16Array, width: number, height: number, samples: number, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  const row = width * samples;
  for (let r = 0; r < height; r++) {
    for (let i = 0; i < row; i++) {
      const at = r * row + i;
      const previous = i >= samples ? (values[at - samples] ?? 0) : 0;
      view.setUint16(at * 2, ((values[at] ?? 0) - previous) & 0xffff, littleEndian);
    }
  }
  return out;
}

function rawBytes16(values: Uint16Array, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint16(i * 2, v, littleEndian));
  return out;
}

function write(name: string, bytes: Uint8Array | string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, bytes);
  return file;
}

function memoryReader(bytes: Uint8Array): RangeReader {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
  };
}


async function openAndRead(file: string, options: Parameters<typeof openScene>[1] = {}): Promise<void> {
  const scene = await openScene(file, options);
  try {
    await scene.readWindow({ col: 0, row: 0, width: Math.min(64, scene.info.grid.width), height: Math.min(64, scene.info.grid.height) });
  } finally {
    await scene.close();
  }
}

/**
 * A zlib stream that inflates to `mebibytes` MiB of zeros, built without ever holding them: one
 * MiB of zeros is deflated once and flushed to a byte boundary (Z_FULL_FLUSH, so nothing refers
 * back past it), that piece is repeated, then an empty final block and the Adler-32 close it.
 */
function zeroBomb(mebibytes: number): Buffer {
  const piece = deflateRawSync(Buffer.alloc(1024 * 1024), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const last = deflateRawSync(Buffer.alloc(0));
  const total = mebibytes * 1024 * 1024;
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE((((total % 65521) << 16) >>> 0) + 1);
  return Buffer.concat([Buffer.from([0x78, 0xda]), ...Array.from({ length: mebibytes }, () => piece), last, adler]);
}

/** A small valid uint8 file: 40 × 30, one DEFLATE strip of 10 rows each. */
function validStripFile(): Uint8Array {
  const pixels = new Uint8Array(40 * 30).map((_, i) => (i * 13) % 251);
  const blocks = [0, 1, 2].map((s) => deflateSync(pixels.subarray(s * 400, (s + 1) * 400)));
  return buildTiff({ images: [{ width: 40, height: 30, compression: 8, rowsPerStrip: 10, blocks }] });
}

beforeAll(() => {
  mkdirSync(tmp, { recursive: true });
});

describe('guardTiff on hand-built files', () => {
  it('summarizes a valid file: byte order, IFD count, block sizes', async () => {
    const summary = await guardTiff(memoryReader(validStripFile()), 'strip.tif');
    expect(summary).toMatchObject({ littleEndian: true, bigTiff: false, ifdCount: 1 });
    expect(summary.ifds[0]).toMatchObject({ width: 40, height: 30, blockWidth: 40, blockHeight: 10, maxBlockBytes: 400, compression: 8 });
  });

  it('refuses an IFD chain that loops back, at once', async () => {
    const bytes = buildTiff({ images: [{ width: 4, height: 4, blocks: [new Uint8Array(16)] }], loopTo: 0 });
    const started = Date.now();
    const error = await rejection(guardTiff(memoryReader(bytes), 'loop.tif'));
    expect(error.code).toBe('SCENE.CORRUPT');
    expect(error.message).toMatch(/loop\.tif.*loops back/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses a loop through a second IFD and more IFDs than the limit', async () => {
    const image: ImageSpec = { width: 4, height: 4, blocks: [new Uint8Array(16)] };
    const loop = buildTiff({ images: [image, { ...image, newSubfileType: 1 }], loopTo: 0 });
    expect((await rejection(guardTiff(memoryReader(loop), 'loop2.tif'))).message).toContain('loops back');
    const many = buildTiff({ images: Array.from({ length: 70 }, () => image) });
    const error = await rejection(guardTiff(memoryReader(many), 'many.tif'));
    expect(error.code).toBe('SCENE.CORRUPT');
    expect(error.message).toContain('more than 64 IFDs');
  });

  it.each([
    ['a width of 4 billion', { width: 4_000_000_000, height: 4, blocks: [new Uint8Array(16)] }, /4000000000 × 4 pixels/],
    ['a zero height', { width: 4, height: 0, blocks: [new Uint8Array(16)] }, /4 × 0 pixels/],
    ['1000 samples per pixel', { width: 4, height: 4, samples: 1000, blocks: [new Uint8Array(16)] }, /1000 samples/],
    ['100000-pixel tiles', { width: 4, height: 4, tile: [100_000, 100_000] as [number, number], blocks: [new Uint8Array(16)] }, /100000 × 100000 tiles/],
    ['a strip of 2 GB', { width: 1_000_000, height: 3000, rowsPerStrip: 3000, blocks: [new Uint8Array(16)] }, /bytes decoded \(limit/],
    ['too few strip offsets', { width: 4, height: 4, rowsPerStrip: 1, blocks: [new Uint8Array(4)] }, /1 StripOffsets and 1 StripByteCounts for 4 blocks/],
    ['a stored block larger than its pixels allow', { width: 4, height: 4, blocks: [new Uint8Array(16)], extra: { 279: { type: 4, values: [2_000_000] } } }, /stored bytes/],
    ['an offset table of 2^30 entries', { width: 4, height: 4, blocks: [new Uint8Array(16)], extra: { 273: { type: 4, values: [8] }, 279: { type: 4, values: [16] } } }, null],
  ] as [string, ImageSpec, RegExp | null][])('refuses %s', async (_what, image, message) => {
    const bytes = buildTiff({ images: [image] });
    if (message === null) {
      // Patch the StripOffsets count to 2^30 in place.
      const view = new DataView(bytes.buffer);
      const ifd = view.getUint32(4, true);
      const n = view.getUint16(ifd, true);
      for (let i = 0; i < n; i++) {
        if (view.getUint16(ifd + 2 + i * 12, true) === 273) view.setUint32(ifd + 2 + i * 12 + 4, 2 ** 30, true);
      }
    }
    const error = await rejection(guardTiff(memoryReader(bytes), 'absurd.tif'));
    expect(['SCENE.CORRUPT', 'SCENE.TRUNCATED']).toContain(error.code);
    expect(error.message).toContain('absurd.tif');
    if (message) expect(error.message).toMatch(message);
  });

  it('refuses an IFD declaring 60000 entries', async () => {
    const bytes = buildTiff({ images: [{ width: 4, height: 4, blocks: [new Uint8Array(16)] }], entryCountOverride: 60000 });
    const error = await rejection(guardTiff(memoryReader(bytes), 'entries.tif'));
    expect(error.code).toBe('SCENE.CORRUPT');
    expect(error.message).toContain('60000 entries');
  });

  it('refuses blocks and tags past the end of the file as truncated', async () => {
    const bytes = validStripFile();
    const ifdOffset = new DataView(bytes.buffer).getUint32(4, true);
    // Cut inside the IFD.
    expect((await rejection(guardTiff(memoryReader(bytes.subarray(0, ifdOffset + 20)), 'cut.tif'))).code).toBe('SCENE.TRUNCATED');
    // Keep the IFD but claim a block beyond the end.
    const blocks = [new Uint8Array(400), new Uint8Array(400), new Uint8Array(400)];
    const far = buildTiff({ images: [{ width: 40, height: 30, rowsPerStrip: 10, blocks, extra: { 273: { type: 4, values: [8, 408, 1_000_000] } } }] });
    const error = await rejection(guardTiff(memoryReader(far), 'far.tif'));
    expect(error.code).toBe('SCENE.TRUNCATED');
    expect(error.message).toMatch(/far\.tif is truncated: IFD #0 block 2/);
  });

  it('refuses unsupported compressions naming the file and the compression', async () => {
    const lzma = buildTiff({ images: [{ width: 4, height: 4, compression: 34925, blocks: [new Uint8Array(16)] }] });
    const error = await rejection(guardTiff(memoryReader(lzma), 'lzma.tif'));
    expect(error.code).toBe('SCENE.UNSUPPORTED_COMPRESSION');
    expect(error.message).toContain('lzma.tif');
    expect(error.message).toContain('LZMA');
    const webp = buildTiff({ images: [{ width: 4, height: 4, compression: 50001, blocks: [new Uint8Array(16)] }] });
    expect((await rejection(guardTiff(memoryReader(webp), 'webp.tif'))).message).toContain('WebP');
  });
});

describe('openScene on hostile files', () => {
  it('builds a zlib bomb that really inflates to zeros', () => {
    const small = inflateSync(zeroBomb(3));
    expect(small.length).toBe(3 * 1024 * 1024);
    expect(small.every((b) => b === 0)).toBe(true);
  });

  it('refuses an IFD loop within seconds, without freezing the process', async () => {
    const file = write('loop.tif', buildTiff({ images: [{ width: 4, height: 4, blocks: [new Uint8Array(16)] }], loopTo: 0 }));
    const started = Date.now();
    const error = await rejection(openScene(file));
    expect(error.code).toBe('SCENE.CORRUPT');
    expect(error.file).toBe(file);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses a 512×512 tile whose DEFLATE stream inflates to 1 GiB, in little memory', async () => {
    const bomb = zeroBomb(1024);
    expect(bomb.length).toBeLessThan(8 * 1024 * 1024);
    const file = write('bomb.tif', buildTiff({ images: [{ width: 512, height: 512, tile: [512, 512], compression: 8, blocks: [bomb] }] }));

    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const started = Date.now();
    try {
      const error = await rejection(openAndRead(file));
      expect(error.code).toBe('SCENE.CORRUPT_BLOCK');
      expect(error.message).toContain(file);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(peak - before).toBeLessThan(400 * 1024 * 1024);
  });

  it('refuses absurd sizes, non-TIFF input, empty and missing files with clear errors', async () => {
    const absurd = write('absurd.tif', buildTiff({ images: [{ width: 4_000_000_000, height: 4, blocks: [new Uint8Array(16)] }] }));
    expect((await rejection(openScene(absurd))).code).toBe('SCENE.CORRUPT');

    const png = write('image.tif', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
    const notTiff = await rejection(openScene(png));
    expect(notTiff.code).toBe('SCENE.NOT_TIFF');
    expect(notTiff.message).toContain(png);

    const text = write('notes.tif', 'this is not a GeoTIFF\n');
    expect((await rejection(openScene(text))).code).toBe('SCENE.NOT_TIFF');

    const empty = write('empty.tif', new Uint8Array(0));
    const emptyError = await rejection(openScene(empty));
    expect(emptyError.code).toBe('SCENE.NOT_TIFF');
    expect(emptyError.message).toContain('empty');

    const missing = path.join(tmp, 'does-not-exist.tif');
    const notFound = await rejection(openScene(missing));
    expect(notFound.code).toBe('SCENE.NOT_FOUND');
    expect(notFound.kind).toBe('input');
    expect(notFound.message).toContain(missing);
  });

  it('refuses a built file cut in half as truncated', async () => {
    const bytes = validStripFile();
    const file = write('half.tif', bytes.subarray(0, bytes.length >> 1));
    const error = await rejection(openScene(file));
    expect(error.code).toBe('SCENE.TRUNCATED');
    expect(error.message).toContain(file);
  });

  it.skipIf(!existsSync(sharedStrip) || !existsSync(sharedCog))('refuses real GeoTIFFs cut in half as truncated', async () => {
    for (const source of [sharedStrip, sharedCog]) {
      const bytes = readFileSync(source);
      const file = write(`half-${path.basename(source)}`, bytes.subarray(0, bytes.length >> 1));
      const error = await rejection(openAndRead(file));
      expect(error.code).toBe('SCENE.TRUNCATED');
      expect(error.message).toContain(file);
    }
  });

  it('stops a call that exceeds its time limit, names the file, and never blocks the caller', async () => {
    const file = write('slow.tif', validStripFile());
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    // An unusual memory limit gets a fresh worker, whose start alone takes longer than 200 ms
    // from TypeScript sources.
    const started = Date.now();
    const error = await rejection(openScene(file, { timeoutMs: 200, memoryLimitMb: 333 }));
    clearInterval(ticker);
    expect(error.code).toBe('SCENE.DECODE_TIMEOUT');
    expect(error.kind).toBe('input');
    expect(error.message).toContain(file);
    expect(Date.now() - started).toBeLessThan(2000);
    // The main thread kept running meanwhile.
    expect(ticks).toBeGreaterThan(5);
    // The next open gets a fresh worker and works.
    await openAndRead(file, { memoryLimitMb: 333 });
  });

  it('rejects bad options with a uniform message', async () => {
    const error = await rejection(openScene('x.tif', { timeoutMs: -1 }));
    expect(error.message).toBe('Expected a positive number for timeoutMs but received -1');
  });
});

describe('openScene on hand-built valid files', () => {
  const width = 23;
  const height = 17;
  const samples = 2;
  const values = pattern16(width, height, samples);
  let scenes: Scene[] = [];

  afterAll(async () => {
    await Promise.all(scenes.map((s) => s.close()));
    scenes = [];
  });

  async function expectPattern(file: string): Promise<void> {
    const scene = await openScene(file, { bandNames: ['red', 'nir'] });
    try {
      await checkPattern(scene);
    } finally {
      await scene.close();
    }
  }

  async function checkPattern(scene: Scene): Promise<void> {
    expect(scene.info.bands).toEqual(['red', 'nir']);
    expect(scene.info.sampleType).toBe('uint16');
    const pixels = await scene.readWindow({ col: 0, row: 0, width, height });
    for (let s = 0; s < samples; s++) {
      const band = pixels.bands[s === 0 ? 'red' : 'nir'];
      expect(band).toBeDefined();
      const expected = Float32Array.from({ length: width * height }, (_, i) => values[i * samples + s] ?? 0);
      expect(Array.from(band ?? [])).toEqual(Array.from(expected));
    }
  }

  it.each([
    ['little-endian classic', true, false],
    ['big-endian classic', false, false],
    ['little-endian BigTIFF', true, true],
    ['big-endian BigTIFF', false, true],
  ])('reads %s DEFLATE + predictor 2 exactly (geotiff.js 3.0.5 gets big-endian wrong)', async (name, littleEndian, bigTiff) => {
    const stored = deflateSync(encodePredictor16(values, width, height, samples, littleEndian));
    const file = write(`${name.replace(/\W+/g, '-')}.tif`, buildTiff({
      littleEndian, bigTiff,
      images: [{ width, height, samples, bits: 16, compression: 8, predictor: 2, blocks: [stored] }],
    }));
    await expectPattern(file);
  });

  it('reads big-endian uncompressed tiles exactly, with partial edge tiles', async () => {
    const tile = 16;
    const blocks: Uint8Array[] = [];
    for (let ty = 0; ty < Math.ceil(height / tile); ty++) {
      for (let tx = 0; tx < Math.ceil(width / tile); tx++) {
        const block = new Uint16Array(tile * tile * samples);
        for (let r = 0; r < tile; r++) {
          for (let c = 0; c < tile; c++) {
            const row = ty * tile + r;
            const col = tx * tile + c;
            if (row >= height || col >= width) continue;
            for (let s = 0; s < samples; s++) block[(r * tile + c) * samples + s] = values[(row * width + col) * samples + s] ?? 0;
          }
        }
        blocks.push(rawBytes16(block, false));
      }
    }
    const file = write('be-tiles.tif', buildTiff({ littleEndian: false, images: [{ width, height, samples, bits: 16, tile: [tile, tile], blocks }] }));
    await expectPattern(file);
  });

  it('marks pixels outside the image invalid and refuses unknown bands and wrong band counts', async () => {
    const file = write('strip.tif', validStripFile());
    const scene = await openScene(file);
    scenes.push(scene);
    expect(scene.info.bands).toEqual(['1']);
    expect(scene.info.grid.transform).toEqual([114, 0.001, 0, 25, 0, -0.001]);
    expect(scene.info.grid.crs.code).toBe('EPSG:4326');
    const pixels = await scene.readWindow({ col: 35, row: -2, width: 10, height: 4 });
    const band = pixels.bands['1'] ?? new Float32Array();
    // Row -2 and -1 are outside, as are columns 40..44.
    expect(Array.from(pixels.valid)).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
      1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    ]);
    expect(band[20]).toBe((35 * 13) % 251);
    expect(band[31]).toBe(((40 + 36) * 13) % 251);

    const unknown = await rejection(scene.readWindow({ col: 0, row: 0, width: 2, height: 2 }, ['B04']));
    expect(unknown.code).toBe('SCENE.UNKNOWN_BAND');
    expect(unknown.message).toContain('B04');
    expect(unknown.message).toContain(file);
    expect(unknown.message).toContain('its bands are 1');

    const badWindow = await rejection(scene.readWindow({ col: 0.5, row: 0, width: 2, height: 2 }));
    expect(badWindow.code).toBe('SCENE.INVALID_WINDOW');

    const count = await rejection(openScene(file, { bandNames: ['B02', 'B03'] }));
    expect(count.code).toBe('SCENE.BAND_COUNT');
    expect(count.message).toContain(file);
    expect(count.message).toContain('1 band(s)');
    expect(count.message).toContain('B02,B03');
  });

  it('refuses a file without georeferencing', async () => {
    const file = write('plain.tif', buildTiff({ images: [{ width: 4, height: 4, georef: false, blocks: [new Uint8Array(16)] }] }));
    const error = await rejection(openScene(file));
    expect(error.code).toBe('SCENE.NO_GEOREFERENCE');
    expect(error.message).toContain(file);
  });
});
