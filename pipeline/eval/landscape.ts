/**
 * The static landscape of a synthetic scene: hilly southern-China terrain around Ganzhou.
 * Rivers wind through flat valleys of rice paddies and dry fields; the hills between are
 * evergreen forest with shrub and grass on the lower, disturbed slopes, and a few deciduous
 * stands. Everything is a pure function of (seed, position), evaluated lazily: a strip of rows at
 * a time for rendering (memory ∝ width), or one pixel at a time for placing objects.
 *
 * Low-frequency fields (hill elevation, distance to the nearest river, cover noise) are computed
 * on a coarse lattice every COARSE_STEP pixels and interpolated; fine texture is per pixel. Both
 * paths share one node function, so a pixel looks the same whichever way it was asked for.
 *
 * Crops follow the calendar: paddies are double-cropped rice managed by "zones" (stretches of
 * valley farmed on the same schedule), so when the two dates fall in different stages whole
 * zones change together — those become `harvest` / `seasonal` truth features. Dry fields keep
 * their state between dates unless a trap changes them.
 */
import { MATERIALS, BAND_COUNT, sampleMaterial, type Material } from './scenario-spectra.js';
import { clamp, fbm, hashUnit, hash3, smoothstep, valueNoise, type Rng, gaussFromHash } from './random.js';
import type { Point } from './scenario-geometry.js';

export const COARSE_STEP = 4;

/** A river and the valley it carved, in scene pixel space. */
export interface River {
  index: number;
  points: Point[];
  halfWidthM: number;
  valleyHalfWidthM: number;
  /** Orientation of the field grid in this valley (radians, pixel space). */
  fieldAngle: number;
  fieldStripM: number;
  /** Origin of the field grid (pixel space). */
  origin: Point;
}

export type FieldType = 'paddy' | 'dry' | 'fallow';

/** One field of a valley's grid. */
export interface FieldInfo {
  key: string;
  river: number;
  strip: number;
  seg: number;
  type: FieldType;
  /** Dry-field crop cover 0–1 (static between dates unless a trap changes it). */
  dryCover: number;
  /** The field's zone (paddy calendar), as "river:zone". */
  zone: string;
  /** Field centre, pixel space. */
  center: Point;
  /** Share of the valley slope (vf) up to which this field reaches. */
  slopeLimit: number;
}

/** State of a paddy on a date. */
export interface PaddyState {
  cover: number;
  water: number;
  ripe: number;
}

/** What the landscape is at a pixel (before any object is drawn). */
export interface PixelInfo {
  elevationM: number;
  /** Valley factor: 0 on the valley floor, 1 on the hills. */
  valley: number;
  riverDistM: number;
  river: number;
  /** River water coverage 0–1. */
  water: number;
  field: FieldInfo | null;
  cover: 'forest' | 'shrub' | 'grass' | 'cropland' | 'water';
  /** Deciduous share of the canopy (0–0.5). */
  deciduous: number;
}

/** Per-date conditions that change how the landscape looks. */
export interface DateConditions {
  dayOfYear: number;
  /** 0 (bare deciduous branches) – 1 (full leaf). */
  leafOn: number;
  /** 0 wet season – 1 driest: grass and shrub lose some vigour. */
  dryness: number;
}

interface CoarseNode {
  hillsM: number;
  floorM: number;
  distM: number;
  river: number;
  valleyHalfM: number;
  coverNoise: number;
  decidNoise: number;
}

const SLOPE_WIDTH_M = 260;

/** Day-of-year → leaf state of deciduous broadleaf in subtropical Jiangxi. */
export function leafOnFor(dayOfYear: number): number {
  const d = dayOfYear;
  if (d < 60) return 0.2;
  if (d < 120) return 0.2 + (0.8 * (d - 60)) / 60;
  if (d < 305) return 1;
  if (d < 350) return 1 - (0.8 * (d - 305)) / 45;
  return 0.2;
}

/** Dry season (Oct–Feb) is when grass browns; wet season (Apr–Jun) is greenest. */
export function drynessFor(dayOfYear: number): number {
  return 0.5 + 0.5 * Math.cos(((dayOfYear - 15) / 365) * 2 * Math.PI);
}

/**
 * Double-cropped rice on the Gan river plains: winter fallow (some fields green manure),
 * flooding and transplanting in April, early rice to mid-July, a short flooded gap, late rice to
 * late October, then stubble.
 */
export function paddyStateFor(day: number, winterGreen: number): PaddyState {
  const d = ((day % 365) + 365) % 365;
  const ramp = (a: number, b: number): number => clamp((d - a) / (b - a), 0, 1);
  if (d < 95) return { cover: winterGreen * (0.6 + 0.4 * ramp(30, 80)), water: 0, ripe: 0 };
  if (d < 118) return { cover: 0.06, water: 0.9, ripe: 0 };
  if (d < 196) return { cover: 0.15 + 0.8 * ramp(118, 160), water: 0.5 * (1 - ramp(118, 150)), ripe: ramp(172, 194) };
  if (d < 214) return { cover: 0.05, water: 0.85, ripe: 0 };
  if (d < 296) return { cover: 0.15 + 0.8 * ramp(214, 255), water: 0.5 * (1 - ramp(214, 245)), ripe: ramp(268, 294) };
  if (d < 330) return { cover: 0.06, water: 0, ripe: 0 };
  return { cover: winterGreen * 0.5 * ramp(330, 365), water: 0, ripe: 0 };
}

/** Landscape of one scene. */
export class Landscape {
  readonly width: number;
  readonly height: number;
  readonly pixelSizeM: number;
  readonly rivers: River[] = [];
  private readonly seed: number;
  private readonly segs: Float64Array; // ax, ay, bx, by, river — pixel space
  private readonly bucketPx = 64;
  private readonly buckets: Int32Array[];
  private readonly bucketCols: number;
  private readonly influencePx: number;
  private readonly nodeCache = new Map<number, CoarseNode>();
  private readonly scratch = new Float64Array(BAND_COUNT);

  constructor(options: { seed: number; width: number; height: number; pixelSizeM: number }, rng: Rng) {
    this.width = options.width;
    this.height = options.height;
    this.pixelSizeM = options.pixelSizeM;
    this.seed = options.seed >>> 0;
    this.generateRivers(rng);
    // Segment index: each bucket lists the segments within the valley influence distance.
    const px = this.pixelSizeM;
    const maxValley = Math.max(...this.rivers.map((r) => r.valleyHalfWidthM));
    this.influencePx = (maxValley * 1.3 + SLOPE_WIDTH_M + 100) / px;
    const segList: number[] = [];
    for (const river of this.rivers) {
      for (let i = 1; i < river.points.length; i++) {
        segList.push(river.points[i - 1]![0], river.points[i - 1]![1], river.points[i]![0], river.points[i]![1], river.index);
      }
    }
    this.segs = Float64Array.from(segList);
    this.bucketCols = Math.ceil(this.width / this.bucketPx) + 1;
    const bucketRows = Math.ceil(this.height / this.bucketPx) + 1;
    const lists: number[][] = Array.from({ length: this.bucketCols * bucketRows }, () => []);
    const segCount = this.segs.length / 5;
    for (let s = 0; s < segCount; s++) {
      const ax = this.segs[s * 5]!;
      const ay = this.segs[s * 5 + 1]!;
      const bx = this.segs[s * 5 + 2]!;
      const by = this.segs[s * 5 + 3]!;
      const pad = this.influencePx + this.bucketPx;
      const c0 = Math.max(0, Math.floor((Math.min(ax, bx) - pad) / this.bucketPx));
      const c1 = Math.min(this.bucketCols - 1, Math.floor((Math.max(ax, bx) + pad) / this.bucketPx));
      const r0 = Math.max(0, Math.floor((Math.min(ay, by) - pad) / this.bucketPx));
      const r1 = Math.min(bucketRows - 1, Math.floor((Math.max(ay, by) + pad) / this.bucketPx));
      for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) lists[r * this.bucketCols + c]!.push(s);
    }
    this.buckets = lists.map((l) => Int32Array.from(l));
  }

  /** Rivers: a few long ones crossing the scene, and tributaries branching off them. */
  private generateRivers(rng: Rng): void {
    const px = this.pixelSizeM;
    const areaKm2 = (this.width * this.height * px * px) / 1e6;
    const mains = Math.max(1, Math.round(areaKm2 / 28 + rng.range(-0.3, 0.4)));
    const tributaries = Math.max(1, Math.round(mains * rng.range(1, 2.2)));
    const margin = 600 / px;
    const stepPx = 60 / px;
    const inside = (x: number, y: number): boolean => x > -margin && y > -margin && x < this.width + margin && y < this.height + margin;
    const walk = (x: number, y: number, heading: number, maxLenPx: number, wiggle: number): Point[] => {
      const pts: Point[] = [[x, y]];
      let h = heading;
      let drift = 0;
      for (let len = 0; len < maxLenPx; len += stepPx) {
        drift = drift * 0.9 + rng.normal() * wiggle;
        h += drift * 0.12;
        // Meanders stay within ±70° of the overall heading, as a valley would.
        h = heading + clamp(h - heading, -1.2, 1.2);
        x += Math.cos(h) * stepPx;
        y += Math.sin(h) * stepPx;
        pts.push([x, y]);
        if (!inside(x, y)) break;
      }
      return pts;
    };
    const diag = Math.hypot(this.width, this.height);
    for (let i = 0; i < mains; i++) {
      // Enter from an edge, head across towards a random interior point.
      const side = rng.int(0, 3);
      const t = rng.range(0.15, 0.85);
      const start: Point =
        side === 0 ? [t * this.width, -margin * 0.9] : side === 1 ? [this.width + margin * 0.9, t * this.height] : side === 2 ? [t * this.width, this.height + margin * 0.9] : [-margin * 0.9, t * this.height];
      const target: Point = [rng.range(0.3, 0.7) * this.width, rng.range(0.3, 0.7) * this.height];
      const heading = Math.atan2(target[1] - start[1], target[0] - start[0]);
      this.addRiver(walk(start[0], start[1], heading, diag * 2, 0.5), rng.range(6, 14), rng.range(170, 360), rng);
    }
    for (let i = 0; i < tributaries; i++) {
      const parent = rng.pick(this.rivers);
      const at = parent.points[rng.int(Math.floor(parent.points.length * 0.15), Math.floor(parent.points.length * 0.85))]!;
      const idx = parent.points.indexOf(at);
      const next = parent.points[Math.min(idx + 1, parent.points.length - 1)]!;
      const base = Math.atan2(next[1] - at[1], next[0] - at[0]);
      const heading = base + (rng.chance(0.5) ? 1 : -1) * rng.range(0.8, 1.4);
      this.addRiver(walk(at[0], at[1], heading, rng.range(1500, 4500) / px, 0.7), rng.range(2, 5), rng.range(80, 190), rng);
    }
  }

  private addRiver(points: Point[], halfWidthM: number, valleyHalfWidthM: number, rng: Rng): void {
    const first = points[0]!;
    const last = points[points.length - 1]!;
    this.rivers.push({
      index: this.rivers.length,
      points,
      halfWidthM,
      valleyHalfWidthM,
      fieldAngle: Math.atan2(last[1] - first[1], last[0] - first[0]) + rng.range(-0.15, 0.15),
      fieldStripM: rng.range(32, 58),
      origin: first,
    });
  }

  /** Distance (pixels) to the nearest river centreline within the influence range, and which. */
  private nearestRiver(x: number, y: number): { dist: number; river: number } {
    const bc = Math.floor(x / this.bucketPx);
    const br = Math.floor(y / this.bucketPx);
    let best = this.influencePx;
    let river = -1;
    if (bc < 0 || br < 0 || bc >= this.bucketCols) return { dist: best, river };
    const list = this.buckets[br * this.bucketCols + bc];
    if (!list) return { dist: best, river };
    const segs = this.segs;
    for (let i = 0; i < list.length; i++) {
      const s = list[i]! * 5;
      const ax = segs[s]!;
      const ay = segs[s + 1]!;
      const dx = segs[s + 2]! - ax;
      const dy = segs[s + 3]! - ay;
      const len2 = dx * dx + dy * dy;
      let t = len2 > 0 ? ((x - ax) * dx + (y - ay) * dy) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = x - (ax + t * dx);
      const ey = y - (ay + t * dy);
      const d = Math.sqrt(ex * ex + ey * ey);
      if (d < best) {
        best = d;
        river = segs[s + 4]!;
      }
    }
    return { dist: best, river };
  }

  /** The coarse lattice node (ix, iy), at pixel centre (ix·step + 0.5, iy·step + 0.5). */
  private computeNode(ix: number, iy: number): CoarseNode {
    const px = this.pixelSizeM;
    const x = ix * COARSE_STEP + 0.5;
    const y = iy * COARSE_STEP + 0.5;
    const xm = x * px;
    const ym = y * px;
    const s = this.seed;
    const hillsNoise = clamp((fbm(s + 11, xm / 1700, ym / 1700, 5) - 0.27) / 0.46, 0, 1);
    const hillsM = 165 + 360 * Math.pow(hillsNoise, 1.15);
    const floorM = 118 + 30 * fbm(s + 12, xm / 6000, ym / 6000, 2);
    const { dist, river } = this.nearestRiver(x, y);
    const valleyBase = river >= 0 ? this.rivers[river]!.valleyHalfWidthM : 200;
    const valleyHalfM = valleyBase * (0.7 + 0.6 * fbm(s + 13, xm / 900, ym / 900, 2));
    return {
      hillsM,
      floorM,
      distM: dist * px,
      river,
      valleyHalfM,
      coverNoise: fbm(s + 14, xm / 520, ym / 520, 3),
      decidNoise: fbm(s + 15, xm / 380, ym / 380, 2),
    };
  }

  private cachedNode(ix: number, iy: number): CoarseNode {
    const key = iy * 100003 + ix;
    let node = this.nodeCache.get(key);
    if (!node) {
      if (this.nodeCache.size > 200_000) this.nodeCache.clear();
      node = this.computeNode(ix, iy);
      this.nodeCache.set(key, node);
    }
    return node;
  }

  /** Field of the valley grid at a pixel-space point, for river `river`. */
  fieldAt(x: number, y: number, river: number): FieldInfo {
    const r = this.rivers[river]!;
    const px = this.pixelSizeM;
    const cos = Math.cos(r.fieldAngle);
    const sin = Math.sin(r.fieldAngle);
    const dx = (x - r.origin[0]) * px;
    const dy = (y - r.origin[1]) * px;
    const u = dx * cos + dy * sin;
    const v = -dx * sin + dy * cos;
    const strip = Math.floor(v / r.fieldStripM);
    const geo = this.fieldGeometry(river, strip);
    const seg = Math.floor((u + geo.offset) / geo.length);
    return this.fieldInfo(river, strip, seg);
  }

  private fieldGeometry(river: number, strip: number): { length: number; offset: number } {
    const length = 45 + 95 * hashUnit(this.seed + 21, river, strip);
    return { length, offset: hashUnit(this.seed + 22, river, strip) * length };
  }

  /** Everything about one field, from its grid indices. */
  fieldInfo(river: number, strip: number, seg: number): FieldInfo {
    const r = this.rivers[river]!;
    const px = this.pixelSizeM;
    const geo = this.fieldGeometry(river, strip);
    const kind = hashUnit(this.seed + 23, river * 65536 + strip, seg);
    const type: FieldType = kind < 0.56 ? 'paddy' : kind < 0.88 ? 'dry' : 'fallow';
    const c = hashUnit(this.seed + 24, river * 65536 + strip, seg);
    const dryCover = c < 0.35 ? 0.04 + 0.2 * (c / 0.35) : c < 0.5 ? 0.3 + 0.2 * ((c - 0.35) / 0.15) : 0.55 + 0.4 * ((c - 0.5) / 0.5);
    const uc = (seg + 0.5) * geo.length - geo.offset;
    const vc = (strip + 0.5) * r.fieldStripM;
    const cos = Math.cos(r.fieldAngle);
    const sin = Math.sin(r.fieldAngle);
    const center: Point = [r.origin[0] + (uc * cos - vc * sin) / px, r.origin[1] + (uc * sin + vc * cos) / px];
    const zone = Math.floor(uc / 1300);
    return {
      key: `${river}:${strip}:${seg}`,
      river,
      strip,
      seg,
      type,
      dryCover,
      zone: `${river}:${zone}`,
      center,
      slopeLimit: 0.03 + 0.2 * hashUnit(this.seed + 25, river * 65536 + strip, seg),
    };
  }

  /** Calendar offset (days) and green-manure share of a paddy zone. */
  zoneParams(zone: string): { phaseDays: number; winterGreen: number } {
    const [river, index] = zone.split(':').map(Number) as [number, number];
    const phaseDays = Math.round((hashUnit(this.seed + 26, river, index) - 0.5) * 24);
    const g = hashUnit(this.seed + 27, river, index);
    return { phaseDays, winterGreen: g < 0.5 ? 0.1 + 0.15 * g : 0.3 + 0.5 * (g - 0.5) };
  }

  /** Paddy state of a zone on a day of year. */
  paddyState(zone: string, dayOfYear: number): PaddyState {
    const p = this.zoneParams(zone);
    return paddyStateFor(dayOfYear + p.phaseDays, p.winterGreen);
  }

  /** Landscape facts at one pixel (centre), for placing objects. */
  pixel(col: number, row: number): PixelInfo {
    const fx = col / COARSE_STEP;
    const fy = row / COARSE_STEP;
    const ix = Math.floor(fx);
    const iy = Math.floor(fy);
    const n00 = this.cachedNode(ix, iy);
    const n10 = this.cachedNode(ix + 1, iy);
    const n01 = this.cachedNode(ix, iy + 1);
    const n11 = this.cachedNode(ix + 1, iy + 1);
    return this.pixelFromNodes(col, row, fx - ix, fy - iy, n00, n10, n01, n11);
  }

  private pixelFromNodes(col: number, row: number, tx: number, ty: number, n00: CoarseNode, n10: CoarseNode, n01: CoarseNode, n11: CoarseNode): PixelInfo {
    const bl = (a: number, b: number, c: number, d: number): number => (a + (b - a) * tx) * (1 - ty) + (c + (d - c) * tx) * ty;
    const px = this.pixelSizeM;
    const distM = bl(n00.distM, n10.distM, n01.distM, n11.distM);
    const valleyHalfM = bl(n00.valleyHalfM, n10.valleyHalfM, n01.valleyHalfM, n11.valleyHalfM);
    const hillsM = bl(n00.hillsM, n10.hillsM, n01.hillsM, n11.hillsM);
    const floorM = bl(n00.floorM, n10.floorM, n01.floorM, n11.floorM);
    const near = tx < 0.5 ? (ty < 0.5 ? n00 : n01) : ty < 0.5 ? n10 : n11;
    const river = near.river;
    const valley = river < 0 ? 1 : smoothstep(valleyHalfM, valleyHalfM + SLOPE_WIDTH_M, distM);
    const xm = (col + 0.5) * px;
    const ym = (row + 0.5) * px;
    const detail = (valueNoise(this.seed + 16, xm / 70, ym / 70) - 0.5) * 9 + (valueNoise(this.seed + 17, xm / 24, ym / 24) - 0.5) * 2.5;
    const elevationM = floorM + Math.max(hillsM - floorM, 25) * Math.pow(valley, 0.85) + detail * valley + (river >= 0 && distM < 15 ? -2 : 0);
    const halfWidthM = river >= 0 ? this.rivers[river]!.halfWidthM : 0;
    const water = river >= 0 ? clamp((halfWidthM - distM) / px + 0.5, 0, 1) : 0;
    const coverNoise = bl(n00.coverNoise, n10.coverNoise, n01.coverNoise, n11.coverNoise);
    const decidNoise = bl(n00.decidNoise, n10.decidNoise, n01.decidNoise, n11.decidNoise);
    const deciduous = 0.5 * smoothstep(0.6, 0.72, decidNoise);
    let field: FieldInfo | null = null;
    let cover: PixelInfo['cover'];
    if (water >= 0.5) cover = 'water';
    else {
      if (river >= 0 && valley < 0.25) {
        const f = this.fieldAt(col + 0.5, row + 0.5, river);
        if (valley < f.slopeLimit) field = f;
      }
      if (field) cover = 'cropland';
      else if (coverNoise < 0.335 || (valley < 0.5 && coverNoise < 0.47)) cover = coverNoise < 0.3 ? 'grass' : 'shrub';
      else cover = 'forest';
    }
    return { elevationM, valley, riverDistM: distM, river, water, field, cover, deciduous };
  }

  /**
   * Base surface reflectance of a strip, for both dates, plus elevation.
   * Rows [row0, row0 + rows), full width; `out[date][band]`, `elevation` and the texture fields
   * (`t` vigour, `u` brightness, 0–1, which layers reuse) are rows × width Float32Arrays.
   */
  renderStrip(
    row0: number,
    rows: number,
    dates: [DateConditions, DateConditions],
    out: [Float32Array[], Float32Array[]],
    elevation: Float32Array,
    texture: { t: Float32Array; u: Float32Array },
  ): void {
    const width = this.width;
    const ix0 = -1;
    const ix1 = Math.ceil(width / COARSE_STEP) + 1;
    const iy0 = Math.floor(row0 / COARSE_STEP);
    const iy1 = Math.floor((row0 + rows - 1) / COARSE_STEP) + 1;
    const nodeCols = ix1 - ix0 + 1;
    const nodes: CoarseNode[] = [];
    for (let iy = iy0; iy <= iy1; iy++) for (let ix = ix0; ix <= ix1; ix++) nodes.push(this.computeNode(ix, iy));
    const node = (ix: number, iy: number): CoarseNode => nodes[(iy - iy0) * nodeCols + (ix - ix0)]!;
    const spec = new Float64Array(BAND_COUNT);
    const specB = new Float64Array(BAND_COUNT);
    const specA = new Float64Array(BAND_COUNT);
    const px = this.pixelSizeM;
    const s = this.seed;
    const paddyCache = new Map<string, PaddyState>();
    for (let r = 0; r < rows; r++) {
      const row = row0 + r;
      const fy = row / COARSE_STEP;
      const iy = Math.floor(fy);
      for (let col = 0; col < width; col++) {
        const fx = col / COARSE_STEP;
        const ix = Math.floor(fx);
        const info = this.pixelFromNodes(col, row, fx - ix, fy - iy, node(ix, iy), node(ix + 1, iy), node(ix, iy + 1), node(ix + 1, iy + 1));
        const k = r * width + col;
        elevation[k] = info.elevationM;
        const xm = (col + 0.5) * px;
        const ym = (row + 0.5) * px;
        // Texture: t varies over stands and fields (~100 m), u over crowns and furrows (~30 m).
        const t = clamp((fbm(s + 31, xm / 120, ym / 120, 3) - 0.5) * 2.3 + 0.5, 0, 1);
        const u = valueNoise(s + 32, xm / 28, ym / 28);
        texture.t[k] = t;
        texture.u[k] = u;
        for (let d = 0; d < 2; d++) {
          const cond = dates[d]!;
          const target = d === 0 ? specB : specA;
          this.surface(info, t, u, cond, d, target, spec, paddyCache, xm, ym);
        }
        // Static per-pixel grain (crowns, furrows): the same on both dates.
        const grain = 1 + 0.035 * gaussFromHash(hash3(s + 33, col, row));
        for (let b = 0; b < BAND_COUNT; b++) {
          out[0][b]![k] = specB[b]! * grain;
          out[1][b]![k] = specA[b]! * grain;
        }
      }
    }
  }

  /** Surface spectrum of a pixel on a date. */
  private surface(
    info: PixelInfo,
    t: number,
    u: number,
    cond: DateConditions,
    dateIndex: number,
    out: Float64Array,
    tmp: Float64Array,
    paddyCache: Map<string, PaddyState>,
    xm: number,
    ym: number,
  ): void {
    const M = MATERIALS;
    const mixIn = (material: Material, tt: number, uu: number, alpha: number): void => {
      sampleMaterial(material, tt, uu, tmp);
      for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (tmp[b]! - out[b]!) * alpha;
    };
    const hillVigour = clamp(t - 0.18 * cond.dryness + 0.08, 0, 1);
    switch (info.cover) {
      case 'forest':
        sampleMaterial(M.forest, t, u, out);
        if (info.deciduous > 0) mixIn(M.leafOff, t, u, info.deciduous * (1 - cond.leafOn));
        break;
      case 'shrub':
        sampleMaterial(M.shrub, hillVigour, u, out);
        break;
      case 'grass':
        sampleMaterial(M.grass, hillVigour, u, out);
        break;
      case 'water':
        // River banks under the water edge: wet grass and mud.
        sampleMaterial(M.grass, t, u, out);
        mixIn(M.mud, t, u, 0.5);
        break;
      case 'cropland': {
        const field = info.field;
        if (!field) {
          sampleMaterial(M.grass, t, u, out);
        } else if (field.type === 'paddy') {
          const cacheKey = `${dateIndex}|${field.zone}`;
          let state = paddyCache.get(cacheKey);
          if (!state) {
            state = this.paddyState(field.zone, cond.dayOfYear);
            paddyCache.set(cacheKey, state);
          }
          this.paintCrop(state, field, t, u, out, tmp);
        } else if (field.type === 'dry') {
          this.paintCrop({ cover: field.dryCover, water: 0, ripe: 0 }, field, t, u, out, tmp);
        } else {
          sampleMaterial(M.fieldSoil, t, u, out);
          mixIn(M.grass, hillVigour, u, 0.55);
        }
        if (field) {
          // Bunds between fields: a metre or two of grass, a fraction of a 10 m pixel.
          const edge = this.fieldEdgeM(xm, ym, field);
          if (edge < this.pixelSizeM / 2) mixIn(M.grass, 0.5, u, 0.18);
        }
        break;
      }
    }
    if (info.water > 0) mixIn(M.water, t, u, info.water);
  }

  /** A field's look for a crop state: soil or water underneath, canopy on top. */
  paintCrop(state: PaddyState, field: FieldInfo, t: number, u: number, out: Float64Array, tmp: Float64Array): void {
    const M = MATERIALS;
    const vigour = 0.75 + 0.3 * hashUnit(this.seed + 28, field.river * 65536 + field.strip, field.seg);
    sampleMaterial(state.cover < 0.1 && state.water < 0.3 ? M.stubble : M.fieldSoil, t, u, out);
    if (state.water > 0) {
      sampleMaterial(M.paddyWater, t, u, tmp);
      for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (tmp[b]! - out[b]!) * state.water;
    }
    const cover = clamp(state.cover * vigour, 0, 1);
    if (cover > 0) {
      sampleMaterial(M.crop, t, u, tmp);
      if (state.ripe > 0) {
        const ripe = this.scratch;
        sampleMaterial(M.ripeCrop, t, u, ripe);
        for (let b = 0; b < BAND_COUNT; b++) tmp[b] = tmp[b]! + (ripe[b]! - tmp[b]!) * state.ripe;
      }
      for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (tmp[b]! - out[b]!) * cover;
    }
  }

  /** Distance (m) from a point to the nearest edge of its field. */
  private fieldEdgeM(xm: number, ym: number, field: FieldInfo): number {
    const r = this.rivers[field.river]!;
    const px = this.pixelSizeM;
    const cos = Math.cos(r.fieldAngle);
    const sin = Math.sin(r.fieldAngle);
    const dx = xm - r.origin[0] * px;
    const dy = ym - r.origin[1] * px;
    const u = dx * cos + dy * sin;
    const v = -dx * sin + dy * cos;
    const geo = this.fieldGeometry(field.river, field.strip);
    const fu = (u + geo.offset) / geo.length;
    const fv = v / r.fieldStripM;
    const du = Math.min(fu - Math.floor(fu), Math.ceil(fu) - fu) * geo.length;
    const dv = Math.min(fv - Math.floor(fv), Math.ceil(fv) - fv) * r.fieldStripM;
    return Math.min(du, dv);
  }
}
