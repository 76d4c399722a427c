/**
 * Reading one GeoTIFF: what it is (grid, CRS, bands, nodata, date, overviews) and the pixels of a
 * window, block by block. This is the untrusted part; it runs inside the decode worker.
 *
 * geotiff.js parses tags and GeoKeys, after guard.ts has checked the structure. Pixels do not go
 * through geotiff.js's readRasters: blocks are fetched and decoded here with the bounded decoders,
 * byte order and predictor handled in decoders.ts, bit-packed samples (NBITS) unpacked here,
 * because geotiff.js 3.0.5 silently returns wrong values for big-endian files with predictor 2 and
 * for multi-band NBITS=14 files. Only the blocks that touch a window are read.
 *
 * Speed (issue 7): a block of a local file is read (pread), decoded and copied out in one
 * synchronous step, into buffers reused from block to block, and copied into the Float32 output
 * by a loop per sample type; four bands of a uint16 block with predictor 2 (Sentinel-2 stacks as
 * GDAL writes them) are copied in one pass that also undoes the predictor. Output arrays that
 * every block value overwrites are not zeroed first.
 */
import { DOMParser } from '@xmldom/xmldom';
import { GeoTIFF, type GeoTIFFImage } from 'geotiff';
import { OrewatchError, inputError } from '../../errors/index.js';
import { crsFromGeoKeys } from '../crs.js';
import type { Crs, GeoTransform, PixelWindow, SampleType, SceneInfo } from '../types.js';
import { GeotiffSourceAdapter, openByteSource, type ByteSource, type ByteSourceOptions } from './byte-source.js';
import {
  BLOCK_SLACK_BYTES,
  createBlockDecoder,
  type BoundedDecoder,
  registerOrewatchDecoders,
  type BlockDecoderParameters,
} from './decoders.js';
import { guardTiff, type IfdSummary } from './guard.js';
import { nativeBlocks } from './native.js';
import { BlockCache, type BlockPiece, type SampleArray } from './block-cache.js';

export interface OpenTiffOptions extends ByteSourceOptions {
  /** Band names given by the caller (the CLI's --bands); see `resolveBandNames`. */
  bandNames?: string[];
}

/** Pixels of one window as the worker hands them back: one array per requested band. */
export interface RawWindow {
  bands: Float32Array[];
  valid: Uint8Array;
}

/** One image of the file (full resolution or overview) and its optional transparency mask. */
interface ImageLevel {
  ifd: IfdSummary;
  decoder: BoundedDecoder;
  /** JPEG data in YCbCr that must be converted to RGB after decoding. */
  ycbcr: boolean;
  mask: ImageLevel | null;
  /** Decoded blocks kept between windows (compressed images; null until first needed). */
  cache: BlockCache | null;
}

/** Bytes of decoded blocks a scene keeps per image (OREWATCH_DECODE_CACHE_MB, default 80, plus half as much for edge strips; 0 turns it off). */
function decodeCacheBytes(): number {
  const mb = Number(process.env.OREWATCH_DECODE_CACHE_MB ?? 80);
  return Number.isFinite(mb) && mb > 0 ? mb * 1024 * 1024 : 0;
}

/** Edge strips kept of evicted blocks: deep enough for the halos a scan reads (16–32 px). */
const STRIP_PX = 32;

/** The typed view of cached samples. */
function viewOf(values: SampleArray): SampleView {
  if (values instanceof Uint16Array) return { kind: 'u16', values };
  if (values instanceof Uint8Array) return { kind: 'u8', values };
  if (values instanceof Float32Array) return { kind: 'f32', values };
  if (values instanceof Int16Array) return { kind: 'i16', values };
  if (values instanceof Int8Array) return { kind: 'i8', values };
  if (values instanceof Uint32Array) return { kind: 'u32', values };
  if (values instanceof Int32Array) return { kind: 'i32', values };
  return { kind: 'f64', values };
}

const TIFF_DATETIME_TAG = 306;

/**
 * Band names by the rule of DESIGN.md: the GDAL band descriptions when every band has a distinct
 * one, else the names given, else "1", "2", …. Names given alongside descriptions only select
 * among them: they must all be descriptions of the file (then the descriptions are the names).
 * @param descriptions one per band, null where the band has none.
 * @throws OrewatchError SCENE.BAND_COUNT when names are given for a file without descriptions and
 *   their number differs from the band count; SCENE.BAND_NAMES when given names are duplicated or
 *   absent from the file's descriptions.
 */
export function resolveBandNames(file: string, bandCount: number, descriptions: (string | null)[], given?: string[]): string[] {
  const described = descriptions.length === bandCount
    && descriptions.every((d): d is string => typeof d === 'string' && d.trim() !== '')
    && new Set(descriptions).size === bandCount;
  if (given && given.length > 0) {
    const names = given.map((n) => n.trim());
    if (names.some((n) => n === '') || new Set(names).size !== names.length) {
      throw inputError('SCENE.BAND_NAMES', `Band names for ${file} must be non-empty and distinct, but received ${given.join(',')}`, file);
    }
    if (described) {
      const available = descriptions as string[];
      const missing = names.filter((n) => !available.includes(n));
      if (missing.length > 0) {
        throw inputError('SCENE.BAND_NAMES', `${file} names its bands ${available.join(',')} but the band names given (${names.join(',')}) include ${missing.join(',')}, which it does not have`, file);
      }
      return available;
    }
    if (names.length !== bandCount) {
      throw inputError('SCENE.BAND_COUNT', `${file} has ${bandCount} band(s) but ${names.length} band name(s) were given (${names.join(',')})`, file);
    }
    return names;
  }
  if (described) return descriptions as string[];
  return Array.from({ length: bandCount }, (_, i) => String(i + 1));
}

/** YYYY-MM-DD from the usual date spellings ("2017-10-15T…", "2017:10:15 10:00:00", "20171015"), or null. */
export function normalizeDate(value: string | undefined | null): string | null {
  if (!value) return null;
  const match = /^\s*(\d{4})[-:/]?(\d{2})[-:/]?(\d{2})(?!\d)/.exec(value);
  if (!match) return null;
  const [, y, m, d] = match;
  const year = Number(y);
  const month = Number(m);
  const day = Number(d);
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return `${y}-${m}-${d}`;
}

interface GdalMetadata {
  dataset: Record<string, string>;
  /** Per band (0-based sample): items without a role, by name. */
  bands: Map<number, Record<string, string>>;
  descriptions: Map<number, string>;
  scales: Map<number, number>;
  offsets: Map<number, number>;
  /** Items of other domains, "DOMAIN/NAME" → value (only used to look for dates). */
  domains: Record<string, string>;
}

/** Parses GDAL's GDAL_METADATA XML (TIFF tag 42112). Unparseable XML gives empty metadata. */
export function parseGdalMetadata(xml: string | null): GdalMetadata {
  const result: GdalMetadata = { dataset: {}, bands: new Map(), descriptions: new Map(), scales: new Map(), offsets: new Map(), domains: {} };
  if (!xml || xml.trim() === '') return result;
  let items;
  try {
    const doc = new DOMParser({ onError: () => undefined }).parseFromString(xml, 'text/xml');
    items = doc.getElementsByTagName('Item');
  } catch {
    return result;
  }
  for (let i = 0; i < items.length; i++) {
    const item = items.item(i);
    if (!item) continue;
    const name = item.getAttribute('name') ?? '';
    const value = item.textContent ?? '';
    const sampleAttr = item.getAttribute('sample');
    const role = item.getAttribute('role');
    const domain = item.getAttribute('domain') ?? '';
    if (name === '') continue;
    if (domain !== '') {
      if (!domain.startsWith('xml:')) result.domains[`${domain}/${name}`] = value;
      continue;
    }
    if (sampleAttr === null) {
      result.dataset[name] = value;
      continue;
    }
    const sample = Number(sampleAttr);
    if (!Number.isInteger(sample) || sample < 0) continue;
    if (role === 'description') result.descriptions.set(sample, value);
    else if (role === 'scale' && Number.isFinite(Number(value))) result.scales.set(sample, Number(value));
    else if (role === 'offset' && Number.isFinite(Number(value))) result.offsets.set(sample, Number(value));
    else if (role === null) {
      const band = result.bands.get(sample) ?? {};
      band[name] = value;
      result.bands.set(sample, band);
    }
  }
  return result;
}

function sampleTypeOf(ifd: IfdSummary): SampleType {
  const bits = ifd.bitsPerSample;
  if (ifd.sampleFormat === 3) return bits === 64 ? 'float64' : 'float32';
  if (ifd.sampleFormat === 2) return bits === 8 ? 'int8' : bits === 16 ? 'int16' : 'int32';
  return bits <= 8 ? 'uint8' : bits <= 16 ? 'uint16' : 'uint32';
}

function tagText(value: unknown): string | null {
  if (typeof value === 'string') return value.replace(/\0+$/, '');
  if (value instanceof Uint8Array) return new TextDecoder().decode(value).replace(/\0+$/, '');
  return null;
}

function numbers(value: unknown): number[] | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') return [value];
  if (Array.isArray(value) || ArrayBuffer.isView(value)) return Array.from(value as ArrayLike<number>, Number);
  return null;
}

/**
 * GDAL's geotransform from the GeoTIFF tags. PixelIsPoint rasters are shifted by half a pixel so
 * that the transform maps pixel corners, as GDAL does.
 */
function geoTransformOf(file: string, directory: GeoTIFFImage['fileDirectory'], pixelIsPoint: boolean): GeoTransform {
  const scale = numbers(directory.getValue('ModelPixelScale'));
  const tiepoints = numbers(directory.getValue('ModelTiepoint'));
  const matrix = numbers(directory.getValue('ModelTransformation'));
  let t: GeoTransform | null = null;
  if (matrix && matrix.length >= 16) {
    const [a = 0, b = 0, , d = 0, e = 0, f = 0, , h = 0] = matrix;
    t = [d, a, b, h, e, f];
  } else if (tiepoints && tiepoints.length >= 6 && scale && scale.length >= 2) {
    const [i = 0, j = 0, , x = 0, y = 0] = tiepoints;
    const [sx = 0, sy = 0] = scale;
    t = [x - i * sx, sx, 0, y + j * sy, 0, -sy];
  } else if (tiepoints && tiepoints.length >= 12) {
    throw inputError('SCENE.NO_GEOREFERENCE', `${file} is georeferenced only by ground control points, which orewatch does not support; warp it first (gdalwarp)`, file);
  }
  if (!t) {
    throw inputError('SCENE.NO_GEOREFERENCE', `${file} has no georeferencing (no ModelPixelScale/ModelTiepoint or ModelTransformation tags)`, file);
  }
  const determinant = t[1] * t[5] - t[2] * t[4];
  if (!t.every(Number.isFinite) || determinant === 0) {
    throw inputError('SCENE.NO_GEOREFERENCE', `${file} has a degenerate geotransform (${t.join(', ')})`, file);
  }
  if (pixelIsPoint) {
    t[0] -= 0.5 * t[1] + 0.5 * t[2];
    t[3] -= 0.5 * t[4] + 0.5 * t[5];
  }
  return t;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** A decoded block's samples, typed by what the file holds, [row][column][sample]. */
type SampleView =
  | { kind: 'u8'; values: Uint8Array }
  | { kind: 'i8'; values: Int8Array }
  | { kind: 'u16'; values: Uint16Array }
  | { kind: 'i16'; values: Int16Array }
  | { kind: 'u32'; values: Uint32Array }
  | { kind: 'i32'; values: Int32Array }
  | { kind: 'f32'; values: Float32Array }
  | { kind: 'f64'; values: Float64Array };

/**
 * Where one band of one block goes in the window: `rows` × `cols` samples, the first at `src` in
 * the block and at `dst` in the output, rows `srcRow` / `dstRow` apart, samples of a row `step`
 * apart in the block (the samples per pixel of a pixel-interleaved block).
 */
interface BandCopy {
  src: number;
  srcRow: number;
  step: number;
  dst: number;
  dstRow: number;
  rows: number;
  cols: number;
}

/*
 * Block → Float32 output, one function per sample type. Each is called with a single typed-array
 * type, so V8 compiles its loop for that type alone; one function taking the union would index a
 * polymorphic array and run several times slower. Each also clears `valid` where a value equals
 * the nodata value (`nodata`, compared with the raw value, so 32-bit integers and float64 compare
 * exactly; NaN when there is none) or, for floats, is NaN.
 */
function copyU8(src: Uint8Array, c: BandCopy, dst: Float32Array, valid: Uint8Array, nodata: number): void {
  for (let r = 0; r < c.rows; r++) {
    let s = c.src + r * c.srcRow;
    for (let d = c.dst + r * c.dstRow, end = d + c.cols; d < end; d++, s += c.step) {
      const v = src[s];
      dst[d] = v;
      if (v === nodata) valid[d] = 0;
    }
  }
}

function copyI8(src: Int8Array, c: BandCopy, dst: Float32Array, valid: Uint8Array, nodata: number): void {
  for (let r = 0; r < c.rows; r++) {
    let s = c.src + r * c.srcRow;
    for (let d = c.dst + r * c.dstRow, end = d + c.cols; d < end; d++, s += c.step) {
      const v = src[s];
      dst[d] = v;
      if (v === nodata) valid[d] = 0;
    }
  }
}

function copyU16(src: Uint16Array, c: BandCopy, dst: Float32Array, valid: Uint8Array, nodata: number): void {
  for (let r = 0; r < c.rows; r++) {
    let s = c.src + r * c.srcRow;
    for (let d = c.dst + r * c.dstRow, end = d + c.cols; d < end; d++, s += c.step) {
      const v = src[s];
      dst[d] = v;
      if (v === nodata) valid[d] = 0;
    }
  }
}

function copyI16(src: Int16Array, c: BandCopy, dst: Float32Array, valid: Uint8Array, nodata: number): void {
  for (let r = 0; r < c.rows; r++) {
    let s = c.src + r * c.srcRow;
    for (let d = c.dst + r * c.dstRow, end = d + c.cols; d < end; d++, s += c.step) {
      const v = src[s];
      dst[d] = v;
      if (v === nodata) valid[d] = 0;
    }
  }
}

function copyU32(src: Uint32Array, c: BandCopy, dst: Float32Array, valid: Uint8Array, nodata: number): void {
  for (let r = 0; r < c.rows; r++) {
    let s = c.src + r * c.srcRow;
    for (let d = c.dst + r * c.dstRow, end = d + c.cols; d < end; d++, s += c.step) {
      const v = src[s];
      dst[d] = v;
      if (v === nodata) valid[d] = 0;
    }
  }
}

function copyI32(src: Int32Array, c: BandCopy, dst: Float32Array, valid: Uint8Array, nodata: number): void {
  for (let r = 0; r < c.rows; r++) {
    let s = c.src + r * c.srcRow;
    for (let d = c.dst + r * c.dstRow, end = d + c.cols; d < end; d++, s += c.step) {
      const v = src[s];
      dst[d] = v;
      if (v === nodata) valid[d] = 0;
    }
  }
}

function copyF32(src: Float32Array, c: BandCopy, dst: Float32Array, valid: Uint8Array, nodata: number): void {
  for (let r = 0; r < c.rows; r++) {
    let s = c.src + r * c.srcRow;
    for (let d = c.dst + r * c.dstRow, end = d + c.cols; d < end; d++, s += c.step) {
      const v = src[s];
      dst[d] = v;
      if (v === nodata || v !== v) valid[d] = 0;
    }
  }
}

function copyF64(src: Float64Array, c: BandCopy, dst: Float32Array, valid: Uint8Array, nodata: number): void {
  for (let r = 0; r < c.rows; r++) {
    let s = c.src + r * c.srcRow;
    for (let d = c.dst + r * c.dstRow, end = d + c.cols; d < end; d++, s += c.step) {
      const v = src[s];
      dst[d] = v;
      if (v === nodata || v !== v) valid[d] = 0;
    }
  }
}

/**
 * Four bands of a pixel-interleaved uint16 block (a Sentinel-2 B02, B03, B04, B08 stack) in one
 * pass: each pixel's samples are read together instead of in four strided passes over the block.
 * `samples` are the four samples' offsets within a pixel, `c.src` the pixel's first sample.
 */
function copyU16x4(src: Uint16Array, c: BandCopy, samples: readonly number[], out: readonly Float32Array[], valid: Uint8Array, nodata: number): void {
  const [s0 = 0, s1 = 0, s2 = 0, s3 = 0] = samples;
  const [o0, o1, o2, o3] = out;
  if (!o0 || !o1 || !o2 || !o3) return;
  const { rows, cols, step, srcRow, dstRow } = c;
  for (let r = 0; r < rows; r++) {
    let s = c.src + r * srcRow;
    for (let d = c.dst + r * dstRow, end = d + cols; d < end; d++, s += step) {
      const v0 = src[s + s0];
      const v1 = src[s + s1];
      const v2 = src[s + s2];
      const v3 = src[s + s3];
      o0[d] = v0;
      o1[d] = v1;
      o2[d] = v2;
      o3[d] = v3;
      if (v0 === nodata || v1 === nodata || v2 === nodata || v3 === nodata) valid[d] = 0;
    }
  }
}

function copyU16x3(src: Uint16Array, c: BandCopy, samples: readonly number[], out: readonly Float32Array[], valid: Uint8Array, nodata: number): void {
  const [s0 = 0, s1 = 0, s2 = 0] = samples;
  const [o0, o1, o2] = out;
  if (!o0 || !o1 || !o2) return;
  const { rows, cols, step, srcRow, dstRow } = c;
  for (let r = 0; r < rows; r++) {
    let s = c.src + r * srcRow;
    for (let d = c.dst + r * dstRow, end = d + cols; d < end; d++, s += step) {
      const v0 = src[s + s0];
      const v1 = src[s + s1];
      const v2 = src[s + s2];
      o0[d] = v0;
      o1[d] = v1;
      o2[d] = v2;
      if (v0 === nodata || v1 === nodata || v2 === nodata) valid[d] = 0;
    }
  }
}

/**
 * Any number of bands of a pixel-interleaved uint16 block: four (then three) at a time, so each
 * pass reads the block's rows once for several bands instead of once per band.
 */
function copyU16xN(src: Uint16Array, c: BandCopy, samples: readonly number[], out: readonly Float32Array[], valid: Uint8Array, nodata: number): void {
  let k = 0;
  while (k < samples.length) {
    const left = samples.length - k;
    if (left >= 4 && left !== 5) {
      copyU16x4(src, c, samples.slice(k, k + 4), out.slice(k, k + 4), valid, nodata);
      k += 4;
    } else if (left >= 3) {
      copyU16x3(src, c, samples.slice(k, k + 3), out.slice(k, k + 3), valid, nodata);
      k += 3;
    } else {
      for (; k < samples.length; k++) {
        const dst = out[k];
        if (dst) copyU16(src, { ...c, src: c.src + (samples[k] ?? 0) }, dst, valid, nodata);
      }
    }
  }
}

/**
 * `copyU16x4` for a block whose horizontal differencing (predictor 2) is still in place: each
 * sample is the running sum of its row's differences, kept in a register while the pixel is
 * copied, so the block is read once instead of being rewritten by the predictor and then read.
 * `lead` pixels of each row lie before the first one copied (`c.src`): they are summed, not
 * copied.
 */
function copyU16x4Differenced(src: Uint16Array, c: BandCopy, lead: number, samples: readonly number[], out: readonly Float32Array[], valid: Uint8Array, nodata: number): void {
  const [s0 = 0, s1 = 0, s2 = 0, s3 = 0] = samples;
  const [o0, o1, o2, o3] = out;
  if (!o0 || !o1 || !o2 || !o3) return;
  // Locals rather than `c.…` in the loops: V8 then keeps them in registers.
  const { rows, cols, step, srcRow, dstRow } = c;
  for (let r = 0; r < rows; r++) {
    let s = c.src + r * srcRow - lead * step;
    let v0 = 0;
    let v1 = 0;
    let v2 = 0;
    let v3 = 0;
    for (let k = 0; k < lead; k++, s += step) {
      v0 = (v0 + src[s + s0]) & 0xffff;
      v1 = (v1 + src[s + s1]) & 0xffff;
      v2 = (v2 + src[s + s2]) & 0xffff;
      v3 = (v3 + src[s + s3]) & 0xffff;
    }
    for (let d = c.dst + r * dstRow, end = d + cols; d < end; d++, s += step) {
      v0 = (v0 + src[s + s0]) & 0xffff;
      v1 = (v1 + src[s + s1]) & 0xffff;
      v2 = (v2 + src[s + s2]) & 0xffff;
      v3 = (v3 + src[s + s3]) & 0xffff;
      o0[d] = v0;
      o1[d] = v1;
      o2[d] = v2;
      o3[d] = v3;
      if (v0 === nodata || v1 === nodata || v2 === nodata || v3 === nodata) valid[d] = 0;
    }
  }
}

/** Geometry handed to the native copy (native.ts), reused from call to call. */
const nativeGeometry = new Int32Array(8);

/**
 * Samples of a pixel-interleaved uint16 block into Float32 bands with the native loop
 * (native.ts), `lead` as in copyU16x4Differenced or -1 for a block with the predictor undone.
 * False where the binding is not built: the caller then uses the JavaScript loops, which give the
 * same values.
 */
function copyU16Native(src: Uint16Array, c: BandCopy, lead: number, samples: readonly number[], out: readonly Float32Array[], valid: Uint8Array, nodata: number): boolean {
  if (!nativeBlocks) return false;
  nativeGeometry[0] = c.src;
  nativeGeometry[1] = c.srcRow;
  nativeGeometry[2] = c.step;
  nativeGeometry[3] = c.dst;
  nativeGeometry[4] = c.dstRow;
  nativeGeometry[5] = c.rows;
  nativeGeometry[6] = c.cols;
  nativeGeometry[7] = lead;
  nativeBlocks.copyU16(src, nativeGeometry, Int32Array.from(samples), out as Float32Array[], valid, nodata);
  return true;
}

function copyBand(view: SampleView, c: BandCopy, dst: Float32Array, valid: Uint8Array, nodata: number): void {
  switch (view.kind) {
    case 'u8': return copyU8(view.values, c, dst, valid, nodata);
    case 'i8': return copyI8(view.values, c, dst, valid, nodata);
    case 'u16': return copyU16(view.values, c, dst, valid, nodata);
    case 'i16': return copyI16(view.values, c, dst, valid, nodata);
    case 'u32': return copyU32(view.values, c, dst, valid, nodata);
    case 'i32': return copyI32(view.values, c, dst, valid, nodata);
    case 'f32': return copyF32(view.values, c, dst, valid, nodata);
    case 'f64': return copyF64(view.values, c, dst, valid, nodata);
  }
}

/** Unpacks MSB-first bit-packed samples (BitsPerSample not a multiple of 8); rows start on a byte. */
function unpackBitSamples(bytes: Uint8Array, samplesPerRow: number, rows: number, bits: number): Uint32Array {
  const out = new Uint32Array(samplesPerRow * rows);
  const rowBytes = Math.ceil((samplesPerRow * bits) / 8);
  for (let r = 0; r < rows; r++) {
    let bitPos = r * rowBytes * 8;
    const base = r * samplesPerRow;
    for (let s = 0; s < samplesPerRow; s++) {
      let value = 0;
      let remaining = bits;
      while (remaining > 0) {
        const byte = bytes[bitPos >>> 3] ?? 0;
        const offsetInByte = bitPos & 7;
        const take = Math.min(remaining, 8 - offsetInByte);
        const chunk = (byte >>> (8 - offsetInByte - take)) & ((1 << take) - 1);
        value = value * (1 << take) + chunk;
        remaining -= take;
        bitPos += take;
      }
      out[base + s] = value;
    }
  }
  return out;
}

/** In-place YCbCr → RGB (JFIF / ITU-R BT.601 full range), as libjpeg converts JPEG-in-TIFF. */
function ycbcrToRgb(pixels: Uint8Array): void {
  const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let i = 0; i + 2 < pixels.length; i += 3) {
    const y = pixels[i] ?? 0;
    const cb = (pixels[i + 1] ?? 0) - 128;
    const cr = (pixels[i + 2] ?? 0) - 128;
    pixels[i] = clamp(y + 1.402 * cr);
    pixels[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    pixels[i + 2] = clamp(y + 1.772 * cb);
  }
}

/** Runs `tasks` with at most `limit` in flight. */
async function runLimited(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, tasks.length) }, async () => {
    while (next < tasks.length) {
      const task = tasks[next++];
      if (task) await task();
    }
  });
  await Promise.all(workers);
}

/** A Float32Array whose memory is not zeroed first: for outputs every element of which is written. */
function uninitializedFloat32(length: number): Float32Array {
  const bytes = Buffer.allocUnsafeSlow(length * 4);
  return new Float32Array(bytes.buffer, bytes.byteOffset, length);
}

/**
 * Whether reading `window` writes every output value: it lies inside the image and every block
 * it touches (of every band asked for, when planar) is stored, not sparse.
 */
function writesEveryPixel(ifd: IfdSummary, window: PixelWindow, bandIndices: number[]): boolean {
  if (window.col < 0 || window.row < 0 || window.col + window.width > ifd.width || window.row + window.height > ifd.height) return false;
  const blocksPerBand = ifd.blocksAcross * ifd.blocksDown;
  const planes = ifd.planarConfiguration === 2 ? bandIndices : [0];
  for (let ty = Math.floor(window.row / ifd.blockHeight); ty <= Math.floor((window.row + window.height - 1) / ifd.blockHeight); ty++) {
    for (let tx = Math.floor(window.col / ifd.blockWidth); tx <= Math.floor((window.col + window.width - 1) / ifd.blockWidth); tx++) {
      for (const plane of planes) {
        if (!((ifd.blockByteCounts[plane * blocksPerBand + ty * ifd.blocksAcross + tx] ?? 0) > 0)) return false;
      }
    }
  }
  return true;
}

/** Where the blocks of one window read go (see TiffScene.readLevel). */
interface BlockTarget {
  window: PixelWindow;
  out: Float32Array[];
  valid: Uint8Array;
  nodata: number | null;
}

/** An open GeoTIFF: its description and a window reader. */
export class TiffScene {
  /** Compressed bytes of the block being decoded (see copyBlock). */
  private readBuffer: Uint8Array = new Uint8Array(0);

  private constructor(
    readonly info: SceneInfo,
    private readonly source: ByteSource,
    private readonly levels: ImageLevel[],
    /** Nodata as compared with raw values (float32 files: rounded to float32, as GDAL does). */
    private readonly nodataRaw: number | null,
  ) {}

  /** Bytes read from disk or network so far. */
  get bytesRead(): number {
    return this.source.bytesRead;
  }

  /**
   * Opens and checks a GeoTIFF (path or http(s) URL) and reads its header, tags and georeferencing.
   * @throws OrewatchError input errors naming the file (see guard.ts, resolveBandNames, crs.ts),
   *   SCENE.NOT_FOUND, transient SCENE.NETWORK.
   */
  static async open(uri: string, options: OpenTiffOptions = {}): Promise<TiffScene> {
    await registerOrewatchDecoders();
    const source = await openByteSource(uri, options);
    try {
      return await TiffScene.build(uri, source, options);
    } catch (error) {
      await source.close().catch(() => undefined);
      throw error;
    }
  }

  private static async build(uri: string, source: ByteSource, options: OpenTiffOptions): Promise<TiffScene> {
    const summary = await guardTiff(source, uri);
    const adapter = new GeotiffSourceAdapter(source);
    const tiff = await GeoTIFF.fromSource(adapter as unknown as Parameters<typeof GeoTIFF.fromSource>[0]);
    const images: GeoTIFFImage[] = [];
    for (let i = 0; i < summary.ifdCount; i++) images.push(await tiff.getImage(i));
    const main = images[0];
    const mainIfd = summary.ifds[0];
    if (!main || !mainIfd) throw inputError('SCENE.CORRUPT', `${uri} contains no image`, uri);
    const directory = main.fileDirectory;

    // Georeferencing.
    let geoKeys: Record<string, unknown> | null;
    try {
      geoKeys = main.getGeoKeys() as Record<string, unknown> | null;
    } catch (error) {
      throw inputError('SCENE.NO_GEOREFERENCE', `${uri} has GeoKeys that cannot be read (${(error as Error).message})`, uri, error);
    }
    const pixelIsPoint = geoKeys?.GTRasterTypeGeoKey === 2;
    const transform = geoTransformOf(uri, directory, pixelIsPoint);
    if (!geoKeys || Object.keys(geoKeys).length === 0) {
      throw inputError('SCENE.NO_GEOREFERENCE', `${uri} has a geotransform but no CRS (no GeoKeyDirectory tag)`, uri);
    }
    const crs: Crs = crsFromGeoKeys(geoKeys, uri);

    // GDAL metadata, nodata, date.
    const metadataXml = directory.hasTag('GDAL_METADATA') ? tagText(await directory.loadValue('GDAL_METADATA')) : null;
    const gdal = parseGdalMetadata(metadataXml);
    const bandCount = mainIfd.samplesPerPixel;
    const descriptions = Array.from({ length: bandCount }, (_, i) => gdal.descriptions.get(i) ?? null);
    const bands = resolveBandNames(uri, bandCount, descriptions, options.bandNames);
    const metadata: Record<string, string> = { ...gdal.dataset };
    for (const [sample, items] of gdal.bands) {
      const bandName = bands[sample];
      if (bandName === undefined) continue;
      for (const [name, value] of Object.entries(items)) metadata[`${name}:${bandName}`] = value;
    }
    const nodataText = directory.hasTag('GDAL_NODATA') ? tagText(await directory.loadValue('GDAL_NODATA')) : null;
    const nodata = parseNodata(nodataText);
    const sampleType = sampleTypeOf(mainIfd);
    const nodataRaw = nodata === null ? null : sampleType === 'float32' ? Math.fround(nodata) : nodata;
    const datetimeTag = directory.hasTag(TIFF_DATETIME_TAG) ? tagText(await directory.loadValue(TIFF_DATETIME_TAG)) : null;
    const acquisitionDate = normalizeDate(gdal.dataset.ACQUISITION_DATE)
      ?? normalizeDate(gdal.dataset.SENSING_DATE)
      ?? normalizeDate(gdal.dataset.DATATAKE_1_DATATAKE_SENSING_START)
      ?? normalizeDate(gdal.domains['IMAGERY/ACQUISITIONDATETIME'])
      ?? normalizeDate(datetimeTag);

    // Images: the first IFD, its overviews (reduced resolution) and transparency masks.
    const isMask = (ifd: IfdSummary): boolean => (ifd.newSubfileType & 4) !== 0;
    const isOverview = (ifd: IfdSummary): boolean => (ifd.newSubfileType & 1) !== 0 && !isMask(ifd);
    const level = async (ifd: IfdSummary, image: GeoTIFFImage): Promise<ImageLevel> => ({
      ifd,
      decoder: await TiffScene.decoderFor(uri, ifd, image, summary.littleEndian),
      ycbcr: ifd.compression === 7 && ifd.photometric === 6 && ifd.samplesPerPixel === 3 && ifd.planarConfiguration === 1,
      mask: null,
      cache: null,
    });
    if (mainIfd.photometric === 6 && mainIfd.compression !== 7) {
      throw inputError('SCENE.UNSUPPORTED_FORMAT', `${uri} stores YCbCr pixels without JPEG compression, which orewatch cannot read`, uri);
    }
    const levels: ImageLevel[] = [await level(mainIfd, main)];
    const overviewIfds = summary.ifds.filter((ifd) => ifd.index > 0 && isOverview(ifd)
      && ifd.samplesPerPixel === mainIfd.samplesPerPixel && ifd.bitsPerSample === mainIfd.bitsPerSample
      && ifd.sampleFormat === mainIfd.sampleFormat && ifd.width < mainIfd.width);
    overviewIfds.sort((a, b) => b.width - a.width);
    for (const ifd of overviewIfds) {
      const image = images[ifd.index];
      if (image) levels.push(await level(ifd, image));
    }
    const masks = summary.ifds.filter((ifd) => isMask(ifd) && ifd.samplesPerPixel === 1 && ifd.sampleFormat === 1 && ifd.bitsPerSample <= 8);
    for (const target of levels) {
      const wantOverview = target.ifd.index !== 0;
      const maskIfd = masks.find((m) => ((m.newSubfileType & 1) !== 0) === wantOverview && m.width === target.ifd.width && m.height === target.ifd.height);
      const maskImage = maskIfd ? images[maskIfd.index] : undefined;
      if (maskIfd && maskImage) target.mask = await level(maskIfd, maskImage);
    }

    const info: SceneInfo = {
      uri,
      grid: { width: mainIfd.width, height: mainIfd.height, crs, transform },
      bands,
      sampleType,
      nodata,
      scales: Array.from({ length: bandCount }, (_, i) => gdal.scales.get(i) ?? null),
      offsets: Array.from({ length: bandCount }, (_, i) => gdal.offsets.get(i) ?? null),
      acquisitionDate,
      metadata,
      overviews: levels.slice(1).map((l) => ({ width: l.ifd.width, height: l.ifd.height })),
      byteLength: source.size,
    };
    return new TiffScene(info, source, levels, nodataRaw);
  }

  private static async decoderFor(file: string, ifd: IfdSummary, image: GeoTIFFImage, littleEndian: boolean): Promise<BoundedDecoder> {
    const directory = image.fileDirectory;
    const params: BlockDecoderParameters = {
      tileWidth: ifd.blockWidth,
      tileHeight: ifd.blockHeight,
      planarConfiguration: ifd.planarConfiguration,
      bitsPerSample: Array.from({ length: ifd.samplesPerPixel }, () => ifd.bitsPerSample),
      samplesPerPixel: ifd.samplesPerPixel,
      predictor: ifd.predictor,
      sampleFormat: ifd.sampleFormat,
      littleEndian,
      maxDecodedBytes: ifd.maxBlockBytes + BLOCK_SLACK_BYTES,
      file,
    };
    if (ifd.compression === 7 && directory.hasTag('JPEGTables')) {
      params.JPEGTables = (await directory.loadValue('JPEGTables')) as Uint8Array;
    }
    if (ifd.compression === 34887 && directory.hasTag('LercParameters')) {
      params.LercParameters = (await directory.loadValue('LercParameters')) as ArrayLike<number>;
    }
    return createBlockDecoder(ifd.compression, params);
  }

  /**
   * Block height (rows) of the full-resolution image (overview null) or of overview `overview`:
   * windows split at multiples of it decode no block twice.
   */
  blockHeight(overview: number | null = null): number {
    const level = this.levels[overview === null ? 0 : overview + 1];
    return level ? level.ifd.blockHeight : 1;
  }

  /**
   * Reads a window of the full-resolution image (overview null) or of overview `overview`, in
   * that image's pixel coordinates. Pixels outside the image are invalid and hold the nodata
   * value (0 when there is none).
   * @param bandIndices 0-based bands to return, in the order wanted.
   * @param into arrays to write into instead of new ones (window.width × window.height values
   *   each, zeros; e.g. views of SharedArrayBuffers that several decode workers fill).
   * @returns one Float32Array of window.width × window.height values (row-major) per band, and
   *   `valid` (1 where every returned band has data and the mask, if any, is set).
   */
  async readWindow(window: PixelWindow, bandIndices: number[], overview: number | null = null, into?: RawWindow): Promise<RawWindow> {
    const level = this.levels[overview === null ? 0 : overview + 1];
    if (!level) {
      throw inputError('SCENE.UNKNOWN_OVERVIEW', `${this.info.uri} has ${this.levels.length - 1} overview(s); overview ${overview} does not exist`, this.info.uri);
    }
    const fill = this.info.nodata ?? 0;
    const size = window.width * window.height;
    if (into && (into.bands.length !== bandIndices.length || into.valid.length !== size || into.bands.some((b) => b.length !== size))) {
      throw new OrewatchError('SCENE.PROTOCOL', `Output arrays for a ${window.width} × ${window.height} window of ${this.info.uri} have the wrong size`, { kind: 'internal' });
    }
    // A window inside the image whose blocks are all present gets every output value written by
    // the blocks: its arrays need not be zeroed first (zeroing them costs as much as a quarter of
    // the copying). Otherwise new arrays are zeros already, filled only for another nodata value.
    // Arrays given (`into`) may hold an earlier window's values: filled like new ones.
    const complete = writesEveryPixel(level.ifd, window, bandIndices);
    const bands = into
      ? into.bands.map((b) => (complete ? b : b.fill(fill)))
      : bandIndices.map(() => (complete ? uninitializedFloat32(size) : fill === 0 ? new Float32Array(size) : new Float32Array(size).fill(fill)));
    const valid = into ? (complete ? into.valid : into.valid.fill(0)) : complete ? Buffer.allocUnsafeSlow(size) : new Uint8Array(size);
    await this.readLevel(level, window, bandIndices, bands, valid, this.nodataRaw);
    if (level.mask) {
      const mask = new Float32Array(size);
      await this.readLevel(level.mask, window, [0], [mask], new Uint8Array(size), null);
      for (let i = 0; i < size; i++) if (mask[i] === 0) valid[i] = 0;
    }
    return { bands, valid };
  }

  /**
   * Decodes the blocks of one image level that touch `window` into `out` (one array per band,
   * already holding the fill value) and sets `valid` to 1 inside the image except where a value
   * is nodata (`nodata` as compared with raw values, null when there is none) or NaN.
   */
  private async readLevel(level: ImageLevel, window: PixelWindow, bandIndices: number[], out: Float32Array[], valid: Uint8Array, nodata: number | null): Promise<void> {
    const { ifd } = level;
    const c0 = Math.max(0, window.col);
    const r0 = Math.max(0, window.row);
    const c1 = Math.min(ifd.width, window.col + window.width);
    const r1 = Math.min(ifd.height, window.row + window.height);
    if (c0 >= c1 || r0 >= r1) return;
    for (let r = r0; r < r1; r++) valid.fill(1, (r - window.row) * window.width + (c0 - window.col), (r - window.row) * window.width + (c1 - window.col));

    const bw = ifd.blockWidth;
    const bh = ifd.blockHeight;
    const blocksPerBand = ifd.blocksAcross * ifd.blocksDown;
    const target: BlockTarget = { window, out, valid, nodata };
    const tasks: (() => Promise<void>)[] = [];
    for (let ty = Math.floor(r0 / bh); ty <= Math.floor((r1 - 1) / bh); ty++) {
      for (let tx = Math.floor(c0 / bw); tx <= Math.floor((c1 - 1) / bw); tx++) {
        if (ifd.planarConfiguration === 1) {
          const samples = bandIndices.map((band, outIndex) => ({ sample: band, outIndex }));
          tasks.push(() => this.copyBlock(level, ty * ifd.blocksAcross + tx, tx, ty, samples, target));
        } else {
          bandIndices.forEach((band, outIndex) => {
            tasks.push(() => this.copyBlock(level, band * blocksPerBand + ty * ifd.blocksAcross + tx, tx, ty, [{ sample: 0, outIndex }], target));
          });
        }
      }
    }
    // Reads of the next blocks overlap the decoding of this one (decoding itself is synchronous).
    await runLimited(tasks, 4);
  }

  private async copyBlock(
    level: ImageLevel,
    blockIndex: number,
    tx: number,
    ty: number,
    samples: { sample: number; outIndex: number }[],
    target: BlockTarget,
  ): Promise<void> {
    const { ifd } = level;
    const { window, out, valid, nodata } = target;
    const file = this.info.uri;
    const bw = ifd.blockWidth;
    let blockRow0 = ty * ifd.blockHeight;
    const blockCol0 = tx * bw;
    let rowsInBlock = ifd.tiled ? ifd.blockHeight : Math.min(ifd.blockHeight, ifd.height - blockRow0);
    const samplesPerPixel = ifd.planarConfiguration === 2 ? 1 : ifd.samplesPerPixel;
    const rowBytes = Math.ceil((bw * samplesPerPixel * ifd.bitsPerSample) / 8);
    const r0 = Math.max(window.row, blockRow0);
    const c0 = Math.max(window.col, blockCol0);
    const c1 = Math.min(window.col + window.width, blockCol0 + bw, ifd.width);
    const byteCount = ifd.blockByteCounts[blockIndex] ?? 0;
    if (byteCount === 0) {
      // Sparse block: keeps the fill value, as GDAL does, which is nodata when there is one.
      if (nodata !== null) {
        const r1 = Math.min(window.row + window.height, blockRow0 + rowsInBlock, ifd.height);
        for (let r = r0; r < r1; r++) valid.fill(0, (r - window.row) * window.width + (c0 - window.col), (r - window.row) * window.width + (c1 - window.col));
      }
      return;
    }
    // A compressed block decoded for an earlier window (the halo reaches into neighbouring
    // blocks) comes from the cache instead of being inflated again.
    const cache = ifd.compression === 1 ? null : this.cacheOf(level);
    if (cache) {
      const rEnd = Math.min(window.row + window.height, blockRow0 + rowsInBlock, ifd.height);
      if (r0 >= rEnd || c0 >= c1) return;
      const piece = cache.find(blockIndex, c0 - blockCol0, r0 - blockRow0, c1 - blockCol0, rEnd - blockRow0);
      if (piece) {
        this.copyPiece(viewOf(piece.values), piece, samplesPerPixel, blockCol0, blockRow0, r0, rEnd, c0, c1, samples, target);
        return;
      }
    }
    let offset = ifd.blockOffsets[blockIndex] ?? 0;
    let length = byteCount;
    if (ifd.compression === 1) {
      // Uncompressed rows can be read on their own (the predictor works row by row too): a
      // window of a single-strip scene then costs its rows, not the whole strip.
      const first = Math.max(window.row, blockRow0) - blockRow0;
      const last = Math.min(window.row + window.height, blockRow0 + rowsInBlock) - blockRow0;
      offset += first * rowBytes;
      length = Math.min(byteCount - first * rowBytes, (last - first) * rowBytes);
      blockRow0 += first;
      rowsInBlock = last - first;
      if (length < rowsInBlock * rowBytes) {
        throw inputError('SCENE.CORRUPT_BLOCK', `${file}: block ${blockIndex} of IFD #${ifd.index} holds ${byteCount} bytes, too few for its rows`, file);
      }
    }
    // Local files are read synchronously; for a decoder that is done with its input when it
    // returns, into one buffer the scene reuses for every block (no allocation per block).
    let stored: Uint8Array;
    if (this.source.readSync) {
      if (level.decoder.synchronous && this.readBuffer.length < length) this.readBuffer = Buffer.allocUnsafeSlow(Math.ceil(length * 1.25));
      stored = this.source.readSync(offset, length, level.decoder.synchronous ? this.readBuffer : undefined);
    } else {
      stored = await this.source.read(offset, length);
    }
    if (stored.length < length) {
      throw inputError('SCENE.TRUNCATED', `${file} is truncated: block ${blockIndex} of IFD #${ifd.index} ends past the end of the file`, file);
    }
    // Four bands of a uint16 block with horizontal differencing (Sentinel-2 stacks as GDAL
    // writes them): the predictor is undone while the samples are copied out.
    const fused = !cache && samples.length === 4 && ifd.predictor === 2 && ifd.bitsPerSample === 16 && ifd.sampleFormat === 1 && ifd.planarConfiguration === 1;
    let decoded: Uint8Array;
    try {
      // The bytes read go to the decoder as they are: no ArrayBuffer copy on the way in or out.
      // The decoded block is copied out before the next block is decoded: the decoder may reuse
      // its buffer.
      // A block that goes into the cache needs a buffer of its own, with the predictor undone.
      // A cached block is decoded into the buffer of one the cache let go, where there is one.
      const output = cache?.takeSpare(level.decoder.parameters.maxDecodedBytes);
      const result = level.decoder.decodeBytes(stored, { undoHorizontalPredictor: !fused, reuseOutput: !cache, ...(output ? { output } : {}) });
      decoded = result instanceof Promise ? await result : result;
    } catch (error) {
      if (error instanceof OrewatchError) throw error;
      throw inputError('SCENE.CORRUPT_BLOCK', `${file}: block ${blockIndex} of IFD #${ifd.index} cannot be decoded (${(error as Error).message})`, file, error);
    }
    if (decoded.length < rowBytes * rowsInBlock) {
      throw inputError('SCENE.CORRUPT_BLOCK', `${file}: block ${blockIndex} of IFD #${ifd.index} decodes to ${decoded.length} bytes, expected ${rowBytes * rowsInBlock}`, file);
    }
    const view = this.sampleView(level, decoded, rowsInBlock);
    const r1 = Math.min(window.row + window.height, blockRow0 + rowsInBlock, ifd.height);
    const rowStart = Math.max(r0, blockRow0);
    if (cache) {
      const piece = { x0: 0, y0: 0, width: bw, height: rowsInBlock, values: view.values };
      cache.add(blockIndex, piece);
      if (rowStart < r1 && c0 < c1) this.copyPiece(view, piece, samplesPerPixel, blockCol0, blockRow0, rowStart, r1, c0, c1, samples, target);
      return;
    }
    if (rowStart >= r1 || c0 >= c1) return;
    const nodataValue = nodata ?? Number.NaN;
    // Any number of uint16 samples natively; four in JavaScript where the binding is not built.
    if (view.kind === 'u16' && (samples.length === 4 || nativeBlocks)) {
      const dsts = samples.map((t) => out[t.outIndex]).filter((d): d is Float32Array => d !== undefined);
      const pixels: BandCopy = {
        src: ((rowStart - blockRow0) * bw + (c0 - blockCol0)) * samplesPerPixel,
        srcRow: bw * samplesPerPixel,
        step: samplesPerPixel,
        dst: (rowStart - window.row) * window.width + (c0 - window.col),
        dstRow: window.width,
        rows: r1 - rowStart,
        cols: c1 - c0,
      };
      const offsets = samples.map((t) => t.sample);
      if (copyU16Native(view.values, pixels, fused ? c0 - blockCol0 : -1, offsets, dsts, valid, nodataValue)) return;
      if (fused) copyU16x4Differenced(view.values, pixels, c0 - blockCol0, offsets, dsts, valid, nodataValue);
      else copyU16x4(view.values, pixels, offsets, dsts, valid, nodataValue);
      return;
    }
    if (fused) throw new OrewatchError('SCENE.PROTOCOL', `${file}: block ${blockIndex} was left differenced for a copy that does not undo it`, { kind: 'internal' });
    for (const { sample, outIndex } of samples) {
      const dst = out[outIndex];
      if (!dst) continue;
      copyBand(view, {
        src: ((rowStart - blockRow0) * bw + (c0 - blockCol0)) * samplesPerPixel + sample,
        srcRow: bw * samplesPerPixel,
        step: samplesPerPixel,
        dst: (rowStart - window.row) * window.width + (c0 - window.col),
        dstRow: window.width,
        rows: r1 - rowStart,
        cols: c1 - c0,
      }, dst, valid, nodataValue);
    }
  }

  /** The level's block cache, made on first use; null when caching is off. */
  private cacheOf(level: ImageLevel): BlockCache | null {
    if (level.cache) return level.cache;
    const budget = decodeCacheBytes();
    if (budget === 0) return null;
    level.cache = new BlockCache({
      budgetBytes: budget,
      stripBudgetBytes: Math.floor(budget / 2),
      stripPx: STRIP_PX,
      samplesPerPixel: level.ifd.planarConfiguration === 2 ? 1 : level.ifd.samplesPerPixel,
    });
    return level.cache;
  }

  /** Copies rows [r0, r1) × columns [c0, c1) (image pixels) of a cached piece of a block into the window. */
  private copyPiece(view: SampleView, piece: BlockPiece, samplesPerPixel: number, blockCol0: number, blockRow0: number,
    r0: number, r1: number, c0: number, c1: number, samples: { sample: number; outIndex: number }[], target: BlockTarget): void {
    const { window, out, valid, nodata } = target;
    const nodataValue = nodata ?? Number.NaN;
    const pixels: BandCopy = {
      src: ((r0 - blockRow0 - piece.y0) * piece.width + (c0 - blockCol0 - piece.x0)) * samplesPerPixel,
      srcRow: piece.width * samplesPerPixel,
      step: samplesPerPixel,
      dst: (r0 - window.row) * window.width + (c0 - window.col),
      dstRow: window.width,
      rows: r1 - r0,
      cols: c1 - c0,
    };
    if (view.kind === 'u16' && samples.every((t) => out[t.outIndex] !== undefined)) {
      const bands = samples.map((t) => out[t.outIndex] as Float32Array);
      const offsets = samples.map((t) => t.sample);
      if (copyU16Native(view.values, pixels, -1, offsets, bands, valid, nodataValue)) return;
    }
    if (view.kind === 'u16' && samples.length > 1 && samples.every((t) => out[t.outIndex] !== undefined)) {
      copyU16xN(view.values, pixels, samples.map((t) => t.sample), samples.map((t) => out[t.outIndex] as Float32Array), valid, nodataValue);
      return;
    }
    for (const { sample, outIndex } of samples) {
      const dst = out[outIndex];
      if (dst) copyBand(view, { ...pixels, src: pixels.src + sample }, dst, valid, nodataValue);
    }
  }

  /** Decoded blocks: inflated, and served from the cache (whole or from an edge strip). */
  get cacheStats(): { decoded: number; hits: number; stripHits: number } {
    const total = { decoded: 0, hits: 0, stripHits: 0 };
    for (const level of this.levels) {
      for (const l of [level, level.mask]) {
        if (!l?.cache) continue;
        total.decoded += l.cache.stats.decoded; total.hits += l.cache.stats.hits; total.stripHits += l.cache.stats.stripHits;
      }
    }
    return total;
  }

  /** Typed view of a decoded (little-endian, 8-byte aligned) block's samples, [row][column][sample]. */
  private sampleView(level: ImageLevel, decoded: Uint8Array, rows: number): SampleView {
    const { ifd } = level;
    const bits = ifd.bitsPerSample;
    const samplesPerPixel = ifd.planarConfiguration === 2 ? 1 : ifd.samplesPerPixel;
    const count = ifd.blockWidth * samplesPerPixel * rows;
    if (bits % 8 !== 0) return { kind: 'u32', values: unpackBitSamples(decoded, ifd.blockWidth * samplesPerPixel, rows, bits) };
    const bytes = decoded.byteOffset % 8 === 0 ? decoded : new Uint8Array(decoded);
    const buffer = bytes.buffer;
    const at = bytes.byteOffset;
    if (bits === 8) {
      if (ifd.sampleFormat === 2) return { kind: 'i8', values: new Int8Array(buffer, at, count) };
      const pixels = new Uint8Array(buffer, at, count);
      if (level.ycbcr) ycbcrToRgb(pixels);
      return { kind: 'u8', values: pixels };
    }
    if (bits === 16) {
      if (ifd.sampleFormat === 3) {
        const halves = new Uint16Array(buffer, at, count);
        const floats = new Float32Array(count);
        for (let i = 0; i < count; i++) floats[i] = halfToFloat(halves[i] as number);
        return { kind: 'f32', values: floats };
      }
      return ifd.sampleFormat === 2 ? { kind: 'i16', values: new Int16Array(buffer, at, count) } : { kind: 'u16', values: new Uint16Array(buffer, at, count) };
    }
    if (bits === 32) {
      if (ifd.sampleFormat === 3) return { kind: 'f32', values: new Float32Array(buffer, at, count) };
      return ifd.sampleFormat === 2 ? { kind: 'i32', values: new Int32Array(buffer, at, count) } : { kind: 'u32', values: new Uint32Array(buffer, at, count) };
    }
    return { kind: 'f64', values: new Float64Array(buffer, at, count) };
  }

  async close(): Promise<void> {
    for (const level of this.levels) {
      level.cache?.clear();
      level.mask?.cache?.clear();
    }
    await this.source.close();
  }
}

/** GDAL_NODATA text → number ("nan" → NaN), or null when absent or unparseable. */
export function parseNodata(text: string | null): number | null {
  if (text === null) return null;
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '') return null;
  if (trimmed === 'nan' || trimmed === '-nan') return Number.NaN;
  if (trimmed === 'inf' || trimmed === '+inf') return Number.POSITIVE_INFINITY;
  if (trimmed === '-inf') return Number.NEGATIVE_INFINITY;
  const value = Number(trimmed);
  return Number.isNaN(value) ? null : value;
}
