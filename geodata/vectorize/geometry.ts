/**
 * Small planar predicates on [x, y] points, written so that they are exact for the integer and
 * half-integer coordinates the tracer produces (pixel corners and edge midpoints): no division,
 * products stay far below 2^53 for any realistic grid.
 */

export type Point = readonly [number, number];

/** Twice the signed area of triangle abc: > 0 when a→b→c turns left in a y-up frame. */
export function orient(a: Point, b: Point, c: Point): number {
  return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

/** Twice the signed shoelace area of a closed ring (first point repeated last). */
export function ringArea2(ring: readonly Point[]): number {
  let sum = 0;
  for (let i = 0; i + 1 < ring.length; i++) sum += ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1];
  return sum;
}

function onSegment(a: Point, b: Point, p: Point): boolean {
  return Math.min(a[0], b[0]) <= p[0] && p[0] <= Math.max(a[0], b[0]) && Math.min(a[1], b[1]) <= p[1] && p[1] <= Math.max(a[1], b[1]);
}

export function samePoint(a: Point, b: Point): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

/**
 * How closed segments pq and rs meet: 'none'; 'point' (a single common point that is an endpoint
 * of at least one of them, given in `at`); 'cross' (a proper crossing); 'overlap' (collinear,
 * sharing more than a point).
 */
export function segmentContact(p: Point, q: Point, r: Point, s: Point): { kind: 'none' | 'cross' | 'overlap' } | { kind: 'point'; at: Point } {
  const o1 = orient(p, q, r);
  const o2 = orient(p, q, s);
  const o3 = orient(r, s, p);
  const o4 = orient(r, s, q);
  if (o1 === 0 && o2 === 0) {
    // Collinear: compare along the dominant axis.
    const axis = p[0] !== q[0] || r[0] !== s[0] ? 0 : 1;
    const a0 = Math.min(p[axis], q[axis]);
    const a1 = Math.max(p[axis], q[axis]);
    const b0 = Math.min(r[axis], s[axis]);
    const b1 = Math.max(r[axis], s[axis]);
    const lo = Math.max(a0, b0);
    const hi = Math.min(a1, b1);
    if (lo > hi) return { kind: 'none' };
    if (lo < hi) return { kind: 'overlap' };
    for (const c of [p, q]) if (c[axis] === lo && (samePoint(c, r) || samePoint(c, s) || onSegment(r, s, c))) return { kind: 'point', at: c };
    for (const c of [r, s]) if (c[axis] === lo && onSegment(p, q, c)) return { kind: 'point', at: c };
    return { kind: 'none' };
  }
  if (((o1 > 0 && o2 < 0) || (o1 < 0 && o2 > 0)) && ((o3 > 0 && o4 < 0) || (o3 < 0 && o4 > 0))) return { kind: 'cross' };
  if (o1 === 0 && onSegment(p, q, r)) return { kind: 'point', at: r };
  if (o2 === 0 && onSegment(p, q, s)) return { kind: 'point', at: s };
  if (o3 === 0 && onSegment(r, s, p)) return { kind: 'point', at: p };
  if (o4 === 0 && onSegment(r, s, q)) return { kind: 'point', at: q };
  return { kind: 'none' };
}

/** 1 when p is strictly inside the closed ring, 0 on its boundary, -1 outside (even-odd rule). */
export function pointInRing(p: Point, ring: readonly Point[]): number {
  let inside = false;
  for (let i = 0; i + 1 < ring.length; i++) {
    const a = ring[i];
    const b = ring[i + 1];
    if (orient(a, b, p) === 0 && onSegment(a, b, p)) return 0;
    if (a[1] > p[1] !== b[1] > p[1]) {
      // p is left of the crossing point of edge ab with the horizontal line through p.
      const t = (p[0] - a[0]) * (b[1] - a[1]) - (b[0] - a[0]) * (p[1] - a[1]);
      if (b[1] > a[1] ? t < 0 : t > 0) inside = !inside;
    }
  }
  return inside ? 1 : -1;
}
