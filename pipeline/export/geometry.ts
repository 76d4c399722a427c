/**
 * Geometry for exports: ring winding (RFC 7946 wants outer rings counter-clockwise, Shapefile
 * clockwise), WKT, coordinate mapping, and the CGCS2000 Gauss-Krüger 3° zone an export is written
 * in. Pure functions; inputs are never mutated. Coordinates are [x, y] (lon/lat or easting/northing).
 */
import type { MultiPolygon, Polygon, Position } from 'geojson';
import { describeGaussKruger, fromWgs84, gk3EpsgForZone } from '../../geodata/cgcs2000.js';
import type { AreaGeometry } from '../types.js';

export type Winding = 'ccw' | 'cw';

/** The polygons of a Polygon or MultiPolygon, each [outer, ...holes]. */
export function polygonsOf(geometry: AreaGeometry): Position[][][] {
  return geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
}

/** Twice the signed area of a ring (shoelace); positive when counter-clockwise with y up. */
export function ringArea2(ring: Position[]): number {
  let sum = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    sum += (ring[j][0] - ring[i][0]) * (ring[j][1] + ring[i][1]);
  }
  return sum;
}

function wound(ring: Position[], winding: Winding): Position[] {
  const ccw = ringArea2(ring) > 0;
  return ccw === (winding === 'ccw') ? ring.map((p) => [p[0], p[1]]) : ring.map((p) => [p[0], p[1]]).reverse();
}

/** The polygons with outer rings wound `outer` and holes the other way; rings closed as given. */
export function windPolygons(polygons: Position[][][], outer: Winding): Position[][][] {
  const inner: Winding = outer === 'ccw' ? 'cw' : 'ccw';
  return polygons.map((rings) => rings.map((ring, i) => wound(ring, i === 0 ? outer : inner)));
}

/** RFC 7946 §3.1.6 winding: outer rings counter-clockwise, holes clockwise. */
export function rfc7946(geometry: AreaGeometry): AreaGeometry {
  const polygons = windPolygons(polygonsOf(geometry), 'ccw');
  return geometry.type === 'Polygon'
    ? ({ type: 'Polygon', coordinates: polygons[0] } satisfies Polygon)
    : ({ type: 'MultiPolygon', coordinates: polygons } satisfies MultiPolygon);
}

/** Shortest text that reads back as the same double. */
function num(value: number): string {
  return Object.is(value, -0) ? '0' : String(value);
}

/** OGC Well-Known Text of a Polygon or MultiPolygon, full double precision. */
export function toWkt(geometry: AreaGeometry): string {
  const ring = (r: Position[]) => `(${r.map((p) => `${num(p[0])} ${num(p[1])}`).join(', ')})`;
  const polygon = (rings: Position[][]) => `(${rings.map(ring).join(', ')})`;
  return geometry.type === 'Polygon'
    ? `POLYGON ${polygon(geometry.coordinates)}`
    : `MULTIPOLYGON (${geometry.coordinates.map(polygon).join(', ')})`;
}

/** A CGCS2000 3° Gauss-Krüger zone with the zone number prefixed to the easting (EPSG:4513–4533). */
export interface GkZone {
  epsg: number;
  zone: number;
  centralMeridianDeg: number;
  falseEastingM: number;
}

/** The prefixed 3° zone `zone` (25–45), or null outside China's zones. */
export function gkZone(zone: number): GkZone | null {
  const epsg = gk3EpsgForZone(zone);
  const gk = epsg === null ? null : describeGaussKruger(epsg);
  return gk === null ? null : { epsg: gk.epsg, zone: gk.zone, centralMeridianDeg: gk.centralMeridianDeg, falseEastingM: gk.falseEastingM };
}

/** The 3° zone whose central meridian is nearest `lonDeg` (zone n spans 3n ± 1.5°), or null outside zones 25–45. */
export function gkZoneForLongitude(lonDeg: number): GkZone | null {
  return Number.isFinite(lonDeg) ? gkZone(Math.round(lonDeg / 3)) : null;
}

/** [minLon, minLat, maxLon, maxLat] over the geometries, or null when there are none. */
export function bboxOfAll(geometries: AreaGeometry[]): [number, number, number, number] | null {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const g of geometries) {
    for (const rings of polygonsOf(g)) {
      for (const ring of rings) {
        for (const [x, y] of ring) {
          if (x < minX) minX = x;
          if (x > maxX) maxX = x;
          if (y < minY) minY = y;
          if (y > maxY) maxY = y;
        }
      }
    }
  }
  return minX === Infinity ? null : [minX, minY, maxX, maxY];
}

/** WGS 84 [lon, lat] → [easting, northing] metres in the zone (the zone prefix included). */
export function projectToGk(zone: GkZone, lonDeg: number, latDeg: number): [number, number] {
  return fromWgs84(zone.epsg, lonDeg, latDeg);
}
