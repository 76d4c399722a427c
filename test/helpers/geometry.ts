/** Test geometry helpers: rectangles given in metres around a lon/lat origin (Ganzhou). */
import type { Polygon } from 'geojson';

export const ORIGIN: [number, number] = [114.9, 24.9];
const M_PER_DEG_LAT = 110_760;
const M_PER_DEG_LON = 111_320 * Math.cos((ORIGIN[1] * Math.PI) / 180);

/** Axis-aligned rectangle [x0, x1] × [y0, y1] in metres east/north of ORIGIN, as lon/lat. */
export function rect(x0: number, y0: number, x1: number, y1: number): Polygon {
  const p = (x: number, y: number): [number, number] => [ORIGIN[0] + x / M_PER_DEG_LON, ORIGIN[1] + y / M_PER_DEG_LAT];
  return { type: 'Polygon', coordinates: [[p(x0, y0), p(x1, y0), p(x1, y1), p(x0, y1), p(x0, y0)]] };
}
