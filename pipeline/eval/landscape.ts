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
  /** The field's zone (paddy calendar), as "river:u:v" (1.3 km cells of the valley grid). */
  zone: string;
  /** The zone as a number, for caches. */
  zoneId: number;
  /** Crop vigour multiplier of this field. */
  vigour: number;
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

/**
 * A coarse lattice node is NODE_FIELDS numbers in a Float64Array (no objects: a 5490 px scene
 * evaluates millions of them). Offsets of the fields:
 */
const N_HILLS = 0; // hill elevation (m) before the valleys are carved, ridges included
const N_FLOOR = 1; // valley-floor elevation (m)
const N_DIST = 2; // distance to the nearest river centreline (m)
const N_RIVER = 3; // index of that river, −1 when none within reach
/**
 * Distance (m) beyond the nearest valley floor's edge: min over rivers of (distance − that
 * valley's half width). Continuous where two valleys meet, unlike either term alone.
 */
const N_EDGE = 4;
const N_COVER = 5; // cover noise (forest / shrub / grass)
const N_DECID = 6; // deciduous-stand noise
const NODE_FIELDS = 7;

/** Direct-mapped cache sizes for point queries (fixed memory; collisions just recompute). */
const NODE_CACHE_SLOTS = 1 << 15;
const FIELD_CACHE_SLOTS = 1 << 14;

/** Width of the valley sides at least (m); higher hills get wider sides, so slopes stay ≲ 35°. */
const SLOPE_WIDTH_M = 300;
const MAX_SLOPE_WIDTH_M = 1200;

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

/** out = out + (material − out) × alpha, using `tmp` for the material's spectrum. */
function mixMaterial(material: Material, t: number, u: number, alpha: number, out: Float64Array, tmp: Float64Array): void {
  sampleMaterial(material, t, u, tmp);
  for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (tmp[b]! - out[b]!) * alpha;
}

/** Landscape of one scene. */
export class Landscape {
  readonly width: number;
  readonly height: number;
  readonly pixelSizeM: number;
  readonly rivers: River[] = [];
  private readonly seed: number;
  private readonly segs: Float64Array; // ax, ay, bx, by, river — pixel space
  private readonly bucketPx = 128;
  private readonly buckets: Int32Array[];
  private readonly bucketBounds: Float32Array[];
  private readonly maxValleyHalfM: number;
  private readonly bucketCols: number;
  private readonly influencePx: number;
  private readonly nodeCacheKeys = new Float64Array(NODE_CACHE_SLOTS).fill(NaN);
  private readonly nodeCacheValues = new Float64Array(NODE_CACHE_SLOTS * NODE_FIELDS);
  private readonly fieldCacheKeys = new Float64Array(FIELD_CACHE_SLOTS).fill(NaN);
  private readonly fieldCacheValues: (FieldInfo | undefined)[] = new Array<FieldInfo | undefined>(FIELD_CACHE_SLOTS);
  /** Result of the last {@link nearestRiver} call (no object per call). */
  private nearDist = 0;
  private nearRiverIndex = -1;
  private nearEdgeM = 0;
  private readonly pointNodes = new Float64Array(4 * NODE_FIELDS);
  private stripNodes = new Float64Array(0);
  /** Paddy states by day of year, then zone id (small integers: no boxed keys in hot loops). */
  private readonly paddyCache = new Map<number, Map<number, PaddyState>>();
  /** Output of {@link fieldGeometry} (no object per call). */
  private geoLengthM = 0;
  private geoOffsetM = 0;
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
    this.maxValleyHalfM = maxValley;
    // Far enough that the valley sides (up to ~1.1 km for the highest hills) end inside it.
    this.influencePx = (maxValley * 1.3 + MAX_SLOPE_WIDTH_M + 150) / px;
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
    // Each bucket's segments sorted by their distance to the bucket (a lower bound for any
    // point in it), so a query can stop once nothing closer can follow.
    this.bucketBounds = [];
    this.buckets = lists.map((list, index) => {
      const bx0 = (index % this.bucketCols) * this.bucketPx;
      const by0 = Math.floor(index / this.bucketCols) * this.bucketPx;
      const withBound = list.map((seg) => {
        const ax = this.segs[seg * 5]!;
        const ay = this.segs[seg * 5 + 1]!;
        const bx = this.segs[seg * 5 + 2]!;
        const by = this.segs[seg * 5 + 3]!;
        const gapX = Math.max(0, Math.min(ax, bx) - (bx0 + this.bucketPx), bx0 - Math.max(ax, bx));
        const gapY = Math.max(0, Math.min(ay, by) - (by0 + this.bucketPx), by0 - Math.max(ay, by));
        return { seg, bound: Math.hypot(gapX, gapY) };
      });
      withBound.sort((a, b) => a.bound - b.bound || a.seg - b.seg);
      // Less a hundredth of a pixel, so float32 rounding cannot lift it above the true distance.
      this.bucketBounds.push(Float32Array.from(withBound.map((w) => Math.max(0, w.bound - 0.01))));
      return Int32Array.from(withBound.map((w) => w.seg));
    });
  }

  /** Rivers: a few long ones crossing the scene, and tributaries branching off them. */
  private generateRivers(rng: Rng): void {
    const px = this.pixelSizeM;
    const areaKm2 = (this.width * this.height * px * px) / 1e6;
    // Main rivers cross the whole scene, so their number grows with its side (same density at
    // every size); tributaries are a few km long, so theirs grows with its area.
    const sideKm = Math.sqrt(areaKm2);
    const mains = Math.max(1, Math.round(sideKm / 5.3 + rng.range(-0.3, 0.4)));
    const tributaries = Math.max(1, Math.round((areaKm2 / 27) * rng.range(1, 2.2)));
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
      this.addRiver(walk(start[0], start[1], heading, diag * 2, 0.5), rng.range(8, 24), rng.range(170, 360), rng);
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

  /**
   * Nearest river centreline within the influence range (distance in pixels → nearDist, and
   * which river → nearRiverIndex), and the smallest distance beyond a valley floor's edge in
   * metres (→ nearEdgeM), for valley half widths scaled by `valleyScale`.
   */
  private nearestRiver(x: number, y: number, valleyScale = 1): void {
    const bc = Math.floor(x / this.bucketPx);
    const br = Math.floor(y / this.bucketPx);
    const px = this.pixelSizeM;
    let best = this.influencePx;
    let river = -1;
    let edgeM = this.influencePx * px;
    const index = br * this.bucketCols + bc;
    const list = bc < 0 || br < 0 || bc >= this.bucketCols ? undefined : this.buckets[index];
    const bounds = list ? this.bucketBounds[index] : undefined;
    if (list && bounds) {
      const segs = this.segs;
      const widest = this.maxValleyHalfM * valleyScale;
      for (let i = 0; i < list.length; i++) {
        const bound = bounds[i]!;
        if (bound >= best && bound * px - widest >= edgeM) break;
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
        const r = segs[s + 4]!;
        if (d < best) {
          best = d;
          river = r;
        }
        const edge = d * px - this.rivers[r]!.valleyHalfWidthM * valleyScale;
        if (edge < edgeM) edgeM = edge;
      }
    }
    this.nearDist = best;
    this.nearRiverIndex = river;
    this.nearEdgeM = edgeM;
  }

  /** Writes lattice node (ix, iy) — at pixel centre (ix·step + 0.5, iy·step + 0.5) — at `at`. */
  private computeNode(ix: number, iy: number, out: Float64Array, at: number): void {
    const px = this.pixelSizeM;
    const x = ix * COARSE_STEP + 0.5;
    const y = iy * COARSE_STEP + 0.5;
    const xm = x * px;
    const ym = y * px;
    const s = this.seed;
    const hillsNoise = clamp((fbm(s + 11, xm / 1700, ym / 1700, 5) - 0.27) / 0.46, 0, 1);
    // Ridges and gullies (~500 m) give the hills the texture that hillshade makes visible.
    // Rounded (C1) ridges: a sharp crease would snap to the interpolation lattice.
    const ridgeN = 2 * fbm(s + 18, xm / 520, ym / 520, 2) - 1;
    const ridged = 1 - Math.min(1, 4 * ridgeN * ridgeN);
    out[at + N_HILLS] = 165 + 330 * Math.pow(hillsNoise, 1.15) + 70 * ridged * (0.4 + 0.6 * hillsNoise);
    out[at + N_FLOOR] = 118 + 30 * fbm(s + 12, xm / 6000, ym / 6000, 2);
    this.nearestRiver(x, y, 0.7 + 0.6 * fbm(s + 13, xm / 900, ym / 900, 2));
    out[at + N_DIST] = this.nearDist * px;
    out[at + N_RIVER] = this.nearRiverIndex;
    out[at + N_EDGE] = this.nearEdgeM;
    out[at + N_COVER] = fbm(s + 14, xm / 520, ym / 520, 3);
    out[at + N_DECID] = fbm(s + 15, xm / 380, ym / 380, 2);
  }

  /** Node (ix, iy) copied to `out` at `at`, through a direct-mapped cache. */
  private cachedNode(ix: number, iy: number, out: Float64Array, at: number): void {
    const key = iy * 1_000_003 + ix;
    const slot = (Math.imul(ix, 0x9e3779b1) ^ Math.imul(iy, 0x85ebca77)) & (NODE_CACHE_SLOTS - 1);
    const base = slot * NODE_FIELDS;
    if (this.nodeCacheKeys[slot] !== key) {
      this.computeNode(ix, iy, this.nodeCacheValues, base);
      this.nodeCacheKeys[slot] = key;
    }
    for (let i = 0; i < NODE_FIELDS; i++) out[at + i] = this.nodeCacheValues[base + i]!;
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
    this.fieldGeometry(river, strip);
    const seg = Math.floor((u + this.geoOffsetM) / this.geoLengthM);
    return this.fieldInfo(river, strip, seg);
  }

  /** Length of the fields of a strip and the strip's offset along the grid (→ geoLengthM, geoOffsetM). */
  private fieldGeometry(river: number, strip: number): void {
    const length = 45 + 95 * hashUnit(this.seed + 21, river, strip);
    this.geoLengthM = length;
    this.geoOffsetM = hashUnit(this.seed + 22, river, strip) * length;
  }

  /** Everything about one field, from its grid indices. Cached: the same object every time. */
  fieldInfo(river: number, strip: number, seg: number): FieldInfo {
    const cacheKey = (river * 1048576 + (strip + 524288)) * 1048576 + (seg + 524288);
    const slot = (Math.imul(river * 65536 + strip, 0x9e3779b1) ^ Math.imul(seg, 0x85ebca77)) & (FIELD_CACHE_SLOTS - 1);
    if (this.fieldCacheKeys[slot] === cacheKey) return this.fieldCacheValues[slot]!;
    const r = this.rivers[river]!;
    const px = this.pixelSizeM;
    this.fieldGeometry(river, strip);
    const geo = { length: this.geoLengthM, offset: this.geoOffsetM };
    const kind = hashUnit(this.seed + 23, river * 65536 + strip, seg);
    const type: FieldType = kind < 0.56 ? 'paddy' : kind < 0.88 ? 'dry' : 'fallow';
    const c = hashUnit(this.seed + 24, river * 65536 + strip, seg);
    const dryCover = c < 0.35 ? 0.04 + 0.2 * (c / 0.35) : c < 0.5 ? 0.3 + 0.2 * ((c - 0.35) / 0.15) : 0.55 + 0.4 * ((c - 0.5) / 0.5);
    const uc = (seg + 0.5) * geo.length - geo.offset;
    const vc = (strip + 0.5) * r.fieldStripM;
    const cos = Math.cos(r.fieldAngle);
    const sin = Math.sin(r.fieldAngle);
    const center: Point = [r.origin[0] + (uc * cos - vc * sin) / px, r.origin[1] + (uc * sin + vc * cos) / px];
    // Zones are ~1.3 km cells of the valley's grid: a village's stretch of fields.
    const zoneU = Math.floor(uc / 1300);
    const zoneV = Math.floor(vc / 1300);
    const info: FieldInfo = {
      key: `${river}:${strip}:${seg}`,
      river,
      strip,
      seg,
      type,
      dryCover,
      zone: `${river}:${zoneU}:${zoneV}`,
      // A small integer (< 2³⁰) for caches; zone cells stay within ±512 of the grid origin.
      zoneId: river * 1048576 + (((zoneU + 512) & 1023) << 10) + ((zoneV + 512) & 1023),
      vigour: 0.75 + 0.3 * hashUnit(this.seed + 28, river * 65536 + strip, seg),
      center,
      slopeLimit: 0.03 + 0.2 * hashUnit(this.seed + 25, river * 65536 + strip, seg),
    };
    this.fieldCacheKeys[slot] = cacheKey;
    this.fieldCacheValues[slot] = info;
    return info;
  }

  /** Drops the point-query caches (they refill on demand). */
  clearCaches(): void {
    this.nodeCacheKeys.fill(NaN);
    this.fieldCacheKeys.fill(NaN);
    this.fieldCacheValues.fill(undefined);
    this.paddyCache.clear();
  }

  /** Calendar offset (days) and green-manure share of a paddy zone. */
  zoneParams(zone: string): { phaseDays: number; winterGreen: number } {
    const [river, u, v] = zone.split(':').map(Number) as [number, number, number];
    const phaseDays = Math.round((hashUnit(this.seed + 26, river * 4096 + u, v) - 0.5) * 24);
    const g = hashUnit(this.seed + 27, river * 4096 + u, v);
    return { phaseDays, winterGreen: g < 0.5 ? 0.1 + 0.15 * g : 0.3 + 0.5 * (g - 0.5) };
  }

  /** Paddy state of a zone on a day of year. */
  paddyState(zone: string, dayOfYear: number): PaddyState {
    const p = this.zoneParams(zone);
    return paddyStateFor(dayOfYear + p.phaseDays, p.winterGreen);
  }

  private paddyStateOf(field: FieldInfo, dayOfYear: number): PaddyState {
    let byZone = this.paddyCache.get(dayOfYear);
    if (!byZone) {
      byZone = new Map();
      this.paddyCache.set(dayOfYear, byZone);
    }
    let state = byZone.get(field.zoneId);
    if (!state) {
      state = this.paddyState(field.zone, dayOfYear);
      byZone.set(field.zoneId, state);
    }
    return state;
  }

  /** Landscape facts at one pixel (centre), for placing objects. */
  pixel(col: number, row: number): PixelInfo {
    const fx = col / COARSE_STEP;
    const fy = row / COARSE_STEP;
    const ix = Math.floor(fx);
    const iy = Math.floor(fy);
    const n = this.pointNodes;
    this.cachedNode(ix, iy, n, 0);
    this.cachedNode(ix + 1, iy, n, NODE_FIELDS);
    this.cachedNode(ix, iy + 1, n, 2 * NODE_FIELDS);
    this.cachedNode(ix + 1, iy + 1, n, 3 * NODE_FIELDS);
    return this.pixelFromNodes(col, row, fx - ix, fy - iy, n, 0, NODE_FIELDS, 2 * NODE_FIELDS, 3 * NODE_FIELDS);
  }

  /** A pixel from its four surrounding nodes, stored in `n` at offsets a (top-left) … d. */
  private pixelFromNodes(col: number, row: number, tx: number, ty: number, n: Float64Array, a: number, b: number, c: number, d: number, out?: PixelInfo): PixelInfo {
    const w00 = (1 - tx) * (1 - ty);
    const w10 = tx * (1 - ty);
    const w01 = (1 - tx) * ty;
    const w11 = tx * ty;
    const px = this.pixelSizeM;
    const distCoarse = n[a + N_DIST]! * w00 + n[b + N_DIST]! * w10 + n[c + N_DIST]! * w01 + n[d + N_DIST]! * w11;
    const edgeM = n[a + N_EDGE]! * w00 + n[b + N_EDGE]! * w10 + n[c + N_EDGE]! * w01 + n[d + N_EDGE]! * w11;
    const hillsM = n[a + N_HILLS]! * w00 + n[b + N_HILLS]! * w10 + n[c + N_HILLS]! * w01 + n[d + N_HILLS]! * w11;
    const floorM = n[a + N_FLOOR]! * w00 + n[b + N_FLOOR]! * w10 + n[c + N_FLOOR]! * w01 + n[d + N_FLOOR]! * w11;
    const near = tx < 0.5 ? (ty < 0.5 ? a : c) : ty < 0.5 ? b : d;
    const river = n[near + N_RIVER]!;
    const halfWidthM = river >= 0 ? this.rivers[river]!.halfWidthM : 0;
    const distM = distCoarse;
    // Interpolated distance blurs the V at the centreline: for the water's edge, measure exactly.
    let waterDistM = distM;
    if (river >= 0 && distM < halfWidthM + 2.5 * COARSE_STEP * px) {
      this.nearestRiver(col + 0.5, row + 0.5);
      waterDistM = Math.min(distM, this.nearDist * px);
    }
    const slopeWidthM = Math.min(MAX_SLOPE_WIDTH_M, Math.max(SLOPE_WIDTH_M, (hillsM - floorM) * 2.2));
    const valley = river < 0 ? 1 : smoothstep(0, slopeWidthM, edgeM);
    const xm = (col + 0.5) * px;
    const ym = (row + 0.5) * px;
    const detail = (valueNoise(this.seed + 16, xm / 70, ym / 70) - 0.5) * 9 + (valueNoise(this.seed + 17, xm / 24, ym / 24) - 0.5) * 2.5;
    const elevationM = floorM + Math.max(hillsM - floorM, 25) * valley + detail * valley + (river >= 0 && waterDistM < halfWidthM ? -2 : 0);
    const water = river >= 0 ? clamp((halfWidthM - waterDistM) / px + 0.5, 0, 1) : 0;
    const coverNoise = n[a + N_COVER]! * w00 + n[b + N_COVER]! * w10 + n[c + N_COVER]! * w01 + n[d + N_COVER]! * w11;
    const decidNoise = n[a + N_DECID]! * w00 + n[b + N_DECID]! * w10 + n[c + N_DECID]! * w01 + n[d + N_DECID]! * w11;
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
    if (out) {
      out.elevationM = elevationM;
      out.valley = valley;
      out.riverDistM = distM;
      out.river = river;
      out.water = water;
      out.field = field;
      out.cover = cover;
      out.deciduous = deciduous;
      return out;
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
    const needed = (iy1 - iy0 + 1) * nodeCols * NODE_FIELDS;
    if (this.stripNodes.length < needed) this.stripNodes = new Float64Array(needed);
    const nodes = this.stripNodes;
    for (let iy = iy0; iy <= iy1; iy++) for (let ix = ix0; ix <= ix1; ix++) this.computeNode(ix, iy, nodes, ((iy - iy0) * nodeCols + (ix - ix0)) * NODE_FIELDS);
    const at = (ix: number, iy: number): number => ((iy - iy0) * nodeCols + (ix - ix0)) * NODE_FIELDS;
    const spec = new Float64Array(BAND_COUNT);
    const specB = new Float64Array(BAND_COUNT);
    const specA = new Float64Array(BAND_COUNT);
    const px = this.pixelSizeM;
    const s = this.seed;
    const info: PixelInfo = { elevationM: 0, valley: 0, riverDistM: 0, river: -1, water: 0, field: null, cover: 'forest', deciduous: 0 };
    for (let r = 0; r < rows; r++) {
      const row = row0 + r;
      const fy = row / COARSE_STEP;
      const iy = Math.floor(fy);
      for (let col = 0; col < width; col++) {
        const fx = col / COARSE_STEP;
        const ix = Math.floor(fx);
        this.pixelFromNodes(col, row, fx - ix, fy - iy, nodes, at(ix, iy), at(ix + 1, iy), at(ix, iy + 1), at(ix + 1, iy + 1), info);
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
          this.surface(info, t, u, cond, target, spec, xm, ym);
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
    out: Float64Array,
    tmp: Float64Array,
    xm: number,
    ym: number,
  ): void {
    const M = MATERIALS;
    const hillVigour = clamp(t - 0.18 * cond.dryness + 0.08, 0, 1);
    switch (info.cover) {
      case 'forest':
        sampleMaterial(M.forest, t, u, out);
        if (info.deciduous > 0) mixMaterial(M.leafOff, t, u, info.deciduous * (1 - cond.leafOn), out, tmp);
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
        mixMaterial(M.mud, t, u, 0.5, out, tmp);
        break;
      case 'cropland': {
        const field = info.field;
        if (!field) {
          sampleMaterial(M.grass, t, u, out);
        } else if (field.type === 'paddy') {
          this.paintCrop(this.paddyStateOf(field, cond.dayOfYear), field, t, u, out, tmp);
        } else if (field.type === 'dry') {
          this.paintCrop({ cover: field.dryCover, water: 0, ripe: 0 }, field, t, u, out, tmp);
        } else {
          sampleMaterial(M.fieldSoil, t, u, out);
          mixMaterial(M.grass, hillVigour, u, 0.55, out, tmp);
        }
        if (field) {
          // Bunds between fields: a metre or two of grass, a fraction of a 10 m pixel.
          const edge = this.fieldEdgeM(xm, ym, field);
          if (edge < this.pixelSizeM / 2) mixMaterial(M.grass, 0.5, u, 0.18, out, tmp);
        }
        break;
      }
    }
    if (info.water > 0) mixMaterial(M.water, t, u, info.water, out, tmp);
  }

  /** A field's look for a crop state: soil or water underneath, canopy on top. */
  paintCrop(state: PaddyState, field: FieldInfo, t: number, u: number, out: Float64Array, tmp: Float64Array): void {
    const M = MATERIALS;
    const vigour = field.vigour;
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
    this.fieldGeometry(field.river, field.strip);
    const length = this.geoLengthM;
    const offset = this.geoOffsetM;
    const fu = (u + offset) / length;
    const fv = v / r.fieldStripM;
    const du = Math.min(fu - Math.floor(fu), Math.ceil(fu) - fu) * length;
    const dv = Math.min(fv - Math.floor(fv), Math.ceil(fv) - fv) * r.fieldStripM;
    return Math.min(du, dv);
  }
}
