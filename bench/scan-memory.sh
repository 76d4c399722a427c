#!/usr/bin/env bash
# Peak memory and wall time of an embedded scan of a large generated pair (default 5490×5490,
# a quarter Sentinel-2 tile at 10 m), measured with GNU time. Prints figures; never fails on them.
#   bash bench/scan-memory.sh [size]
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-5490}"
dir="bench/.cache/scenario-${size}"
npm run build --silent
node --import tsx bench/make-scenario.mts "$size" "$dir"
rm -rf "$dir/store" "$dir/alerts.geojson"
/usr/bin/time -v node bin/orewatch.mjs scan --before "$dir/before.tif" --after "$dir/after.tif" \
  --permits "$dir/permits.geojson" --closed-sites "$dir/closed-sites.geojson" \
  --protected-areas "$dir/protected-areas.geojson" --data-dir "$dir/store" --out "$dir/alerts.geojson" --quiet \
  2> "$dir/time.txt"
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$dir/time.txt"
awk '/Maximum resident set size/ { printf "peak RSS: %.0f MiB for a %s×%s pair (%.1f Mpx)\n", $6/1024, '"$size"', '"$size"', '"$size"'*'"$size"'/1e6 }' "$dir/time.txt"
