#!/usr/bin/env bash
# Writes the GDAL-made GeoTIFF fixtures of the scene-reader tests into test/.tmp/fixtures
# (gitignored), with what GDAL itself reads from them in expected.json: SHA-256 of the pixels
# (band-sequential, little-endian, file dtype), geotransform, CRS, nodata, band descriptions,
# overviews, and the pixels of one partial window.
#
# Sources are synthetic and seeded (numpy), so every run writes the same pixels. Needs the Debian
# packages gdal-bin and python3-rasterio (with numpy). Usage: scripts/make-fixtures.sh [OUT_DIR]
# Exit status 3 when GDAL or rasterio is missing (the tests then skip with that message).
set -euo pipefail

cd "$(dirname "$0")/.."
OUT="${1:-test/.tmp/fixtures}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

for tool in gdal_translate gdaladdo gdalwarp; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "make-fixtures: $tool not found (apt-get install gdal-bin)" >&2
    exit 3
  fi
done
if ! "$PY" -c 'import rasterio, numpy' >/dev/null 2>&1; then
  echo "make-fixtures: python3 with rasterio and numpy not found (apt-get install python3-rasterio)" >&2
  exit 3
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/orewatch-fixtures.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/src" "$TMP/out"

# 1. Seeded synthetic sources: smooth fields plus noise, so that compression has work to do.
"$PY" - "$TMP/src" <<'PY'
import sys, numpy as np, rasterio
from rasterio.transform import from_origin
out = sys.argv[1]
rng = np.random.default_rng(20240617)
W, H = 300, 200
yy, xx = np.mgrid[0:H, 0:W]

def field(scale, offset, band):
    base = np.sin(xx / (17.0 + band)) * np.cos(yy / (11.0 + band)) + xx / W - yy / H
    return base * scale + offset + rng.normal(0, scale * 0.05, (H, W))

def write(name, dtype, crs, transform, bands=3, nodata=None, width=W, height=H, data=None):
    if data is None:
        data = np.stack([field({'uint8': 60, 'uint16': 3000, 'int16': 8000, 'float32': 0.3}[dtype],
                               {'uint8': 120, 'uint16': 5000, 'int16': 0, 'float32': 0.4}[dtype], b)
                         for b in range(bands)])
        if dtype != 'float32':
            info = np.iinfo(dtype)
            data = np.clip(np.rint(data), info.min + 1, info.max).astype(dtype)
        else:
            data = data.astype('float32')
    profile = dict(driver='GTiff', width=width, height=height, count=data.shape[0], dtype=dtype,
                   crs=crs, transform=transform)
    if nodata is not None:
        profile['nodata'] = nodata
    with rasterio.open(f'{out}/{name}.tif', 'w', **profile) as dst:
        dst.write(data)

# Places: Ganzhou (Jiangxi) rare-earth district in UTM 50N, geographic, and Gauss-Krüger;
# Brasília in UTM 23S.
write('u8_4326', 'uint8', 'EPSG:4326', from_origin(114.70, 24.95, 0.0001, 0.0001))
write('u16_32650', 'uint16', 'EPSG:32650', from_origin(276000.0, 2757000.0, 10.0, 10.0))
write('i16_32723', 'int16', 'EPSG:32723', from_origin(174270.0, 8247530.0, 10.0, 10.0), nodata=-9999)
write('f32_4490', 'float32', 'EPSG:4490', from_origin(115.00, 24.80, 0.0001, 0.0001), nodata=float('nan'))
write('u16_4526', 'uint16', 'EPSG:4526', from_origin(38579000.0, 2757000.0, 10.0, 10.0))
write('f32_4498', 'float32', 'EPSG:4498', from_origin(20276000.0, 2758000.0, 10.0, 10.0))
# Nodata holes in the int16 source, to check `valid`.
with rasterio.open(f'{out}/i16_32723.tif', 'r+') as dst:
    d = dst.read()
    d[:, 50:60, 100:140] = -9999
    dst.write(d)
with rasterio.open(f'{out}/f32_4490.tif', 'r+') as dst:
    d = dst.read()
    d[1, 10:20, 10:20] = np.nan
    dst.write(d)
# A larger single-band tiled scene for the HTTP range-request test.
big = np.clip(np.rint(field(2000, 6000, 0)), 0, 65535).astype('uint16')
big = np.kron(big, np.ones((5, 5), dtype='uint16'))[:1000, :1500]
big = big + rng.integers(0, 50, big.shape, dtype='uint16')
write('u16_big_32650', 'uint16', 'EPSG:32650', from_origin(276000.0, 2757000.0, 10.0, 10.0),
      width=1500, height=1000, data=big[np.newaxis])
PY

S="$TMP/src"; O="$TMP/out"
q() { gdal_translate -q "$@"; }
# 2. Encodings (gdal_translate), each named for what it exercises.
q -co COMPRESS=NONE "$S/u8_4326.tif" "$O/u8_none_strip_4326.tif"
q -co COMPRESS=DEFLATE -co PREDICTOR=2 -co TILED=YES -co BLOCKXSIZE=64 -co BLOCKYSIZE=64 "$S/u8_4326.tif" "$O/u8_deflate_pred2_tiled_4326.tif"
q -co COMPRESS=LZW -co PREDICTOR=2 -co TILED=YES -co BLOCKXSIZE=64 -co BLOCKYSIZE=64 "$S/u16_32650.tif" "$O/u16_lzw_pred2_tiled_32650.tif"
q -co COMPRESS=PACKBITS "$S/u16_4526.tif" "$O/u16_packbits_strip_4526.tif"
q -co COMPRESS=ZSTD -co INTERLEAVE=BAND -co TILED=YES -co BLOCKXSIZE=128 -co BLOCKYSIZE=128 "$S/u16_32650.tif" "$O/u16_zstd_band_tiled_32650.tif"
q -co COMPRESS=DEFLATE -co PREDICTOR=2 -co ENDIANNESS=BIG "$S/u16_32650.tif" "$O/u16_deflate_pred2_bigendian_32650.tif"
q -co COMPRESS=DEFLATE -co PREDICTOR=2 -co INTERLEAVE=BAND -co BLOCKYSIZE=7 "$S/i16_32723.tif" "$O/i16_deflate_pred2_band_strip_32723.tif"
q -co COMPRESS=LZW "$S/i16_32723.tif" "$O/i16_lzw_strip_32723.tif"
q -co COMPRESS=ZSTD -co PREDICTOR=3 -co TILED=YES -co BLOCKXSIZE=64 -co BLOCKYSIZE=64 "$S/f32_4490.tif" "$O/f32_zstd_pred3_tiled_4490.tif"
q -co COMPRESS=LZW -co PREDICTOR=3 "$S/f32_4498.tif" "$O/f32_lzw_pred3_strip_4498.tif"
# (Big-endian with PREDICTOR=3 is left out: GDAL 3.6.2 does not read back what it writes.)
q -co COMPRESS=DEFLATE -co ENDIANNESS=BIG -co TILED=YES -co BLOCKXSIZE=64 -co BLOCKYSIZE=64 "$S/f32_4498.tif" "$O/f32_deflate_bigendian_4498.tif"
q -co COMPRESS=PACKBITS -co TILED=YES -co BLOCKXSIZE=32 -co BLOCKYSIZE=32 "$S/f32_4490.tif" "$O/f32_packbits_tiled_4490.tif"
# Overviews: internal ones added by gdaladdo to a tiled GTiff, and a COG.
q -co COMPRESS=DEFLATE -co TILED=YES -co BLOCKXSIZE=64 -co BLOCKYSIZE=64 "$S/u16_32650.tif" "$O/u16_deflate_ovr_32650.tif"
gdaladdo -q -r average "$O/u16_deflate_ovr_32650.tif" 2 4
q -of COG -co COMPRESS=DEFLATE -co PREDICTOR=2 -co BLOCKSIZE=128 -co OVERVIEWS=IGNORE_EXISTING -mo "TIFFTAG_DATETIME=2024:01:09 03:04:05" "$S/u16_32650.tif" "$O/u16_cog_32650.tif"
# Warped (gdalwarp) into the 3-degree Gauss-Krüger zone by central meridian 114°E (no prefix):
# the grid turns, so the corners are nodata (0).
gdalwarp -q -t_srs EPSG:4547 -tr 10 10 -r near -dstnodata 0 -co COMPRESS=DEFLATE -co TILED=YES "$S/u16_32650.tif" "$O/u16_warped_4547.tif"
# The HTTP test scene: 1500 x 1000, 256-pixel tiles.
q -co COMPRESS=DEFLATE -co PREDICTOR=2 -co TILED=YES -co BLOCKXSIZE=256 -co BLOCKYSIZE=256 "$S/u16_big_32650.tif" "$O/u16_big_tiled_32650.tif"

# 3. Band descriptions, dataset metadata and a date on some of them (rasterio writes GDAL_METADATA).
"$PY" - "$O" <<'PY'
import sys, rasterio
out = sys.argv[1]
for name, names, date in [('u16_lzw_pred2_tiled_32650.tif', ['B04', 'B08', 'B11'], '2023-11-05'),
                          ('f32_zstd_pred3_tiled_4490.tif', ['B02', 'B03', 'B04'], None)]:
    with rasterio.open(f'{out}/{name}', 'r+') as dst:
        if names:
            for i, n in enumerate(names, 1):
                dst.set_band_description(i, n)
                dst.update_tags(i, BOA_ADD_OFFSET='-1000')
            dst.scales = [0.0001] * dst.count
            dst.offsets = [-0.1] * dst.count
        if date and ':' in date:
            dst.update_tags(TIFFTAG_DATETIME=date)
        elif date:
            dst.update_tags(ACQUISITION_DATE=date)
PY

# 4. What GDAL reads back, for the tests to compare with.
"$PY" - "$O" <<'PY'
import sys, os, json, hashlib, numpy as np, rasterio
out = sys.argv[1]
WINDOW = dict(col=37, row=23, width=70, height=45)

def digest(arr):
    return hashlib.sha256(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder('<')).tobytes()).hexdigest()

entries = []
for name in sorted(os.listdir(out)):
    if not name.endswith('.tif'):
        continue
    path = f'{out}/{name}'
    with rasterio.open(path) as src:
        data = src.read()
        w = rasterio.windows.Window(WINDOW['col'], WINDOW['row'], WINDOW['width'], WINDOW['height'])
        entry = dict(
            file=name, width=src.width, height=src.height, count=src.count, dtype=src.dtypes[0],
            transform=list(src.transform.to_gdal()), epsg=src.crs.to_epsg() if src.crs else None,
            nodata=None if src.nodata is None else ('nan' if np.isnan(src.nodata) else src.nodata),
            descriptions=list(src.descriptions), tags=src.tags(),
            scales=list(src.scales), offsets=list(src.offsets),
            sha256=digest(data), window=dict(WINDOW, sha256=digest(src.read(window=w))),
            overviews=[],
        )
        if src.nodata is not None:
            entry['invalid_pixels'] = int(np.any((data == src.nodata) | np.isnan(data.astype('float64')), axis=0).sum())
        else:
            entry['invalid_pixels'] = int(np.any(np.isnan(data.astype('float64')), axis=0).sum())
    level = 0
    while True:
        try:
            with rasterio.open(path, overview_level=level) as ovr:
                entry['overviews'].append(dict(width=ovr.width, height=ovr.height, sha256=digest(ovr.read())))
        except Exception:
            break
        level += 1
    entries.append(entry)
with open(f'{out}/expected.json', 'w') as f:
    json.dump(entries, f, indent=1, allow_nan=False, default=str)
print(f'make-fixtures: {len(entries)} fixtures')
PY

# 5. Replace the output folder in one step (concurrent runs never see half a folder).
mkdir -p "$(dirname "$OUT")"
rm -rf "$OUT.old"
[ -d "$OUT" ] && mv "$OUT" "$OUT.old"
mv "$O" "$OUT"
rm -rf "$OUT.old"
echo "make-fixtures: wrote $OUT"
