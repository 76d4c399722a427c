/**
 * Block decoders that bound what one TIFF block (tile or strip) may inflate to, registered with
 * geotiff.js's decoder registry so that every decode in the process goes through them.
 *
 * A 512×512 tile whose DEFLATE stream inflates to 1 GB is a few kilobytes on disk; geotiff.js's
 * decoders inflate it whole. Here each block gets a budget, the decoded size the file directory
 * implies plus a little slack, and a block that would go past it is refused (SCENE.CORRUPT_BLOCK)
 * before the memory is spent:
 * - DEFLATE: libdeflate (our N-API binding, native.ts, built at install) into a buffer
 *   of the budget's size, reused from block to block where the caller allows; where the binding
 *   was not built, Node's zlib with `maxOutputLength` (native, and much faster than pako),
 *   writing the block into one buffer of the budget's size;
 * - LZW: our own decoder, native (native.ts, the same algorithm in C) or in WebAssembly
 *   (lzw-wasm.ts) or JavaScript (decodeLzw), writing into a buffer of the budget's size;
 * - PackBits: our own decoder writing into a buffer of the budget's size;
 * - ZSTD: libzstd through zstd-napi (native, an optional dependency built at install) decoding
 *   into a buffer of the budget's size, which it refuses to overrun; where zstd-napi is not
 *   installed, or for a stream libzstd's one-shot call does not take (trailing bytes), zstddec's
 *   streaming decoder (the WebAssembly build geotiff.js itself uses, ~5× slower), stopped at the
 *   budget;
 * - JPEG and LERC: geotiff.js's decoders, after the frame / blob headers were checked to declare
 *   no more pixels than the block holds (and LERC's extra DEFLATE/ZSTD layer inflated bounded).
 *
 * Our own reader also asks for byte order: then `decodeBytes()` (and `decode()`) return the block
 * in little-endian order with the predictor undone in the file's byte order. That fixes
 * geotiff.js 3.0.5's horizontal predictor on big-endian files, which it applies in host order.
 *
 * Speed (issue 7; bench/decode-vs-gdal.mts measures it against GDAL): a 4-band uint16 COG comes
 * near GDAL's pace only if little but the decompression costs much, so blocks are never copied
 * between the file read and the reader's Float32 output (no ArrayBuffer round trips, no 16 KiB
 * zlib chunks to concatenate), our reader lets a decoder reuse one output buffer from block to
 * block, may leave predictor 2 to its copy loop (`undoHorizontalPredictor: false`), and the
 * predictor and byte swaps run in one tight loop per sample width.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { inflateSync } from 'node:zlib';
import { BaseDecoder, addDecoder, getDecoder, type ImageFileDirectory } from 'geotiff';
import { ZSTDDecoder } from 'zstddec/stream';
import { OrewatchError, inputError } from '../../errors/index.js';
import { decodeLzwWasm } from './lzw-wasm.js';
import { INFLATE_TOO_LARGE, nativeBlocks } from './native.js';

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
 * Common part of our decoders: the bounded `decompress` is per compression; `decodeBytes` adds the
 * byte-order and predictor handling for our reader.
 */
export abstract class BoundedDecoder extends BaseDecoder {
  declare parameters: BlockDecoderParameters;
  /** Whether the block being decoded may go into `workspace` (see DecodeOptions.reuseOutput). */
  private reuse = false;
  /** The buffer blocks are decoded into when the caller allows reuse. */
  private workspace: Uint8Array = new Uint8Array(0);
  /** A buffer the caller gave for the block being decoded (DecodeOptions.output). */
  private provided: Uint8Array | null = null;

  constructor(parameters: GeotiffDecoderParameters) {
    super(parameters);
    const params = parameters as BlockDecoderParameters;
    if (!(params.maxDecodedBytes > 0)) {
      // Called by geotiff.js without our parameter function: derive the budget here.
      params.maxDecodedBytes = nominalBlockBytes(params) + BLOCK_SLACK_BYTES;
    }
  }

  /**
   * Decompressed bytes of one block, in the file's byte order, at most `maxDecodedBytes`. The
   * result is the decoder's to give away: callers may change it in place. The input is not
   * changed.
   */
  protected abstract decompress(input: Uint8Array): Uint8Array | Promise<Uint8Array>;

  /** Whether `decompress` already yields host-order samples with no predictor (LERC). */
  protected readonly nativeOutput: boolean = false;

  /**
   * Whether `decodeBytes` always answers synchronously and is done with its input when it
   * returns (all but JPEG and LERC): the caller may then reuse the input's memory at once.
   */
  readonly synchronous: boolean = true;

  /**
   * One block for our reader (parameters with `littleEndian` set): little-endian samples with the
   * predictor undone, starting at a multiple of 8 bytes in its buffer, at most `maxDecodedBytes`.
   * Synchronous for every compression but JPEG and LERC. `input` is not changed.
   * @throws OrewatchError SCENE.CORRUPT_BLOCK naming the file and the problem.
   */
  decodeBytes(input: Uint8Array, options: DecodeOptions = {}): Uint8Array | Promise<Uint8Array> {
    const undo = options.undoHorizontalPredictor ?? true;
    this.reuse = options.reuseOutput === true && this.synchronous;
    this.provided = this.synchronous ? (options.output ?? null) : null;
    let decoded: Uint8Array | Promise<Uint8Array>;
    try {
      decoded = this.decompress(input);
    } finally {
      this.reuse = false;
      this.provided = null;
    }
    if (decoded instanceof Promise) return decoded.then((bytes) => this.finish(bytes, undo));
    return this.finish(decoded, undo);
  }

  /** Whether the caller of the current `decompress` allowed its result to be reused memory. */
  protected get reusing(): boolean {
    return this.reuse;
  }

  /**
   * A buffer of at least `size` bytes to decode the current block into: the one the caller gave
   * (DecodeOptions.output), or the decoder's own, reused from block to block, when the caller
   * allowed it (no allocation, no fresh pages to fault in), else a new one.
   */
  protected outputFor(size: number): Uint8Array {
    if (this.provided && this.provided.length >= size) return this.provided;
    if (!this.reuse) return outputBuffer(size);
    if (this.workspace.length < size) this.workspace = outputBuffer(size);
    return this.workspace;
  }

  private finish(bytes: Uint8Array, undoHorizontalPredictor: boolean): Uint8Array {
    if (this.nativeOutput || this.parameters.littleEndian === undefined) return aligned(bytes);
    return finishBlock(bytes, this.parameters, undoHorizontalPredictor);
  }

  override async decodeBlock(buffer: ArrayBufferLike): Promise<ArrayBufferLike> {
    return ownBuffer(await this.decompress(asBytes(buffer)));
  }

  override async decode(buffer: ArrayBufferLike): Promise<ArrayBufferLike> {
    const params = this.parameters;
    if (params.littleEndian === undefined || this.nativeOutput) return super.decode(buffer);
    return ownBuffer(await this.decodeBytes(asBytes(buffer)));
  }
}

/** How our reader wants a block (BoundedDecoder.decodeBytes). */
export interface DecodeOptions {
  /**
   * False leaves horizontal differencing (predictor 2) in place, for a caller that undoes it
   * while it copies the samples out (one pass over the block instead of two). Default true.
   */
  undoHorizontalPredictor?: boolean;
  /**
   * True lets a synchronous decoder return a view of a buffer it reuses for its next block: the
   * caller must be done with the result before it decodes another block. Default false.
   */
  reuseOutput?: boolean;
  /**
   * A buffer the block may be decoded into, the caller's (a recycled cache buffer): decoders that
   * write into a buffer of their choosing use it when it holds `maxDecodedBytes`, so the result
   * may be a view of it. Synchronous decoders only.
   */
  output?: Uint8Array;
}

/** `bytes`, or a copy of them when they do not start on an 8-byte boundary (typed views need it). */
function aligned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
}

/**
 * An output buffer of `size` bytes for a decoder to fill. Not zeroed: callers return only the
 * part they wrote. Never a slice of Node's shared pool, so it starts at offset 0 and is the
 * block's own.
 */
function outputBuffer(size: number): Uint8Array {
  return Buffer.allocUnsafeSlow(size);
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
    const budget = this.parameters.maxDecodedBytes;
    if (nativeBlocks) {
      // libdeflate into a buffer of the budget's size (the decoder's own when the caller allows
      // reuse): it stops at the end of the buffer, so a bomb costs no more than the budget.
      const out = this.outputFor(budget).subarray(0, budget);
      const written = nativeBlocks.inflateZlib(input, out);
      if (written >= 0) return out.subarray(0, written);
      if (written === INFLATE_TOO_LARGE) throw blockTooLarge(this.parameters, 'DEFLATE');
      // A stream libdeflate calls corrupt goes to zlib, which decides and explains.
    }
    try {
      // Node's native inflate stops at maxOutputLength instead of growing without end. With a
      // chunk one byte larger than the budget, zlib writes a whole block into one buffer (its
      // default 16 KiB chunks would be concatenated into a second copy), and a stream that goes
      // past the budget fills the chunk and is refused.
      return inflateSync(input, { maxOutputLength: budget, chunkSize: budget + 1 });
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
    const budget = this.parameters.maxDecodedBytes;
    const tooLarge = (): Error => blockTooLarge(this.parameters, 'LZW');
    const corrupt = (why: string): Error => corruptBlock(this.parameters, 'LZW', new Error(why));
    // Native first (native.ts): straight into the output buffer, no copy in or out.
    const native = decodeLzwNative(input, budget, tooLarge, corrupt, nativeBlocks ? this.outputFor(LZW_SEED + budget + 8) : undefined);
    if (native) return native;
    // Then WebAssembly (lzw-wasm.ts): its output lives in the module's memory until the next
    // block, which is what `outputFor` promises when the caller allows reuse; otherwise a copy.
    const decoded = decodeLzwWasm(input, budget, tooLarge, corrupt);
    if (decoded) {
      if (this.reusing) return decoded;
      const out = this.outputFor(decoded.length).subarray(0, decoded.length);
      out.set(decoded);
      return out;
    }
    return decodeLzw(input, budget, tooLarge, corrupt, this.outputFor(LZW_SEED + budget + 8));
  }
}

/** zstd-napi's decompression context (binding.d.ts of zstd-napi 0.0.x): `ZSTD_decompressDCtx`. */
interface NativeZstdContext {
  /** Decompresses whole frames into `dst`; throws when they do not fit. @returns bytes written. */
  decompress(dst: Uint8Array, src: Uint8Array): number;
}

/**
 * zstd-napi's native binding, or null where it is not installed (an optional dependency: it is
 * compiled from source at install and may be missing) or was turned off with
 * OREWATCH_ZSTD=wasm. Its low-level binding, not its `decompress()`: only the context's one-shot
 * call decodes into a buffer we size, which bounds a ZSTD bomb; the high-level one grows without
 * limit on frames that do not declare their size, as GDAL's do not.
 */
function loadNativeZstd(): (new () => NativeZstdContext) | null {
  if (process.env.OREWATCH_ZSTD === 'wasm') return null;
  try {
    const binding = createRequire(import.meta.url)('zstd-napi/binding.js') as { DCtx?: new () => NativeZstdContext };
    return typeof binding.DCtx === 'function' ? binding.DCtx : null;
  } catch {
    return null;
  }
}

const NativeZstd = loadNativeZstd();

/** Which ZSTD decoder this process uses: libzstd (zstd-napi) or zstddec's WebAssembly build. */
export const zstdBackend: 'native' | 'wasm' = NativeZstd ? 'native' : 'wasm';

const zstd = new ZSTDDecoder();

class ZstdDecoder extends BoundedDecoder {
  private readonly context: NativeZstdContext | null = NativeZstd ? new NativeZstd() : null;

  protected decompress(input: Uint8Array): Uint8Array {
    if (!this.context) return inflateZstd(input, this.parameters, 'ZSTD');
    return inflateZstdNative(this.context, input, this.parameters, 'ZSTD', this.outputFor(this.parameters.maxDecodedBytes));
  }
}

/**
 * ZSTD frames into a buffer of the budget's size with libzstd. A stream that needs more room is
 * refused as too large; one libzstd's one-shot call rejects for another reason (trailing bytes
 * after the frame, which the streaming decoder ignores) gets a second chance with the streaming
 * decoder, which then decides.
 */
function inflateZstdNative(context: NativeZstdContext, input: Uint8Array, params: BlockDecoderParameters, what: string, output?: Uint8Array): Uint8Array {
  const out = output ? output.subarray(0, params.maxDecodedBytes) : outputBuffer(params.maxDecodedBytes);
  let written: number;
  try {
    written = context.decompress(out, input);
  } catch (error) {
    if (error instanceof Error && /too small/i.test(error.message)) throw blockTooLarge(params, what);
    return inflateZstd(input, params, what);
  }
  return out.subarray(0, written);
}

/** ZSTD with zstddec's WebAssembly streaming decoder, stopped at the budget. Exported for tests. */
export function inflateZstd(input: Uint8Array, params: BlockDecoderParameters, what: string): Uint8Array {
  const limit = params.maxDecodedBytes;
  const out = outputBuffer(limit);
  let filled = 0;
  // GDAL/libtiff write ZSTD frames without a content size, so decode as a stream and stop at the
  // budget (the decoder's few hundred kilobytes of WebAssembly state leak when stopped early).
  // Bytes after the last frame are ignored, as libtiff does once the block is full.
  const stream = zstd.decodeStreaming([input]);
  let stalled = 0;
  try {
    for (const chunk of stream) {
      // zstddec ignores libzstd's error codes: on a corrupt stream it calls again and again
      // without consuming input or producing output. A legitimate stream makes progress.
      if (chunk.length === 0) {
        if (++stalled > 64) throw corruptBlock(params, what, new Error('the stream stops making progress'));
        continue;
      }
      stalled = 0;
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
  override readonly synchronous = false;
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
  override readonly synchronous = false;
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
      blob = NativeZstd ? inflateZstdNative(new NativeZstd(), input, blobBudget, 'LERC+ZSTD') : inflateZstd(input, blobBudget, 'LERC+ZSTD');
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

/** Bytes in front of decodeLzw's output: the 256 one-byte strings (a multiple of 8: alignment). */
const LZW_SEED = 256;

/**
 * TIFF LZW (MSB-first codes of 9–12 bits, "early change") into at most `limit` bytes.
 *
 * Our own rather than geotiff.js's (which builds every string as a JavaScript array and is ~20×
 * slower) because the budget must be enforced while decoding, and because on noisy imagery the
 * codes stand for one to three bytes each, so the cost per code is all that matters. Every
 * dictionary string is a run already present in the output (the string of the previous code plus
 * one byte), so the table holds only where each string starts and how long it is, and every code
 * is a copy of such a run:
 * - the 256 one-byte strings are written in front of the output, so literals are copies too and
 *   share the path of table codes;
 * - runs are copied as 4-byte words (two for up to 8 bytes, `copyWithin` beyond): bytes past the
 *   run are garbage that the next codes overwrite, and 8 bytes of room follow the budget;
 * - codes are read as a big-endian 32-bit word at their first byte, from a copy of the input
 *   padded with 4 zero bytes, so the loop needs no end-of-input branch.
 * LzwDecoder runs the same algorithm in WebAssembly (lzw-wasm.ts, lzw.wat), 2–3× faster, and
 * this one where that cannot serve (budgets past WASM_LZW_MAX_BYTES); tests hold the two equal.
 * @param output where to decode (at least 264 + `limit` bytes), else a new buffer.
 * @returns the decoded bytes (starting at a multiple of 8 bytes in their buffer); calls
 *   `tooLarge` (which throws) when the output would exceed `limit`, `corrupt` for a code not in
 *   the table.
 */
export function decodeLzw(input: Uint8Array, limit: number, tooLarge: () => Error, corrupt: (why: string) => Error, output?: Uint8Array): Uint8Array {
  const CLEAR = 256;
  const EOI = 257;
  const SEED = LZW_SEED;
  const buffer = output && output.length >= SEED + limit + 8 && output.byteOffset % 8 === 0 ? output : outputBuffer(SEED + limit + 8);
  const out = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const entryStart = new Int32Array(4096);
  const entryLength = new Int32Array(4096);
  for (let i = 0; i < 256; i++) {
    buffer[i] = i;
    entryStart[i] = i;
    entryLength[i] = 1;
  }
  const end = SEED + limit;
  const padded = new Uint8Array(input.length + 4);
  padded.set(input);
  const words = new DataView(padded.buffer);
  const totalBits = input.length * 8;
  let bitPos = 0;
  let width = 9;
  let mask = 511;
  let widen = 511; // the value of `next` at which codes get one bit wider (early change)
  let next = 258;
  let pos = SEED;
  let previousStart = -1;
  let previousLength = 0;
  while (bitPos + width <= totalBits) {
    const code = (words.getUint32(bitPos >>> 3) >>> (32 - (bitPos & 7) - width)) & mask;
    bitPos += width;
    let length: number;
    if (code < next && (code & 0xffe) !== CLEAR) {
      const start = entryStart[code];
      length = entryLength[code];
      if (pos + length > end) throw tooLarge();
      out.setUint32(pos, out.getUint32(start));
      if (length > 4) {
        if (length <= 8) out.setUint32(pos + 4, out.getUint32(start + 4));
        else buffer.copyWithin(pos, start, start + length);
      }
    } else if (code === CLEAR) {
      width = 9;
      mask = 511;
      widen = 511;
      next = 258;
      previousStart = -1;
      continue;
    } else if (code === EOI) {
      break;
    } else if (code === next && previousStart >= 0) {
      // The KwKwK case: previous string plus its own first byte.
      length = previousLength + 1;
      if (pos + length > end) throw tooLarge();
      buffer.copyWithin(pos, previousStart, previousStart + previousLength);
      buffer[pos + previousLength] = buffer[previousStart];
    } else {
      throw corrupt(`invalid code ${code} (next free code ${next})`);
    }
    if (previousStart >= 0 && next < 4096) {
      // New entry: previous string + first byte of this one, which sits right after it.
      entryStart[next] = previousStart;
      entryLength[next] = previousLength + 1;
      next++;
      if (next === widen && width < 12) {
        width++;
        mask = (1 << width) - 1;
        widen = mask;
      }
    }
    previousStart = pos;
    previousLength = length;
    pos += length;
  }
  return buffer.subarray(SEED, pos);
}

/**
 * decodeLzw with the native decoder (native.ts, the same algorithm in C), into `output` when it
 * holds 256 + `limit` + 8 bytes; null where the binding is not built.
 */
export function decodeLzwNative(input: Uint8Array, limit: number, tooLarge: () => Error, corrupt: (why: string) => Error, output?: Uint8Array): Uint8Array | null {
  if (!nativeBlocks) return null;
  const out = output && output.length >= LZW_SEED + limit + 8 ? output : outputBuffer(LZW_SEED + limit + 8);
  const written = nativeBlocks.decodeLzw(input, out, limit);
  if (written >= 0) return out.subarray(LZW_SEED, LZW_SEED + written);
  if (written === -1) throw tooLarge();
  const bad = -written - 2;
  throw corrupt(`invalid code ${Math.floor(bad / 4097)} (next free code ${bad % 4097})`);
}

/** Swaps each `size`-byte sample of `bytes` in place (big-endian ↔ little-endian). */
function swapBytes(bytes: Uint8Array, size: number): void {
  const count = Math.floor(bytes.length / size);
  if (size === 2) {
    const view = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
    for (let i = 0; i < count; i++) {
      const v = view[i];
      view[i] = (v >>> 8) | (v << 8);
    }
  } else if (size === 4) {
    const view = new Uint32Array(bytes.buffer, bytes.byteOffset, count);
    for (let i = 0; i < count; i++) {
      const v = view[i];
      view[i] = (v >>> 24) | ((v >>> 8) & 0xff00) | ((v & 0xff00) << 8) | (v << 24);
    }
  } else {
    const n = count * size;
    for (let i = 0; i < n; i += size) {
      for (let a = i, b = i + size - 1; a < b; a++, b--) {
        const t = bytes[a];
        bytes[a] = bytes[b];
        bytes[b] = t;
      }
    }
  }
}

/**
 * Brings a decompressed block to little-endian order with the predictor undone, in place (a copy
 * only when `decoded` does not start on an 8-byte boundary).
 * Horizontal differencing (predictor 2) works on whole samples, so it must run after the swap to
 * host order; the floating-point predictor (3) stores byte planes most significant first
 * whatever the file's byte order, and reassembling them yields host order directly.
 */
export function finishBlock(decoded: Uint8Array, params: BlockDecoderParameters, undoHorizontalPredictor = true): Uint8Array {
  const bits = bitsOf(params)[0] ?? 8;
  const bytes = aligned(decoded);
  if (bits % 8 !== 0) return bytes; // bit-packed samples are a byte stream: no order, no predictor
  const bytesPerSample = bits / 8;
  const predictor = params.predictor || 1;
  const samples = params.planarConfiguration === 2 ? 1 : Math.max(bitsOf(params).length, params.samplesPerPixel ?? 1);
  const rowSamples = params.tileWidth * samples;
  const rowBytes = rowSamples * bytesPerSample;
  const rows = Math.min(params.tileHeight, Math.floor(bytes.length / rowBytes));
  if (params.littleEndian === false && bytesPerSample > 1 && predictor !== 3) swapBytes(bytes, bytesPerSample);
  if (predictor === 2) {
    if (undoHorizontalPredictor) accumulateRows(bytes, rows, rowSamples, samples, bytesPerSample);
  } else if (predictor === 3) {
    undoFloatingPointPredictor(bytes, rows, rowSamples, samples, bytesPerSample);
  }
  return bytes;
}

function accumulateRows(bytes: Uint8Array, rows: number, rowSamples: number, stride: number, bytesPerSample: number): void {
  const count = rows * rowSamples;
  // One function per sample width: each loop then sees a single typed-array type and compiles
  // to a tight loop instead of a polymorphic one.
  if (bytesPerSample === 1) {
    accumulate8(bytes, rows, rowSamples, stride);
  } else if (bytesPerSample === 2) {
    if (nativeBlocks) nativeBlocks.accumulate16(bytes, rows, rowSamples, stride);
    else accumulate16(new Uint16Array(bytes.buffer, bytes.byteOffset, count), rows, rowSamples, stride);
  } else if (bytesPerSample === 4) {
    accumulate32(new Uint32Array(bytes.buffer, bytes.byteOffset, count), rows, rowSamples, stride);
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

// Typed arrays wrap on store, which is exactly the modular sum the predictor needs.
function accumulate8(view: Uint8Array, rows: number, rowSamples: number, stride: number): void {
  for (let r = 0; r < rows; r++) {
    for (let i = r * rowSamples + stride, end = (r + 1) * rowSamples; i < end; i++) view[i] = view[i] + view[i - stride];
  }
}

function accumulate16(view: Uint16Array, rows: number, rowSamples: number, stride: number): void {
  // The running sums of one and four samples per pixel (single-band and 4-band Sentinel-2
  // stacks) stay in registers: the general loop reloads each value it has just stored.
  if (stride === 1) {
    for (let r = 0; r < rows; r++) {
      let i = r * rowSamples;
      const end = i + rowSamples;
      let a = view[i];
      for (i++; i < end; i++) {
        a = (a + view[i]) & 0xffff;
        view[i] = a;
      }
    }
    return;
  }
  if (stride === 4 && rowSamples % 4 === 0) {
    for (let r = 0; r < rows; r++) {
      let i = r * rowSamples;
      const end = i + rowSamples;
      let a = view[i];
      let b = view[i + 1];
      let c = view[i + 2];
      let d = view[i + 3];
      for (i += 4; i < end; i += 4) {
        a = (a + view[i]) & 0xffff;
        view[i] = a;
        b = (b + view[i + 1]) & 0xffff;
        view[i + 1] = b;
        c = (c + view[i + 2]) & 0xffff;
        view[i + 2] = c;
        d = (d + view[i + 3]) & 0xffff;
        view[i + 3] = d;
      }
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    for (let i = r * rowSamples + stride, end = (r + 1) * rowSamples; i < end; i++) view[i] = view[i] + view[i - stride];
  }
}

function accumulate32(view: Uint32Array, rows: number, rowSamples: number, stride: number): void {
  for (let r = 0; r < rows; r++) {
    for (let i = r * rowSamples + stride, end = (r + 1) * rowSamples; i < end; i++) view[i] = view[i] + view[i - stride];
  }
}

function undoFloatingPointPredictor(bytes: Uint8Array, rows: number, rowSamples: number, stride: number, bytesPerSample: number): void {
  const rowBytes = rowSamples * bytesPerSample;
  const tmp = new Uint8Array(rowBytes);
  const byteStride = stride;
  for (let r = 0; r < rows; r++) {
    const row = bytes.subarray(r * rowBytes, (r + 1) * rowBytes);
    for (let i = byteStride; i < rowBytes; i++) row[i] = (row[i] + row[i - byteStride]) & 0xff;
    tmp.set(row);
    // Byte plane b holds byte b (most significant first) of every sample of the row.
    for (let s = 0; s < rowSamples; s++) {
      for (let b = 0; b < bytesPerSample; b++) {
        row[s * bytesPerSample + b] = tmp[(bytesPerSample - b - 1) * rowSamples + s];
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

const DECODERS = new Map<number, new (parameters: GeotiffDecoderParameters) => BoundedDecoder>([
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
export function createBlockDecoder(compression: number, params: BlockDecoderParameters): BoundedDecoder {
  const decoderClass = DECODERS.get(compression);
  if (!decoderClass) {
    throw inputError('SCENE.UNSUPPORTED_COMPRESSION', `${params.file ?? 'scene'} uses TIFF compression ${compression}, which orewatch cannot decode`, params.file);
  }
  return new decoderClass(params);
}

