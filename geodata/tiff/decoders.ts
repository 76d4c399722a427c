/**
 * Block decoders that bound what one TIFF block (tile or strip) may inflate to, registered with
 * geotiff.js's decoder registry so that every decode in the process goes through them.
 *
 * A 512×512 tile whose DEFLATE stream inflates to 1 GB is a few kilobytes on disk; geotiff.js's
 * decoders inflate it whole. Here each block gets a budget, the decoded size the file directory
 * implies plus a little slack, and a block that would go past it is refused (SCENE.CORRUPT_BLOCK)
 * before the memory is spent:
 * - DEFLATE: Node's zlib with `maxOutputLength` (native, and much faster than pako);
 * - LZW and PackBits: our own decoders writing into a buffer of the budget's size;
 * - ZSTD: zstddec's streaming decoder (the WebAssembly build geotiff.js itself uses), stopped at
 *   the budget;
 * - JPEG and LERC: geotiff.js's decoders, after the frame / blob headers were checked to declare
 *   no more pixels than the block holds (and LERC's extra DEFLATE/ZSTD layer inflated bounded).
 *
 * Our own reader also asks for byte order: then `decode()` returns the block in little-endian
 * order with the predictor undone in the file's byte order. That fixes geotiff.js 3.0.5's
 * horizontal predictor on big-endian files, which it applies in host order.
 */
import os from 'node:os';
import { inflateSync } from 'node:zlib';
import { BaseDecoder, addDecoder, getDecoder, type ImageFileDirectory } from 'geotiff';
import { ZSTDDecoder } from 'zstddec/stream';
import { OrewatchError, inputError } from '../../errors/index.js';

if (os.endianness() !== 'LE') {
  // Typed-array views below assume a little-endian host (every platform Node ships for today).
  throw new OrewatchError('GEODATA.HOST_ENDIANNESS', 'orewatch needs a little-endian host to decode TIFF blocks', { kind: 'config' });
}

/** geotiff.js's decoder parameters. */
export type GeotiffDecoderParameters = ConstructorParameters<typeof BaseDecoder>[0];

/** Parameters of our decoders: geotiff.js's plus the budget and what our reader knows. */
export interface BlockDecoderParameters extends GeotiffDecoderParameters {
  /** Most bytes one decoded block may have; more is refused as corrupt. */
  maxDecodedBytes: number;
  /** File named in errors. */
  file?: string;
  /**
   * Byte order of the file. When set (our reader), `decode()` returns the block little-endian
   * with the predictor undone correctly; when absent (geotiff.js's own readRasters), `decode()`
   * behaves as geotiff.js's BaseDecoder (file byte order, geotiff.js's predictor).
   */
  littleEndian?: boolean;
  /** 1 unsigned, 2 signed, 3 float; needed for predictor 3. */
  sampleFormat?: number;
  JPEGTables?: Uint8Array;
  LercParameters?: ArrayLike<number>;
}

/** Extra bytes a block may decode to past its nominal size (some encoders pad a little). */
export const BLOCK_SLACK_BYTES = 4096;

function blockTooLarge(params: BlockDecoderParameters, what: string): OrewatchError {
  const file = params.file ?? 'the scene';
  return inputError('SCENE.CORRUPT_BLOCK', `${file}: a ${what} block would decode to more than ${params.maxDecodedBytes} bytes, the most its ${params.tileWidth} × ${params.tileHeight} block can hold; the file is corrupt or hostile`, params.file);
}

function corruptBlock(params: BlockDecoderParameters, what: string, cause?: unknown): OrewatchError {
  const file = params.file ?? 'the scene';
  const detail = cause instanceof Error ? ` (${cause.message})` : cause === undefined ? '' : ` (${String(cause)})`;
  return inputError('SCENE.CORRUPT_BLOCK', `${file}: a ${what} block cannot be decoded${detail}`, params.file, cause);
}

function asBytes(buffer: ArrayBufferLike | Uint8Array): Uint8Array {
  return buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
}

/** A fresh ArrayBuffer holding exactly `bytes` (geotiff.js expects whole buffers). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  // `new Uint8Array(view)` copies; Buffer#slice would return a view of Node's shared pool.
  return new Uint8Array(bytes).buffer;
}

function bitsOf(params: GeotiffDecoderParameters): number[] {
  const bits = params.bitsPerSample;
  return typeof bits === 'number' ? [bits] : Array.from(bits);
}

/**
 * Common part of our decoders: the bounded `decompress` is per compression; `decode` adds the
 * byte-order and predictor handling for our reader.
 */
abstract class BoundedDecoder extends BaseDecoder {
  declare parameters: BlockDecoderParameters;

  constructor(parameters: GeotiffDecoderParameters) {
    super(parameters);
    const params = parameters as BlockDecoderParameters;
    if (!(params.maxDecodedBytes > 0)) {
      // Called by geotiff.js without our parameter function: derive the budget here.
      params.maxDecodedBytes = nominalBlockBytes(params) + BLOCK_SLACK_BYTES;
    }
  }

  /** Decompressed bytes of one block, in the file's byte order, at most `maxDecodedBytes`. */
  protected abstract decompress(input: Uint8Array): Uint8Array | Promise<Uint8Array>;

  /** Whether `decompress` already yields host-order samples with no predictor (LERC). */
  protected readonly nativeOutput: boolean = false;

  override async decodeBlock(buffer: ArrayBufferLike): Promise<ArrayBufferLike> {
    return ownBuffer(await this.decompress(asBytes(buffer)));
  }

  override async decode(buffer: ArrayBufferLike): Promise<ArrayBufferLike> {
    const params = this.parameters;
    if (params.littleEndian === undefined || this.nativeOutput) return super.decode(buffer);
    const bytes = await this.decompress(asBytes(buffer));
    return ownBuffer(finishBlock(bytes, params));
  }
}

/** Bytes of one full decoded block per geotiff.js-style parameters. */
function nominalBlockBytes(params: GeotiffDecoderParameters): number {
  const bits = bitsOf(params);
  const samples = params.planarConfiguration === 2 ? 1 : Math.max(bits.length, params.samplesPerPixel ?? 1);
  const bitsPerSample = bits[0] ?? 8;
  return Math.ceil((params.tileWidth * samples * bitsPerSample) / 8) * params.tileHeight;
}

class RawDecoder extends BoundedDecoder {
  protected decompress(input: Uint8Array): Uint8Array {
    if (input.length > this.parameters.maxDecodedBytes) throw blockTooLarge(this.parameters, 'uncompressed');
    // A copy: the predictor and byte swaps work in place, and the input may be a cached range.
    return new Uint8Array(input);
  }
}

class DeflateDecoder extends BoundedDecoder {
  protected decompress(input: Uint8Array): Uint8Array {
    try {
      // Node's native inflate stops at maxOutputLength instead of growing without end.
      return inflateSync(input, { maxOutputLength: this.parameters.maxDecodedBytes });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw blockTooLarge(this.parameters, 'DEFLATE');
      throw corruptBlock(this.parameters, 'DEFLATE', error);
    }
  }
}

class PackbitsDecoder extends BoundedDecoder {
  protected decompress(input: Uint8Array): Uint8Array {
    return unpackBits(input, this.parameters.maxDecodedBytes, () => blockTooLarge(this.parameters, 'PackBits'));
  }
}

class LzwDecoder extends BoundedDecoder {
  protected decompress(input: Uint8Array): Uint8Array {
    return decodeLzw(
      input,
      this.parameters.maxDecodedBytes,
      () => blockTooLarge(this.parameters, 'LZW'),
      (why) => corruptBlock(this.parameters, 'LZW', new Error(why)),
    );
  }
}

const zstd = new ZSTDDecoder();

class ZstdDecoder extends BoundedDecoder {
  protected decompress(input: Uint8Array): Uint8Array {
    return inflateZstd(input, this.parameters, 'ZSTD');
  }
}

function inflateZstd(input: Uint8Array, params: BlockDecoderParameters, what: string): Uint8Array {
  const limit = params.maxDecodedBytes;
  const out = new Uint8Array(limit);
  let filled = 0;
  // GDAL/libtiff write ZSTD frames without a content size, so decode as a stream and stop at the
  // budget (the decoder's few hundred kilobytes of WebAssembly state leak when stopped early).
  const stream = zstd.decodeStreaming([input]);
  try {
    for (const chunk of stream) {
      if (filled + chunk.length > limit) throw blockTooLarge(params, what);
      out.set(chunk, filled);
      filled += chunk.length;
    }
  } catch (error) {
    if (error instanceof OrewatchError) throw error;
    throw corruptBlock(params, what, error);
  }
  return out.subarray(0, filled);
}

/** The class behind one of geotiff.js's own decoders, captured before ours replace it. */
type DecoderClass = new (parameters: GeotiffDecoderParameters) => BaseDecoder;

let originalJpeg: DecoderClass | null = null;
let originalLerc: DecoderClass | null = null;

class JpegDecoder extends BoundedDecoder {
  private readonly inner: BaseDecoder;

  constructor(parameters: GeotiffDecoderParameters) {
    super(parameters);
    if (!originalJpeg) throw new Error('registerOrewatchDecoders() must run before JPEG blocks are decoded');
    this.inner = new originalJpeg(parameters);
  }

  protected async decompress(input: Uint8Array): Promise<Uint8Array> {
    const params = this.parameters;
    const frame = jpegFrameSize(input) ?? (params.JPEGTables ? jpegFrameSize(params.JPEGTables) : null);
    if (!frame) throw corruptBlock(params, 'JPEG', new Error('no start-of-frame marker'));
    const samples = params.planarConfiguration === 2 ? 1 : (params.samplesPerPixel ?? bitsOf(params).length);
    // Frames are padded to whole MCUs (at most 16 pixels) but never larger than that.
    if (frame.width > params.tileWidth + 16 || frame.height > params.tileHeight + 16 || frame.components > Math.max(samples, 4)) {
      throw blockTooLarge(params, 'JPEG');
    }
    try {
      return asBytes(await this.inner.decodeBlock(ownBuffer(input)));
    } catch (error) {
      throw corruptBlock(params, 'JPEG', error);
    }
  }
}

class LercDecoder extends BoundedDecoder {
  protected override readonly nativeOutput = true;
  private readonly inner: BaseDecoder;
  private readonly addCompression: number;

  constructor(parameters: GeotiffDecoderParameters) {
    super(parameters);
    if (!originalLerc) throw new Error('registerOrewatchDecoders() must run before LERC blocks are decoded');
    const params = this.parameters;
    const lercParameters = params.LercParameters ? Array.from(params.LercParameters) : [];
    this.addCompression = lercParameters[1] ?? 0;
    // The inner decoder sees the plain LERC blob: we strip the extra layer ourselves, bounded.
    this.inner = new originalLerc({ ...params, LercParameters: [lercParameters[0] ?? 0, 0] } as BlockDecoderParameters);
  }

  protected async decompress(input: Uint8Array): Promise<Uint8Array> {
    const params = this.parameters;
    // A LERC blob may be larger than the pixels it holds (lossless noise), hence the margin.
    const blobBudget = { ...params, maxDecodedBytes: params.maxDecodedBytes * 2 + 65536 };
    let blob = input;
    if (this.addCompression === 1) {
      try {
        blob = inflateSync(input, { maxOutputLength: blobBudget.maxDecodedBytes });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw blockTooLarge(params, 'LERC+DEFLATE');
        throw corruptBlock(params, 'LERC+DEFLATE', error);
      }
    } else if (this.addCompression === 2) {
      blob = inflateZstd(input, blobBudget, 'LERC+ZSTD');
    } else if (this.addCompression !== 0) {
      throw corruptBlock(params, 'LERC', new Error(`unknown additional compression ${this.addCompression}`));
    }
    checkLercBlobs(blob, params);
    let decoded: Uint8Array;
    try {
      decoded = asBytes(await this.inner.decodeBlock(ownBuffer(blob)));
    } catch (error) {
      throw corruptBlock(params, 'LERC', error);
    }
    if (decoded.length > params.maxDecodedBytes * 2) throw blockTooLarge(params, 'LERC');
    return decoded;
  }
}

/**
 * Checks every Lerc2 blob header in `blob` declares no more rows, columns and depth than the block
 * holds, before the LERC decoder allocates for them. Header layout: "Lerc2 ", version (int32),
 * checksum (uint32, version ≥ 3), rows, columns, depth (version ≥ 4), valid pixels, micro-block
 * size, blob size (int32 each).
 */
function checkLercBlobs(blob: Uint8Array, params: BlockDecoderParameters): void {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const magic = 'Lerc2 ';
  let at = 0;
  let blobs = 0;
  while (at + 6 <= blob.length) {
    const tag = String.fromCharCode(...blob.subarray(at, at + 6));
    if (tag !== magic) {
      if (blobs === 0) throw corruptBlock(params, 'LERC', new Error('not a Lerc2 blob (Lerc1 is not supported)'));
      break; // trailing bytes after the last blob
    }
    if (at + 40 > blob.length) throw corruptBlock(params, 'LERC', new Error('truncated header'));
    const version = view.getInt32(at + 6, true);
    let p = at + 10 + (version >= 3 ? 4 : 0);
    const rows = view.getInt32(p, true);
    const cols = view.getInt32(p + 4, true);
    p += 8;
    const depth = version >= 4 ? view.getInt32(p, true) : 1;
    if (version >= 4) p += 4;
    const blobSize = view.getInt32(p + 8, true);
    const samples = params.planarConfiguration === 2 ? 1 : (params.samplesPerPixel ?? bitsOf(params).length);
    if (rows <= 0 || cols <= 0 || depth <= 0 || rows > params.tileHeight || cols > params.tileWidth || depth > samples) {
      throw blockTooLarge(params, 'LERC');
    }
    if (!(blobSize > 0) || at + blobSize > blob.length) break;
    at += blobSize;
    blobs++;
    if (blobs > 256) throw corruptBlock(params, 'LERC', new Error('too many blobs'));
  }
}

/** Frame size declared by a JPEG stream's start-of-frame marker, or null when none is found. */
export function jpegFrameSize(bytes: Uint8Array): { width: number; height: number; components: number } | null {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1] ?? 0;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // end of image / start of scan first
    const length = ((bytes[at + 2] ?? 0) << 8) | (bytes[at + 3] ?? 0);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (at + 10 > bytes.length) return null;
      const height = ((bytes[at + 5] ?? 0) << 8) | (bytes[at + 6] ?? 0);
      const width = ((bytes[at + 7] ?? 0) << 8) | (bytes[at + 8] ?? 0);
      return { width, height, components: bytes[at + 9] ?? 0 };
    }
    at += 2 + length;
  }
  return null;
}

/**
 * PackBits (TIFF compression 32773) into at most `limit` bytes.
 * @returns the decoded bytes; calls `tooLarge` (which throws) when the output would exceed `limit`.
 */
export function unpackBits(input: Uint8Array, limit: number, tooLarge: () => Error): Uint8Array {
  const out = new Uint8Array(limit);
  let pos = 0;
  let i = 0;
  while (i < input.length) {
    const header = (input[i++] ?? 0) << 24 >> 24;
    if (header >= 0) {
      const count = header + 1;
      if (pos + count > limit) throw tooLarge();
      const end = Math.min(input.length, i + count);
      out.set(input.subarray(i, end), pos);
      pos += end - i;
      i = end;
    } else if (header !== -128) {
      const count = 1 - header;
      if (pos + count > limit) throw tooLarge();
      if (i >= input.length) break;
      out.fill(input[i++] ?? 0, pos, pos + count);
      pos += count;
    }
  }
  return out.subarray(0, pos);
}

/**
 * TIFF LZW (MSB-first codes of 9–12 bits, "early change") into at most `limit` bytes.
 * Every dictionary string is a run already present in the output, so strings are copied with
 * `copyWithin` from where they were first written instead of being walked code by code.
 */
export function decodeLzw(input: Uint8Array, limit: number, tooLarge: () => Error, corrupt: (why: string) => Error): Uint8Array {
  const CLEAR = 256;
  const EOI = 257;
  const out = new Uint8Array(limit);
  const entryStart = new Int32Array(4096);
  const entryLength = new Int32Array(4096);
  let pos = 0;
  let bitPos = 0;
  const totalBits = input.length * 8;
  let width = 9;
  let next = 258;
  let previous = -1;
  let previousStart = 0;
  let previousLength = 0;
  while (bitPos + width <= totalBits) {
    // Read `width` bits MSB-first.
    const byteIndex = bitPos >>> 3;
    const word = ((input[byteIndex] ?? 0) << 16) | ((input[byteIndex + 1] ?? 0) << 8) | (input[byteIndex + 2] ?? 0);
    const code = (word >>> (24 - (bitPos & 7) - width)) & ((1 << width) - 1);
    bitPos += width;
    if (code === EOI) break;
    if (code === CLEAR) {
      width = 9;
      next = 258;
      previous = -1;
      continue;
    }
    let start: number;
    let length: number;
    if (code < 256) {
      if (pos + 1 > limit) throw tooLarge();
      out[pos] = code;
      start = pos;
      length = 1;
    } else if (code < next) {
      start = entryStart[code] ?? 0;
      length = entryLength[code] ?? 0;
      if (pos + length > limit) throw tooLarge();
      out.copyWithin(pos, start, start + length);
      start = pos;
    } else if (code === next && previous >= 0) {
      // The KwKwK case: previous string plus its own first byte.
      length = previousLength + 1;
      if (pos + length > limit) throw tooLarge();
      out.copyWithin(pos, previousStart, previousStart + previousLength);
      out[pos + previousLength] = out[previousStart] ?? 0;
      start = pos;
    } else {
      throw corrupt(`invalid code ${code} (next free code ${next})`);
    }
    if (previous >= 0 && next < 4096) {
      // New entry: previous string + first byte of this one, which sits right after it.
      entryStart[next] = previousStart;
      entryLength[next] = previousLength + 1;
      next++;
    }
    pos += length;
    previous = code;
    previousStart = start;
    previousLength = length;
    if (next + 1 >= 1 << width && width < 12) width++;
  }
  return out.subarray(0, pos);
}

/** Swaps each `size`-byte sample of `bytes` in place (big-endian ↔ little-endian). */
function swapBytes(bytes: Uint8Array, size: number): void {
  const n = bytes.length - (bytes.length % size);
  for (let i = 0; i < n; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a] ?? 0;
      bytes[a] = bytes[b] ?? 0;
      bytes[b] = t;
    }
  }
}

/**
 * Brings a decompressed block to little-endian order with the predictor undone.
 * Horizontal differencing (predictor 2) works on whole samples, so it must run after the swap to
 * host order; the floating-point predictor (3) stores byte planes most significant first
 * whatever the file's byte order, and reassembling them yields host order directly.
 */
export function finishBlock(decoded: Uint8Array, params: BlockDecoderParameters): Uint8Array {
  const bits = bitsOf(params)[0] ?? 8;
  const bytesPerSample = bits / 8;
  const predictor = params.predictor || 1;
  if (bits % 8 !== 0) return decoded; // bit-packed samples are a byte stream: no order, no predictor
  const samples = params.planarConfiguration === 2 ? 1 : Math.max(bitsOf(params).length, params.samplesPerPixel ?? 1);
  const rowSamples = params.tileWidth * samples;
  const rowBytes = rowSamples * bytesPerSample;
  const rows = Math.min(params.tileHeight, Math.floor(decoded.length / rowBytes));
  // Own, aligned copy when we are about to write typed views into it.
  let bytes = decoded;
  const needsWrite = (params.littleEndian === false && bytesPerSample > 1 && predictor !== 3) || predictor !== 1;
  if (needsWrite && (bytes.byteOffset % 8 !== 0)) bytes = new Uint8Array(bytes);
  if (params.littleEndian === false && bytesPerSample > 1 && predictor !== 3) swapBytes(bytes, bytesPerSample);
  if (predictor === 2) {
    undoHorizontalPredictor(bytes, rows, rowSamples, samples, bytesPerSample);
  } else if (predictor === 3) {
    undoFloatingPointPredictor(bytes, rows, rowSamples, samples, bytesPerSample);
  }
  return bytes;
}

function undoHorizontalPredictor(bytes: Uint8Array, rows: number, rowSamples: number, stride: number, bytesPerSample: number): void {
  const count = rows * rowSamples;
  if (bytesPerSample === 1) {
    accumulate(bytes.subarray(0, count), rows, rowSamples, stride);
  } else if (bytesPerSample === 2) {
    accumulate(new Uint16Array(bytes.buffer, bytes.byteOffset, count), rows, rowSamples, stride);
  } else if (bytesPerSample === 4) {
    accumulate(new Uint32Array(bytes.buffer, bytes.byteOffset, count), rows, rowSamples, stride);
  } else {
    const view = new BigUint64Array(bytes.buffer, bytes.byteOffset, count);
    const mask = (1n << 64n) - 1n;
    for (let r = 0; r < rows; r++) {
      const base = r * rowSamples;
      for (let i = stride; i < rowSamples; i++) {
        view[base + i] = ((view[base + i] ?? 0n) + (view[base + i - stride] ?? 0n)) & mask;
      }
    }
  }
}

function accumulate(view: Uint8Array | Uint16Array | Uint32Array, rows: number, rowSamples: number, stride: number): void {
  // Typed arrays wrap on store, which is exactly the modular sum the predictor needs.
  for (let r = 0; r < rows; r++) {
    const base = r * rowSamples;
    for (let i = base + stride, end = base + rowSamples; i < end; i++) {
      view[i] = (view[i] as number) + (view[i - stride] as number);
    }
  }
}

function undoFloatingPointPredictor(bytes: Uint8Array, rows: number, rowSamples: number, stride: number, bytesPerSample: number): void {
  const rowBytes = rowSamples * bytesPerSample;
  const tmp = new Uint8Array(rowBytes);
  const byteStride = stride;
  for (let r = 0; r < rows; r++) {
    const row = bytes.subarray(r * rowBytes, (r + 1) * rowBytes);
    for (let i = byteStride; i < rowBytes; i++) row[i] = ((row[i] as number) + (row[i - byteStride] as number)) & 0xff;
    tmp.set(row);
    // Byte plane b holds byte b (most significant first) of every sample of the row.
    for (let s = 0; s < rowSamples; s++) {
      for (let b = 0; b < bytesPerSample; b++) {
        row[s * bytesPerSample + b] = tmp[(bytesPerSample - b - 1) * rowSamples + s] as number;
      }
    }
  }
}

/** Parameters geotiff.js passes to our decoders when it decodes through its own readRasters. */
async function parametersFromDirectory(directory: ImageFileDirectory): Promise<BlockDecoderParameters> {
  const tiled = !directory.hasTag('StripOffsets');
  const width = Number(await directory.loadValue('ImageWidth'));
  const height = Number(await directory.loadValue('ImageLength'));
  const tileWidth = tiled ? Number(await directory.loadValue('TileWidth')) : width;
  const tileHeight = tiled ? Number(await directory.loadValue('TileLength')) : Math.min(height, Number(await directory.loadValue('RowsPerStrip')) || height);
  const bitsPerSample = Array.from((await directory.loadValue('BitsPerSample')) as ArrayLike<number>);
  const params: BlockDecoderParameters = {
    tileWidth,
    tileHeight,
    planarConfiguration: Number(await directory.loadValue('PlanarConfiguration')) || 1,
    bitsPerSample,
    predictor: Number(await directory.loadValue('Predictor')) || 1,
    samplesPerPixel: Number(await directory.loadValue('SamplesPerPixel')) || bitsPerSample.length || 1,
    maxDecodedBytes: 0,
  };
  const jpegTables = directory.hasTag('JPEGTables') ? await directory.loadValue('JPEGTables') : undefined;
  if (jpegTables) params.JPEGTables = jpegTables as Uint8Array;
  const lercParameters = directory.hasTag('LercParameters') ? await directory.loadValue('LercParameters') : undefined;
  if (lercParameters) params.LercParameters = lercParameters as ArrayLike<number>;
  params.maxDecodedBytes = nominalBlockBytes(params) + BLOCK_SLACK_BYTES;
  return params;
}

const DECODERS = new Map<number, DecoderClass>([
  [1, RawDecoder],
  [5, LzwDecoder],
  [7, JpegDecoder],
  [8, DeflateDecoder],
  [32946, DeflateDecoder],
  [32773, PackbitsDecoder],
  [34887, LercDecoder],
  [50000, ZstdDecoder],
]);

let registration: Promise<void> | null = null;

/**
 * Replaces geotiff.js's decoders for every compression orewatch supports with the bounded ones.
 * Idempotent; must be awaited once before `createBlockDecoder`.
 */
export function registerOrewatchDecoders(): Promise<void> {
  registration ??= (async () => {
    // Keep geotiff.js's JPEG and LERC decoders to delegate to; the package does not export them.
    const probe: GeotiffDecoderParameters = { tileWidth: 1, tileHeight: 1, predictor: 1, bitsPerSample: [8], planarConfiguration: 1 };
    originalJpeg = (await getDecoder(7, probe)).constructor as DecoderClass;
    originalLerc = (await getDecoder(34887, { ...probe, LercParameters: [0, 0] } as GeotiffDecoderParameters)).constructor as DecoderClass;
    await zstd.init();
    for (const [code, decoderClass] of DECODERS) {
      addDecoder(code, async () => decoderClass as unknown as typeof BaseDecoder, parametersFromDirectory, false);
    }
  })();
  return registration;
}

/**
 * A bounded decoder for one compression code (after `registerOrewatchDecoders()` resolved).
 * Pass `littleEndian` to get blocks back little-endian with the predictor undone.
 */
export function createBlockDecoder(compression: number, params: BlockDecoderParameters): BaseDecoder {
  const decoderClass = DECODERS.get(compression);
  if (!decoderClass) {
    throw inputError('SCENE.UNSUPPORTED_COMPRESSION', `${params.file ?? 'scene'} uses TIFF compression ${compression}, which orewatch cannot decode`, params.file);
  }
  return new decoderClass(params);
}

