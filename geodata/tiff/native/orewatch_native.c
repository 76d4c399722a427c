/*
 * orewatch's native block decoding: libdeflate (vendored in libdeflate/, MIT, see its COPYING)
 * and the two loops that follow inflation for uint16 scenes (predictor 2, and the copy of a
 * block's samples into the reader's Float32 bands), behind a small N-API binding built at
 * `npm install` by scripts/build-native.mjs. geodata/tiff/native.ts loads it; where it
 * was not built, Node's zlib and the reader's JavaScript loops do the same work.
 *
 * Why our own binding: the TIFF blocks of a Sentinel-2 COG are whole zlib streams of known
 * decoded size, the case libdeflate is made for (whole-buffer, no streaming state, SIMD
 * Adler-32). It inflates them about 1.5 times as fast as zlib, which is what GDAL uses too, and
 * it writes into a buffer the caller owns, so a block costs no allocation. No package on npm
 * binds libdeflate.
 *
 *   inflateZlib(src: Uint8Array, dst: Uint8Array): number
 *     bytes written into dst (at most dst.length); -1 when the stream is corrupt; -2 when it
 *     would decode to more than dst.length bytes. Bytes after the end of the stream are ignored,
 *     as zlib does.
 *   inflateRaw(src, dst): the same for a raw DEFLATE stream (no zlib header or checksum).
 *   accumulate16(block: Uint8Array, rows, rowSamples, stride): undoes horizontal differencing
 *     (TIFF predictor 2) of little-endian 16-bit samples in place.
 *   copyU16(src: Uint16Array, geometry: Int32Array, samples: Int32Array, out: Float32Array[],
 *           valid: Uint8Array, nodata: number): copies `samples` (offsets within a pixel) of a
 *     pixel-interleaved uint16 block into one Float32 band each, clearing `valid` where any of
 *     them equals nodata (NaN: none). geometry = [src, srcRow, step, dst, dstRow, rows, cols,
 *     lead]: first sample, samples per block row, samples per pixel, first output index, output
 *     row length, rows, columns, and lead = -1 for a block with the predictor undone or the
 *     number of pixels of each row before the first one copied for a block still differenced
 *     (their differences are summed, not copied). Every index is checked against the arrays'
 *     lengths first: a RangeError instead of a write out of bounds.
 *
 * Why these loops are native: in JavaScript, copying a 4-band uint16 block into four Float32
 * arrays ran at about 57 Mpx/s and the predictor at about 190 Mpx/s, together as long as
 * libdeflate's inflation of the same block; here they run at memory speed.
 *
 * One decompressor per thread that loads the module (instance data), so decode worker threads
 * each have their own.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "libdeflate.h"

typedef enum libdeflate_result (*decompress_fn)(struct libdeflate_decompressor *, const void *, size_t, void *, size_t,
                                                size_t *, size_t *);

static void free_decompressor(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  libdeflate_free_decompressor((struct libdeflate_decompressor *)data);
}

/** The data and length of `value` when it is a typed array of type `want`; 0 otherwise. */
static int typed_of(napi_env env, napi_value value, napi_typedarray_type want, void **data, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, value, &type, length, data, NULL, NULL) != napi_ok) return 0;
  return type == want;
}

static int bytes_of(napi_env env, napi_value value, unsigned char **data, size_t *length) {
  return typed_of(env, value, napi_uint8_array, (void **)data, length);
}

static napi_value run(napi_env env, napi_callback_info info, decompress_fn fn) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "inflate(src, dst) takes two Uint8Arrays");
    return NULL;
  }
  unsigned char *src = NULL, *dst = NULL;
  size_t src_len = 0, dst_len = 0;
  if (!bytes_of(env, argv[0], &src, &src_len) || !bytes_of(env, argv[1], &dst, &dst_len)) {
    napi_throw_type_error(env, NULL, "inflate(src, dst) takes two Uint8Arrays");
    return NULL;
  }
  struct libdeflate_decompressor *d = NULL;
  if (napi_get_instance_data(env, (void **)&d) != napi_ok || d == NULL) {
    napi_throw_error(env, NULL, "the DEFLATE decompressor is missing");
    return NULL;
  }
  size_t in_used = 0, out_len = 0;
  enum libdeflate_result result = fn(d, src, src_len, dst, dst_len, &in_used, &out_len);
  double answer;
  if (result == LIBDEFLATE_SUCCESS) answer = (double)out_len;
  else if (result == LIBDEFLATE_INSUFFICIENT_SPACE) answer = -2;
  else answer = -1;
  napi_value out;
  napi_create_double(env, answer, &out);
  return out;
}

static napi_value inflate_zlib(napi_env env, napi_callback_info info) {
  return run(env, info, libdeflate_zlib_decompress_ex);
}

static napi_value inflate_raw(napi_env env, napi_callback_info info) {
  return run(env, info, libdeflate_deflate_decompress_ex);
}

static int int_arg(napi_env env, napi_value value, int64_t *out) {
  return napi_get_value_int64(env, value, out) == napi_ok;
}

static napi_value accumulate16(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  unsigned char *bytes = NULL;
  size_t length = 0;
  int64_t rows = 0, row_samples = 0, stride = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 || !bytes_of(env, argv[0], &bytes, &length) ||
      !int_arg(env, argv[1], &rows) || !int_arg(env, argv[2], &row_samples) || !int_arg(env, argv[3], &stride)) {
    napi_throw_type_error(env, NULL, "accumulate16(block, rows, rowSamples, stride)");
    return NULL;
  }
  if (rows < 0 || row_samples < 0 || stride < 1 || stride > 64 || (uint64_t)rows * (uint64_t)row_samples * 2 > length ||
      ((uintptr_t)bytes & 1) != 0) {
    napi_throw_range_error(env, NULL, "accumulate16: the block is smaller than its rows, or misaligned");
    return NULL;
  }
  uint16_t *v = (uint16_t *)bytes;
  for (int64_t r = 0; r < rows; r++) {
    uint16_t *row = v + r * row_samples;
    if (stride == 4) {
      uint16_t a = row[0], b = row[1], c = row[2], d = row[3];
      for (int64_t i = 4; i + 3 < row_samples; i += 4) {
        a = (uint16_t)(a + row[i]); b = (uint16_t)(b + row[i + 1]); c = (uint16_t)(c + row[i + 2]); d = (uint16_t)(d + row[i + 3]);
        row[i] = a; row[i + 1] = b; row[i + 2] = c; row[i + 3] = d;
      }
    } else {
      for (int64_t i = stride; i < row_samples; i++) row[i] = (uint16_t)(row[i] + row[i - stride]);
    }
  }
  return NULL;
}

/*
 * TIFF LZW (MSB-first codes of 9 to 12 bits, clear 256, end 257, "early change"), the same
 * algorithm as decodeLzw in decoders.ts and lzw.wat: the output is the string table (an entry is
 * a start and a length in the output), preceded by the 256 one-byte strings.
 *   decodeLzw(src: Uint8Array, dst: Uint8Array, limit: number): number
 *     dst holds LZW_SEED (256) + limit + 8 bytes; the block is written at dst[256...]. Returns the
 *     bytes decoded, -1 when they would exceed `limit`, or -(2 + code * 4097 + next) for a code
 *     not in the table (`next` the next free code).
 */
#define LZW_SEED 256

static inline uint32_t lzw_word(const uint8_t *in, size_t length, size_t byte) {
  if (byte + 4 <= length) return ((uint32_t)in[byte] << 24) | ((uint32_t)in[byte + 1] << 16) | ((uint32_t)in[byte + 2] << 8) | in[byte + 3];
  uint32_t w = 0;
  for (size_t k = 0; k < 4; k++) w = (w << 8) | (byte + k < length ? in[byte + k] : 0);
  return w;
}

static napi_value decode_lzw(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  unsigned char *src = NULL, *dst = NULL;
  size_t src_len = 0, dst_len = 0;
  int64_t limit = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || !bytes_of(env, argv[0], &src, &src_len) ||
      !bytes_of(env, argv[1], &dst, &dst_len) || !int_arg(env, argv[2], &limit)) {
    napi_throw_type_error(env, NULL, "decodeLzw(src: Uint8Array, dst: Uint8Array, limit: number)");
    return NULL;
  }
  if (limit < 0 || (uint64_t)limit + LZW_SEED + 8 > dst_len) {
    napi_throw_range_error(env, NULL, "decodeLzw: dst must hold 256 + limit + 8 bytes");
    return NULL;
  }
  static const int CLEAR = 256, EOI = 257;
  int32_t entry_start[4096];
  int32_t entry_length[4096];
  for (int i = 0; i < 256; i++) {
    dst[i] = (uint8_t)i;
    entry_start[i] = i;
    entry_length[i] = 1;
  }
  const uint64_t end = LZW_SEED + (uint64_t)limit;
  const uint64_t total_bits = (uint64_t)src_len * 8;
  uint64_t bit = 0;
  int width = 9;
  uint32_t mask = 511;
  int widen = 511;
  int next = 258;
  uint64_t pos = LZW_SEED;
  int64_t previous_start = -1;
  int64_t previous_length = 0;
  double answer = -1;
  for (;;) {
    if (bit + (uint64_t)width > total_bits) break;
    const uint32_t code = (lzw_word(src, src_len, (size_t)(bit >> 3)) >> (32 - (bit & 7) - (uint32_t)width)) & mask;
    bit += (uint64_t)width;
    int64_t length;
    if ((int)code < next && (code & 0xffe) != (uint32_t)CLEAR) {
      const int64_t start = entry_start[code];
      length = entry_length[code];
      if (pos + (uint64_t)length > end) goto too_large;
      if (length <= 8) memcpy(dst + pos, dst + start, 8); /* pos + 8 <= end + 8: inside dst */
      else memcpy(dst + pos, dst + start, (size_t)length);
    } else if ((int)code == CLEAR) {
      width = 9;
      mask = 511;
      widen = 511;
      next = 258;
      previous_start = -1;
      continue;
    } else if ((int)code == EOI) {
      break;
    } else if ((int)code == next && previous_start >= 0) {
      length = previous_length + 1;
      if (pos + (uint64_t)length > end) goto too_large;
      memcpy(dst + pos, dst + previous_start, (size_t)previous_length);
      dst[pos + (uint64_t)previous_length] = dst[previous_start];
    } else {
      answer = -(2.0 + (double)code * 4097.0 + (double)next);
      goto done;
    }
    if (previous_start >= 0 && next < 4096) {
      entry_start[next] = (int32_t)previous_start;
      entry_length[next] = (int32_t)(previous_length + 1);
      next++;
      if (next == widen && width < 12) {
        width++;
        mask = (1u << width) - 1;
        widen = (int)mask;
      }
    }
    previous_start = (int64_t)pos;
    previous_length = length;
    pos += (uint64_t)length;
  }
  answer = (double)(pos - LZW_SEED);
  goto done;
too_large:
  answer = -1;
done:;
  napi_value out;
  napi_create_double(env, answer, &out);
  return out;
}

#define MAX_COPY_SAMPLES 32

static int float_array(napi_env env, napi_value value, float **data, size_t *length) {
  return typed_of(env, value, napi_float32_array, (void **)data, length);
}

static napi_value copy_u16(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  void *src_base = NULL, *geometry_base = NULL, *samples_base = NULL, *valid_base = NULL;
  size_t src_len = 0, geometry_len = 0, samples_len = 0, valid_len = 0;
  double nodata_value = NAN;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6 ||
      !typed_of(env, argv[0], napi_uint16_array, &src_base, &src_len) ||
      !typed_of(env, argv[1], napi_int32_array, &geometry_base, &geometry_len) || geometry_len < 8 ||
      !typed_of(env, argv[2], napi_int32_array, &samples_base, &samples_len) ||
      !typed_of(env, argv[4], napi_uint8_array, &valid_base, &valid_len) ||
      napi_get_value_double(env, argv[5], &nodata_value) != napi_ok) {
    napi_throw_type_error(env, NULL, "copyU16(src: Uint16Array, geometry: Int32Array, samples: Int32Array, out: Float32Array[], valid: Uint8Array, nodata: number)");
    return NULL;
  }
  const uint16_t *src = (const uint16_t *)src_base;
  const int32_t *g = (const int32_t *)geometry_base;
  const int32_t *samples = (const int32_t *)samples_base;
  uint8_t *valid = (uint8_t *)valid_base;
  const int64_t first = g[0], src_row = g[1], step = g[2], dst0 = g[3], dst_row = g[4], rows = g[5], cols = g[6], lead = g[7];
  const size_t n = samples_len;
  if (n == 0 || n > MAX_COPY_SAMPLES) {
    napi_throw_range_error(env, NULL, "copyU16: between 1 and 32 samples");
    return NULL;
  }
  float *out[MAX_COPY_SAMPLES];
  size_t out_len = SIZE_MAX;
  for (uint32_t k = 0; k < n; k++) {
    napi_value band;
    size_t len = 0;
    if (napi_get_element(env, argv[3], k, &band) != napi_ok || !float_array(env, band, &out[k], &len)) {
      napi_throw_type_error(env, NULL, "copyU16: out must hold one Float32Array per sample");
      return NULL;
    }
    if (len < out_len) out_len = len;
  }
  if (rows <= 0 || cols <= 0) return NULL;
  int64_t max_sample = 0;
  for (size_t k = 0; k < n; k++) {
    if (samples[k] < 0 || samples[k] >= step) {
      napi_throw_range_error(env, NULL, "copyU16: a sample offset lies outside the pixel");
      return NULL;
    }
    if (samples[k] > max_sample) max_sample = samples[k];
  }
  const int64_t lead_px = lead < 0 ? 0 : lead;
  const int64_t src_lo = first - lead_px * step;
  const int64_t src_hi = first + (rows - 1) * src_row + (cols - 1) * step + max_sample;
  const int64_t dst_hi = dst0 + (rows - 1) * dst_row + cols - 1;
  if (step < 1 || src_row < 0 || dst_row < cols || first < 0 || src_lo < 0 || dst0 < 0 || src_hi >= (int64_t)src_len ||
      dst_hi >= (int64_t)out_len || dst_hi >= (int64_t)valid_len) {
    napi_throw_range_error(env, NULL, "copyU16: the copy reaches outside the block or the window");
    return NULL;
  }
  const int check = !isnan(nodata_value) && nodata_value >= 0 && nodata_value <= 65535 && nodata_value == floor(nodata_value);
  const uint16_t nodata = check ? (uint16_t)nodata_value : 0;
  for (int64_t r = 0; r < rows; r++) {
    const uint16_t *s = src + first + r * src_row;
    const int64_t d = dst0 + r * dst_row;
    if (lead < 0 && n == 4) {
      const int32_t s0 = samples[0], s1 = samples[1], s2 = samples[2], s3 = samples[3];
      float *o0 = out[0] + d, *o1 = out[1] + d, *o2 = out[2] + d, *o3 = out[3] + d;
      uint8_t *vd = valid + d;
      for (int64_t c = 0; c < cols; c++, s += step) {
        const uint16_t v0 = s[s0], v1 = s[s1], v2 = s[s2], v3 = s[s3];
        o0[c] = v0; o1[c] = v1; o2[c] = v2; o3[c] = v3;
        if (check && (v0 == nodata || v1 == nodata || v2 == nodata || v3 == nodata)) vd[c] = 0;
      }
    } else if (lead < 0) {
      for (int64_t c = 0; c < cols; c++, s += step) {
        int bad = 0;
        for (size_t k = 0; k < n; k++) {
          const uint16_t v = s[samples[k]];
          out[k][d + c] = v;
          bad |= v == nodata;
        }
        if (check && bad) valid[d + c] = 0;
      }
    } else {
      // Still differenced: keep each sample's running sum while walking the row.
      uint16_t acc[MAX_COPY_SAMPLES];
      const uint16_t *p = s - lead * step;
      for (size_t k = 0; k < n; k++) acc[k] = 0;
      for (int64_t c = 0; c < lead; c++, p += step) {
        for (size_t k = 0; k < n; k++) acc[k] = (uint16_t)(acc[k] + p[samples[k]]);
      }
      for (int64_t c = 0; c < cols; c++, p += step) {
        int bad = 0;
        for (size_t k = 0; k < n; k++) {
          acc[k] = (uint16_t)(acc[k] + p[samples[k]]);
          out[k][d + c] = acc[k];
          bad |= acc[k] == nodata;
        }
        if (check && bad) valid[d + c] = 0;
      }
    }
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  if (d == NULL) {
    napi_throw_error(env, NULL, "out of memory for a DEFLATE decompressor");
    return NULL;
  }
  if (napi_set_instance_data(env, d, free_decompressor, NULL) != napi_ok) {
    libdeflate_free_decompressor(d);
    return NULL;
  }
  napi_property_descriptor props[] = {
    {"inflateZlib", NULL, inflate_zlib, NULL, NULL, NULL, napi_default, NULL},
    {"inflateRaw", NULL, inflate_raw, NULL, NULL, NULL, napi_default, NULL},
    {"accumulate16", NULL, accumulate16, NULL, NULL, NULL, napi_default, NULL},
    {"copyU16", NULL, copy_u16, NULL, NULL, NULL, napi_default, NULL},
    {"decodeLzw", NULL, decode_lzw, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
