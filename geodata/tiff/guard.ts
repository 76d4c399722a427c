/**
 * Pre-flight check of a TIFF's structure, run before geotiff.js sees the file.
 *
 * geotiff.js trusts the file: it follows an IFD chain that loops back forever, allocates whatever
 * a tag's count says, and inflates a block to whatever size the stream produces. This module walks
 * the header and every IFD itself (classic TIFF and BigTIFF, either byte order) through byte-range
 * reads only, so it works the same on a local file and over HTTP, and refuses what cannot be read
 * safely: loops, absurd sizes, tags and blocks past the end of the file, unsupported encodings.
 *
 * What it returns (block layout, offsets, the largest decoded block per IFD) is what the decoders
 * use to bound how far one block may inflate.
 */
import { inputError } from '../../errors/index.js';

/** Random access to bytes; reads may come back shorter only at the end of the file. */
export interface RangeReader {
  readonly size: number | null;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Limits the guard enforces. The defaults suit satellite scenes. */
export interface GuardLimits {
  /** Most IFDs (images, overviews, masks) in one file. */
  maxIfds: number;
  /** Most entries (tags) in one IFD. */
  maxEntriesPerIfd: number;
  /** Largest image side in pixels. */
  maxImageSide: number;
  /** Largest tile side in pixels. */
  maxTileSide: number;
  /** Largest decoded block (tile or strip), in bytes. */
  maxBlockBytes: number;
  /** Largest array held by one tag, in bytes (offset tables of huge images stay far below). */
  maxTagBytes: number;
  /** Most samples (bands) per pixel. */
  maxSamplesPerPixel: number;
}

export const DEFAULT_GUARD_LIMITS: GuardLimits = Object.freeze({
  maxIfds: 64,
  maxEntriesPerIfd: 512,
  maxImageSide: 1_000_000,
  maxTileSide: 16_384,
  maxBlockBytes: 512 * 1024 * 1024,
  maxTagBytes: 128 * 1024 * 1024,
  maxSamplesPerPixel: 256,
});

/** What the guard learnt about one IFD (one image: full resolution, overview or mask). */
export interface IfdSummary {
  index: number;
  /** Byte offset of the IFD in the file. */
  offset: number;
  width: number;
  height: number;
  samplesPerPixel: number;
  /** Bits per sample, the same for every sample (others are refused). */
  bitsPerSample: number;
  /** 1 unsigned integer, 2 signed integer, 3 IEEE float. */
  sampleFormat: 1 | 2 | 3;
  /** 1 chunky (pixel-interleaved), 2 planar (one set of blocks per band). */
  planarConfiguration: 1 | 2;
  compression: number;
  predictor: number;
  photometric: number | null;
  /** NewSubfileType bits: 1 reduced resolution (overview), 4 transparency mask. */
  newSubfileType: number;
  tiled: boolean;
  /** Block size in pixels: the tile, or image width × RowsPerStrip for strips. */
  blockWidth: number;
  blockHeight: number;
  blocksAcross: number;
  blocksDown: number;
  /** Decoded bytes of one full block (all samples when chunky, one sample when planar). */
  maxBlockBytes: number;
  /** Per block (band-major when planar): file offset and stored byte count (0 = missing block). */
  blockOffsets: number[];
  blockByteCounts: number[];
}

export interface TiffSummary {
  littleEndian: boolean;
  bigTiff: boolean;
  ifdCount: number;
  /** File size in bytes when known. */
  byteLength: number | null;
  ifds: IfdSummary[];
}

/** Compression codes orewatch decodes (see decoders.ts), with names for messages. */
export const SUPPORTED_COMPRESSIONS: ReadonlyMap<number, string> = new Map([
  [1, 'none'],
  [5, 'LZW'],
  [7, 'JPEG'],
  [8, 'DEFLATE'],
  [32946, 'DEFLATE'],
  [32773, 'PackBits'],
  [34887, 'LERC'],
  [50000, 'ZSTD'],
]);

const KNOWN_UNSUPPORTED: ReadonlyMap<number, string> = new Map([
  [2, 'CCITT RLE'],
  [3, 'CCITT Group 3'],
  [4, 'CCITT Group 4'],
  [6, 'old-style JPEG'],
  [34712, 'JPEG 2000'],
  [34925, 'LZMA'],
  [34926, 'ZSTD (old code)'],
  [34927, 'WebP (old code)'],
  [50001, 'WebP'],
  [50002, 'JPEG XL'],
  [52546, 'JPEG XL'],
]);

/** Human name of a TIFF compression code, for messages. */
export function compressionName(code: number): string {
  return SUPPORTED_COMPRESSIONS.get(code) ?? KNOWN_UNSUPPORTED.get(code) ?? `code ${code}`;
}

const TYPE_SIZES: Record<number, number> = {
  1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8,
};

const TAG = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  PlanarConfiguration: 284,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SampleFormat: 339,
} as const;

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** Offset of the value bytes in the file (inline values: inside the IFD entry). */
  valueOffset: number;
  byteLength: number;
  /** The entry's value field, for inline values. */
  inline: Uint8Array;
}

class ByteView {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array, private readonly littleEndian: boolean) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u16(at: number): number {
    return this.view.getUint16(at, this.littleEndian);
  }
  u32(at: number): number {
    return this.view.getUint32(at, this.littleEndian);
  }
  /** Unsigned 64-bit value, or NaN when it does not fit a double exactly. */
  u64(at: number): number {
    const value = this.view.getBigUint64(at, this.littleEndian);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : Number.NaN;
  }
  i8(at: number): number {
    return this.view.getInt8(at);
  }
  i16(at: number): number {
    return this.view.getInt16(at, this.littleEndian);
  }
  i32(at: number): number {
    return this.view.getInt32(at, this.littleEndian);
  }
}

/**
 * Walks the TIFF header and IFD chain of `reader` and checks every image is safe to decode.
 * @param file path or URL, named in every error.
 * @returns the layout of every IFD, in file order.
 * @throws OrewatchError SCENE.NOT_TIFF (not a TIFF, empty file), SCENE.TRUNCATED (header, IFD,
 *   tag data or blocks past the end of the file), SCENE.CORRUPT (loops, absurd or inconsistent
 *   values), SCENE.UNSUPPORTED_COMPRESSION, SCENE.UNSUPPORTED_FORMAT.
 */
export async function guardTiff(reader: RangeReader, file: string, limits: GuardLimits = DEFAULT_GUARD_LIMITS): Promise<TiffSummary> {
  const size = reader.size;
  const head = await reader.read(0, 16);
  if (head.length === 0) {
    throw inputError('SCENE.NOT_TIFF', `${file} is empty (0 bytes), not a GeoTIFF`, file);
  }
  const order = head.length >= 2 ? String.fromCharCode(head[0] ?? 0, head[1] ?? 0) : '';
  if (order !== 'II' && order !== 'MM') {
    throw inputError('SCENE.NOT_TIFF', `${file} is not a TIFF file (it starts with ${describeMagic(head)})`, file);
  }
  const littleEndian = order === 'II';
  if (head.length < 8) {
    throw inputError('SCENE.TRUNCATED', `${file} is truncated: ${head.length} bytes, shorter than a TIFF header`, file);
  }
  const header = new ByteView(head, littleEndian);
  const magic = header.u16(2);
  if (magic !== 42 && magic !== 43) {
    throw inputError('SCENE.NOT_TIFF', `${file} is not a TIFF file (byte order mark ${order} but version ${magic}, expected 42 or 43)`, file);
  }
  const bigTiff = magic === 43;
  if (bigTiff && head.length < 16) {
    throw inputError('SCENE.TRUNCATED', `${file} is truncated: ${head.length} bytes, shorter than a BigTIFF header`, file);
  }
  if (bigTiff && (header.u16(4) !== 8 || header.u16(6) !== 0)) {
    throw inputError('SCENE.CORRUPT', `${file} has an invalid BigTIFF header (offset size ${header.u16(4)}, expected 8)`, file);
  }
  const walker = new IfdWalker(reader, file, littleEndian, bigTiff, limits);
  let offset = bigTiff ? header.u64(8) : header.u32(4);
  const visited = new Set<number>();
  const ifds: IfdSummary[] = [];
  if (offset === 0) {
    throw inputError('SCENE.CORRUPT', `${file} contains no image (first IFD offset is 0)`, file);
  }
  while (offset !== 0) {
    if (!Number.isFinite(offset)) {
      throw inputError('SCENE.CORRUPT', `${file}: IFD offset after IFD #${ifds.length - 1} is out of range`, file);
    }
    if (visited.has(offset)) {
      throw inputError('SCENE.CORRUPT', `${file}: the IFD chain loops back to offset ${offset} after ${ifds.length} IFD(s)`, file);
    }
    if (ifds.length >= limits.maxIfds) {
      throw inputError('SCENE.CORRUPT', `${file} has more than ${limits.maxIfds} IFDs (images); refusing to read further`, file);
    }
    visited.add(offset);
    const { entries, next } = await walker.readIfd(offset, ifds.length);
    ifds.push(await walker.summarize(entries, offset, ifds.length));
    offset = next;
  }
  return { littleEndian, bigTiff, ifdCount: ifds.length, byteLength: size, ifds };
}

function describeMagic(head: Uint8Array): string {
  const bytes = Array.from(head.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  const text = Array.from(head.subarray(0, 4), (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
  return `bytes ${bytes} "${text}"`;
}

class IfdWalker {
  private readonly entrySize: number;
  private readonly countSize: number;
  private readonly offsetSize: number;

  constructor(
    private readonly reader: RangeReader,
    private readonly file: string,
    private readonly littleEndian: boolean,
    private readonly bigTiff: boolean,
    private readonly limits: GuardLimits,
  ) {
    this.entrySize = bigTiff ? 20 : 12;
    this.countSize = bigTiff ? 8 : 2;
    this.offsetSize = bigTiff ? 8 : 4;
  }

  private truncated(what: string): never {
    const size = this.reader.size === null ? '' : ` (file is ${this.reader.size} bytes)`;
    throw inputError('SCENE.TRUNCATED', `${this.file} is truncated: ${what} lies past the end of the file${size}`, this.file);
  }

  private corrupt(message: string): never {
    throw inputError('SCENE.CORRUPT', `${this.file}: ${message}`, this.file);
  }

  private async readExactly(offset: number, length: number, what: string): Promise<Uint8Array> {
    const size = this.reader.size;
    if (size !== null && offset + length > size) this.truncated(what);
    const bytes = await this.reader.read(offset, length);
    if (bytes.length < length) this.truncated(what);
    return bytes;
  }

  async readIfd(offset: number, index: number): Promise<{ entries: Map<number, Entry>; next: number }> {
    const headBytes = await this.readExactly(offset, this.countSize, `IFD #${index} at offset ${offset}`);
    const head = new ByteView(headBytes, this.littleEndian);
    const count = this.bigTiff ? head.u64(0) : head.u16(0);
    if (!(count > 0)) this.corrupt(`IFD #${index} at offset ${offset} has no entries`);
    if (count > this.limits.maxEntriesPerIfd) {
      this.corrupt(`IFD #${index} declares ${count} entries (limit ${this.limits.maxEntriesPerIfd})`);
    }
    const bodyLength = count * this.entrySize + this.offsetSize;
    const body = await this.readExactly(offset + this.countSize, bodyLength, `IFD #${index} at offset ${offset}`);
    const view = new ByteView(body, this.littleEndian);
    const entries = new Map<number, Entry>();
    const inlineSize = this.bigTiff ? 8 : 4;
    for (let i = 0; i < count; i++) {
      const at = i * this.entrySize;
      const tag = view.u16(at);
      const type = view.u16(at + 2);
      const valueCount = this.bigTiff ? view.u64(at + 4) : view.u32(at + 4);
      const typeSize = TYPE_SIZES[type];
      if (typeSize === undefined) {
        this.corrupt(`IFD #${index} tag ${tag} has an unknown field type ${type}`);
      }
      const byteLength = valueCount * typeSize;
      if (!Number.isFinite(byteLength) || byteLength > this.limits.maxTagBytes) {
        this.corrupt(`IFD #${index} tag ${tag} declares ${valueCount} values (${byteLength} bytes; limit ${this.limits.maxTagBytes})`);
      }
      const fieldAt = at + (this.bigTiff ? 12 : 8);
      const inline = body.subarray(fieldAt, fieldAt + inlineSize);
      let valueOffset = offset + this.countSize + fieldAt;
      if (byteLength > inlineSize) {
        valueOffset = this.bigTiff ? view.u64(fieldAt) : view.u32(fieldAt);
        const size = this.reader.size;
        if (!Number.isFinite(valueOffset) || (size !== null && valueOffset + byteLength > size)) {
          this.truncated(`the data of tag ${tag} in IFD #${index} (offset ${valueOffset}, ${byteLength} bytes)`);
        }
      }
      entries.set(tag, { tag, type, count: valueCount, valueOffset, byteLength, inline });
    }
    const next = this.bigTiff ? view.u64(count * this.entrySize) : view.u32(count * this.entrySize);
    return { entries, next };
  }

  /** Integer values of an entry (BYTE, SHORT, LONG, LONG8, their signed forms and IFD types). */
  private async integers(entry: Entry, what: string): Promise<number[]> {
    const inlineSize = this.bigTiff ? 8 : 4;
    const bytes = entry.byteLength <= inlineSize
      ? entry.inline
      : await this.readExactly(entry.valueOffset, entry.byteLength, what);
    const view = new ByteView(bytes, this.littleEndian);
    const out = new Array<number>(entry.count);
    for (let i = 0; i < entry.count; i++) {
      switch (entry.type) {
        case 1: case 7: out[i] = bytes[i] ?? 0; break;
        case 6: out[i] = view.i8(i); break;
        case 3: out[i] = view.u16(i * 2); break;
        case 8: out[i] = view.i16(i * 2); break;
        case 4: case 13: out[i] = view.u32(i * 4); break;
        case 9: out[i] = view.i32(i * 4); break;
        case 16: case 18: out[i] = view.u64(i * 8); break;
        case 17: out[i] = view.u64(i * 8); break;
        default: this.corrupt(`${what} has field type ${entry.type}, expected an integer type`);
      }
    }
    return out;
  }

  private async optionalInts(entries: Map<number, Entry>, tag: number, what: string): Promise<number[] | null> {
    const entry = entries.get(tag);
    return entry ? this.integers(entry, what) : null;
  }

  private async optionalInt(entries: Map<number, Entry>, tag: number, what: string): Promise<number | null> {
    const values = await this.optionalInts(entries, tag, what);
    if (values === null || values.length === 0) return null;
    return values[0] ?? null;
  }

  async summarize(entries: Map<number, Entry>, offset: number, index: number): Promise<IfdSummary> {
    const label = `IFD #${index}`;
    const width = await this.optionalInt(entries, TAG.ImageWidth, `${label} ImageWidth`);
    const height = await this.optionalInt(entries, TAG.ImageLength, `${label} ImageLength`);
    const limits = this.limits;
    if (width === null || height === null) this.corrupt(`${label} has no ImageWidth/ImageLength`);
    if (!(width > 0 && width <= limits.maxImageSide && height > 0 && height <= limits.maxImageSide)) {
      this.corrupt(`${label} declares an image of ${width} × ${height} pixels (each side must be 1..${limits.maxImageSide})`);
    }
    const samplesPerPixel = (await this.optionalInt(entries, TAG.SamplesPerPixel, `${label} SamplesPerPixel`)) ?? 1;
    if (!(samplesPerPixel >= 1 && samplesPerPixel <= limits.maxSamplesPerPixel)) {
      this.corrupt(`${label} declares ${samplesPerPixel} samples per pixel (must be 1..${limits.maxSamplesPerPixel})`);
    }
    const bitsList = (await this.optionalInts(entries, TAG.BitsPerSample, `${label} BitsPerSample`)) ?? [1];
    const bitsPerSample = bitsList[0] ?? 1;
    if (bitsList.some((b) => b !== bitsPerSample)) {
      this.unsupported(`${label} has different BitsPerSample per band (${bitsList.join(', ')})`);
    }
    if (bitsList.length !== 1 && bitsList.length !== samplesPerPixel) {
      this.corrupt(`${label} has ${bitsList.length} BitsPerSample values for ${samplesPerPixel} samples per pixel`);
    }
    const formatList = (await this.optionalInts(entries, TAG.SampleFormat, `${label} SampleFormat`)) ?? [1];
    const rawFormat = formatList[0] ?? 1;
    if (formatList.some((f) => f !== rawFormat)) {
      this.unsupported(`${label} has different SampleFormat per band (${formatList.join(', ')})`);
    }
    // 4 means "undefined data": read as unsigned integers, as GDAL does.
    const sampleFormat = rawFormat === 4 ? 1 : rawFormat;
    if (sampleFormat !== 1 && sampleFormat !== 2 && sampleFormat !== 3) {
      this.unsupported(`${label} has SampleFormat ${rawFormat} (complex or unknown sample type)`);
    }
    const bitsOk = sampleFormat === 1
      ? bitsPerSample >= 1 && bitsPerSample <= 32
      : sampleFormat === 2
        ? bitsPerSample === 8 || bitsPerSample === 16 || bitsPerSample === 32
        : bitsPerSample === 16 || bitsPerSample === 32 || bitsPerSample === 64;
    if (!bitsOk) {
      const kind = sampleFormat === 1 ? 'unsigned integer' : sampleFormat === 2 ? 'signed integer' : 'floating point';
      this.unsupported(`${label} has ${bitsPerSample}-bit ${kind} samples`);
    }
    const planar = (await this.optionalInt(entries, TAG.PlanarConfiguration, `${label} PlanarConfiguration`)) ?? 1;
    if (planar !== 1 && planar !== 2) this.corrupt(`${label} has PlanarConfiguration ${planar} (must be 1 or 2)`);
    const compression = (await this.optionalInt(entries, TAG.Compression, `${label} Compression`)) ?? 1;
    if (!SUPPORTED_COMPRESSIONS.has(compression)) {
      throw inputError('SCENE.UNSUPPORTED_COMPRESSION', `${this.file} uses ${compressionName(compression)} compression (TIFF compression ${compression}), which orewatch cannot decode; re-encode it, e.g. gdal_translate -co COMPRESS=DEFLATE`, this.file);
    }
    if (compression === 7 && (bitsPerSample !== 8 || sampleFormat !== 1)) {
      this.unsupported(`${label} is JPEG-compressed with ${bitsPerSample}-bit samples (only 8-bit JPEG is supported)`);
    }
    const predictor = (await this.optionalInt(entries, TAG.Predictor, `${label} Predictor`)) ?? 1;
    if (predictor !== 1 && predictor !== 2 && predictor !== 3) this.unsupported(`${label} uses Predictor ${predictor}`);
    if (predictor === 2 && ![8, 16, 32, 64].includes(bitsPerSample)) {
      this.unsupported(`${label} uses the horizontal predictor with ${bitsPerSample}-bit samples`);
    }
    if (predictor === 3 && sampleFormat !== 3) {
      this.unsupported(`${label} uses the floating-point predictor on integer samples`);
    }
    const photometric = await this.optionalInt(entries, TAG.Photometric, `${label} PhotometricInterpretation`);
    const newSubfileType = (await this.optionalInt(entries, TAG.NewSubfileType, `${label} NewSubfileType`)) ?? 0;

    const tiled = entries.has(TAG.TileOffsets) || entries.has(TAG.TileWidth);
    let blockWidth: number;
    let blockHeight: number;
    if (tiled) {
      const tw = await this.optionalInt(entries, TAG.TileWidth, `${label} TileWidth`);
      const th = await this.optionalInt(entries, TAG.TileLength, `${label} TileLength`);
      if (tw === null || th === null) this.corrupt(`${label} is tiled but has no TileWidth/TileLength`);
      if (!(tw > 0 && th > 0 && tw <= limits.maxTileSide && th <= limits.maxTileSide)) {
        this.corrupt(`${label} declares ${tw} × ${th} tiles (each side must be 1..${limits.maxTileSide})`);
      }
      blockWidth = tw;
      blockHeight = th;
    } else {
      const rowsPerStrip = (await this.optionalInt(entries, TAG.RowsPerStrip, `${label} RowsPerStrip`)) ?? height;
      if (!(rowsPerStrip > 0)) this.corrupt(`${label} declares RowsPerStrip ${rowsPerStrip}`);
      blockWidth = width;
      blockHeight = Math.min(rowsPerStrip, height);
    }
    const samplesPerBlock = planar === 2 ? 1 : samplesPerPixel;
    const rowBytes = Math.ceil((blockWidth * samplesPerBlock * bitsPerSample) / 8);
    const maxBlockBytes = rowBytes * blockHeight;
    if (maxBlockBytes > limits.maxBlockBytes) {
      this.corrupt(`${label} declares blocks of ${blockWidth} × ${blockHeight} pixels × ${samplesPerBlock} samples = ${maxBlockBytes} bytes decoded (limit ${limits.maxBlockBytes})`);
    }
    const blocksAcross = Math.ceil(width / blockWidth);
    const blocksDown = Math.ceil(height / blockHeight);
    const blockCount = blocksAcross * blocksDown * (planar === 2 ? samplesPerPixel : 1);
    const offsetsTag = tiled ? TAG.TileOffsets : TAG.StripOffsets;
    const countsTag = tiled ? TAG.TileByteCounts : TAG.StripByteCounts;
    const kind = tiled ? 'Tile' : 'Strip';
    const offsetsEntry = entries.get(offsetsTag);
    const countsEntry = entries.get(countsTag);
    if (!offsetsEntry || !countsEntry) this.corrupt(`${label} has no ${kind}Offsets/${kind}ByteCounts`);
    if (offsetsEntry.count < blockCount || countsEntry.count < blockCount) {
      this.corrupt(`${label} has ${offsetsEntry.count} ${kind}Offsets and ${countsEntry.count} ${kind}ByteCounts for ${blockCount} blocks`);
    }
    const blockOffsets = (await this.integers(offsetsEntry, `${label} ${kind}Offsets`)).slice(0, blockCount);
    const blockByteCounts = (await this.integers(countsEntry, `${label} ${kind}ByteCounts`)).slice(0, blockCount);
    // A stored block larger than this cannot be a sane encoding of maxBlockBytes of pixels.
    const maxStoredBytes = maxBlockBytes * 4 + 1024 * 1024;
    const size = this.reader.size;
    for (let i = 0; i < blockCount; i++) {
      const blockOffset = blockOffsets[i] ?? 0;
      const byteCount = blockByteCounts[i] ?? 0;
      if (byteCount === 0) continue; // a missing (sparse) block reads as empty
      if (!Number.isFinite(blockOffset) || !Number.isFinite(byteCount) || blockOffset < 0 || byteCount < 0) {
        this.corrupt(`${label} block ${i} has an invalid offset/byte count (${blockOffset}, ${byteCount})`);
      }
      if (byteCount > maxStoredBytes) {
        this.corrupt(`${label} block ${i} declares ${byteCount} stored bytes for at most ${maxBlockBytes} decoded bytes`);
      }
      if (size !== null && blockOffset + byteCount > size) {
        this.truncated(`${label} block ${i} (offset ${blockOffset}, ${byteCount} bytes)`);
      }
    }
    return {
      index,
      offset,
      width,
      height,
      samplesPerPixel,
      bitsPerSample,
      sampleFormat,
      planarConfiguration: planar,
      compression,
      predictor,
      photometric,
      newSubfileType,
      tiled,
      blockWidth,
      blockHeight,
      blocksAcross,
      blocksDown,
      maxBlockBytes,
      blockOffsets,
      blockByteCounts,
    };
  }

  private unsupported(message: string): never {
    throw inputError('SCENE.UNSUPPORTED_FORMAT', `${this.file}: ${message}, which orewatch cannot read`, this.file);
  }
}
