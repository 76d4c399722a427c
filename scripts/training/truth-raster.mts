// Per-pixel labels of a generated scenario, from its truth.geojson rasterised at pixel centres on
// the scene grid: 0 no change, 1 mining-type disturbance (open pit, leaching site, tailings —
// licensed or not; the rules, not the detector, judge permits), 2 other change (harvest, road,
// building, seasonal, orchard). Clouds, haze and illumination are not land change: 0.
import { readFileSync } from 'node:fs';
import { createTransform, WGS84 } from '../../geodata/crs.js';
import { inverseTransform } from '../../geodata/pair.js';
import type { Grid } from '../../geodata/types.js';

const OTHER_CHANGE = new Set(['harvest', 'road', 'building', 'seasonal', 'orchard']);

type Ring = number[][];

/** Even-odd fill of pixel centres inside polygons given in fractional pixel coordinates. */
function fillPolygons(polys: Ring[][], width: number, height: number, value: number, out: Uint8Array): void {
  for (const poly of polys) {
    let r0 = Infinity, r1 = -Infinity;
    for (const [, r] of poly[0]!) { r0 = Math.min(r0, r!); r1 = Math.max(r1, r!); }
    for (let row = Math.max(0, Math.floor(r0)); row <= Math.min(height - 1, Math.ceil(r1)); row++) {
      const y = row + 0.5;
      const xs: number[] = [];
      for (const ring of poly) {
        for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
          const [xi, yi] = ring[i]!, [xj, yj] = ring[j]!;
          if ((yi! > y) !== (yj! > y)) xs.push(xi! + ((y - yi!) / (yj! - yi!)) * (xj! - xi!));
        }
      }
      xs.sort((a, b) => a - b);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        const c0 = Math.max(0, Math.ceil(xs[k]! - 0.5)), c1 = Math.min(width - 1, Math.floor(xs[k + 1]! - 0.5));
        for (let c = c0; c <= c1; c++) if (value === 1 || out[row * width + c] === 0) out[row * width + c] = value;
      }
    }
  }
}

/** Labels (width × height, row-major) of the truth file on the grid. */
export function rasterizeTruth(truthPath: string, grid: Grid): Uint8Array {
  const toGrid = createTransform(WGS84, grid.crs);
  const toPixel = inverseTransform(grid.transform);
  const truth = JSON.parse(readFileSync(truthPath, 'utf8')) as { features: { properties: { kind: string; role: string }; geometry: { type: string; coordinates: unknown } }[] };
  const y = new Uint8Array(grid.width * grid.height);
  const project = (ring: number[][]): Ring => ring.map(([lon, lat]) => { const [X, Y] = toGrid.forward(lon!, lat!); return toPixel(X, Y); });
  for (const value of [2, 1]) {
    for (const f of truth.features) {
      const is = value === 1 ? f.properties.role === 'mining' : OTHER_CHANGE.has(f.properties.kind);
      if (!is) continue;
      const polys = (f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates) as number[][][][];
      fillPolygons(polys.map((p) => p.map(project)), grid.width, grid.height, value, y);
    }
  }
  return y;
}
