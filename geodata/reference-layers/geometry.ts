/**
 * Geometry checks for reference layers. A polygon that is broken in the file (too few corners,
 * non-numbers, a self-crossing ring) is reported, never silently repaired: a permit outline that
 * was typed wrong must be corrected at the source, not guessed at. The only normalizations are
 * the harmless ones: rings are closed and wound as RFC 7946 asks, Z/M values dropped, and a
 * GeometryCollection of polygons (KML MultiGeometry) becomes a MultiPolygon.
 */
import Flatbush from 'flatbush';
import type { MultiPolygon, Polygon } from 'geojson';
import type { Problems } from './problems.js';

export type Xy = [number, number];
/** Polygons as rings of [x, y]; ring 0 of each is the shell. */
export type Rings = Xy[][];

export interface GeometryContext {
  where: string;
  problems: Problems;
  /** `PERMIT.INVALID_GEOMETRY` or `LAYER.INVALID_GEOMETRY`. */
  code: string;
  /** Names part i of a multipart geometry in messages (default `polygon i+1`). */
  partLabel?: (index: number) => string;
}

function describeType(value: unknown): string {
  if (typeof value !== 'object' || value === null) return 'not a geometry';
  const type = (value as { type?: unknown }).type;
  return typeof type === 'string' ? `a ${type}` : 'a geometry without a type';
}

function fmt(n: unknown): string {
  return typeof n === 'number' ? String(Math.round(n * 1e9) / 1e9) : JSON.stringify(n) ?? String(n);
}

/**
 * Reads the polygons of a GeoJSON geometry (any CRS), checking structure only: positions are
 * pairs of finite numbers, rings have at least 4 positions once closed. Returns null after
 * reporting problems, including for points, lines and missing geometry.
 */
export function readPolygons(geometry: unknown, context: GeometryContext): Rings[] | null {
  const { where, problems, code } = context;
  if (geometry === null || geometry === undefined) {
    problems.add(code, where, 'has no geometry; an area layer needs Polygon or MultiPolygon features');
    return null;
  }
  const parts = polygonParts(geometry);
  if (typeof parts === 'string') {
    problems.add(code, where, `is ${parts}; an area layer needs Polygon or MultiPolygon features`);
    return null;
  }
  const label = partLabeller(context, parts.length);
  const polygons: Rings[] = [];
  let ok = true;
  parts.forEach((rawRings, partIndex) => {
    if (!Array.isArray(rawRings) || rawRings.length === 0) {
      problems.add(code, where, `${label(partIndex)}has no rings`);
      ok = false;
      return;
    }
    const rings: Rings = [];
    rawRings.forEach((rawRing: unknown, ringIndex: number) => {
      const ringName = `${label(partIndex)}ring ${ringIndex + 1}${ringIndex === 0 ? '' : ' (hole)'}`;
      const ring = readRing(rawRing, ringName, context);
      if (ring === null) ok = false;
      else rings.push(ring);
    });
    polygons.push(rings);
  });
  return ok ? polygons : null;
}

/** Message prefix naming part i: `polygon 2, ` for multipart geometries, always when the reader names parts (`block 1, `). */
function partLabeller(context: GeometryContext, count: number): (index: number) => string {
  const named = context.partLabel;
  if (named !== undefined) return (i) => `${named(i)}, `;
  return count > 1 ? (i) => `polygon ${i + 1}, ` : () => '';
}

/** The polygon coordinate arrays of a geometry, or a description of why it has none. */
function polygonParts(geometry: unknown): unknown[] | string {
  if (typeof geometry !== 'object' || geometry === null) return describeType(geometry);
  const g = geometry as { type?: unknown; coordinates?: unknown; geometries?: unknown };
  if (g.type === 'Polygon') return [g.coordinates];
  if (g.type === 'MultiPolygon') {
    return Array.isArray(g.coordinates) ? g.coordinates : 'a MultiPolygon without coordinates';
  }
  if (g.type === 'GeometryCollection' && Array.isArray(g.geometries)) {
    const parts: unknown[] = [];
    for (const member of g.geometries) {
      const inner = polygonParts(member);
      if (typeof inner === 'string') return `a GeometryCollection holding ${inner}`;
      parts.push(...inner);
    }
    return parts.length === 0 ? 'an empty GeometryCollection' : parts;
  }
  return describeType(geometry);
}

function readRing(raw: unknown, ringName: string, { where, problems, code }: GeometryContext): Xy[] | null {
  if (!Array.isArray(raw)) {
    problems.add(code, where, `${ringName} is not an array of positions`);
    return null;
  }
  const ring: Xy[] = [];
  for (let i = 0; i < raw.length; i++) {
    const p: unknown = raw[i];
    const x: unknown = Array.isArray(p) ? p[0] : undefined;
    const y: unknown = Array.isArray(p) ? p[1] : undefined;
    if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x) || !Number.isFinite(y)) {
      const shown = Array.isArray(p) ? `[${p.map(fmt).join(', ')}]` : JSON.stringify(p) ?? String(p);
      problems.add(code, where, `${ringName}, position ${i + 1}: ${shown} is not a pair of finite numbers`);
      return null;
    }
    ring.push([x, y]);
  }
  const first = ring[0];
  const last = ring[ring.length - 1];
  if (first !== undefined && last !== undefined && (first[0] !== last[0] || first[1] !== last[1])) ring.push([first[0], first[1]]);
  if (ring.length < 4) {
    problems.add(
      code,
      where,
      `${ringName} has ${Math.max(0, ring.length - 1)} distinct corner${ring.length === 2 ? '' : 's'}; a ring needs at least 3 (4 positions closed)`,
    );
    return null;
  }
  return ring;
}

/**
 * True when some position is far outside degrees (|x| > 360 or |y| > 180): metres, not a typo.
 * A latitude of 95 is a bad value and is reported as such by `checkLonLatPolygons`.
 */
export function looksProjected(polygons: Rings[]): boolean {
  return polygons.some((rings) => rings.some((ring) => ring.some(([x, y]) => Math.abs(x) > 360 || Math.abs(y) > 180)));
}

/** True when every position could be degrees (used to catch a projected CRS given for lon/lat data). */
export function looksGeographic(polygons: Rings[]): boolean {
  return polygons.every((rings) => rings.every((ring) => ring.every(([x, y]) => Math.abs(x) <= 180 && Math.abs(y) <= 90)));
}

/** The first position of any feature, for messages. */
export function firstPosition(polygons: Rings[]): Xy | null {
  return polygons[0]?.[0]?.[0] ?? null;
}

/** Applies `project` to every position; reports positions that do not come out finite. */
export function reprojectPolygons(polygons: Rings[], project: (xy: Xy) => Xy, context: GeometryContext): Rings[] | null {
  let bad: Xy | null = null;
  const out = polygons.map((rings) =>
    rings.map((ring) =>
      ring.map((xy) => {
        const result = project(xy);
        if (!Number.isFinite(result[0]) || !Number.isFinite(result[1])) bad ??= xy;
        return result;
      }),
    ),
  );
  if (bad !== null) {
    context.problems.add(context.code, context.where, `position [${fmt(bad[0])}, ${fmt(bad[1])}] cannot be converted to longitude/latitude`);
    return null;
  }
  return out;
}

/**
 * Checks lon/lat polygons: positions in range, rings with area, no ring crossing itself or
 * another ring of its polygon. Returns false after reporting.
 */
export function checkLonLatPolygons(polygons: Rings[], context: GeometryContext): boolean {
  const { where, problems, code } = context;
  const label = partLabeller(context, polygons.length);
  let ok = true;
  polygons.forEach((rings, partIndex) => {
    const ringName = (r: number): string => `${label(partIndex)}ring ${r + 1}${r === 0 ? '' : ' (hole)'}`;
    for (let r = 0; r < rings.length; r++) {
      const outside = (rings[r] as Xy[]).find(([x, y]) => Math.abs(x) > 180 || Math.abs(y) > 90);
      if (outside !== undefined) {
        problems.add(code, where, `${ringName(r)}: position [${fmt(outside[0])}, ${fmt(outside[1])}] is outside longitude −180…180 / latitude −90…90`);
        ok = false;
        return;
      }
    }
    const flat = rings.findIndex(isCollinear);
    if (flat >= 0) {
      problems.add(code, where, `${ringName(flat)} has no area (its corners are collinear or repeated)`);
      ok = false;
      return;
    }
    const crossing = findSelfIntersection(rings);
    if (crossing !== null) {
      const crossingRings = crossing.ringA === crossing.ringB ? `ring ${crossing.ringA + 1}` : `rings ${crossing.ringA + 1} and ${crossing.ringB + 1}`;
      problems.add(
        code,
        where,
        `${label(partIndex)}${crossingRings} ${crossing.ringA === crossing.ringB ? 'crosses itself' : 'cross'} near [${fmt(crossing.at[0])}, ${fmt(crossing.at[1])}] (self-intersecting polygon; check the corner order)`,
      );
      ok = false;
    }
  });
  return ok;
}

/** True when all corners of a ring lie on one line (or coincide): a ring without area. */
function isCollinear(ring: Xy[]): boolean {
  const a = ring[0] as Xy;
  const b = ring.find((p) => p[0] !== a[0] || p[1] !== a[1]);
  return b === undefined || ring.every((p) => orient(a, b, p) === 0);
}

/** Twice the signed area of a closed ring, in squared coordinate units. */
function signedArea(ring: Xy[]): number {
  let sum = 0;
  for (let i = 0; i + 1 < ring.length; i++) {
    const a = ring[i] as Xy;
    const b = ring[i + 1] as Xy;
    sum += a[0] * b[1] - b[0] * a[1];
  }
  return sum;
}

function orient(a: Xy, b: Xy, c: Xy): number {
  const v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
  return v > 0 ? 1 : v < 0 ? -1 : 0;
}

function within(p: Xy, a: Xy, b: Xy): boolean {
  return p[0] >= Math.min(a[0], b[0]) && p[0] <= Math.max(a[0], b[0]) && p[1] >= Math.min(a[1], b[1]) && p[1] <= Math.max(a[1], b[1]);
}

type Contact = 'none' | 'touch' | 'cross' | 'overlap';

/** How closed segments ab and cd meet: not at all, at one endpoint-type point, crossing properly, or overlapping collinearly. */
function contact(a: Xy, b: Xy, c: Xy, d: Xy): Contact {
  const o1 = orient(a, b, c);
  const o2 = orient(a, b, d);
  const o3 = orient(c, d, a);
  const o4 = orient(c, d, b);
  if (o1 === 0 && o2 === 0) {
    // Collinear: overlapping when they share more than one point.
    const key = a[0] !== b[0] ? 0 : 1;
    const lo = Math.max(Math.min(a[key], b[key]), Math.min(c[key], d[key]));
    const hi = Math.min(Math.max(a[key], b[key]), Math.max(c[key], d[key]));
    return hi > lo ? 'overlap' : hi === lo ? 'touch' : 'none';
  }
  if (o1 * o2 < 0 && o3 * o4 < 0) return 'cross';
  if ((o1 === 0 && within(c, a, b)) || (o2 === 0 && within(d, a, b)) || (o3 === 0 && within(a, c, d)) || (o4 === 0 && within(b, c, d))) {
    return 'touch';
  }
  return 'none';
}

/**
 * Finds where the rings of one polygon cross: a ring touching or crossing itself (other than at
 * neighbouring segments' shared corner), doubling back on itself, or two rings crossing or
 * overlapping along an edge (rings touching at a single point are allowed, as in OGC simple
 * features). Segments are indexed with Flatbush, so large protected-area outlines stay fast.
 */
export function findSelfIntersection(rings: Rings): { ringA: number; ringB: number; at: Xy } | null {
  // Repeated consecutive positions are harmless but would break the "neighbouring segment" test.
  const cleaned = rings.map((ring) => ring.filter((p, i) => i === 0 || p[0] !== (ring[i - 1] as Xy)[0] || p[1] !== (ring[i - 1] as Xy)[1]));
  const segments: { ring: number; index: number; a: Xy; b: Xy; count: number }[] = [];
  cleaned.forEach((ring, r) => {
    for (let i = 0; i + 1 < ring.length; i++) segments.push({ ring: r, index: i, a: ring[i] as Xy, b: ring[i + 1] as Xy, count: ring.length - 1 });
  });
  if (segments.length === 0) return null;
  const index = new Flatbush(segments.length);
  for (const s of segments) index.add(Math.min(s.a[0], s.b[0]), Math.min(s.a[1], s.b[1]), Math.max(s.a[0], s.b[0]), Math.max(s.a[1], s.b[1]));
  index.finish();
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as (typeof segments)[number];
    const hits = index.search(Math.min(s.a[0], s.b[0]), Math.min(s.a[1], s.b[1]), Math.max(s.a[0], s.b[0]), Math.max(s.a[1], s.b[1]));
    for (const j of hits) {
      if (j <= i) continue;
      const t = segments[j] as (typeof segments)[number];
      const kind = contact(s.a, s.b, t.a, t.b);
      if (kind === 'none') continue;
      if (s.ring === t.ring) {
        const gap = t.index - s.index;
        const neighbours = gap === 1 || gap === s.count - 1;
        // Neighbours share a corner; that is only a problem when the ring doubles back over itself.
        if (neighbours && kind !== 'overlap') continue;
        return { ringA: s.ring, ringB: t.ring, at: kind === 'overlap' ? t.a : crossingPoint(s.a, s.b, t.a, t.b) };
      }
      if (kind === 'cross' || kind === 'overlap') return { ringA: s.ring, ringB: t.ring, at: crossingPoint(s.a, s.b, t.a, t.b) };
    }
  }
  return null;
}

function crossingPoint(a: Xy, b: Xy, c: Xy, d: Xy): Xy {
  const den = (b[0] - a[0]) * (d[1] - c[1]) - (b[1] - a[1]) * (d[0] - c[0]);
  if (den === 0) return c;
  const t = ((c[0] - a[0]) * (d[1] - c[1]) - (c[1] - a[1]) * (d[0] - c[0])) / den;
  return [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
}

/**
 * Winds rings as RFC 7946 asks (shells counter-clockwise, holes clockwise), keeping each ring's
 * first corner. Shapefiles wind the other way and corner lists go either way; one winding makes
 * outputs comparable and suits renderers that fill by winding.
 */
export function rewindRfc7946(polygons: Rings[]): Rings[] {
  return polygons.map((rings) =>
    rings.map((ring, index) => {
      const ccw = signedArea(ring) > 0;
      return ccw === (index === 0) ? ring : [ring[0] as Xy, ...ring.slice(1, -1).reverse(), ring[ring.length - 1] as Xy];
    }),
  );
}

/** Polygon for one part, MultiPolygon for several. */
export function toGeometry(polygons: Rings[]): Polygon | MultiPolygon {
  return polygons.length === 1 ? { type: 'Polygon', coordinates: polygons[0] as Rings } : { type: 'MultiPolygon', coordinates: polygons };
}
