/**
 * Ring clean-up: collinear-vertex removal, and a topology-preserving Douglas-Peucker for all the
 * rings of a scene at once.
 *
 * Plain Douglas-Peucker can make rings cross, swallow a hole or push an island out of the hole it
 * sits in. Here each shortcut (replacing a chain of vertices by one segment) is accepted only if
 *  (a) the segment meets no other segment of any ring, except at its own two end vertices, and
 *  (b) the region swept between the chain and the segment holds no vertex of any other segment;
 * otherwise the chain is split at its farthest vertex, as if it were over tolerance. Vertices
 * shared by two rings (the corners where diagonal pixels meet) are never removed, and every ring
 * keeps three non-collinear anchors, so it cannot collapse. Together these keep every ring simple,
 * its orientation, and the nesting of shells, holes and islands, within and between sites.
 * The tracer's vertices are integers and shortcuts only join existing vertices, so every
 * predicate is evaluated exactly.
 */
import type { ChangeComponent, PixelPolygon } from './change-accumulator.js';
import { orient, pointInRing, samePoint, segmentContact, type Point } from './geometry.js';
import { findPolygonProblems } from './polygon-validity.js';
import type { Ring } from './trace-rings.js';
import { expectNumber } from './validate.js';

/**
 * Removes repeated vertices and vertices collinear with their neighbours (spikes included) from a
 * closed ring; the result is closed again. Rings that collapse to fewer than 3 vertices are
 * returned as they were.
 * @param ring closed ring of [x, y]
 */
export function removeCollinearVertices(ring: Ring): Ring {
  const out: Ring = [];
  for (let i = 0; i + 1 < ring.length; i++) {
    const p = ring[i];
    if (out.length > 0 && samePoint(out[out.length - 1], p)) continue;
    out.push([p[0], p[1]]);
    while (out.length >= 3 && orient(out[out.length - 3], out[out.length - 2], out[out.length - 1]) === 0) out.splice(out.length - 2, 1);
  }
  // Close the loop: the seam between last and first vertex may still be straight or repeated.
  for (let changed = true; changed && out.length >= 3; ) {
    changed = false;
    if (samePoint(out[out.length - 1], out[0])) {
      out.pop();
      changed = true;
    } else if (orient(out[out.length - 2], out[out.length - 1], out[0]) === 0) {
      out.pop();
      changed = true;
    } else if (orient(out[out.length - 1], out[0], out[1]) === 0) {
      out.shift();
      changed = true;
    }
  }
  if (out.length < 3) return ring.map((p) => [p[0], p[1]]);
  out.push([out[0][0], out[0][1]]);
  return out;
}

/** A uniform-grid index of segments that can change while the rings are simplified. */
class SegmentGrid {
  readonly a: Point[] = [];
  readonly b: Point[] = [];
  readonly alive: boolean[] = [];
  private readonly seen: number[] = [];
  private query = 0;
  private readonly cells = new Map<number, number[]>();

  constructor(private readonly cell: number) {}

  add(a: Point, b: Point): number {
    const id = this.a.length;
    this.a.push(a);
    this.b.push(b);
    this.alive.push(true);
    this.seen.push(0);
    this.forCells(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1]), (key) => {
      const list = this.cells.get(key);
      if (list === undefined) this.cells.set(key, [id]);
      else list.push(id);
      return true;
    });
    return id;
  }

  /** Calls visit once per live segment whose cell range meets the box; stops when visit returns false. */
  every(x0: number, y0: number, x1: number, y1: number, visit: (id: number) => boolean): boolean {
    const q = ++this.query;
    return this.forCells(x0, y0, x1, y1, (key) => {
      const list = this.cells.get(key);
      if (list === undefined) return true;
      for (const id of list) {
        if (!this.alive[id] || this.seen[id] === q) continue;
        this.seen[id] = q;
        if (!visit(id)) return false;
      }
      return true;
    });
  }

  private forCells(x0: number, y0: number, x1: number, y1: number, visit: (key: number) => boolean): boolean {
    const c = this.cell;
    for (let cx = Math.floor(x0 / c); cx <= Math.floor(x1 / c); cx++) {
      for (let cy = Math.floor(y0 / c); cy <= Math.floor(y1 / c); cy++) {
        if (!visit(cx * 67_108_864 + cy)) return false;
      }
    }
    return true;
  }
}

function distanceToSegment(p: Point, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2));
  return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}

/**
 * Douglas-Peucker on every ring of every component, preserving validity and nesting (see the
 * module comment). Inputs are not mutated. pixelCount and the statistics are left as they are:
 * they describe the pixels, while the simplified polygons no longer follow them exactly.
 * @param components all sites of a scene (simplified together so that they cannot overlap)
 * @param tolerancePx largest distance, in grid pixels, of a removed vertex from its shortcut
 */
export function simplifyComponents(components: readonly ChangeComponent[], tolerancePx: number): ChangeComponent[] {
  expectNumber(tolerancePx, 'tolerancePx', 0);
  const cleaned = (polygons: PixelPolygon[]): PixelPolygon[] => polygons.map((polygon) => polygon.map(removeCollinearVertices));
  if (tolerancePx === 0) return components.map((c) => ({ ...c, polygons: cleaned(c.polygons) }));

  const rings: Point[][] = [];
  for (const c of components) for (const polygon of c.polygons) for (const ring of polygon) rings.push(ring.slice(0, -1));
  const uses = new Map<string, number>();
  for (const pts of rings) for (const p of pts) uses.set(`${p[0]},${p[1]}`, (uses.get(`${p[0]},${p[1]}`) ?? 0) + 1);

  const grid = new SegmentGrid(Math.max(8, Math.ceil(2 * tolerancePx)));
  const segIds = rings.map((pts) => pts.map((p, i) => grid.add(p, pts[(i + 1) % pts.length])));
  const chainMark: number[] = [];
  let token = 0;

  const simplified = rings.map((pts, r) => {
    const n = pts.length;
    const ids = segIds[r];
    const removed = new Uint8Array(n);
    const at = (i: number): Point => pts[i % n];

    const tryShortcut = (i: number, j: number): boolean => {
      const p = at(i);
      const q = at(j);
      token++;
      for (let k = i; k < j; k++) chainMark[ids[k % n]] = token;
      const meets = (id: number): boolean => {
        if (chainMark[id] === token) return false;
        const a = grid.a[id];
        const b = grid.b[id];
        const contact = segmentContact(p, q, a, b);
        if (contact.kind === 'none') return false;
        if (contact.kind !== 'point') return true;
        const atEnd = samePoint(contact.at, p) || samePoint(contact.at, q);
        return !(atEnd && (samePoint(contact.at, a) || samePoint(contact.at, b)));
      };
      if (!grid.every(Math.min(p[0], q[0]), Math.min(p[1], q[1]), Math.max(p[0], q[0]), Math.max(p[1], q[1]), (id) => !meets(id))) return false;
      const swept: Point[] = [];
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -Infinity;
      let y1 = -Infinity;
      for (let k = i; k <= j; k++) {
        const v = at(k);
        swept.push(v);
        x0 = Math.min(x0, v[0]);
        y0 = Math.min(y0, v[1]);
        x1 = Math.max(x1, v[0]);
        y1 = Math.max(y1, v[1]);
      }
      swept.push(p);
      const inside = (v: Point): boolean => !samePoint(v, p) && !samePoint(v, q) && pointInRing(v, swept) > 0;
      const clear = grid.every(x0, y0, x1, y1, (id) => chainMark[id] === token || (!inside(grid.a[id]) && !inside(grid.b[id])));
      if (!clear) return false;
      for (let k = i; k < j; k++) grid.alive[ids[k % n]] = false;
      ids[i % n] = grid.add(p, q);
      for (let k = i + 1; k < j; k++) removed[k % n] = 1;
      return true;
    };

    // Anchors: shared corners, the first vertex, the farthest vertex from it, and the vertex
    // farthest from the line between those two (three non-collinear vertices: no collapse).
    const anchorSet = new Set<number>([0]);
    let far = 0;
    for (let i = 1; i < n; i++) if (Math.hypot(pts[i][0] - pts[0][0], pts[i][1] - pts[0][1]) > Math.hypot(pts[far][0] - pts[0][0], pts[far][1] - pts[0][1])) far = i;
    let third = 0;
    for (let i = 1; i < n; i++) if (Math.abs(orient(pts[0], pts[far], pts[i])) > Math.abs(orient(pts[0], pts[far], pts[third]))) third = i;
    anchorSet.add(far).add(third);
    pts.forEach((p, i) => {
      if ((uses.get(`${p[0]},${p[1]}`) ?? 0) > 1) anchorSet.add(i);
    });
    const anchors = [...anchorSet].sort((x, y) => x - y);
    for (let k = 0; k < anchors.length; k++) {
      const stack: [number, number][] = [[anchors[k], k + 1 < anchors.length ? anchors[k + 1] : anchors[0] + n]];
      for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
        const [i, j] = item;
        if (j - i < 2) continue;
        let worst = i + 1;
        let worstDist = -1;
        for (let m = i + 1; m < j; m++) {
          const d = distanceToSegment(at(m), at(i), at(j));
          if (d > worstDist) {
            worstDist = d;
            worst = m;
          }
        }
        if (worstDist <= tolerancePx && tryShortcut(i, j)) continue;
        stack.push([worst, j], [i, worst]);
      }
    }
    const kept: Ring = [];
    for (let i = 0; i < n; i++) if (removed[i] === 0) kept.push([pts[i][0], pts[i][1]]);
    kept.push([kept[0][0], kept[0][1]]);
    return removeCollinearVertices(kept);
  });

  let next = 0;
  return components.map((c) => {
    const polygons = c.polygons.map((polygon) => polygon.map(() => simplified[next++]));
    // Safety net: should a site ever come out invalid, it keeps its exact outline.
    return { ...c, polygons: findPolygonProblems(polygons).length === 0 ? polygons : cleaned(c.polygons) };
  });
}
