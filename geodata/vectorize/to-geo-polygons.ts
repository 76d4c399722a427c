/**
 * Pixel polygons → GeoJSON geometry in longitude/latitude. Long pixel edges are densified before
 * the transform so that a reprojection (grid → projected CRS → EPSG:4326) bends them where it
 * should, and the rings are re-wound to RFC 7946 (outer counter-clockwise) after the transform,
 * whatever its handedness (south-up rasters, flipped axes).
 */
import type { MultiPolygon, Polygon, Position } from 'geojson';
import type { ChangeComponent } from './change-accumulator.js';
import { argumentError, expectNumber } from './validate.js';

export interface ToGeoPolygonsOptions {
  /** Longest edge, in grid pixels, left undivided before the transform (default 16). */
  maxEdgePx?: number;
}

/**
 * @param component a site (only its polygons are read)
 * @param pixelToLonLat maps a pixel-corner coordinate (col, row) in grid pixels to [lon, lat] in degrees
 * @returns a Polygon for a site of one piece, else a MultiPolygon (no pieces: an empty MultiPolygon)
 */
export function toGeoPolygons(
  component: Pick<ChangeComponent, 'polygons'>,
  pixelToLonLat: (col: number, row: number) => [number, number],
  options: ToGeoPolygonsOptions = {},
): Polygon | MultiPolygon {
  const maxEdgePx = expectNumber(options.maxEdgePx ?? 16, 'maxEdgePx', Number.MIN_VALUE);
  const polygons = component.polygons.map((polygon) =>
    polygon.map((ring, r) => {
      const out: Position[] = [];
      for (let i = 0; i + 1 < ring.length; i++) {
        const [x0, y0] = ring[i];
        const [x1, y1] = ring[i + 1];
        const parts = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0) / maxEdgePx));
        for (let k = 0; k < parts; k++) out.push(transform(pixelToLonLat, x0 + ((x1 - x0) * k) / parts, y0 + ((y1 - y0) * k) / parts));
      }
      out.push([out[0][0], out[0][1]]);
      // RFC 7946 §3.1.6: exterior rings counter-clockwise, holes clockwise.
      const area = signedArea(out);
      if (r === 0 ? area < 0 : area > 0) out.reverse();
      return out;
    }),
  );
  if (polygons.length === 1) return { type: 'Polygon', coordinates: polygons[0] };
  return { type: 'MultiPolygon', coordinates: polygons };
}

function transform(pixelToLonLat: (col: number, row: number) => [number, number], col: number, row: number): Position {
  const [lon, lat] = pixelToLonLat(col, row);
  if (!Number.isFinite(lon) || !Number.isFinite(lat)) throw argumentError('finite [lon, lat]', `pixelToLonLat(${col}, ${row})`, [lon, lat]);
  return [lon, lat];
}

/** Shoelace area relative to the first vertex, so that small rings far from (0, 0) keep their precision. */
function signedArea(ring: Position[]): number {
  const [ox, oy] = ring[0];
  let sum = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    sum += (ring[i][0] - ox) * (ring[i + 1][1] - oy) - (ring[i + 1][0] - ox) * (ring[i][1] - oy);
  }
  return sum;
}
