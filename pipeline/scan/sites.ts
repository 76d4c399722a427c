/**
 * Change components (pixel polygons from the vectorizer) → change sites in EPSG:4326 with their
 * area in hectares (computed in metres), score and dominant change kind. Sites below the minimum
 * mapping unit are dropped here.
 */
import centroid from '@turf/centroid';
import { areaHa } from '../../geodata/area.js';
import { createTransform, WGS84 } from '../../geodata/crs.js';
import { pixelToCrs } from '../../geodata/pair.js';
import type { Grid } from '../../geodata/types.js';
import { toGeoPolygons, type ChangeComponent } from '../../geodata/vectorize.js';
import type { ChangeSite } from '../types.js';
import { CORE_BIT } from './detect-window.js';

/** Pixel area in m² of a grid, measured at its centre (exact for projected grids). */
export function pixelAreaM2(grid: Grid): number {
  if (!grid.crs.geographic) return Math.abs(grid.transform[1] * grid.transform[5] - grid.transform[2] * grid.transform[4]);
  const lat = pixelToCrs(grid.transform, grid.width / 2, grid.height / 2)[1];
  const dLat = Math.abs(grid.transform[5]), dLon = Math.abs(grid.transform[1]);
  const mPerDegLat = 111_132.954 - 559.822 * Math.cos((2 * lat * Math.PI) / 180);
  const mPerDegLon = (Math.PI / 180) * 6_378_137 * Math.cos((lat * Math.PI) / 180) / Math.sqrt(1 - 0.00669438 * Math.sin((lat * Math.PI) / 180) ** 2);
  return dLat * mPerDegLat * dLon * mPerDegLon;
}

/** A site needs at least one 3×3 block of core pixels (see detect-window's hysteresis). */
export const MIN_CORE_PX = 9;

export function sitesFromComponents(components: ChangeComponent[], grid: Grid, kindNames: Readonly<Record<number, string>>, mmuHa: number): ChangeSite[] {
  const toLonLat = createTransform(grid.crs, WGS84);
  const pixelToLonLat = (col: number, row: number): [number, number] => {
    const [x, y] = pixelToCrs(grid.transform, col, row);
    return toLonLat.forward(x, y);
  };
  const sites: ChangeSite[] = [];
  for (const component of components) {
    const counts = new Map<number, number>();
    let corePx = 0;
    for (const [code, count] of Object.entries(component.kindCounts) as [string, number][]) {
      const k = Number(code);
      if (k & CORE_BIT) corePx += count;
      counts.set(k & ~CORE_BIT, (counts.get(k & ~CORE_BIT) ?? 0) + count);
    }
    if (corePx < MIN_CORE_PX) continue;
    const geometry = toGeoPolygons(component, pixelToLonLat);
    const siteHa = areaHa(geometry);
    if (siteHa < mmuHa) continue;
    const total = [...counts.values()].reduce((a, b) => a + b, 0) || 1;
    const kindShares: Record<string, number> = {};
    let dominant = 'change', best = -1;
    for (const [code, count] of counts) {
      const name = kindNames[Number(code)] ?? `kind_${code}`;
      kindShares[name] = Math.round((count / total) * 1000) / 1000;
      if (count > best) { best = count; dominant = name; }
    }
    const c = centroid(geometry).geometry.coordinates;
    sites.push({
      siteIndex: sites.length,
      geometry,
      areaHa: siteHa,
      score: Math.round(component.meanProb * 1000) / 1000,
      changeKind: dominant,
      kindShares,
      centroid: [c[0], c[1]],
    });
  }
  return sites;
}
