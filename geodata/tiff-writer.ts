/**
 * A streaming GeoTIFF writer: tiled, DEFLATE or uncompressed, GeoKeys for one EPSG code, GDAL
 * band descriptions, dataset metadata and nodata — what orewatch's readers and GDAL expect, with
 * no GDAL needed at run time.
 *
 * Layout: header, then the IFD and all its out-of-line values (reserved up front, because their
 * size is known from the options), then the tiles in the order they are written; on `close()` the
 * tile offset and byte-count arrays are patched in place. Keeping the IFD at the start lets a
 * reader get every tag in one small range read. BigTIFF is chosen automatically when the file
 * could pass 4 GiB.
 *
 * Memory: `writeRows` buffers one row of tiles (width × tileSize × bands samples); `writeTile`
 * buffers nothing. Compression runs on libuv's thread pool (node:zlib), a few tiles at a time
 * through reused buffers, so a wide scene does not churn memory.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { deflate, constants as zlibConstants } from 'node:zlib';
import { endianness } from 'node:os';
import { OrewatchError } from '../errors/index.js';
import type { GeoTransform } from './types.js';

/** Sample types the writer can store. */
export type TiffWriterSampleType = 'uint8' | 'uint16' | 'float32';

/** Options of {@link createGeoTiffWriter}. */
export interface GeoTiffWriterOptions {
  /** Raster size in pixels. */
  width: number;
  height: number;
  /** One description per band, in file order (GDAL band descriptions, e.g. `B02`). Unique. */
  bands: string[];
  sampleType: TiffWriterSampleType;
  /** Tile edge in pixels, a multiple of 16. Default 256. */
  tileSize?: number;
  /** Default `deflate`. */
  compression?: 'deflate' | 'none';
  /** zlib level 1–9 for DEFLATE. Default 6. */
  deflateLevel?: number;
  /** 1 none, 2 horizontal differencing (on the bit pattern for float32, as libtiff does). Default 1. */
  predictor?: 1 | 2;
  /**
   * The CRS as an EPSG code. `geographic` says whether it is a latitude/longitude system; when
   * omitted it is inferred for the common geographic codes (4326, 4490, …), else projected.
   */
  crs: { epsg: number; geographic?: boolean };
  /** North-up GDAL geotransform (no rotation terms); pixel-is-area. */
  transform: GeoTransform;
  /** Nodata value written to GDAL_NODATA; also the fill of padding and of tiles never written. */
  nodata?: number;
  /** Dataset-level GDAL metadata items, e.g. `{ ACQUISITION_DATE: '2026-10-17' }`. */
  metadata?: Record<string, string>;
  /** `pixel` (PlanarConfiguration 1, GDAL's default) or `band` (2). Default `pixel`. */
  interleave?: 'pixel' | 'band';
  /** Force BigTIFF on or off; default: on when the file could exceed 4 GiB. */
  bigTiff?: boolean;
}

/** Band name → samples. Values are converted to the sample type (rounded and clamped for integers). */
export type BandSamples = Record<string, ArrayLike<number>>;

/** A GeoTIFF being written. Await each call before making the next. */
export interface GeoTiffWriter {
  readonly width: number;
  readonly height: number;
  readonly tileSize: number;
  readonly bigTiff: boolean;
  /** Rows written so far through {@link GeoTiffWriter.writeRows}. */
  readonly rowsWritten: number;
  /**
   * Appends whole rows, top to bottom: `row0` must equal `rowsWritten`. Each band holds
   * `width × n` samples, row-major, for the same n ≥ 1. A row of tiles is compressed and
   * written as soon as it is complete, so memory stays ∝ width × tileSize.
   */
  writeRows(row0: number, rows: BandSamples): Promise<void>;
  /**
   * Writes one tile (any order). Each band holds `tileSize × tileSize` samples, row-major,
   * including the padding beyond the raster's right and bottom edges.
   */
  writeTile(tileCol: number, tileRow: number, data: BandSamples): Promise<void>;
  /** Fills tiles never written with nodata (or 0), patches the tile index and closes the file. */
  close(): Promise<void>;
}

/** Tiles compressed concurrently (libuv's default thread pool has 4 threads). */
const COMPRESS_BATCH = 4;

const TYPE_SHORT = 3;
const TYPE_LONG = 4;
const TYPE_ASCII = 2;
const TYPE_DOUBLE = 12;
const TYPE_LONG8 = 16;

/** Geographic EPSG codes recognised without being told (GeographicTypeGeoKey rather than Projected). */
const KNOWN_GEOGRAPHIC_EPSG = new Set([4326, 4490, 4258, 4269, 4283, 4214, 4610, 4167, 4612, 4674, 4322, 4148, 4019]);

const SAMPLE_INFO: Record<TiffWriterSampleType, { bytes: number; format: number; min: number; max: number }> = {
  uint8: { bytes: 1, format: 1, min: 0, max: 255 },
  uint16: { bytes: 2, format: 1, min: 0, max: 65535 },
  float32: { bytes: 4, format: 3, min: -Infinity, max: Infinity },
};

function invalid(name: string, what: string, value: unknown, file: string): OrewatchError {
  let shown: string;
  try {
    shown = typeof value === 'string' ? `"${value}"` : JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return new OrewatchError('TIFF_WRITER.INVALID_OPTION', `Expected ${what} for ${name} but received ${shown} (${file})`, {
    kind: 'input',
    file,
  });
}

function deflateAsync(data: Uint8Array, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    deflate(data, { level, strategy: zlibConstants.Z_DEFAULT_STRATEGY }, (error, result) => {
      if (error) reject(error);
      else resolve(result);
    });
  });
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[ch] ?? ch);
}

function formatNodata(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return String(value);
}

/** One IFD entry before layout: values are numbers (or an ASCII string). */
interface TagSpec {
  tag: number;
  type: number;
  values: number[] | string;
  /** Offset/byte-count arrays, filled on close. */
  patch?: 'offsets' | 'counts';
}

/**
 * Builds the GDAL_METADATA XML: dataset items, then one DESCRIPTION per band. Values are escaped
 * twice, exactly as GDAL writes them (its reader unescapes twice; escaping once breaks on `&`).
 */
export function buildGdalMetadataXml(metadata: Record<string, string>, bands: string[]): string {
  const text = (value: string): string => escapeXml(escapeXml(value));
  const items: string[] = [];
  for (const [name, value] of Object.entries(metadata)) {
    items.push(`  <Item name="${escapeXml(name)}">${text(value)}</Item>`);
  }
  bands.forEach((band, index) => {
    items.push(`  <Item name="DESCRIPTION" sample="${index}" role="description">${text(band)}</Item>`);
  });
  return `<GDALMetadata>\n${items.join('\n')}\n</GDALMetadata>`;
}

/**
 * Opens `path` for writing (truncating it) and returns a streaming GeoTIFF writer.
 * Options are validated at once; an invalid one throws `TIFF_WRITER.INVALID_OPTION`.
 */
export async function createGeoTiffWriter(path: string, options: GeoTiffWriterOptions): Promise<GeoTiffWriter> {
  const { width, height, bands, sampleType, transform } = options;
  const tileSize = options.tileSize ?? 256;
  const compression = options.compression ?? 'deflate';
  const predictor = options.predictor ?? 1;
  const interleave = options.interleave ?? 'pixel';
  const deflateLevel = options.deflateLevel ?? 6;
  const metadata = options.metadata ?? {};
  const nodata = options.nodata;

  if (!Number.isInteger(width) || width < 1 || width > 2 ** 31) throw invalid('width', 'a positive integer', width, path);
  if (!Number.isInteger(height) || height < 1 || height > 2 ** 31) throw invalid('height', 'a positive integer', height, path);
  if (!Array.isArray(bands) || bands.length < 1 || bands.length > 65535) throw invalid('bands', 'a non-empty array of band names', bands, path);
  if (new Set(bands).size !== bands.length || bands.some((b) => typeof b !== 'string' || b === '')) {
    throw invalid('bands', 'unique non-empty band names', bands, path);
  }
  if (!(sampleType in SAMPLE_INFO)) throw invalid('sampleType', "'uint8', 'uint16' or 'float32'", sampleType, path);
  if (!Number.isInteger(tileSize) || tileSize < 16 || tileSize % 16 !== 0 || tileSize > 4096) {
    throw invalid('tileSize', 'a multiple of 16 between 16 and 4096', tileSize, path);
  }
  if (compression !== 'deflate' && compression !== 'none') throw invalid('compression', "'deflate' or 'none'", compression, path);
  if (predictor !== 1 && predictor !== 2) throw invalid('predictor', '1 or 2', predictor, path);
  if (interleave !== 'pixel' && interleave !== 'band') throw invalid('interleave', "'pixel' or 'band'", interleave, path);
  if (!Number.isInteger(deflateLevel) || deflateLevel < 1 || deflateLevel > 9) throw invalid('deflateLevel', 'an integer 1–9', deflateLevel, path);
  if (!options.crs || !Number.isInteger(options.crs.epsg) || options.crs.epsg < 1024 || options.crs.epsg > 32766) {
    throw invalid('crs.epsg', 'an EPSG code (integer 1024–32766)', options.crs?.epsg, path);
  }
  if (!Array.isArray(transform) || transform.length !== 6 || transform.some((v) => !Number.isFinite(v))) {
    throw invalid('transform', 'six finite numbers', transform, path);
  }
  if (transform[2] !== 0 || transform[4] !== 0 || !(transform[1] > 0) || !(transform[5] < 0)) {
    throw invalid('transform', 'a north-up geotransform (t[1] > 0, t[5] < 0, no rotation)', transform, path);
  }
  if (nodata !== undefined) {
    if (typeof nodata !== 'number') throw invalid('nodata', 'a number', nodata, path);
    const info = SAMPLE_INFO[sampleType];
    if (sampleType !== 'float32' && (!Number.isInteger(nodata) || nodata < info.min || nodata > info.max)) {
      throw invalid('nodata', `an integer in ${info.min}–${info.max} for ${sampleType}`, nodata, path);
    }
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw invalid(`metadata.${key}`, 'a string', value, path);
  }

  const info = SAMPLE_INFO[sampleType];
  const bandCount = bands.length;
  const tilesAcross = Math.ceil(width / tileSize);
  const tilesDown = Math.ceil(height / tileSize);
  const planes = interleave === 'band' ? bandCount : 1;
  const samplesPerTileChunk = interleave === 'band' ? 1 : bandCount;
  const tileChunkBytes = tileSize * tileSize * samplesPerTileChunk * info.bytes;
  const chunkCount = tilesAcross * tilesDown * planes;
  const uncompressedBytes = chunkCount * tileChunkBytes;
  // DEFLATE can grow incompressible data by a few bytes per 16 KiB block; 1% plus the IFD is ample.
  const bigTiff = options.bigTiff ?? uncompressedBytes * 1.01 + chunkCount * 16 + 1_000_000 > 0xffff_ffff;
  const geographic = options.crs.geographic ?? KNOWN_GEOGRAPHIC_EPSG.has(options.crs.epsg);

  // --- tags, in ascending order -----------------------------------------------------------
  const geoKeys: number[] = [1, 1, 0, 3];
  geoKeys.push(1024, 0, 1, geographic ? 2 : 1); // GTModelTypeGeoKey
  geoKeys.push(1025, 0, 1, 1); // GTRasterTypeGeoKey: PixelIsArea
  geoKeys.push(geographic ? 2048 : 3072, 0, 1, options.crs.epsg); // Geographic/ProjectedCSTypeGeoKey

  const tags: TagSpec[] = [
    { tag: 256, type: TYPE_LONG, values: [width] },
    { tag: 257, type: TYPE_LONG, values: [height] },
    { tag: 258, type: TYPE_SHORT, values: bands.map(() => info.bytes * 8) },
    { tag: 259, type: TYPE_SHORT, values: [compression === 'deflate' ? 8 : 1] },
    { tag: 262, type: TYPE_SHORT, values: [1] },
    { tag: 277, type: TYPE_SHORT, values: [bandCount] },
    { tag: 284, type: TYPE_SHORT, values: [interleave === 'band' ? 2 : 1] },
  ];
  if (predictor === 2) tags.push({ tag: 317, type: TYPE_SHORT, values: [2] });
  tags.push(
    { tag: 322, type: TYPE_LONG, values: [tileSize] },
    { tag: 323, type: TYPE_LONG, values: [tileSize] },
    { tag: 324, type: bigTiff ? TYPE_LONG8 : TYPE_LONG, values: new Array<number>(chunkCount).fill(0), patch: 'offsets' },
    { tag: 325, type: bigTiff ? TYPE_LONG8 : TYPE_LONG, values: new Array<number>(chunkCount).fill(0), patch: 'counts' },
  );
  // Photometric min-is-black accounts for one sample; GDAL expects the rest declared as extra.
  if (bandCount > 1) tags.push({ tag: 338, type: TYPE_SHORT, values: new Array<number>(bandCount - 1).fill(0) });
  tags.push(
    { tag: 339, type: TYPE_SHORT, values: bands.map(() => info.format) },
    { tag: 33550, type: TYPE_DOUBLE, values: [transform[1], -transform[5], 0] },
    { tag: 33922, type: TYPE_DOUBLE, values: [0, 0, 0, transform[0], transform[3], 0] },
    { tag: 34735, type: TYPE_SHORT, values: geoKeys },
    { tag: 42112, type: TYPE_ASCII, values: buildGdalMetadataXml(metadata, bands) },
  );
  if (nodata !== undefined) tags.push({ tag: 42113, type: TYPE_ASCII, values: formatNodata(nodata) });

  // --- layout: header, IFD, out-of-line values --------------------------------------------
  const headerBytes = bigTiff ? 16 : 8;
  const entryBytes = bigTiff ? 20 : 12;
  const inlineBytes = bigTiff ? 8 : 4;
  const ifdOffset = headerBytes;
  const ifdBytes = (bigTiff ? 8 : 2) + tags.length * entryBytes + (bigTiff ? 8 : 4);
  const typeBytes = (type: number): number => (type === TYPE_SHORT ? 2 : type === TYPE_LONG ? 4 : type === TYPE_ASCII ? 1 : 8);
  const valueCount = (spec: TagSpec): number => (typeof spec.values === 'string' ? Buffer.byteLength(spec.values, 'utf8') + 1 : spec.values.length);

  let cursor = ifdOffset + ifdBytes;
  const valueOffsets = new Map<TagSpec, number>();
  for (const spec of tags) {
    const size = valueCount(spec) * typeBytes(spec.type);
    if (size > inlineBytes) {
      cursor += cursor % 2; // TIFF wants word-aligned values
      valueOffsets.set(spec, cursor);
      cursor += size;
    }
  }
  cursor += cursor % 16 === 0 ? 0 : 16 - (cursor % 16);
  const dataStart = cursor;
  const head = Buffer.alloc(dataStart);

  const writeUint = (buf: Buffer, at: number, type: number, value: number): void => {
    if (type === TYPE_SHORT) buf.writeUInt16LE(value, at);
    else if (type === TYPE_LONG) buf.writeUInt32LE(value, at);
    else if (type === TYPE_LONG8) buf.writeBigUInt64LE(BigInt(value), at);
    else buf.writeDoubleLE(value, at);
  };
  const writeValues = (buf: Buffer, at: number, spec: TagSpec): void => {
    if (typeof spec.values === 'string') {
      buf.write(spec.values, at, 'utf8');
      buf[at + Buffer.byteLength(spec.values, 'utf8')] = 0;
      return;
    }
    const size = typeBytes(spec.type);
    spec.values.forEach((value, i) => writeUint(buf, at + i * size, spec.type, value));
  };

  // Header: little-endian; BigTIFF is 43 with 8-byte offsets.
  head.write('II', 0, 'latin1');
  if (bigTiff) {
    head.writeUInt16LE(43, 2);
    head.writeUInt16LE(8, 4);
    head.writeUInt16LE(0, 6);
    head.writeBigUInt64LE(BigInt(ifdOffset), 8);
  } else {
    head.writeUInt16LE(42, 2);
    head.writeUInt32LE(ifdOffset, 4);
  }
  let at = ifdOffset;
  if (bigTiff) {
    head.writeBigUInt64LE(BigInt(tags.length), at);
    at += 8;
  } else {
    head.writeUInt16LE(tags.length, at);
    at += 2;
  }
  for (const spec of tags) {
    head.writeUInt16LE(spec.tag, at);
    head.writeUInt16LE(spec.type, at + 2);
    if (bigTiff) head.writeBigUInt64LE(BigInt(valueCount(spec)), at + 4);
    else head.writeUInt32LE(valueCount(spec), at + 4);
    const valueAt = at + 4 + (bigTiff ? 8 : 4);
    const offset = valueOffsets.get(spec);
    if (offset === undefined) {
      writeValues(head, valueAt, spec);
    } else {
      if (bigTiff) head.writeBigUInt64LE(BigInt(offset), valueAt);
      else head.writeUInt32LE(offset, valueAt);
      writeValues(head, offset, spec);
    }
    at += entryBytes;
  }
  // next-IFD offset stays 0 (Buffer.alloc zero-fills)

  const offsetsSpec = tags.find((t) => t.patch === 'offsets');
  const countsSpec = tags.find((t) => t.patch === 'counts');
  if (!offsetsSpec || !countsSpec) throw new OrewatchError('TIFF_WRITER.INTERNAL', 'tile index tags missing', { kind: 'internal' });
  /** Where the value of an index tag lives: out of line, or inside its IFD entry when it is one chunk. */
  const indexLocation = (spec: TagSpec): number => {
    const offset = valueOffsets.get(spec);
    if (offset !== undefined) return offset;
    return ifdOffset + (bigTiff ? 8 : 2) + tags.indexOf(spec) * entryBytes + 4 + (bigTiff ? 8 : 4);
  };

  let handle: FileHandle;
  try {
    handle = await open(path, 'w');
  } catch (error) {
    throw new OrewatchError('TIFF_WRITER.OPEN_FAILED', `Cannot open ${path} for writing: ${(error as Error).message}`, {
      kind: 'input',
      file: path,
      cause: error,
    });
  }
  await handle.write(head, 0, head.length, 0);

  const chunkOffsets = new Float64Array(chunkCount);
  const chunkCounts = new Float64Array(chunkCount);
  const chunkWritten = new Uint8Array(chunkCount);
  let fileEnd = dataStart;
  let rowsWritten = 0;
  let closed = false;
  const fill = nodata ?? 0;
  const littleEndianHost = endianness() === 'LE';

  const newSamples = (length: number): Uint8Array | Uint16Array | Float32Array =>
    sampleType === 'uint8' ? new Uint8Array(length) : sampleType === 'uint16' ? new Uint16Array(length) : new Float32Array(length);

  /** Converts a value to the stored type: integers are rounded and clamped, NaN becomes the fill. */
  const toSample =
    sampleType === 'float32'
      ? (v: number): number => v
      : (v: number): number => (Number.isNaN(v) ? fill : v <= info.min ? info.min : v >= info.max ? info.max : Math.round(v));

  // Row buffer for writeRows: one band-sequential plane per band, width × tileSize.
  let rowBuffer: (Uint8Array | Uint16Array | Float32Array)[] | null = null;
  let bufferedRows = 0;

  const checkBands = (data: BandSamples, expected: number, what: string): ArrayLike<number>[] => {
    if (typeof data !== 'object' || data === null) throw invalid(what, 'an object of band name → samples', data, path);
    return bands.map((band) => {
      const samples = data[band];
      if (!samples || typeof samples.length !== 'number') throw invalid(`${what}.${band}`, 'an array of samples', samples === undefined ? 'undefined' : typeof samples, path);
      if (expected >= 0 && samples.length !== expected) throw invalid(`${what}.${band}.length`, `${expected}`, samples.length, path);
      return samples;
    });
  };

  /** Encodes one chunk (tile × plane) from band planes of tileSize² samples each. */
  const encodeChunk = (planesData: (Uint8Array | Uint16Array | Float32Array)[]): Uint8Array => {
    const n = tileSize * tileSize;
    const spp = planesData.length;
    const out = newSamples(n * spp);
    if (spp === 1) out.set(planesData[0]!);
    else {
      for (let b = 0; b < spp; b++) {
        const plane = planesData[b]!;
        for (let i = 0, j = b; i < n; i++, j += spp) out[j] = plane[i]!;
      }
    }
    return finishChunk(out, spp);
  };

  /** Compresses and writes chunks, in the given order, appending to the file. */
  const writeChunks = async (chunks: { index: number; raw: Uint8Array }[]): Promise<void> => {
    const encoded = compression === 'deflate' ? await Promise.all(chunks.map((c) => deflateAsync(c.raw, deflateLevel))) : chunks.map((c) => c.raw);
    const buffers: Uint8Array[] = [];
    chunks.forEach((chunk, i) => {
      const data = encoded[i]!;
      if (chunkWritten[chunk.index]) throw invalid('tile', 'each tile written once', chunk.index, path);
      chunkWritten[chunk.index] = 1;
      chunkOffsets[chunk.index] = fileEnd;
      chunkCounts[chunk.index] = data.length;
      buffers.push(data);
      fileEnd += data.length;
      if (data.length % 2 === 1) {
        buffers.push(new Uint8Array(1));
        fileEnd += 1;
      }
    });
    const start = fileEnd - buffers.reduce((sum, b) => sum + b.length, 0);
    await handle.writev(buffers, start);
    if (!bigTiff && fileEnd > 0xffff_ffff) {
      throw new OrewatchError('TIFF_WRITER.TOO_LARGE', `${path} grew past 4 GiB; pass bigTiff: true`, { kind: 'input', file: path });
    }
  };

  /** Chunks of one tile, from band planes (tileSize² each). */
  const tileChunks = (tileCol: number, tileRow: number, planesData: (Uint8Array | Uint16Array | Float32Array)[]): { index: number; raw: Uint8Array }[] => {
    const tileIndex = tileRow * tilesAcross + tileCol;
    if (interleave === 'pixel') return [{ index: tileIndex, raw: encodeChunk(planesData) }];
    return planesData.map((plane, b) => ({ index: b * tilesAcross * tilesDown + tileIndex, raw: encodeChunk([plane]) }));
  };

  /** Predictor and byte order, in place, on a chunk of `spp` interleaved samples per pixel. */
  const finishChunk = (samples: Uint8Array | Uint16Array | Float32Array, spp: number): Uint8Array => {
    if (predictor === 2) {
      // Horizontal differencing per row, per sample, on unsigned integers of the sample width.
      const rowLen = tileSize * spp;
      const ints = sampleType === 'float32' ? new Uint32Array(samples.buffer, samples.byteOffset, samples.length) : samples;
      for (let r = 0; r < tileSize; r++) {
        const base = r * rowLen;
        for (let i = rowLen - 1; i >= spp; i--) ints[base + i] = ints[base + i]! - ints[base + i - spp]!;
      }
    }
    let bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
    if (!littleEndianHost && info.bytes > 1) {
      bytes = Uint8Array.from(bytes);
      for (let i = 0; i < bytes.length; i += info.bytes) bytes.subarray(i, i + info.bytes).reverse();
    }
    return bytes;
  };

  // Chunk buffers reused from one batch to the next: a batch is compressed and written before
  // the next is filled, so a 5490 px wide scene does not churn hundreds of MB of garbage.
  const chunkPool: (Uint8Array | Uint16Array | Float32Array)[] = [];
  const pooledChunk = (slot: number, spp: number): Uint8Array | Uint16Array | Float32Array => {
    let chunk = chunkPool[slot];
    if (!chunk || chunk.length !== tileSize * tileSize * spp) {
      chunk = newSamples(tileSize * tileSize * spp);
      chunkPool[slot] = chunk;
    }
    return chunk;
  };

  const flushTileRow = async (): Promise<void> => {
    if (!rowBuffer) return;
    const tileRow = Math.floor((rowsWritten - 1) / tileSize);
    const buffer = rowBuffer;
    const groups: number[][] = interleave === 'pixel' ? [bands.map((_, b) => b)] : bands.map((_, b) => [b]);
    // A few tiles at a time: enough to keep libuv's compression threads busy, while the raw
    // and compressed copies in flight stay small whatever the width.
    for (let start = 0; start < tilesAcross; start += COMPRESS_BATCH) {
      const chunks: { index: number; raw: Uint8Array }[] = [];
      for (let tc = start; tc < Math.min(tilesAcross, start + COMPRESS_BATCH); tc++) {
        const c0 = tc * tileSize;
        const cols = Math.min(tileSize, width - c0);
        groups.forEach((group, g) => {
          const spp = group.length;
          const chunk = pooledChunk((tc - start) * groups.length + g, spp);
          chunk.fill(fill);
          group.forEach((band, j) => {
            const plane = buffer[band]!;
            for (let r = 0; r < bufferedRows; r++) {
              const src = r * width + c0;
              const dst = r * tileSize * spp + j;
              for (let i = 0; i < cols; i++) chunk[dst + i * spp] = plane[src + i]!;
            }
          });
          const tileIndex = tileRow * tilesAcross + tc;
          chunks.push({ index: interleave === 'pixel' ? tileIndex : group[0]! * tilesAcross * tilesDown + tileIndex, raw: finishChunk(chunk, spp) });
        });
      }
      await writeChunks(chunks);
    }
    bufferedRows = 0;
  };

  let queue: Promise<void> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const result = queue.then(work);
    queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  };

  const writer: GeoTiffWriter = {
    width,
    height,
    tileSize,
    bigTiff,
    get rowsWritten() {
      return rowsWritten;
    },
    writeRows(row0, rows) {
      return serial(async () => {
        if (closed) throw invalid('writeRows', 'an open writer', 'closed', path);
        if (row0 !== rowsWritten) throw invalid('row0', `${rowsWritten} (rows are appended in order)`, row0, path);
        const samples = checkBands(rows, -1, 'rows');
        const total = samples[0]!.length;
        if (total === 0 || total % width !== 0 || samples.some((s) => s.length !== total)) {
          throw invalid('rows', `the same multiple of width (${width}) samples in every band`, samples.map((s) => s.length), path);
        }
        const n = total / width;
        if (row0 + n > height) throw invalid('rows', `at most ${height - row0} rows`, n, path);
        rowBuffer ??= bands.map(() => newSamples(width * tileSize));
        let done = 0;
        while (done < n) {
          const take = Math.min(n - done, tileSize - bufferedRows);
          for (let b = 0; b < bandCount; b++) {
            const src = samples[b]!;
            const dst = rowBuffer[b]!;
            const dstStart = bufferedRows * width;
            const srcStart = done * width;
            const count = take * width;
            for (let i = 0; i < count; i++) dst[dstStart + i] = toSample(src[srcStart + i]!);
          }
          bufferedRows += take;
          done += take;
          rowsWritten += take;
          if (bufferedRows === tileSize || rowsWritten === height) await flushTileRow();
        }
      });
    },
    writeTile(tileCol, tileRow, data) {
      return serial(async () => {
        if (closed) throw invalid('writeTile', 'an open writer', 'closed', path);
        if (!Number.isInteger(tileCol) || tileCol < 0 || tileCol >= tilesAcross) throw invalid('tileCol', `an integer 0–${tilesAcross - 1}`, tileCol, path);
        if (!Number.isInteger(tileRow) || tileRow < 0 || tileRow >= tilesDown) throw invalid('tileRow', `an integer 0–${tilesDown - 1}`, tileRow, path);
        const samples = checkBands(data, tileSize * tileSize, 'data');
        const planesData = samples.map((src) => {
          const tile = newSamples(tileSize * tileSize);
          for (let i = 0; i < tile.length; i++) tile[i] = toSample(src[i]!);
          return tile;
        });
        await writeChunks(tileChunks(tileCol, tileRow, planesData));
      });
    },
    close() {
      return serial(async () => {
        if (closed) return;
        try {
          if (bufferedRows > 0) await flushTileRow();
          // Tiles never written read as nodata, not as garbage or an error.
          const missing: number[] = [];
          for (let i = 0; i < chunkCount; i++) if (!chunkWritten[i]) missing.push(i);
          if (missing.length > 0) {
            const blankPlane = newSamples(tileSize * tileSize).fill(fill);
            const raw = encodeChunk(new Array(samplesPerTileChunk).fill(blankPlane));
            for (let start = 0; start < missing.length; start += 64) {
              await writeChunks(missing.slice(start, start + 64).map((index) => ({ index, raw })));
            }
          }
          const size = bigTiff ? 8 : 4;
          const encodeIndex = (values: Float64Array): Buffer => {
            const buf = Buffer.alloc(values.length * size);
            values.forEach((v, i) => (bigTiff ? buf.writeBigUInt64LE(BigInt(v), i * size) : buf.writeUInt32LE(v, i * size)));
            return buf;
          };
          const offsetsBuf = encodeIndex(chunkOffsets);
          const countsBuf = encodeIndex(chunkCounts);
          await handle.write(offsetsBuf, 0, offsetsBuf.length, indexLocation(offsetsSpec));
          await handle.write(countsBuf, 0, countsBuf.length, indexLocation(countsSpec));
        } finally {
          closed = true;
          rowBuffer = null;
          await handle.close();
        }
      });
    },
  };
  return writer;
}
