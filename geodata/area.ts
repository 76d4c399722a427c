/**
 * Areas and distances of lon/lat geometries, measured in metres on the WGS 84 ellipsoid.
 *
 * Areas are taken in a Lambert azimuthal equal-area projection centred on the geometry (equal-area
 * on the ellipsoid, so no scale correction is needed), never in square degrees and not with Turf's
 * spherical formula (which is off by up to ~0.5 % at Chinese latitudes). Distances are taken in an
 * azimuthal equidistant projection centred between the two geometries: over the few kilometres the
 * alert rules care about its distortion is below 10⁻⁶. Boolean overlays use polygon-clipping (robust
 * on the shared edges that permits and change patches often have), run in the same equal-area
 * plane in metres so that the pieces of a polygon add up to its area.
 *
 * Coordinates are [lon, lat] in EPSG:4326; geometries are assumed not to cross the antimeridian.
 */
import type { LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon, Position } from 'geojson';
import polygonClipping, { type Geom } from 'polygon-clipping';
import proj4, { type Converter } from 'proj4';

export type AreaGeometry = Polygon | MultiPolygon;
export type DistanceGeometry = Point | MultiPoint | LineString | MultiLineString | Polygon | MultiPolygon;

const M2_PER_HA = 10_000;

// Projections are keyed by their centre rounded to 0.001° (≈100 m): the rounding changes nothing
// measurable and lets a scan over one area reuse a handful of parsed projections.
const projectionCache = new Map<string, Converter>();

function localProjection(kind: 'laea' | 'aeqd', lon0: number, lat0: number): Converter {
  const lon = Math.round(lon0 * 1000) / 1000;
  const lat = Math.round(lat0 * 1000) / 1000;
  const key = `${kind}:${lon}:${lat}`;
  let converter = projectionCache.get(key);
  if (converter === undefined) {
    if (projectionCache.size > 512) projectionCache.clear();
    converter = proj4('WGS84', `+proj=${kind} +lat_0=${lat} +lon_0=${lon} +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs`);
    projectionCache.set(key, converter);
  }
  return converter;
}

function polygonsOf(geometry: AreaGeometry): Position[][][] {
  return geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
}

/** [minLon, minLat, maxLon, maxLat] of every position, or null when there are none. */
function bboxOfPositions(lines: Position[][]): [number, number, number, number] | null {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const line of lines) {
    for (const p of line) {
      const x = p[0] as number;
      const y = p[1] as number;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  return minX === Infinity ? null : [minX, minY, maxX, maxY];
}

/** Planar area of a ring (m², always ≥ 0), shoelace formula. */
function ringAreaM2(ring: Position[]): number {
  let sum = 0;
  for (let i = 0, n = ring.length; i < n; i++) {
    const a = ring[i] as Position;
    const b = ring[(i + 1) % n] as Position;
    sum += (a[0] as number) * (b[1] as number) - (b[0] as number) * (a[1] as number);
  }
  return Math.abs(sum) / 2;
}

function centreOf(bbox: [number, number, number, number]): [number, number] {
  return [(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2];
}

/** Polygons projected with `projection` (lon/lat → metres). */
function projectPolygons(polygons: Position[][][], projection: Converter): [number, number][][][] {
  return polygons.map((rings) => rings.map((ring) => ring.map((p) => projection.forward([p[0] as number, p[1] as number]) as [number, number])));
}

/** Planar area in m² of polygons already in metres: shells add, holes subtract, whatever their winding. */
function planarAreaM2(polygons: Position[][][]): number {
  let areaM2 = 0;
  for (const polygon of polygons) polygon.forEach((ring, index) => (areaM2 += index === 0 ? ringAreaM2(ring) : -ringAreaM2(ring)));
  return Math.max(0, areaM2);
}

/** The equal-area plane a geometry is measured in: LAEA centred on its bounding box. */
function planeOf(polygons: Position[][][]): Converter | null {
  const bbox = bboxOfPositions(polygons.flat());
  return bbox === null ? null : localProjection('laea', ...centreOf(bbox));
}

/**
 * Area of a polygon or multipolygon in hectares (1 ha = 10 000 m²).
 * @param geometry lon/lat degrees (EPSG:4326); rings closed or not; holes subtract.
 * @returns hectares, ≥ 0 (0 for an empty geometry).
 */
export function areaHa(geometry: AreaGeometry): number {
  const polygons = polygonsOf(geometry);
  const plane = planeOf(polygons);
  return plane === null ? 0 : planarAreaM2(projectPolygons(polygons, plane)) / M2_PER_HA;
}

function boxesOverlap(a: [number, number, number, number], b: [number, number, number, number]): boolean {
  return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

/**
 * Runs a polygon-clipping operation of `a` against `others` in `a`'s equal-area plane. The overlay
 * is done in metres, not degrees, so that vertices it inserts on an edge lie on the same straight
 * edge that areas are measured along; in degrees the pieces of a 2 km polygon would miss its area
 * by ~10⁻⁵. Parts of `others` whose boxes miss `a` cannot matter and are left out.
 */
function overlayInPlane(
  operation: 'difference' | 'intersection',
  a: AreaGeometry,
  others: readonly AreaGeometry[],
): { plane: Converter; result: [number, number][][][] } | null {
  const polygonsA = polygonsOf(a);
  const bboxA = bboxOfPositions(polygonsA.flat());
  if (bboxA === null) return null;
  const plane = localProjection('laea', ...centreOf(bboxA));
  const near = others
    .flatMap(polygonsOf)
    .filter((polygon) => {
      const bbox = bboxOfPositions(polygon);
      return bbox !== null && boxesOverlap(bbox, bboxA);
    });
  const projectedA = projectPolygons(polygonsA, plane) as Geom;
  if (near.length === 0) {
    return { plane, result: operation === 'difference' ? (projectedA as [number, number][][][]) : [] };
  }
  // One argument per polygon: they may overlap one another (two permits sharing an edge).
  const projectedOthers = projectPolygons(near, plane).map((polygon) => polygon as Geom);
  return { plane, result: robustOverlay(operation, projectedA, projectedOthers) as [number, number][][][] };
}

/** Coordinates rounded to a millimetre grid (the plane is in metres). */
function snapped(geometry: Geom): Geom {
  return (geometry as [number, number][][][]).map((polygon) => polygon.map((ring) => ring.map(([x, y]) => [Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000]))) as Geom;
}

/**
 * a − others, or a ∩ (union of others). polygon-clipping 0.15 can fail on valid input with
 * "Unable to complete output ring" when several polygons meet in nearly collinear edges (its
 * issues #91, #139, #172: open upstream); a scan must not abort on it. Then the overlay is redone
 * one polygon at a time (a − o1 − o2 …, and a ∩ ∪others as a − (a − ∪others)), and last on
 * coordinates snapped to a millimetre grid, which changes areas by far less than a square metre.
 */
function robustOverlay(operation: 'difference' | 'intersection', a: Geom, others: Geom[]): polygonClipping.MultiPolygon {
  const direct = (g: Geom, os: Geom[]): polygonClipping.MultiPolygon => (operation === 'difference'
    ? polygonClipping.difference(g, ...os)
    : polygonClipping.intersection(g, polygonClipping.union(os[0] as Geom, ...os.slice(1))));
  const stepwise = (g: Geom, os: Geom[]): polygonClipping.MultiPolygon => {
    let rest = g as polygonClipping.MultiPolygon;
    for (const o of os) rest = polygonClipping.difference(rest, o);
    return operation === 'difference' ? rest : polygonClipping.difference(g, rest);
  };
  try {
    return direct(a, others);
  } catch {
    try {
      return stepwise(a, others);
    } catch {
      return stepwise(snapped(a), others.map(snapped));
    }
  }
}

/**
 * Area of `a` that lies outside `b` (a − b), in hectares.
 * @param a lon/lat polygon or multipolygon.
 * @param b one geometry or several (then a minus their union); an empty list gives `areaHa(a)`.
 */
export function areaOutsideHa(a: AreaGeometry, b: AreaGeometry | readonly AreaGeometry[]): number {
  const others: readonly AreaGeometry[] = Array.isArray(b) ? b : [b as AreaGeometry];
  const overlay = overlayInPlane('difference', a, others);
  return overlay === null ? 0 : planarAreaM2(overlay.result) / M2_PER_HA;
}

/** Area of the intersection of `a` and `b` in hectares (0 when they are disjoint or only touch). */
export function intersectionAreaHa(a: AreaGeometry, b: AreaGeometry): number {
  const overlay = overlayInPlane('intersection', a, [b]);
  return overlay === null ? 0 : planarAreaM2(overlay.result) / M2_PER_HA;
}

/** a ∩ b as a lon/lat MultiPolygon, or null when they do not overlap (touching is not overlap). */
export function intersectionOf(a: AreaGeometry, b: AreaGeometry): MultiPolygon | null {
  const overlay = overlayInPlane('intersection', a, [b]);
  if (overlay === null || overlay.result.length === 0) return null;
  const { plane, result } = overlay;
  return {
    type: 'MultiPolygon',
    coordinates: result.map((rings) => rings.map((ring) => ring.map((xy) => plane.inverse([xy[0], xy[1]]) as Position))),
  };
}

// ---- distances ----------------------------------------------------------------------------

/** Vertices and segments of a geometry as plain lines (points become one-point lines). */
function linesOf(geometry: DistanceGeometry): Position[][] {
  switch (geometry.type) {
    case 'Point':
      return [[geometry.coordinates]];
    case 'MultiPoint':
      return geometry.coordinates.map((p) => [p]);
    case 'LineString':
      return [geometry.coordinates];
    case 'MultiLineString':
      return geometry.coordinates;
    case 'Polygon':
      return closeRings(geometry.coordinates);
    case 'MultiPolygon':
      return geometry.coordinates.flatMap(closeRings);
  }
}

function closeRings(rings: Position[][]): Position[][] {
  return rings.map((ring) => {
    const first = ring[0];
    const last = ring[ring.length - 1];
    if (first === undefined || last === undefined) return ring;
    return first[0] === last[0] && first[1] === last[1] ? ring : [...ring, first];
  });
}

/** Even-odd point in polygon (shell and holes); points on the boundary count as inside. */
function pointInPolygon(x: number, y: number, rings: Position[][]): boolean {
  let inside = false;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const xi = ring[i]?.[0] as number;
      const yi = ring[i]?.[1] as number;
      const xj = ring[j]?.[0] as number;
      const yj = ring[j]?.[1] as number;
      if (onSegment(x, y, xi, yi, xj, yj)) return true;
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

function orient(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  const v = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
  return v > 0 ? 1 : v < 0 ? -1 : 0;
}

function onSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): boolean {
  return (
    orient(ax, ay, bx, by, px, py) === 0 &&
    px >= Math.min(ax, bx) && px <= Math.max(ax, bx) &&
    py >= Math.min(ay, by) && py <= Math.max(ay, by)
  );
}

/** True when closed segments ab and cd share at least one point. */
function segmentsTouch(a: Position, b: Position, c: Position, d: Position): boolean {
  const [ax, ay] = a as [number, number];
  const [bx, by] = b as [number, number];
  const [cx, cy] = c as [number, number];
  const [dx, dy] = d as [number, number];
  const o1 = orient(ax, ay, bx, by, cx, cy);
  const o2 = orient(ax, ay, bx, by, dx, dy);
  const o3 = orient(cx, cy, dx, dy, ax, ay);
  const o4 = orient(cx, cy, dx, dy, bx, by);
  if (o1 !== o2 && o3 !== o4) return true;
  return (
    (o1 === 0 && onSegment(cx, cy, ax, ay, bx, by)) ||
    (o2 === 0 && onSegment(dx, dy, ax, ay, bx, by)) ||
    (o3 === 0 && onSegment(ax, ay, cx, cy, dx, dy)) ||
    (o4 === 0 && onSegment(bx, by, cx, cy, dx, dy))
  );
}

/** Whether `a` and the polygon(s) `b` share any point (overlap, containment or touching), in lon/lat. */
export function intersects(a: DistanceGeometry, b: AreaGeometry): boolean {
  const linesA = linesOf(a);
  const polygonsB = polygonsOf(b).map(closeRings);
  for (const line of linesA) {
    for (const p of line) {
      if (polygonsB.some((rings) => pointInPolygon(p[0] as number, p[1] as number, rings))) return true;
    }
  }
  if (a.type === 'Polygon' || a.type === 'MultiPolygon') {
    const polygonsA = polygonsOf(a).map(closeRings);
    for (const rings of polygonsB) {
      const first = rings[0]?.[0];
      if (first !== undefined && polygonsA.some((ra) => pointInPolygon(first[0] as number, first[1] as number, ra))) return true;
    }
  }
  const linesB = polygonsB.flat();
  for (const la of linesA) {
    for (let i = 0; i + 1 < la.length; i++) {
      for (const lb of linesB) {
        for (let j = 0; j + 1 < lb.length; j++) {
          if (segmentsTouch(la[i] as Position, la[i + 1] as Position, lb[j] as Position, lb[j + 1] as Position)) return true;
        }
      }
    }
  }
  return false;
}

function pointSegmentDistance(p: number[], a: number[], b: number[]): number {
  const [px, py] = p as [number, number];
  const [ax, ay] = a as [number, number];
  const [bx, by] = b as [number, number];
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Gap in metres between the boundaries of two geometries already known not to intersect. */
function gapM(linesA: Position[][], linesB: Position[][]): number {
  const bbox = bboxOfPositions([...linesA, ...linesB]) as [number, number, number, number];
  const projection = localProjection('aeqd', ...centreOf(bbox));
  const project = (line: Position[]): number[][] => line.map((p) => projection.forward([p[0] as number, p[1] as number]));
  const pa = linesA.map(project);
  const pb = linesB.map(project);
  let best = Infinity;
  // Disjoint, so the minimum is reached at a vertex of one against a segment (or vertex) of the other.
  const scan = (points: number[][][], segments: number[][][]): void => {
    for (const line of points) {
      for (const p of line) {
        for (const seg of segments) {
          if (seg.length === 1) {
            best = Math.min(best, Math.hypot((p[0] as number) - (seg[0]?.[0] as number), (p[1] as number) - (seg[0]?.[1] as number)));
            continue;
          }
          for (let j = 0; j + 1 < seg.length; j++) best = Math.min(best, pointSegmentDistance(p, seg[j] as number[], seg[j + 1] as number[]));
        }
      }
    }
  };
  scan(pa, pb);
  scan(pb, pa);
  return best;
}

/**
 * Shortest distance between a geometry and a polygon (or multipolygon), in metres: 0 when they
 * overlap, touch or one contains the other, else the gap between their boundaries.
 * @param a lon/lat point, line or polygon geometry.
 * @param b lon/lat polygon or multipolygon.
 * @returns metres, ≥ 0; Infinity when either geometry is empty.
 */
export function distanceM(a: DistanceGeometry, b: AreaGeometry): number {
  const linesA = linesOf(a).filter((l) => l.length > 0);
  const linesB = polygonsOf(b).flatMap(closeRings).filter((l) => l.length > 0);
  if (linesA.length === 0 || linesB.length === 0) return Infinity;
  return intersects(a, b) ? 0 : gapM(linesA, linesB);
}

/**
 * Whether `a` comes within `bufferM` metres of the polygon(s) `b` (overlapping or touching counts,
 * also for bufferM = 0). This is exactly "a intersects b buffered by bufferM", computed as a
 * distance instead of by buffering, so there is no arc approximation and no projection of a
 * buffered shape back to degrees.
 * @param bufferM metres, ≥ 0.
 */
export function bufferedIntersects(a: DistanceGeometry, b: AreaGeometry, bufferM: number): boolean {
  const bboxA = bboxOfPositions(linesOf(a));
  const bboxB = bboxOfPositions(polygonsOf(b).flat());
  if (bboxA === null || bboxB === null) return false;
  // Cheap rejection on boxes grown by more than bufferM (1° of latitude ≥ 110.5 km everywhere).
  const maxAbsLat = Math.min(89, Math.max(Math.abs(bboxA[1]), Math.abs(bboxA[3]), Math.abs(bboxB[1]), Math.abs(bboxB[3])));
  const padLat = (bufferM / 110_000) * 1.01 + 1e-12;
  const padLon = (bufferM / (111_000 * Math.cos((maxAbsLat * Math.PI) / 180))) * 1.01 + 1e-12;
  if (
    bboxA[0] > bboxB[2] + padLon || bboxA[2] < bboxB[0] - padLon ||
    bboxA[1] > bboxB[3] + padLat || bboxA[3] < bboxB[1] - padLat
  ) {
    return false;
  }
  if (intersects(a, b)) return true;
  return bufferM > 0 && gapM(linesOf(a), polygonsOf(b).flatMap(closeRings)) <= bufferM;
}
