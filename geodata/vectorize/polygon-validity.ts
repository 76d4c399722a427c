/**
 * An OGC simple-features validity check for polygon sets, strict where Turf's booleanValid is
 * lenient (it does not look at hole–hole contacts, nested holes or disconnected interiors). The
 * simplifier uses it as a last safety net; the tests use it on every traced site.
 *
 * Valid means: rings closed and simple; outer rings counter-clockwise and holes clockwise in a
 * y-up frame; rings of one geometry meet at most in isolated points; holes inside their shell and
 * not inside each other; polygons' interiors disjoint; each polygon's interior connected (the
 * graph of rings and their contact points has no cycle).
 */
import Flatbush from 'flatbush';
import { pointInRing, ringArea2, segmentContact, type Point } from './geometry.js';
import { UnionFind } from './union-find.js';

function ringBbox(coords: readonly Point[]): number[] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of coords) {
    if (x < x0) x0 = x;
    if (y < y0) y0 = y;
    if (x > x1) x1 = x;
    if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}

export interface ValidityOptions {
  /**
   * True when the y axis points up (lon/lat, projected CRS): outer rings then have positive
   * shoelace area. False (default) for grid pixel space (row axis down), where it is negative.
   */
  yUp?: boolean;
}

/**
 * @param polygons [polygon][ring][vertex] = [x, y]; ring 0 of each polygon is its shell
 * @returns human-readable problems; [] when valid
 */
export function findPolygonProblems(polygons: readonly (readonly (readonly Point[])[])[], options: ValidityOptions = {}): string[] {
  const problems: string[] = [];
  const outerSign = options.yUp === true ? 1 : -1;
  const rings: { poly: number; ring: number; coords: readonly Point[] }[] = [];
  polygons.forEach((polygon, p) => {
    if (polygon.length === 0) problems.push(`polygon ${p} has no rings`);
    polygon.forEach((coords, r) => rings.push({ poly: p, ring: r, coords }));
  });
  for (const { poly, ring, coords } of rings) {
    const name = `polygon ${poly} ring ${ring}`;
    if (coords.length < 4) problems.push(`${name} has ${coords.length} positions (< 4)`);
    else if (!coords.every((c) => Number.isFinite(c[0]) && Number.isFinite(c[1]))) problems.push(`${name} has a non-finite coordinate`);
    else if (coords[0][0] !== coords[coords.length - 1][0] || coords[0][1] !== coords[coords.length - 1][1]) problems.push(`${name} is not closed`);
    else {
      const area = ringArea2(coords);
      if (area === 0) problems.push(`${name} has zero area`);
      else if (Math.sign(area) !== (ring === 0 ? outerSign : -outerSign)) problems.push(`${name} has the wrong winding`);
    }
  }
  if (problems.length > 0) return problems;

  // Segment contacts through a spatial index: within a ring only neighbouring segments may meet
  // (at their shared vertex); between rings only isolated points.
  const segRing: number[] = [];
  const segIndex: number[] = [];
  for (let k = 0; k < rings.length; k++) {
    for (let i = 0; i + 1 < rings[k].coords.length; i++) {
      segRing.push(k);
      segIndex.push(i);
    }
  }
  if (segRing.length === 0) return problems;
  const index = new Flatbush(segRing.length);
  const seg = (s: number): [Point, Point] => [rings[segRing[s]].coords[segIndex[s]], rings[segRing[s]].coords[segIndex[s] + 1]];
  for (let s = 0; s < segRing.length; s++) {
    const [a, b] = seg(s);
    index.add(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1]));
  }
  index.finish();
  // contact point key → rings through it (for the interior-connectivity test)
  const contacts = new Map<string, Set<number>>();
  for (let s = 0; s < segRing.length; s++) {
    const [a, b] = seg(s);
    for (const t of index.search(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1]))) {
      if (t <= s) continue;
      const [c, d] = seg(t);
      const contact = segmentContact(a, b, c, d);
      if (contact.kind === 'none') continue;
      const rs = segRing[s];
      const rt = segRing[t];
      const where = `${rings[rs].poly}/${rings[rs].ring} seg ${segIndex[s]} and ${rings[rt].poly}/${rings[rt].ring} seg ${segIndex[t]}`;
      if (contact.kind !== 'point') {
        problems.push(`segments ${where}: ${contact.kind}`);
        continue;
      }
      if (rs === rt) {
        const n = rings[rs].coords.length - 1;
        const i = segIndex[s];
        const j = segIndex[t];
        const adjacent = j === i + 1 || (i === 0 && j === n - 1);
        const shared = j === i + 1 ? b : a;
        if (!adjacent || contact.at[0] !== shared[0] || contact.at[1] !== shared[1]) problems.push(`ring self-contact at ${contact.at.join(',')}: ${where}`);
        continue;
      }
      const key = `${contact.at[0]},${contact.at[1]}`;
      let set = contacts.get(key);
      if (set === undefined) contacts.set(key, (set = new Set()));
      set.add(rs);
      set.add(rt);
    }
  }
  if (problems.length > 0) return problems;

  // Probe points of a ring: its vertices and edge midpoints (catches rings touching the other
  // only at vertices while lying inside it).
  const probes = (coords: readonly Point[]): Point[] => {
    const out: Point[] = [];
    for (let i = 0; i + 1 < coords.length; i++) {
      out.push(coords[i]);
      out.push([(coords[i][0] + coords[i + 1][0]) / 2, (coords[i][1] + coords[i + 1][1]) / 2]);
    }
    return out;
  };
  const inPolygon = (p: Point, polygon: readonly (readonly Point[])[]): number => {
    const shell = pointInRing(p, polygon[0]);
    if (shell <= 0) return shell;
    for (let h = 1; h < polygon.length; h++) {
      const hole = pointInRing(p, polygon[h]);
      if (hole >= 0) return -hole;
    }
    return 1;
  };
  const bboxes = polygons.map((polygon) => polygon.map(ringBbox));
  const overlapsBbox = (a: number[], b: number[]): boolean => a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
  polygons.forEach((polygon, p) => {
    for (let h = 1; h < polygon.length; h++) {
      const pts = probes(polygon[h]);
      if (pts.some((q) => pointInRing(q, polygon[0]) < 0) || !pts.some((q) => pointInRing(q, polygon[0]) > 0)) problems.push(`polygon ${p} hole ${h} is not inside its shell`);
      for (let g = 1; g < polygon.length; g++) {
        if (g === h || !overlapsBbox(bboxes[p][h], bboxes[p][g])) continue;
        if (pts.some((q) => pointInRing(q, polygon[g]) > 0)) problems.push(`polygon ${p} hole ${h} lies inside hole ${g}`);
      }
    }
  });
  if (polygons.length > 1) {
    const shells = new Flatbush(polygons.length);
    for (const b of bboxes) shells.add(b[0][0], b[0][1], b[0][2], b[0][3]);
    shells.finish();
    polygons.forEach((polygon, p) => {
      const b = bboxes[p][0];
      for (const o of shells.search(b[0], b[1], b[2], b[3])) {
        if (o !== p && probes(polygons[o][0]).some((q) => inPolygon(q, polygon) > 0)) problems.push(`polygon ${o} overlaps polygon ${p}`);
      }
    });
  }

  // Interior connectivity: per polygon, rings and contact points as a bipartite graph; a cycle
  // means some part of the interior is cut off by rings touching in a loop.
  const edges: [number, number][] = []; // (ring, contact node)
  let nodes = rings.length;
  for (const set of contacts.values()) {
    const byPolygon = new Map<number, number[]>();
    for (const r of set) byPolygon.set(rings[r].poly, [...(byPolygon.get(rings[r].poly) ?? []), r]);
    for (const members of byPolygon.values()) {
      if (members.length < 2) continue; // contacts between polygons do not concern interiors
      const node = nodes++;
      for (const r of members) edges.push([r, node]);
    }
  }
  const uf = new UnionFind(nodes);
  for (const [r, node] of edges) {
    if (uf.find(r) === uf.find(node)) {
      problems.push(`polygon ${rings[r].poly} interior is disconnected (rings touch in a loop)`);
      break;
    }
    uf.union(r, node);
  }
  return problems;
}
