/**
 * Geometry for the scenario generator, in the scene's pixel space (x = column, y = row, y down;
 * 1 unit = one pixel): the shapes changes are drawn from (irregular blobs, fans, rotated
 * rectangles, buffered polylines), their rasterisation to fractional coverage, the exact
 * vectorisation of a pixel mask into polygons (the truth geometry), and the few metric
 * predicates the alert rules need. Kept here, self-contained, so the evaluation does not lean on
 * the code it evaluates.
 */
import polygonClipping from 'polygon-clipping';

export type Point = [number, number];
export type Ring = Point[];
export type Polygon = Ring[];
export type MultiPolygon = Polygon[];

/** Pixel box: columns [c0, c1), rows [r0, r1). */
export interface Box {
  c0: number;
  r0: number;
  c1: number;
  r1: number;
}

export const boxWidth = (b: Box): number => b.c1 - b.c0;
export const boxHeight = (b: Box): number => b.r1 - b.r0;

/** Whole-pixel box around a point cloud, grown by `pad` pixels and clipped to the scene. */
export function boxAround(points: readonly Point[], pad: number, width: number, height: number): Box {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const [x, y] of points) {
    if (x < minX) minX = x;
    if (y < minY) minY = y;
    if (x > maxX) maxX = x;
    if (y > maxY) maxY = y;
  }
  const c0 = Math.min(width, Math.max(0, Math.floor(minX - pad)));
  const r0 = Math.min(height, Math.max(0, Math.floor(minY - pad)));
  // Empty (zero-width) rather than inverted when the points lie outside the scene.
  return { c0, r0, c1: Math.max(c0, Math.min(width, Math.ceil(maxX + pad))), r1: Math.max(r0, Math.min(height, Math.ceil(maxY + pad))) };
}

export const boxesOverlap = (a: Box, b: Box, gap = 0): boolean =>
  a.c0 < b.c1 + gap && b.c0 < a.c1 + gap && a.r0 < b.r1 + gap && b.r0 < a.r1 + gap;

/** A shape answers "is this point (pixel space) inside?" and knows its bounding box. */
export interface Shape {
  contains(x: number, y: number): boolean;
  /** Bounds in pixel space: [minX, minY, maxX, maxY]. */
  bounds: [number, number, number, number];
}

/** Harmonic perturbation of a radius: 1 + Σ amp·cos(k·θ + phase). */
export interface Harmonic {
  k: number;
  amp: number;
  phase: number;
}

export const radialFactor = (harmonics: readonly Harmonic[], theta: number): number => {
  let f = 1;
  for (const h of harmonics) f += h.amp * Math.cos(h.k * theta + h.phase);
  return f;
};

/** Parameters of an irregular blob (pixel space). */
export interface BlobSpec {
  cx: number;
  cy: number;
  radius: number;
  harmonics: Harmonic[];
  stretch: number;
  angle: number;
}

/**
 * How far (pixels, radially, in the blob's unstretched frame) a point lies beyond the blob's
 * edge, optionally grown by `grow(θ)` pixels where θ is the world direction from the centre.
 * Negative inside.
 */
export function blobExcess(spec: BlobSpec, x: number, y: number, grow?: (worldTheta: number) => number): number {
  return blobExcessFn(spec, grow)(x, y);
}

/** {@link blobExcess} with the blob's constants hoisted, for use in loops. */
export function blobExcessFn(spec: BlobSpec, grow?: (worldTheta: number) => number): (x: number, y: number) => number {
  const cos = Math.cos(spec.angle);
  const sin = Math.sin(spec.angle);
  const { cx, cy, stretch, radius, harmonics } = spec;
  const n = harmonics.length;
  const ks = harmonics.map((h) => h.k);
  const amps = harmonics.map((h) => h.amp);
  const phases = harmonics.map((h) => h.phase);
  return (x, y) => {
    const dx = x - cx;
    const dy = y - cy;
    const u = (dx * cos + dy * sin) / stretch;
    const v = -dx * sin + dy * cos;
    const r = Math.sqrt(u * u + v * v);
    const theta = Math.atan2(v, u);
    let f = 1;
    for (let i = 0; i < n; i++) f += amps[i]! * Math.cos(ks[i]! * theta + phases[i]!);
    return r - radius * f - (grow ? grow(Math.atan2(dy, dx)) : 0);
  };
}

/** A blob as a shape, optionally grown directionally (see {@link blobExcess}). */
export function blobShape(spec: BlobSpec, grow?: (worldTheta: number) => number, maxGrow = 0): Shape {
  const maxR = spec.radius * (1 + spec.harmonics.reduce((s, h) => s + Math.abs(h.amp), 0)) * Math.max(spec.stretch, 1) + maxGrow;
  const excess = blobExcessFn(spec, grow);
  return {
    bounds: [spec.cx - maxR, spec.cy - maxR, spec.cx + maxR, spec.cy + maxR],
    contains: (x, y) => excess(x, y) <= 0,
  };
}

/** An irregular, star-shaped blob: radius(θ) = radius × (1 + Σ harmonics), optionally stretched. */
export function starBlob(cx: number, cy: number, radius: number, harmonics: readonly Harmonic[], stretch = 1, angle = 0): Shape {
  const maxR = radius * (1 + harmonics.reduce((s, h) => s + Math.abs(h.amp), 0)) * Math.max(stretch, 1);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  return {
    bounds: [cx - maxR, cy - maxR, cx + maxR, cy + maxR],
    contains(x, y) {
      const dx = x - cx;
      const dy = y - cy;
      // Rotate into the blob's frame and undo the stretch along its long axis.
      const u = (dx * cos + dy * sin) / stretch;
      const v = -dx * sin + dy * cos;
      const r = Math.hypot(u, v);
      if (r > maxR) return false;
      return r <= radius * radialFactor(harmonics, Math.atan2(v, u));
    },
  };
}

/** Area of a star blob (before stretch) in pixels²: π r² (1 + Σ amp²/2). */
export function starBlobArea(radius: number, harmonics: readonly Harmonic[], stretch = 1): number {
  return Math.PI * radius * radius * (1 + harmonics.reduce((s, h) => s + (h.amp * h.amp) / 2, 0)) * stretch;
}

/** A fan (alluvial / tailings fan) from an apex, opening along `direction`. */
export function fan(ax: number, ay: number, direction: number, halfAngle: number, length: number, harmonics: readonly Harmonic[]): Shape {
  const maxL = length * (1 + harmonics.reduce((s, h) => s + Math.abs(h.amp), 0));
  return {
    bounds: [ax - maxL, ay - maxL, ax + maxL, ay + maxL],
    contains(x, y) {
      const dx = x - ax;
      const dy = y - ay;
      const r = Math.hypot(dx, dy);
      if (r > maxL) return false;
      let d = Math.atan2(dy, dx) - direction;
      d = Math.atan2(Math.sin(d), Math.cos(d));
      // Rounded apex: a small disc so the fan starts with some width.
      if (r < length * 0.12) return true;
      const spread = halfAngle * radialFactor(harmonics, d * 2);
      if (Math.abs(d) > spread) return false;
      return r <= length * radialFactor(harmonics, d + 1.3) * Math.cos((d / spread) * 0.9);
    },
  };
}

/** A rectangle of half sizes (halfLength along `angle`, halfWidth across) around a centre. */
export function rotatedRect(cx: number, cy: number, halfLength: number, halfWidth: number, angle: number): Shape {
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const ex = Math.abs(halfLength * cos) + Math.abs(halfWidth * sin);
  const ey = Math.abs(halfLength * sin) + Math.abs(halfWidth * cos);
  return {
    bounds: [cx - ex, cy - ey, cx + ex, cy + ey],
    contains(x, y) {
      const dx = x - cx;
      const dy = y - cy;
      return Math.abs(dx * cos + dy * sin) <= halfLength && Math.abs(-dx * sin + dy * cos) <= halfWidth;
    },
  };
}

/** Corners of a rotated rectangle, counter-clockwise on screen. */
export function rectCorners(cx: number, cy: number, halfLength: number, halfWidth: number, angle: number): Ring {
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const corner = (a: number, b: number): Point => [cx + a * halfLength * cos - b * halfWidth * sin, cy + a * halfLength * sin + b * halfWidth * cos];
  return [corner(-1, -1), corner(1, -1), corner(1, 1), corner(-1, 1)];
}

/** A polygon (outer ring only) as a shape. */
export function polygonShape(ring: Ring): Shape {
  const xs = ring.map((p) => p[0]);
  const ys = ring.map((p) => p[1]);
  return {
    bounds: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
    contains: (x, y) => pointInRing(x, y, ring),
  };
}

/** Union of shapes. */
export function unionShape(shapes: readonly Shape[]): Shape {
  return {
    bounds: [
      Math.min(...shapes.map((s) => s.bounds[0])),
      Math.min(...shapes.map((s) => s.bounds[1])),
      Math.max(...shapes.map((s) => s.bounds[2])),
      Math.max(...shapes.map((s) => s.bounds[3])),
    ],
    contains: (x, y) => shapes.some((s) => s.contains(x, y)),
  };
}

/** Even-odd point in ring test. */
export function pointInRing(x: number, y: number, ring: Ring): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Distance from a point to a segment. */
export function pointSegmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Distance from a point to a polyline. */
export function pointPolylineDistance(x: number, y: number, line: readonly Point[]): number {
  let best = Infinity;
  for (let i = 1; i < line.length; i++) {
    const d = pointSegmentDistance(x, y, line[i - 1]![0], line[i - 1]![1], line[i]![0], line[i]![1]);
    if (d < best) best = d;
  }
  return best;
}

/**
 * Fractional coverage (0–1) of each pixel of `box` by `shape`, from n×n sub-samples. Row-major,
 * boxWidth × boxHeight.
 */
export function rasterizeCoverage(shape: Shape, box: Box, samples = 4): Float32Array {
  const w = boxWidth(box);
  const h = boxHeight(box);
  if (w <= 0 || h <= 0) return new Float32Array(0);
  const out = new Float32Array(w * h);
  const [minX, minY, maxX, maxY] = shape.bounds;
  const step = 1 / samples;
  const weight = 1 / (samples * samples);
  // Corner tests shared between neighbouring pixels: a pixel whose four corners and centre
  // agree is taken as wholly in or out; only edge pixels are sub-sampled.
  const corners = new Uint8Array((w + 1) * (h + 1));
  for (let r = 0; r <= h; r++) {
    for (let c = 0; c <= w; c++) corners[r * (w + 1) + c] = shape.contains(box.c0 + c, box.r0 + r) ? 1 : 0;
  }
  for (let r = 0; r < h; r++) {
    const row = box.r0 + r;
    if (row + 1 < minY || row > maxY) continue;
    for (let c = 0; c < w; c++) {
      const col = box.c0 + c;
      if (col + 1 < minX || col > maxX) continue;
      const k = r * (w + 1) + c;
      const sum4 = corners[k]! + corners[k + 1]! + corners[k + w + 1]! + corners[k + w + 2]!;
      const centre = shape.contains(col + 0.5, row + 0.5) ? 1 : 0;
      if (samples <= 1) {
        out[r * w + c] = centre;
        continue;
      }
      if ((sum4 === 4 && centre === 1) || (sum4 === 0 && centre === 0)) {
        out[r * w + c] = centre;
        continue;
      }
      let sum = 0;
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          if (shape.contains(col + (sx + 0.5) * step, row + (sy + 0.5) * step)) sum += weight;
        }
      }
      out[r * w + c] = sum;
    }
  }
  return out;
}

/** Coverage of a buffered polyline (half width in pixels), analytic anti-aliasing. */
export function rasterizePolyline(line: readonly Point[], halfWidth: number, box: Box): Float32Array {
  const w = boxWidth(box);
  const h = boxHeight(box);
  const out = new Float32Array(Math.max(0, w * h));
  for (let i = 1; i < line.length; i++) {
    const [ax, ay] = line[i - 1]!;
    const [bx, by] = line[i]!;
    const c0 = Math.max(box.c0, Math.floor(Math.min(ax, bx) - halfWidth - 1));
    const c1 = Math.min(box.c1, Math.ceil(Math.max(ax, bx) + halfWidth + 1));
    const r0 = Math.max(box.r0, Math.floor(Math.min(ay, by) - halfWidth - 1));
    const r1 = Math.min(box.r1, Math.ceil(Math.max(ay, by) + halfWidth + 1));
    for (let row = r0; row < r1; row++) {
      for (let col = c0; col < c1; col++) {
        const d = pointSegmentDistance(col + 0.5, row + 0.5, ax, ay, bx, by);
        const cov = Math.min(1, Math.max(0, halfWidth - d + 0.5));
        const k = (row - box.r0) * w + (col - box.c0);
        if (cov > out[k]!) out[k] = cov;
      }
    }
  }
  return out;
}

/** Signed shoelace area of a ring (positive when clockwise on screen, i.e. y down). */
export function ringSignedArea(ring: readonly Point[]): number {
  let sum = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) sum += ring[j]![0] * ring[i]![1] - ring[i]![0] * ring[j]![1];
  return sum / 2;
}

/** Area of a multipolygon (holes subtracted), in squared units. */
export function multiPolygonArea(mp: MultiPolygon): number {
  let area = 0;
  for (const polygon of mp) {
    polygon.forEach((ring, i) => {
      const a = Math.abs(ringSignedArea(ring));
      area += i === 0 ? a : -a;
    });
  }
  return area;
}

/**
 * Makes every region of a mask 4-connected (in place): where two set pixels touch only at a
 * corner (a 2 × 2 block of 1 0 / 0 1), the upper unset pixel of the pair is set. Outlines then
 * never touch themselves or each other at a point, which strict validators (Turf's
 * booleanValid, some GIS tools) reject even though OGC allows it. Returns pixels added.
 */
export function closeDiagonals(mask: Uint8Array, width: number, height: number): number {
  let added = 0;
  for (let pass = 0; pass < 8; pass++) {
    let changed = 0;
    for (let r = 0; r + 1 < height; r++) {
      for (let c = 0; c + 1 < width; c++) {
        const k = r * width + c;
        const a = mask[k]!;
        const b = mask[k + 1]!;
        const d = mask[k + width]!;
        const e = mask[k + width + 1]!;
        if (a === 1 && e === 1 && b === 0 && d === 0) {
          mask[k + 1] = 1;
          changed++;
        } else if (b === 1 && d === 1 && a === 0 && e === 0) {
          mask[k] = 1;
          changed++;
        }
      }
    }
    added += changed;
    if (changed === 0) break;
  }
  return added;
}

/**
 * Traces the exact outline of the set pixels of a mask (4-connected regions; diagonal neighbours
 * stay separate) into polygons with holes. Coordinates are pixel corners in scene pixel space
 * (the mask's pixel (0, 0) sits at (c0, r0)). Rings are closed (first point repeated), with
 * collinear points dropped; outer rings clockwise on screen (counter-clockwise once y points up).
 */
export function traceMask(mask: Uint8Array, width: number, height: number, c0 = 0, r0 = 0): MultiPolygon {
  const vw = width + 1;
  const at = (c: number, r: number): boolean => c >= 0 && r >= 0 && c < width && r < height && mask[r * width + c] === 1;
  // Up to two outgoing edges per vertex (two only where set pixels touch diagonally).
  // Directions on screen: 0 east, 1 south, 2 west, 3 north.
  const out1 = new Int8Array(vw * (height + 1)).fill(-1);
  const out2 = new Int8Array(vw * (height + 1)).fill(-1);
  const addEdge = (c: number, r: number, dir: number): void => {
    const v = r * vw + c;
    if (out1[v] === -1) out1[v] = dir;
    else out2[v] = dir;
  };
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      if (mask[r * width + c] !== 1) continue;
      if (!at(c, r - 1)) addEdge(c, r, 0);
      if (!at(c + 1, r)) addEdge(c + 1, r, 1);
      if (!at(c, r + 1)) addEdge(c + 1, r + 1, 2);
      if (!at(c - 1, r)) addEdge(c, r + 1, 3);
    }
  }
  const DX = [1, 0, -1, 0];
  const DY = [0, 1, 0, -1];
  const rings: { ring: Ring; area: number; probe: Point }[] = [];
  const take = (v: number, preferred: number[]): number => {
    for (const dir of preferred) {
      if (out1[v] === dir) {
        out1[v] = out2[v]!;
        out2[v] = -1;
        return dir;
      }
      if (out2[v] === dir) {
        out2[v] = -1;
        return dir;
      }
    }
    return -1;
  };
  const available = (v: number, dir: number): boolean => out1[v] === dir || out2[v] === dir;
  for (let v0 = 0; v0 < out1.length; v0++) {
    while (out1[v0] !== -1) {
      let c = v0 % vw;
      let r = Math.floor(v0 / vw);
      const startDir = take(v0, [out1[v0]!]);
      let dir = startDir;
      const ring: Ring = [];
      for (;;) {
        c += DX[dir]!;
        r += DY[dir]!;
        const v = r * vw + c;
        // Prefer turning right, which keeps diagonal neighbours in separate rings; the ring is
        // closed when that choice is the edge it started with.
        let next = -1;
        for (const candidate of [(dir + 1) % 4, dir, (dir + 3) % 4]) {
          if (v === v0 && candidate === startDir) break;
          if (available(v, candidate)) {
            next = take(v, [candidate]);
            break;
          }
        }
        if (next === -1) {
          if (startDir !== dir) ring.push([c + c0, r + r0]);
          break;
        }
        if (next !== dir) ring.push([c + c0, r + r0]);
        dir = next;
      }
      for (const simple of splitPinches(ring)) {
        if (simple.length < 4) continue;
        const [a, b] = simple;
        // The pixel on the left of the first edge is unset; its centre tells which outer ring
        // owns a hole.
        const dx = Math.sign(b![0] - a![0]);
        const dy = Math.sign(b![1] - a![1]);
        const probe: Point = dx > 0 ? [a![0] + 0.5, a![1] - 0.5] : dy > 0 ? [a![0] + 0.5, a![1] + 0.5] : dx < 0 ? [a![0] - 0.5, a![1] + 0.5] : [a![0] - 0.5, a![1] - 0.5];
        simple.push([simple[0]![0], simple[0]![1]]);
        rings.push({ ring: simple, area: ringSignedArea(simple), probe });
      }
    }
  }
  const outers = rings.filter((r) => r.area > 0).sort((a, b) => a.area - b.area);
  const polygons = new Map<(typeof outers)[number], Polygon>();
  for (const outer of outers) polygons.set(outer, [outer.ring]);
  for (const hole of rings.filter((r) => r.area < 0)) {
    const probe = hole.probe;
    const owner = outers.find((o) => pointInRing(probe[0], probe[1], o.ring));
    if (owner) polygons.get(owner)!.push(hole.ring);
  }
  // Largest first reads better and is stable.
  return [...polygons.entries()].sort((a, b) => b[0].area - a[0].area).map((e) => e[1]);
}

/**
 * Splits a ring (open, corners only) that passes through the same vertex twice into simple
 * loops, so every output ring is simple (OGC-valid); loops keep their orientation, so a pinched-off
 * hole stays a hole.
 */
function splitPinches(ring: Ring): Ring[] {
  const loops: Ring[] = [];
  const stack: Ring = [];
  const seen = new Map<string, number>();
  for (const p of ring) {
    const key = `${p[0]},${p[1]}`;
    const at = seen.get(key);
    if (at === undefined) {
      seen.set(key, stack.length);
      stack.push(p);
      continue;
    }
    const loop = stack.splice(at + 1);
    loop.unshift(stack[at]!);
    for (const q of loop.slice(1)) seen.delete(`${q[0]},${q[1]}`);
    loops.push(dropCollinear(loop));
  }
  loops.push(dropCollinear(stack));
  return loops;
}

/** Removes vertices that lie on a straight run (open ring, axis-aligned edges). */
function dropCollinear(ring: Ring): Ring {
  if (ring.length < 4) return ring;
  const out: Ring = [];
  for (let i = 0; i < ring.length; i++) {
    const prev = ring[(i + ring.length - 1) % ring.length]!;
    const cur = ring[i]!;
    const next = ring[(i + 1) % ring.length]!;
    const cross = (cur[0] - prev[0]) * (next[1] - cur[1]) - (cur[1] - prev[1]) * (next[0] - cur[0]);
    if (cross !== 0) out.push(cur);
  }
  return out;
}

/** Segment–segment distance (0 when they cross or touch). */
function segmentDistance(a: Point, b: Point, c: Point, d: Point): number {
  const cross = (o: Point, p: Point, q: Point): number => (p[0] - o[0]) * (q[1] - o[1]) - (p[1] - o[1]) * (q[0] - o[0]);
  const d1 = cross(a, b, c);
  const d2 = cross(a, b, d);
  const d3 = cross(c, d, a);
  const d4 = cross(c, d, b);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return 0;
  return Math.min(
    pointSegmentDistance(a[0], a[1], c[0], c[1], d[0], d[1]),
    pointSegmentDistance(b[0], b[1], c[0], c[1], d[0], d[1]),
    pointSegmentDistance(c[0], c[1], a[0], a[1], b[0], b[1]),
    pointSegmentDistance(d[0], d[1], a[0], a[1], b[0], b[1]),
  );
}

const insideMulti = (p: Point, mp: MultiPolygon): boolean =>
  mp.some((poly) => pointInRing(p[0], p[1], poly[0]!) && !poly.slice(1).some((hole) => pointInRing(p[0], p[1], hole)));

/** Minimum distance between two multipolygons (0 when they overlap or touch). */
export function multiPolygonDistance(a: MultiPolygon, b: MultiPolygon): number {
  const firstA = a[0]?.[0]?.[0];
  const firstB = b[0]?.[0]?.[0];
  if (!firstA || !firstB) return Infinity;
  if (insideMulti(firstA, b) || insideMulti(firstB, a)) return 0;
  let best = Infinity;
  for (const pa of a) {
    for (const ra of pa) {
      for (const pb of b) {
        for (const rb of pb) {
          for (let i = 1; i < ra.length; i++) {
            for (let j = 1; j < rb.length; j++) {
              const d = segmentDistance(ra[i - 1]!, ra[i]!, rb[j - 1]!, rb[j]!);
              if (d < best) best = d;
              if (best === 0) return 0;
            }
          }
        }
      }
    }
  }
  return best;
}

/** Area of `a` outside `b` (exact, polygon clipping). */
export function areaOutside(a: MultiPolygon, b: MultiPolygon): number {
  return multiPolygonArea(polygonClipping.difference(a, b) as MultiPolygon);
}

/** Area of `a` ∩ `b`. */
export function areaInside(a: MultiPolygon, b: MultiPolygon): number {
  return multiPolygonArea(polygonClipping.intersection(a, b) as MultiPolygon);
}

/** Scales and translates pixel-space geometry: (x, y) → (x0 + x·sx, y0 + y·sy). */
export function transformMulti(mp: MultiPolygon, fn: (p: Point) => Point): MultiPolygon {
  return mp.map((poly) => poly.map((ring) => ring.map(fn)));
}

/** Convex hull (monotone chain), for irregular reference polygons. */
export function convexHull(points: readonly Point[]): Ring {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  upper.pop();
  lower.pop();
  return lower.concat(upper);
}

/** Bounding box [minX, minY, maxX, maxY]. */
export type Extent = [number, number, number, number];

const ringExtents = new WeakMap<Ring, Extent>();

/** Bounding box of a ring (cached: reference rings never change once placed). */
export function ringExtent(ring: Ring): Extent {
  let e = ringExtents.get(ring);
  if (!e) {
    e = extentOf([[ring]]);
    ringExtents.set(ring, e);
  }
  return e;
}

/** Bounding box of a multipolygon. */
export function extentOf(mp: MultiPolygon): Extent {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (const poly of mp) {
    for (const ring of poly) {
      for (const [x, y] of ring) {
        if (x < minX) minX = x;
        if (y < minY) minY = y;
        if (x > maxX) maxX = x;
        if (y > maxY) maxY = y;
      }
    }
  }
  return [minX, minY, maxX, maxY];
}

/** Distance between two boxes (0 when they overlap): a lower bound of the geometries' distance. */
export function extentGap(a: Extent, b: Extent): number {
  const dx = Math.max(0, a[0] - b[2], b[0] - a[2]);
  const dy = Math.max(0, a[1] - b[3], b[1] - a[3]);
  return Math.hypot(dx, dy);
}

/** The ring with its first point repeated at the end (as GeoJSON and the clipper want). */
export function close(ring: Ring): Ring {
  const first = ring[0]!;
  const last = ring[ring.length - 1]!;
  return first[0] === last[0] && first[1] === last[1] ? ring : [...ring, [first[0], first[1]]];
}

/** Length of a polyline. */
export function polylineLength(pts: Point[]): number {
  let len = 0;
  for (let i = 1; i < pts.length; i++) len += Math.hypot(pts[i]![0] - pts[i - 1]![0], pts[i]![1] - pts[i - 1]![1]);
  return len;
}
