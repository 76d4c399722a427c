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
# Twice: the first scan also creates the embedded store (PGlite's initdb costs ~500 MB of its own);
# the second is what a nightly scan on an existing store costs.
for run in fresh-store existing-store; do
  /usr/bin/time -v node bin/orewatch.mjs scan --before "$dir/before.tif" --after "$dir/after.tif" \
    --permits "$dir/permits.geojson" --closed-sites "$dir/closed-sites.geojson" \
    --protected-areas "$dir/protected-areas.geojson" --data-dir "$dir/store" --out "$dir/alerts.geojson" --quiet \
    2> "$dir/time-$run.txt"
  awk -v run="$run" -v size="$size" '
    /Maximum resident set size/ { rss = $6 }
    /Elapsed \(wall clock\)/ { wall = $8 }
    END { printf "%s: peak RSS %.0f MiB, wall %s for a %s×%s pair (%.1f Mpx)\n", run, rss / 1024, wall, size, size, size * size / 1e6 }
  ' "$dir/time-$run.txt"
done
