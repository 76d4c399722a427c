/**
 * Where everything in a synthetic scene goes: villages, roads, ponds and orchards on the static
 * landscape; protected areas, permits and closed sites; the existing licensed pits; then the
 * mining changes (one or more for every rule of DESIGN.md) and the traps (harvest, roads,
 * buildings, new orchards, seasonal change, clouds, haze, illumination). Each change is drawn
 * from irregular shapes, rasterised with fractional coverage, and kept only when the alert rules
 * applied to its exact pixels give the intended answer with a clear margin — so the truth is
 * unambiguous, and traps never overlap mining changes.
 *
 * Output is pixel space; the generator converts to UTM / EPSG:4326 and renders.
 */
import { Landscape, type DateConditions, type PaddyState } from './landscape.js';
import { MATERIALS, BAND_COUNT, sampleMaterial, type Material } from './scenario-spectra.js';
import { clamp, hash3, hashUnit, valueNoise, fbm, type Rng } from './random.js';
import {
  blobExcessFn,
  closeDiagonals,
  blobShape,
  boxAround,
  boxWidth,
  boxHeight,
  convexHull,
  multiPolygonDistance,
  pointInRing,
  pointSegmentDistance,
  polygonShape,
  rasterizeCoverage,
  rasterizePolyline,
  rectCorners,
  rotatedRect,
  starBlobArea,
  traceMask,
  fan,
  areaOutside,
  areaInside,
  close,
  extentGap,
  extentOf,
  polylineLength,
  ringExtent,
  ringSignedArea,
  type BlobSpec,
  type Box,
  type MultiPolygon,
  type Point,
  type Ring,
  type Shape,
} from './scenario-geometry.js';
import { classifyChange, isPermitValid, type MetricPermit, type PermitProps, type RuleResult } from './scenario-rules.js';
import { BIT_BUILT, BIT_MINE, BIT_REF, BIT_TRUTH, Occupancy } from './scenario-occupancy.js';
import type {
  CloudLayer,
  ClosedSiteProps,
  HazeLayer,
  MiningKind,
  PaintPoint,
  PermitRecord,
  Placement,
  ProtectedAreaProps,
  ReferenceRecord,
  SurfaceLayer,
  TrapKind,
  TruthRecord,
} from './scenario-types.js';

/** Inputs of {@link buildLayout}. */
export interface LayoutOptions {
  seed: number;
  width: number;
  height: number;
  pixelSizeM: number;
  dates: { before: string; after: string };
  conditions: [DateConditions, DateConditions];
  sun: [{ elevationDeg: number; azimuthDeg: number }, { elevationDeg: number; azimuthDeg: number }];
  placements: Record<Placement, number>;
  traps: Record<TrapKind, number>;
}

export interface Layout {
  /** Surface layers in paint order. */
  layers: SurfaceLayer[];
  clouds: CloudLayer[];
  hazes: HazeLayer[];
  permits: PermitRecord[];
  closedSites: ReferenceRecord<ClosedSiteProps>[];
  protectedAreas: ReferenceRecord<ProtectedAreaProps>[];
  truths: TruthRecord[];
  /** Placements or traps asked for that found no room, e.g. "exploration_only: 1 of 1". */
  shortfalls: string[];
}


/** A dry field found by the cropland survey. */
interface SurveyedField {
  key: string;
  river: number;
  strip: number;
  seg: number;
  cover: number;
  box: Box;
  samples: number;
}

/** A shape rasterised: coverage over a box. */
interface Raster {
  box: Box;
  cover: Float32Array;
}

/** A candidate change before it is accepted: its layers and the rasters that make its truth. */
interface Draft {
  kind: MiningKind;
  layers: SurfaceLayer[];
  /** Coverage rasters summed into the truth (≥ 0.5). */
  parts: Raster[];
  /** Die-off halo: severity raster, counted where ≥ HALO_THRESHOLD. */
  halo?: Raster;
  /** Existing (static) pit this change grows from: its pixels are not part of the change. */
  existing?: Raster;
  /** The pit record to mark used once the draft is accepted. */
  pit?: { used: boolean };
  details: Record<string, string | number | boolean | null>;
}

const HALO_THRESHOLD = 0.35;
const COUNTIES = ['龙南', '定南', '全南', '信丰', '安远', '寻乌', '赣县', '于都', '会昌', '兴国'];
const PLACES = ['足洞', '岭北', '黄沙', '大吉山', '河岭', '石背', '关西', '桃江', '坳背', '上坪', '杨村', '濂江', '龙头', '车头', '柱石', '三亨', '鹅公', '天心', '九曲', '长富'];

const toIsoDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const dayMs = 86_400_000;

/** Builds the layout of one scene. Deterministic for its inputs. */
export function buildLayout(rng: Rng, landscape: Landscape, options: LayoutOptions): Layout {
  return new LayoutBuilder(rng, landscape, options).build();
}

class LayoutBuilder {
  private readonly W: number;
  private readonly H: number;
  private readonly px: number;
  private occ: Occupancy;
  private readonly layers: SurfaceLayer[] = [];
  private readonly staticLayers: SurfaceLayer[] = [];
  private readonly staticIndex = new Map<number, number[]>();
  private readonly clouds: CloudLayer[] = [];
  private readonly hazes: HazeLayer[] = [];
  private readonly permits: PermitRecord[] = [];
  private readonly closedSites: ReferenceRecord<ClosedSiteProps>[] = [];
  private readonly protectedAreas: ReferenceRecord<ProtectedAreaProps>[] = [];
  private readonly truths: TruthRecord[] = [];
  private readonly shortfalls: string[] = [];
  private readonly villages: { box: Box; mask: Uint8Array; center: Point; angle: number }[] = [];
  private readonly ponds: { spec: [number, number, number, number, number]; used: boolean }[] = [];
  private readonly pits = new Map<string, { spec: BlobSpec; raster: Raster; nearEdge: number | null; used: boolean }[]>();
  /**
   * What the cropland survey found: dry fields (where harvest and greening traps can go; kept
   * small — no FieldInfo objects — because a 5490 px scene has ~10⁵ fields) and paddy zones.
   */
  private readonly survey = { dryFields: new Map<string, SurveyedField>(), zones: new Map<string, Box>() };
  private dryCandidates: { harvest: SurveyedField[]; greening: SurveyedField[] } = { harvest: [], greening: [] };
  private readonly usedFields = new Set<string>();
  /** Shrinks the upper size of changes on repeated placement attempts (1 = full size). */
  private sizeScale = 1;
  private readonly afterMs: number;
  /** Scene-size factor: counts scale with area (1 at 512 × 512 px of 10 m). */
  private readonly areaFactor: number;
  /** Size factor for reference polygons on small scenes. */
  private readonly sizeFactor: number;

  constructor(
    private readonly rng: Rng,
    private readonly land: Landscape,
    private readonly o: LayoutOptions,
  ) {
    this.W = o.width;
    this.H = o.height;
    this.px = o.pixelSizeM;
    this.occ = new Occupancy(this.W, this.H);
    this.afterMs = Date.parse(`${o.dates.after}T00:00:00Z`);
    this.areaFactor = (this.W * this.H * this.px * this.px) / (5120 * 5120);
    this.sizeFactor = clamp(Math.sqrt(this.W * this.H) * this.px / 5120, 0.45, 1);
  }

  build(): Layout {
    const r = this.rng;
    this.surveyCropland();
    this.placeVillages(r.fork('villages'));
    this.placeRoads(r.fork('roads'));
    this.placePonds(r.fork('ponds'));
    this.placeOrchards(r.fork('orchards'));
    this.placeOldScars(r.fork('scars'));
    this.placeProtectedAreas(r.fork('protected'));
    this.placePermits(r.fork('permits'));
    this.placeClosedSites(r.fork('closed'));
    this.placeChanges(r.fork('changes'));
    this.placeTraps(r.fork('traps'));
    this.addPhenologyTruths();
    this.releaseScratch();
    return {
      layers: this.layers,
      clouds: this.clouds,
      hazes: this.hazes,
      permits: this.permits,
      closedSites: this.closedSites,
      protectedAreas: this.protectedAreas,
      truths: this.truths,
      shortfalls: this.shortfalls,
    };
  }

  /**
   * Drops what only placing needed. The layers' spectrum closures keep this builder alive while
   * the scene renders, so its survey, indexes and occupancy raster would otherwise stay in memory.
   */
  private releaseScratch(): void {
    this.occ = new Occupancy(1, 1);
    this.survey.dryFields.clear();
    this.survey.zones.clear();
    this.dryCandidates = { harvest: [], greening: [] };
    this.staticIndex.clear();
    this.usedFields.clear();
    this.pits.clear();
    this.villages.length = 0;
    this.ponds.length = 0;
  }

  // ---------------------------------------------------------------- helpers

  private m(metres: number): number {
    return metres / this.px;
  }

  private haToPx(ha: number): number {
    return (ha * 10_000) / (this.px * this.px);
  }

  private pxToHa(count: number): number {
    return (count * this.px * this.px) / 10_000;
  }

  private randomPoint(rng: Rng, accept: (x: number, y: number) => boolean, tries = 300, marginPx = 8): Point | null {
    for (let i = 0; i < tries; i++) {
      const x = rng.range(marginPx, this.W - marginPx);
      const y = rng.range(marginPx, this.H - marginPx);
      if (accept(x, y)) return [x, y];
    }
    return null;
  }

  /** A random point inside a ring (sampled within its bounding box) that `accept`s. */
  private randomPointInRing(rng: Rng, ring: Ring, accept: (x: number, y: number) => boolean = () => true, tries = 200): Point | null {
    const [x0, y0, x1, y1] = ringExtent(ring);
    for (let i = 0; i < tries; i++) {
      const x = rng.range(Math.max(1, x0), Math.min(this.W - 1, x1));
      const y = rng.range(Math.max(1, y0), Math.min(this.H - 1, y1));
      if (pointInRing(x, y, ring) && accept(x, y)) return [x, y];
    }
    return null;
  }

  /** Distance (pixels) from a point to a ring's boundary. */
  private edgeDistancePx(x: number, y: number, ring: Ring): number {
    const closed = close(ring);
    let best = Infinity;
    for (let i = 1; i < closed.length; i++) best = Math.min(best, pointSegmentDistance(x, y, closed[i - 1]![0], closed[i - 1]![1], closed[i]![0], closed[i]![1]));
    return best;
  }

  /**
   * A free point inside a ring, far enough from its boundary for a site of `areaHa` (blob
   * radius, stretch and, for leaching sites, the ponds and halo around it).
   */
  private pointForSite(rng: Rng, ring: Ring, areaHa: number, kind: MiningKind): Point | null {
    const reach = Math.sqrt(this.haToPx(areaHa) / Math.PI) * (kind === 'leaching_site' ? 1.5 : 1.4) + this.m(kind === 'leaching_site' ? 40 : 20);
    return this.randomPointInRing(rng, ring, (x, y) => this.edgeDistancePx(x, y, ring) > reach && this.occ.pointFree(x, y, BIT_BUILT | BIT_TRUTH | BIT_MINE), 300);
  }

  private isHill(x: number, y: number, minValley = 0.6): boolean {
    const p = this.land.pixel(Math.floor(x), Math.floor(y));
    return p.valley >= minValley && (p.cover === 'forest' || p.cover === 'shrub' || p.cover === 'grass');
  }

  /** Direction of steepest descent at a point (radians, pixel space). */
  private downslope(x: number, y: number, rng: Rng): number {
    const e = (a: number, b: number): number => this.land.pixel(Math.floor(clamp(a, 0, this.W - 1)), Math.floor(clamp(b, 0, this.H - 1))).elevationM;
    const gx = e(x + 3, y) - e(x - 3, y);
    const gy = e(x, y + 3) - e(x, y - 3);
    if (Math.hypot(gx, gy) < 0.5) return rng.range(-Math.PI, Math.PI);
    return Math.atan2(-gy, -gx);
  }

  /** Walks uphill to a local top (ion-adsorption leaching sites sit on cleared hilltops). */
  private climb(x: number, y: number): Point {
    let cx = x;
    let cy = y;
    let here = this.land.pixel(Math.floor(cx), Math.floor(cy)).elevationM;
    for (let step = 0; step < 40; step++) {
      let best: Point | null = null;
      let bestE = here;
      for (let k = 0; k < 8; k++) {
        const a = (k / 8) * 2 * Math.PI;
        const nx = clamp(cx + Math.cos(a) * 4, 6, this.W - 7);
        const ny = clamp(cy + Math.sin(a) * 4, 6, this.H - 7);
        const e = this.land.pixel(Math.floor(nx), Math.floor(ny)).elevationM;
        if (e > bestE + 0.3) {
          bestE = e;
          best = [nx, ny];
        }
      }
      if (!best) break;
      [cx, cy] = best;
      here = bestE;
    }
    return [cx, cy];
  }

  private blobSpec(rng: Rng, cx: number, cy: number, areaHa: number, stretchMax = 1.6): BlobSpec {
    const harmonics = [2, 3, 4, 5].map((k) => ({ k, amp: rng.range(0.02, 0.15) / (0.6 + 0.2 * k), phase: rng.range(0, 2 * Math.PI) }));
    const stretch = rng.range(1, stretchMax);
    const radius = Math.sqrt(this.haToPx(areaHa) / starBlobArea(1, harmonics, stretch));
    return { cx, cy, radius, harmonics, stretch, angle: rng.range(0, Math.PI) };
  }

  private raster(shape: Shape, pad = 2, samples = 4): Raster {
    const [x0, y0, x1, y1] = shape.bounds;
    const box = boxAround(
      [
        [x0, y0],
        [x1, y1],
      ],
      pad,
      this.W,
      this.H,
    );
    return { box, cover: rasterizeCoverage(shape, box, samples) };
  }

  private maskOf(r: Raster, threshold = 0.5): Uint8Array {
    const mask = new Uint8Array(r.cover.length);
    for (let i = 0; i < mask.length; i++) mask[i] = r.cover[i]! >= threshold ? 1 : 0;
    return mask;
  }

  private areaPx(mask: Uint8Array): number {
    let n = 0;
    for (let i = 0; i < mask.length; i++) n += mask[i]!;
    return n;
  }

  /** Records a truth feature; its mask is made 4-connected so its outline is a valid polygon. */
  private pushTruth(t: TruthRecord): void {
    if (!t.footprint) closeDiagonals(t.mask, boxWidth(t.box), boxHeight(t.box));
    this.truths.push(t);
  }

  /** Adds a layer to the paint list (and, when static, to the static index). */
  private addLayer(layer: SurfaceLayer): void {
    this.layers.push(layer);
    if (layer.dates[0] && layer.dates[1]) {
      const index = this.staticLayers.length;
      this.staticLayers.push(layer);
      for (let by = layer.box.r0 >> 6; by <= (layer.box.r1 - 1) >> 6; by++) {
        for (let bx = layer.box.c0 >> 6; bx <= (layer.box.c1 - 1) >> 6; bx++) {
          const key = by * 4096 + bx;
          const list = this.staticIndex.get(key);
          if (list) list.push(index);
          else this.staticIndex.set(key, [index]);
        }
      }
    }
  }

  /** Largest coverage (0–1) of any static layer at a pixel (villages, ponds, roads, pits, …). */
  private staticCoverAt(col: number, row: number): number {
    const list = this.staticIndex.get((row >> 6) * 4096 + (col >> 6));
    if (!list) return 0;
    let best = 0;
    for (const i of list) {
      const l = this.staticLayers[i]!;
      const b = l.box;
      if (col < b.c0 || col >= b.c1 || row < b.r0 || row >= b.r1) continue;
      const c = l.cover[(row - b.r0) * (b.c1 - b.c0) + (col - b.c0)]!;
      if (c > best) best = c;
    }
    return best / 255;
  }

  /** A surface layer; coverage is stored in bytes (a quarter of the memory of floats). */
  private layer(name: string, r: Raster, dates: readonly [boolean, boolean], spectrum: (p: PaintPoint, out: Float64Array) => void): SurfaceLayer {
    const cover = new Uint8Array(r.cover.length);
    for (let i = 0; i < cover.length; i++) cover[i] = Math.round(clamp(r.cover[i]!, 0, 1) * 255);
    return { name, box: r.box, cover, dates, spectrum };
  }

  /** A material with optional fixed texture and a multiplicative pattern. */
  private materialFn(material: Material, opts: { t?: number; u?: number; scale?: (p: PaintPoint) => number } = {}): (p: PaintPoint, out: Float64Array) => void {
    return (p, out) => {
      sampleMaterial(material, opts.t ?? p.t, opts.u ?? p.u, out);
      if (opts.scale) {
        const s = opts.scale(p);
        for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! * s;
      }
    };
  }

  /** Laterite pit floor with benches: risers facing down the slope catch less light. */
  private pitSpectrum(benchM: number, fresh: number): (p: PaintPoint, out: Float64Array) => void {
    const tmp = new Float64Array(BAND_COUNT);
    return (p, out) => {
      sampleMaterial(MATERIALS.laterite, 0.25 + 0.5 * p.t, p.u, out);
      const f = (((p.elevationM / benchM) % 1) + 1) % 1;
      const s = (f < 0.28 ? 0.8 : 1.04) * (0.9 + 0.1 * fresh);
      for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! * s;
      if (fresh < 1) {
        // Older pits: some grass creeping back on benches.
        sampleMaterial(MATERIALS.grass, p.t, p.u, tmp);
        const g = (1 - fresh) * 0.5 * valueNoise(911, p.col / 3, p.row / 3);
        for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (tmp[b]! - out[b]!) * g;
      }
    };
  }

  // ---------------------------------------------------------------- survey

  /** Samples the valleys every 3 px: which fields and paddy zones exist, and where. */
  private surveyCropland(): void {
    const step = 3;
    for (let row = 1; row < this.H; row += step) {
      for (let col = 1; col < this.W; col += step) {
        const p = this.land.pixel(col, row);
        if (!p.field) continue;
        const f = p.field;
        const grow = (box: Box | undefined): Box =>
          box
            ? { c0: Math.min(box.c0, col - step), r0: Math.min(box.r0, row - step), c1: Math.max(box.c1, col + step + 1), r1: Math.max(box.r1, row + step + 1) }
            : { c0: col - step, r0: row - step, c1: col + step + 1, r1: row + step + 1 };
        if (f.type === 'paddy') this.survey.zones.set(f.zone, grow(this.survey.zones.get(f.zone)));
        if (f.type !== 'dry') continue;
        const entry = this.survey.dryFields.get(f.key);
        if (entry) {
          entry.box = grow(entry.box);
          entry.samples++;
        } else this.survey.dryFields.set(f.key, { key: f.key, river: f.river, strip: f.strip, seg: f.seg, cover: f.dryCover, box: grow(undefined), samples: 1 });
      }
    }
    for (const f of this.survey.dryFields.values()) {
      if (f.samples < 2) continue;
      if (f.cover >= 0.55) this.dryCandidates.harvest.push(f);
      else if (f.cover <= 0.25) this.dryCandidates.greening.push(f);
    }
  }

  /** Pixels of the given fields (by key) inside a box, excluding static objects drawn over them. */
  private fieldMask(keys: Set<string>, box: Box): Uint8Array {
    const w = boxWidth(box);
    const mask = new Uint8Array(w * boxHeight(box));
    for (let row = box.r0; row < box.r1; row++) {
      for (let col = box.c0; col < box.c1; col++) {
        const f = this.land.pixel(col, row).field;
        if (f && keys.has(f.key) && this.staticCoverAt(col, row) < 0.5) mask[(row - box.r0) * w + (col - box.c0)] = 1;
      }
    }
    return mask;
  }

  /** A box grown by `pad` and clipped to the scene (empty, never inverted, when outside it). */
  private clipBox(b: Box, pad = 0): Box {
    const c0 = clamp(b.c0 - pad, 0, this.W);
    const r0 = clamp(b.r0 - pad, 0, this.H);
    return { c0, r0, c1: clamp(b.c1 + pad, c0, this.W), r1: clamp(b.r1 + pad, r0, this.H) };
  }

  // ---------------------------------------------------------------- static landscape objects

  private placeVillages(rng: Rng): void {
    const count = Math.max(1, Math.round(this.areaFactor * rng.range(3, 6)));
    for (let i = 0; i < count; i++) {
      const at = this.randomPoint(rng, (x, y) => {
        const p = this.land.pixel(Math.floor(x), Math.floor(y));
        return p.river >= 0 && p.valley > 0.01 && p.valley < 0.3 && p.water === 0 && p.riverDistM > 80 && this.occ.pointFree(x, y, BIT_BUILT);
      });
      if (!at) continue;
      const river = this.land.pixel(Math.floor(at[0]), Math.floor(at[1])).river;
      const angle = this.land.rivers[river]?.fieldAngle ?? 0;
      const blobs = Array.from({ length: rng.int(2, 4) }, () =>
        blobShape(this.blobSpec(rng, at[0] + rng.range(-6, 6), at[1] + rng.range(-6, 6), rng.range(0.6, 2.2) * this.sizeFactor, 1.8)),
      );
      const shape: Shape = {
        bounds: [Math.min(...blobs.map((b) => b.bounds[0])), Math.min(...blobs.map((b) => b.bounds[1])), Math.max(...blobs.map((b) => b.bounds[2])), Math.max(...blobs.map((b) => b.bounds[3]))],
        contains: (x, y) => blobs.some((b) => b.contains(x, y)),
      };
      const r = this.raster(shape);
      const mask = this.maskOf(r, 0.2);
      if (!this.occ.free(r.box, mask, BIT_BUILT)) continue;
      const seed = hash3(this.o.seed, 4242, i);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const tmp = new Float64Array(BAND_COUNT);
      const cellM = 14;
      this.addLayer(
        this.layer('village', r, [true, true], (p, out) => {
          // Houses on a grid aligned with the valley: concrete, red tile, blue steel roofs,
          // courtyards, lanes and a few trees, in cells about a house wide.
          const xm = (p.col + 0.5) * this.px;
          const ym = (p.row + 0.5) * this.px;
          const cu = Math.floor((xm * cos + ym * sin) / cellM);
          const cv = Math.floor((-xm * sin + ym * cos) / cellM);
          const h = hashUnit(seed, cu, cv);
          const material =
            h < 0.22 ? MATERIALS.concrete : h < 0.42 ? MATERIALS.greyRoof : h < 0.6 ? MATERIALS.redRoof : h < 0.65 ? MATERIALS.blueRoof : h < 0.82 ? MATERIALS.forest : h < 0.92 ? MATERIALS.fieldSoil : MATERIALS.asphalt;
          sampleMaterial(material, hashUnit(seed + 1, cu, cv), p.u, out);
          // A cell rarely fills a 10 m pixel: mix in the neighbouring cell (lanes, gardens, trees).
          const h2 = hashUnit(seed, cu + 1, cv);
          sampleMaterial(h2 < 0.35 ? MATERIALS.greyRoof : h2 < 0.7 ? MATERIALS.grass : MATERIALS.forest, p.t, p.u, tmp);
          for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! * 0.6 + tmp[b]! * 0.4;
        }),
      );
      this.occ.mark(r.box, mask, BIT_BUILT, 3);
      this.villages.push({ box: r.box, mask, center: at, angle });
    }
  }

  /** Existing roads: one along each main valley, and a link from each village to it. */
  private placeRoads(rng: Rng): void {
    const roads: Point[][] = [];
    for (const river of this.land.rivers) {
      if (river.halfWidthM < 5) continue;
      const side = rng.chance(0.5) ? 1 : -1;
      const offset = this.m(river.valleyHalfWidthM * rng.range(0.35, 0.7));
      const pts: Point[] = [];
      for (let i = 0; i < river.points.length; i += 2) {
        const a = river.points[Math.max(0, i - 1)]!;
        const b = river.points[Math.min(river.points.length - 1, i + 1)]!;
        const dir = Math.atan2(b[1] - a[1], b[0] - a[0]);
        const p = river.points[i]!;
        pts.push([p[0] - Math.sin(dir) * offset * side, p[1] + Math.cos(dir) * offset * side]);
      }
      roads.push(pts);
    }
    for (const v of this.villages) {
      let best: Point | null = null;
      let bestD = Infinity;
      for (const road of roads) {
        for (const p of road) {
          const d = Math.hypot(p[0] - v.center[0], p[1] - v.center[1]);
          if (d < bestD) {
            bestD = d;
            best = p;
          }
        }
      }
      if (best && bestD < this.m(1500)) {
        const mid: Point = [(v.center[0] + best[0]) / 2 + rng.range(-4, 4), (v.center[1] + best[1]) / 2 + rng.range(-4, 4)];
        roads.push([v.center, mid, best]);
      }
    }
    roads.forEach((road, i) => {
      const asphalt = i < this.land.rivers.length ? rng.chance(0.6) : rng.chance(0.3);
      const halfWidth = this.m(asphalt ? rng.range(3, 4.5) : rng.range(2, 3));
      // Long roads are cut into short pieces, so their rasters hug the road.
      for (let start = 0; start < road.length - 1; start += 6) {
        const piece = road.slice(start, Math.min(road.length, start + 7));
        const box = boxAround(piece, halfWidth + 2, this.W, this.H);
        if (boxWidth(box) <= 0 || boxHeight(box) <= 0) continue;
        const cover = rasterizePolyline(piece, halfWidth, box);
        const r = { box, cover };
        this.addLayer(this.layer('road', r, [true, true], this.materialFn(asphalt ? MATERIALS.asphalt : MATERIALS.concrete)));
        this.occ.mark(box, this.maskOf(r, 0.25), BIT_BUILT, 1);
      }
    });
  }

  /** Fish ponds and reservoirs in the valleys. */
  private placePonds(rng: Rng): void {
    const count = Math.round(this.areaFactor * rng.range(5, 10));
    for (let i = 0; i < count; i++) {
      const at = this.randomPoint(rng, (x, y) => {
        const p = this.land.pixel(Math.floor(x), Math.floor(y));
        return p.cover === 'cropland' && p.valley < 0.05 && this.occ.pointFree(x, y, BIT_BUILT);
      });
      if (!at) continue;
      const angle = (this.land.rivers[this.land.pixel(Math.floor(at[0]), Math.floor(at[1])).river]?.fieldAngle ?? 0) + rng.range(-0.1, 0.1);
      const hl = this.m(rng.range(12, 35));
      const hw = this.m(rng.range(9, 22));
      const r = this.raster(rotatedRect(at[0], at[1], hl, hw, angle));
      const mask = this.maskOf(r, 0.3);
      if (!this.occ.free(r.box, mask, BIT_BUILT)) continue;
      this.addLayer(this.layer('pond', r, [true, true], this.materialFn(MATERIALS.water, { t: rng.range(0.2, 0.8) })));
      this.occ.mark(r.box, mask, BIT_BUILT, 1);
      this.ponds.push({ spec: [at[0], at[1], hl, hw, angle], used: false });
    }
  }

  /** Navel-orange orchards on contour terraces: rows of trees over red soil (a static look-alike). */
  private placeOrchards(rng: Rng): void {
    const count = Math.round(this.areaFactor * rng.range(1, 3.5));
    for (let i = 0; i < count; i++) {
      const at = this.randomPoint(rng, (x, y) => {
        const p = this.land.pixel(Math.floor(x), Math.floor(y));
        return p.valley > 0.3 && p.valley < 0.8 && p.cover !== 'cropland' && p.cover !== 'water' && this.occ.pointFree(x, y, BIT_BUILT);
      });
      if (!at) continue;
      const spec = this.blobSpec(rng, at[0], at[1], rng.range(2, 7) * this.sizeFactor, 2);
      spec.angle = this.downslope(at[0], at[1], rng) + Math.PI / 2;
      const r = this.raster(blobShape(spec));
      const mask = this.maskOf(r);
      if (!this.occ.free(r.box, mask, BIT_BUILT)) continue;
      this.addLayer(this.layer('orchard', r, [true, true], this.terraceSpectrum(rng.range(0.45, 0.7), rng.range(2.5, 4))));
      this.occ.mark(r.box, mask, BIT_BUILT, 2);
    }
  }

  /**
   * Old scars the same on both dates: abandoned heap-leach sites half grown over, small
   * landslides. Bare soil that is not a change — a detector must look at both dates.
   */
  private placeOldScars(rng: Rng): void {
    const count = Math.round(this.areaFactor * rng.range(2, 5));
    for (let i = 0; i < count; i++) {
      const at = this.randomPoint(rng, (x, y) => this.isHill(x, y, 0.5) && this.occ.pointFree(x, y, BIT_BUILT), 100, 10);
      if (!at) continue;
      const r = this.raster(blobShape(this.blobSpec(rng, at[0], at[1], rng.range(0.3, 2.5), 2)));
      const mask = this.maskOf(r);
      if (!this.occ.free(r.box, mask, BIT_BUILT)) continue;
      this.addLayer(this.layer('old-scar', r, [true, true], this.pitSpectrum(rng.range(4, 8), rng.range(0.2, 0.6))));
      this.occ.mark(r.box, mask, BIT_MINE, 3);
    }
  }

  /** Contour terraces with tree rows: `canopy` is the share of the terrace under trees. */
  private terraceSpectrum(canopy: number, terraceM: number): (p: PaintPoint, out: Float64Array) => void {
    const tmp = new Float64Array(BAND_COUNT);
    return (p, out) => {
      const f = (((p.elevationM / terraceM) % 1) + 1) % 1;
      sampleMaterial(MATERIALS.laterite, 0.3 + 0.4 * p.t, p.u, out);
      sampleMaterial(MATERIALS.shrub, p.t, p.u, tmp);
      const a = clamp(canopy + (f < 0.4 ? 0.2 : -0.2), 0, 1);
      for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (tmp[b]! - out[b]!) * a;
    };
  }

  // ---------------------------------------------------------------- reference layers

  /** Distance (pixels) from a ring to the nearest of some rings, exact below `capPx`. */
  private refDistancePx(ring: Ring, rings: Ring[], capPx = Infinity): number {
    const box = extentOf([[ring]]);
    let best = capPx;
    for (const other of rings) {
      if (extentGap(box, ringExtent(other)) >= best) continue;
      best = Math.min(best, multiPolygonDistance([[close(ring)]], [[close(other)]]));
    }
    return best;
  }

  private allRefRings(): Ring[] {
    return [...this.permits.map((p) => p.ring), ...this.closedSites.map((c) => c.ring), ...this.protectedAreas.map((a) => a.ring)];
  }

  private ringInside(ring: Ring, marginPx: number): boolean {
    return ring.every(([x, y]) => x >= marginPx && y >= marginPx && x <= this.W - marginPx && y <= this.H - marginPx);
  }

  private ringMask(ring: Ring): Raster {
    return this.raster(polygonShape(ring), 1, 1);
  }

  private placeProtectedAreas(rng: Rng): void {
    const count = Math.max(1, Math.round(this.areaFactor * rng.range(0.8, 1.4)));
    for (let i = 0; i < count; i++) {
      for (let attempt = 0; attempt < 60; attempt++) {
        const at = this.randomPoint(rng, (x, y) => this.isHill(x, y, 0.75), 200, this.m(700));
        if (!at) break;
        const radius = this.m(rng.range(550, 950) * this.sizeFactor);
        const pts: Point[] = Array.from({ length: 11 }, (_, k) => {
          const a = (k / 11) * 2 * Math.PI + rng.range(-0.2, 0.2);
          const rr = radius * rng.range(0.65, 1);
          return [at[0] + Math.cos(a) * rr, at[1] + Math.sin(a) * rr] as Point;
        });
        const ring = convexHull(pts);
        if (!this.ringInside(ring, 4)) continue;
        if (this.refDistancePx(ring, this.allRefRings(), this.m(500)) < this.m(500)) continue;
        const n = this.protectedAreas.length + 1;
        const place = PLACES[hash3(this.o.seed, 77, n) % PLACES.length]!;
        const redLine = rng.chance(0.6);
        this.protectedAreas.push({
          ring,
          props: {
            area_id: `${redLine ? 'STHX' : 'ZRBH'}-360700-${String(n).padStart(2, '0')}`,
            name: redLine ? `${place}水源涵养生态保护红线` : `${place}县级自然保护区`,
            type: redLine ? 'ecological_red_line' : 'nature_reserve',
            level: redLine ? '省级' : '县级',
          },
        });
        break;
      }
    }
  }

  private permitIdFor(type: 'mining' | 'exploration', year: number): string {
    const n = this.permits.length + 1;
    const serial = (hash3(this.o.seed, 991, n) % 90000) + 10000 + n;
    return `${type === 'mining' ? 'C' : 'T'}360700${year}${String(serial % 100000).padStart(5, '0')}`;
  }

  private placePermits(rng: Rng): void {
    const af = this.areaFactor;
    const plan: { type: 'mining' | 'exploration'; validity: 'valid' | 'expired' | 'lapsed' | 'suspended'; oobPits: number }[] = [];
    // Exploration permits are the largest: place them first, while there is room.
    const explorations = Math.max(this.o.placements.exploration_only + this.o.placements.exploration_small > 0 ? 1 : 0, Math.round(af * rng.range(0.7, 1.3)));
    for (let i = 0; i < explorations; i++) plan.push({ type: 'exploration', validity: 'valid', oobPits: 0 });
    const valid = Math.max(2, Math.round(af * rng.range(2, 3.4)));
    const oob = Math.max(this.o.placements.out_of_bounds, 0);
    for (let i = 0; i < valid; i++) plan.push({ type: 'mining', validity: 'valid', oobPits: i < oob ? 1 : 0 });
    // Spread any remaining out-of-bounds pits over the valid permits.
    for (let k = valid; k < oob; k++) plan[explorations + (k % valid)]!.oobPits += 1;
    const invalid = Math.max(this.o.placements.expired_permit > 0 ? 1 : 0, Math.round(af * rng.range(1, 2)));
    const kinds: ('expired' | 'lapsed' | 'suspended')[] = ['expired', 'lapsed', 'suspended'];
    for (let i = 0; i < invalid; i++) plan.push({ type: 'mining', validity: kinds[(rng.int(0, 2) + i) % 3]!, oobPits: 0 });

    for (const item of plan) {
      for (let attempt = 0; attempt < 100; attempt++) {
        const big = item.type === 'exploration';
        // Later attempts try smaller permits: a crowded or small scene still gets one.
        const shrink = this.sizeFactor * (1 - Math.min(0.4, attempt / 200));
        const hl = this.m((big ? rng.range(380, 620) : rng.range(170, 330)) * shrink);
        const hw = this.m((big ? rng.range(280, 450) : rng.range(120, 230)) * shrink);
        const at = this.randomPoint(rng, (x, y) => this.isHill(x, y, 0.55), 200, hl + 4);
        if (!at) break;
        const angle = rng.chance(0.7) ? rng.range(-0.12, 0.12) : rng.range(-0.6, 0.6);
        const corners = rectCorners(at[0], at[1], hl, hw, angle).map(([x, y]) => [x + rng.range(-0.07, 0.07) * hw, y + rng.range(-0.07, 0.07) * hw] as Point);
        if (rng.chance(0.4)) {
          // A fifth corner: permits are often irregular polygons of corner points.
          const a = corners[1]!;
          const b = corners[2]!;
          const out = rng.range(0.05, 0.2) * hw;
          corners.splice(2, 0, [(a[0] + b[0]) / 2 + Math.cos(angle) * out, (a[1] + b[1]) / 2 + Math.sin(angle) * out]);
        }
        const ring = convexHull(corners);
        if (!this.ringInside(ring, 4)) continue;
        if (this.refDistancePx(ring, this.allRefRings(), this.m(380)) < this.m(380)) continue;
        const raster = this.ringMask(ring);
        const mask = this.maskOf(raster, 0.5);
        if (!this.occ.free(raster.box, mask, BIT_BUILT)) continue;
        // Mostly hills: a permit over the valley floor would be odd.
        let hillShare = 0;
        for (let k = 0; k < 20; k++) {
          const p = ring[k % ring.length]!;
          const q: Point = [at[0] + (p[0] - at[0]) * (k / 20), at[1] + (p[1] - at[1]) * (k / 20)];
          if (this.isHill(q[0], q[1], 0.4)) hillShare++;
        }
        if (hillShare < 15) continue;

        const props = this.permitProps(rng, item.type, item.validity);
        const record: PermitRecord = { ring, props };
        const pits = this.placeExistingPits(rng, record, item.type === 'mining' ? (item.validity === 'valid' ? rng.int(1, 2) : 1) : 0, item.oobPits);
        if (pits === null) continue;
        this.permits.push(record);
        this.pits.set(props.permit_id, pits);
        this.occ.mark(raster.box, mask, BIT_REF, 0);
        break;
      }
    }
  }

  private permitProps(rng: Rng, type: 'mining' | 'exploration', validity: 'valid' | 'expired' | 'lapsed' | 'suspended'): PermitProps {
    const after = this.afterMs;
    const yearMs = 365.25 * dayMs;
    let from: number;
    let to: number;
    let status: PermitProps['status'] = 'active';
    if (validity === 'valid') {
      from = after - rng.range(type === 'mining' ? 2 : 1, type === 'mining' ? 9 : 4) * yearMs;
      to = after + rng.range(0.5, type === 'mining' ? 7 : 3) * yearMs;
    } else if (validity === 'suspended') {
      from = after - rng.range(3, 9) * yearMs;
      to = after + rng.range(0.5, 4) * yearMs;
      status = 'suspended';
    } else {
      // Expired well before the later image (≥ 30 days), so validity is never a coin toss.
      to = after - rng.range(30, 900) * dayMs;
      from = to - rng.range(3, 8) * yearMs;
      status = validity === 'expired' ? 'expired' : 'active';
    }
    const fromIso = toIsoDate(from);
    const county = rng.pick(COUNTIES);
    const place = rng.pick(PLACES);
    return {
      permit_id: this.permitIdFor(type, Number(fromIso.slice(0, 4))),
      holder: rng.chance(0.35) ? '赣州稀土矿业有限公司' : `${county}县${place}稀土矿业有限公司`,
      type,
      mineral: '稀土',
      valid_from: fromIso,
      valid_to: toIsoDate(to),
      status,
      name: type === 'mining' ? `${county}县${place}稀土矿` : `${county}县${place}稀土矿勘探`,
    };
  }

  /**
   * Existing (static) pits inside a permit; `nearEdge` pits sit by the boundary so they can grow
   * across it. Returns null when they do not fit.
   */
  private placeExistingPits(rng: Rng, permit: PermitRecord, count: number, nearEdge: number): { spec: BlobSpec; raster: Raster; nearEdge: number | null; used: boolean }[] | null {
    const ring = permit.ring;
    const pits: { spec: BlobSpec; raster: Raster; nearEdge: number | null; used: boolean }[] = [];
    const closed = close(ring);
    const edgeDistance = (x: number, y: number): number => {
      let best = Infinity;
      for (let i = 1; i < closed.length; i++) best = Math.min(best, pointSegmentDistance(x, y, closed[i - 1]![0], closed[i - 1]![1], closed[i]![0], closed[i]![1]));
      return best;
    };
    const areaPx = Math.abs(ringSignedArea(ring));
    for (let i = 0; i < count + nearEdge; i++) {
      const isEdge = i >= count;
      let placed = false;
      for (let attempt = 0; attempt < 60 && !placed; attempt++) {
        const areaHa = clamp(this.pxToHa(areaPx) * rng.range(0.05, 0.13), 0.6, 4);
        let cx: number;
        let cy: number;
        const spec0 = this.blobSpec(rng, 0, 0, areaHa, 1.4);
        const reach = spec0.radius * spec0.stretch * (1 + spec0.harmonics.reduce((s, h) => s + Math.abs(h.amp), 0));
        let edgeIndex: number | null = null;
        if (isEdge) {
          edgeIndex = rng.int(0, ring.length - 1);
          const a = closed[edgeIndex]!;
          const b = closed[edgeIndex + 1]!;
          const t = rng.range(0.3, 0.7);
          const ex = a[0] + (b[0] - a[0]) * t;
          const ey = a[1] + (b[1] - a[1]) * t;
          const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
          // Inward normal (towards the permit's interior).
          const centroid = ring.reduce<Point>((s, p) => [s[0] + p[0] / ring.length, s[1] + p[1] / ring.length], [0, 0]);
          let nx = -(b[1] - a[1]) / len;
          let ny = (b[0] - a[0]) / len;
          if ((centroid[0] - ex) * nx + (centroid[1] - ey) * ny < 0) {
            nx = -nx;
            ny = -ny;
          }
          const inset = reach + this.m(rng.range(15, 35));
          cx = ex + nx * inset;
          cy = ey + ny * inset;
        } else {
          const p = this.randomPointInRing(rng, ring, (x, y) => edgeDistance(x, y) > reach + this.m(40), 60);
          if (!p) continue;
          [cx, cy] = p;
        }
        const spec: BlobSpec = { ...spec0, cx, cy };
        const raster = this.raster(blobShape(spec));
        const mask = this.maskOf(raster);
        if (!this.maskInsideRing(raster.box, mask, ring, this.m(12))) continue;
        if (pits.some((p) => multiPolygonDistance(this.maskGeometry(p.raster.box, this.maskOf(p.raster)), this.maskGeometry(raster.box, mask)) < this.m(60))) continue;
        if (!this.occ.free(raster.box, mask, BIT_BUILT | BIT_MINE | BIT_TRUTH)) continue;
        pits.push({ spec, raster, nearEdge: edgeIndex, used: false });
        placed = true;
      }
      if (!placed) return null;
    }
    const valid = isPermitValid(permit.props, this.o.dates.after);
    for (const pit of pits) {
      // Working pits are fresh; pits of lapsed permits are older and greening at the edges.
      this.addLayer(this.layer('existing-pit', pit.raster, [true, true], this.pitSpectrum(rng.range(6, 10), valid ? 0.9 : 0.55)));
      this.occ.mark(pit.raster.box, this.maskOf(pit.raster), BIT_MINE, 2);
      if (pit.nearEdge === null && rng.chance(0.5)) {
        // An older tailings fan below the pit, inside the permit: bright, and the same on both dates.
        const down = this.downslope(pit.spec.cx, pit.spec.cy, rng);
        const edge = pit.spec.radius * pit.spec.stretch * 0.7;
        const half = rng.range(0.35, 0.6);
        const tail = this.raster(fan(pit.spec.cx + Math.cos(down) * edge, pit.spec.cy + Math.sin(down) * edge, down, half, pit.spec.radius * rng.range(0.6, 1), this.harmonics(rng)));
        const mask = this.maskOf(tail);
        if (this.areaPx(mask) > 0 && this.maskInsideRing(tail.box, mask, ring, this.m(15)) && this.occ.free(tail.box, mask, BIT_BUILT)) {
          this.addLayer(this.layer('existing-tailings', tail, [true, true], this.materialFn(MATERIALS.tailings, { t: rng.range(0.2, 0.6) })));
          this.occ.mark(tail.box, mask, BIT_MINE, 2);
        }
      }
    }
    return pits;
  }

  private placeClosedSites(rng: Rng): void {
    const count = Math.max(this.o.placements.closed_site_reactivated > 0 ? 1 : 0, Math.round(this.areaFactor * rng.range(1, 2.2)));
    for (let i = 0; i < count; i++) {
      for (let attempt = 0; attempt < 80; attempt++) {
        const at = this.randomPoint(rng, (x, y) => this.isHill(x, y, 0.6), 200, 20);
        if (!at) break;
        const radius = this.m(rng.range(90, 170));
        const pts: Point[] = Array.from({ length: 7 }, (_, k) => {
          const a = (k / 7) * 2 * Math.PI + rng.range(-0.25, 0.25);
          return [at[0] + Math.cos(a) * radius * rng.range(0.6, 1), at[1] + Math.sin(a) * radius * rng.range(0.6, 1)] as Point;
        });
        const ring = convexHull(pts);
        if (!this.ringInside(ring, 4)) continue;
        if (this.refDistancePx(ring, this.allRefRings(), this.m(380)) < this.m(380)) continue;
        const raster = this.ringMask(ring);
        const mask = this.maskOf(raster);
        if (!this.occ.free(raster.box, mask, BIT_BUILT | BIT_MINE)) continue;
        const n = this.closedSites.length + 1;
        const county = rng.pick(COUNTIES);
        const closedMs = this.afterMs - rng.range(2.5, 9) * 365.25 * dayMs;
        this.closedSites.push({
          ring,
          props: {
            site_id: `QDGB-3607-${String(n).padStart(3, '0')}`,
            name: `${county}县${rng.pick(PLACES)}非法稀土开采点`,
            county: `${county}县`,
            closed_date: toIsoDate(closedMs),
            measure: '取缔关闭，复绿',
          },
        });
        // Restored ground: grass and planted shrubs, with bare red patches left.
        const seed = hash3(this.o.seed, 555, n);
        const tmp = new Float64Array(BAND_COUNT);
        this.addLayer(
          this.layer('closed-site-restored', raster, [true, true], (p, out) => {
            sampleMaterial(MATERIALS.grass, p.t, p.u, out);
            sampleMaterial(MATERIALS.shrub, p.t, p.u, tmp);
            const v = valueNoise(seed, p.col / 3, p.row / 3);
            for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (tmp[b]! - out[b]!) * clamp(v * 1.2 - 0.2, 0, 1);
            const bare = clamp((0.42 - v) * 3, 0, 0.7);
            if (bare > 0) {
              sampleMaterial(MATERIALS.laterite, p.t, p.u, tmp);
              for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (tmp[b]! - out[b]!) * bare;
            }
          }),
        );
        this.occ.mark(raster.box, mask, BIT_REF, 1);
        break;
      }
    }
  }

  // ---------------------------------------------------------------- rules

  private maskGeometry(box: Box, mask: Uint8Array): MultiPolygon {
    return traceMask(mask, boxWidth(box), boxHeight(box), box.c0, box.r0);
  }

  private maskInsideRing(box: Box, mask: Uint8Array, ring: Ring, marginPx: number): boolean {
    const geom = this.maskGeometry(box, mask);
    if (geom.length === 0) return false;
    const ringGeom: MultiPolygon = [[close(ring)]];
    if (areaOutside(geom, ringGeom) > 1e-6) return false;
    // Every vertex at least `marginPx` from the boundary.
    const closed = close(ring);
    for (const poly of geom) {
      for (const r of poly) {
        for (const [x, y] of r) {
          for (let i = 1; i < closed.length; i++) {
            if (pointSegmentDistance(x, y, closed[i - 1]![0], closed[i - 1]![1], closed[i]![0], closed[i]![1]) < marginPx) return false;
          }
        }
      }
    }
    return true;
  }

  private metric(geom: MultiPolygon): MultiPolygon {
    const s = this.px;
    return geom.map((poly) => poly.map((ring) => ring.map(([x, y]) => [x * s, y * s] as Point)));
  }

  /**
   * The rules for a change. Reference polygons more than 150 m away cannot matter (near is
   * 100 m, touching is 0), so only the ones within that of its extent are passed on.
   */
  private classify(geom: MultiPolygon, areaHa: number): RuleResult {
    const box = extentOf(geom);
    const reach = this.m(150);
    const close150 = (ring: Ring): boolean => extentGap(box, ringExtent(ring)) < reach;
    const permits: MetricPermit[] = this.permits.filter((p) => close150(p.ring)).map((p) => ({ geometry: this.metric([[close(p.ring)]]), props: p.props }));
    return classifyChange({
      geometry: this.metric(geom),
      areaHa,
      permits,
      closedSites: this.closedSites.filter((c) => close150(c.ring)).map((c) => this.metric([[close(c.ring)]])),
      protectedAreas: this.protectedAreas.filter((a) => close150(a.ring)).map((a) => this.metric([[close(a.ring)]])),
      date: this.o.dates.after,
    });
  }

  /** Distance (metres) from a geometry to the nearest of some rings; exact below `capM`. */
  private distanceM(geom: MultiPolygon, rings: Ring[], capM = 400): number {
    const box = extentOf(geom);
    let best = capM;
    for (const ring of rings) {
      if (extentGap(box, ringExtent(ring)) * this.px >= best) continue;
      best = Math.min(best, multiPolygonDistance(geom, [[close(ring)]]) * this.px);
    }
    return best;
  }

  // ---------------------------------------------------------------- mining changes

  private placeChanges(rng: Rng): void {
    const order: Placement[] = ['out_of_bounds', 'exploration_only', 'exploration_small', 'expired_permit', 'closed_site_reactivated', 'protected_area', 'licensed', 'unlicensed'];
    for (const placement of order) {
      const wanted = this.o.placements[placement];
      let made = 0;
      for (let i = 0; i < wanted; i++) {
        let ok = false;
        for (let attempt = 0; attempt < 60 && !ok; attempt++) {
          // Later attempts ask for smaller changes, which fit in more places.
          this.sizeScale = 1 - Math.min(0.6, attempt / 80);
          ok = this.tryPlacement(rng, placement);
        }
        if (ok) made++;
      }
      if (made < wanted) this.shortfalls.push(`${placement}: ${made} of ${wanted}`);
    }
  }

  private pickMiningKind(rng: Rng): MiningKind {
    const r = rng.next();
    return r < 0.5 ? 'leaching_site' : r < 0.8 ? 'open_pit' : 'tailings';
  }

  /** Log-uniform area in [lo, hi × sizeScale] ha (never below lo). */
  private areaBetween(rng: Rng, lo: number, hi: number): number {
    return Math.exp(rng.range(Math.log(lo), Math.log(Math.max(lo * 1.05, hi * this.sizeScale))));
  }

  private tryPlacement(rng: Rng, placement: Placement): boolean {
    const validPermits = this.permits.filter((p) => isPermitValid(p.props, this.o.dates.after));
    const invalidMining = this.permits.filter((p) => p.props.type === 'mining' && !isPermitValid(p.props, this.o.dates.after));
    const exploration = validPermits.filter((p) => p.props.type === 'exploration');
    const validMining = validPermits.filter((p) => p.props.type === 'mining');
    let draft: Draft | null = null;
    let host: PermitRecord | null = null;
    switch (placement) {
      case 'unlicensed': {
        const kind = this.pickMiningKind(rng);
        const at = this.randomPoint(rng, (x, y) => this.isHill(x, y, 0.6) && this.occ.pointFree(x, y, BIT_BUILT | BIT_TRUTH | BIT_MINE | BIT_REF), 200, 15);
        if (!at) return false;
        draft = this.newSite(rng, kind, at, this.areaBetween(rng, 0.45, 6));
        break;
      }
      case 'protected_area': {
        if (this.protectedAreas.length === 0) return false;
        const area = rng.pick(this.protectedAreas);
        const at = this.randomPointInRing(rng, area.ring, (x, y) => this.isHill(x, y, 0.5) && this.occ.pointFree(x, y, BIT_BUILT | BIT_TRUTH | BIT_MINE), 300);
        if (!at) return false;
        draft = this.newSite(rng, this.pickMiningKind(rng), at, this.areaBetween(rng, 0.45, 4), false);
        break;
      }
      case 'closed_site_reactivated': {
        if (this.closedSites.length === 0) return false;
        const site = rng.pick(this.closedSites);
        const at = this.randomPointInRing(rng, site.ring, () => true, 300);
        if (!at) return false;
        draft = this.newSite(rng, rng.chance(0.6) ? 'leaching_site' : 'open_pit', at, this.areaBetween(rng, 0.5, 3), false);
        break;
      }
      case 'exploration_only':
      case 'exploration_small': {
        if (exploration.length === 0) return false;
        host = rng.pick(exploration);
        const small = placement === 'exploration_small';
        const kind = small ? 'open_pit' : this.pickMiningKind(rng);
        const areaHa = small ? rng.range(0.32, 0.75) : this.areaBetween(rng, 1.35, 4.5);
        const at = this.pointForSite(rng, host.ring, areaHa, kind);
        if (!at) return false;
        draft = this.newSite(rng, kind, at, areaHa, false);
        break;
      }
      case 'expired_permit': {
        if (invalidMining.length === 0) return false;
        host = rng.pick(invalidMining);
        const pit = (this.pits.get(host.props.permit_id) ?? []).find((p) => !p.used);
        if (pit && rng.chance(0.6)) draft = this.growPit(rng, pit, null, this.areaBetween(rng, 0.45, 2.5), host);
        else {
          const kind = this.pickMiningKind(rng);
          const areaHa = this.areaBetween(rng, 0.45, 2.5);
          const at = this.pointForSite(rng, host.ring, areaHa, kind);
          if (!at) return false;
          draft = this.newSite(rng, kind, at, areaHa, false);
        }
        break;
      }
      case 'licensed': {
        if (validMining.length === 0) return false;
        host = rng.pick(validMining);
        // Any pit left (out-of-bounds growth was placed first) can grow inwards.
        const pit = (this.pits.get(host.props.permit_id) ?? []).find((p) => !p.used);
        if (pit && rng.chance(0.7)) draft = this.growPit(rng, pit, null, this.areaBetween(rng, 0.3, 2), host);
        else {
          const kind: MiningKind = rng.chance(0.5) ? 'leaching_site' : 'open_pit';
          const areaHa = this.areaBetween(rng, 0.3, 2);
          const at = this.pointForSite(rng, host.ring, areaHa, kind);
          if (!at) return false;
          draft = this.newSite(rng, kind, at, areaHa, false);
        }
        break;
      }
      case 'out_of_bounds': {
        const candidates = validMining.flatMap((p) => (this.pits.get(p.props.permit_id) ?? []).filter((pit) => !pit.used && pit.nearEdge !== null).map((pit) => ({ p, pit })));
        if (candidates.length === 0) return false;
        const { p, pit } = rng.pick(candidates);
        host = p;
        draft = this.growPit(rng, pit, pit.nearEdge, this.areaBetween(rng, 0.5, 2.5), p);
        break;
      }
    }
    if (!draft) return false;
    return this.acceptDraft(draft, placement, host);
  }

  /** Composes a draft's truth mask over one box. */
  private draftMask(draft: Draft): { box: Box; mask: Uint8Array } {
    draft.parts = draft.parts.filter((r) => r.cover.length > 0);
    if (draft.halo && draft.halo.cover.length === 0) delete draft.halo;
    const rasters = [...draft.parts, ...(draft.halo ? [draft.halo] : [])];
    if (rasters.length === 0) return { box: { c0: 0, r0: 0, c1: 0, r1: 0 }, mask: new Uint8Array(0) };
    const box = rasters.reduce<Box>((b, r) => ({ c0: Math.min(b.c0, r.box.c0), r0: Math.min(b.r0, r.box.r0), c1: Math.max(b.c1, r.box.c1), r1: Math.max(b.r1, r.box.r1) }), {
      c0: Infinity,
      r0: Infinity,
      c1: -Infinity,
      r1: -Infinity,
    });
    const w = boxWidth(box);
    const sum = new Float32Array(w * boxHeight(box));
    for (const part of draft.parts) addInto(sum, box, part);
    const mask = new Uint8Array(sum.length);
    for (let i = 0; i < sum.length; i++) mask[i] = sum[i]! >= 0.5 ? 1 : 0;
    if (draft.halo) {
      const h = draft.halo;
      const hw = boxWidth(h.box);
      for (let i = 0; i < h.cover.length; i++) {
        if (h.cover[i]! < HALO_THRESHOLD) continue;
        const col = h.box.c0 + (i % hw);
        const row = h.box.r0 + Math.floor(i / hw);
        mask[(row - box.r0) * w + (col - box.c0)] = 1;
      }
    }
    if (draft.existing) {
      // Pixels already bare before (≥ half pit) are not part of the change.
      const e = draft.existing;
      const ew = boxWidth(e.box);
      for (let i = 0; i < e.cover.length; i++) {
        if (e.cover[i]! < 0.5) continue;
        const col = e.box.c0 + (i % ew);
        const row = e.box.r0 + Math.floor(i / ew);
        if (col >= box.c0 && col < box.c1 && row >= box.r0 && row < box.r1) mask[(row - box.r0) * w + (col - box.c0)] = 0;
      }
    }
    return { box, mask };
  }

  private acceptDraft(draft: Draft, placement: Placement, host: PermitRecord | null): boolean {
    const { box, mask } = this.draftMask(draft);
    closeDiagonals(mask, boxWidth(box), boxHeight(box));
    const areaPx = this.areaPx(mask);
    if (areaPx === 0) return false;
    const areaHa = this.pxToHa(areaPx);
    if (areaHa > 8.5) return false;
    const geom = this.maskGeometry(box, mask);
    // Keep clear of other changes and traps, of villages and roads, and (except when growing
    // from one) of existing pits.
    const avoid = BIT_TRUTH | BIT_BUILT | (draft.existing ? 0 : BIT_MINE);
    if (!this.occ.free(box, mask, avoid)) return false;
    const result = this.classify(geom, areaHa);
    const otherPermits = this.permits.filter((p) => p !== host).map((p) => p.ring);
    const farFromOtherPermits = this.distanceM(geom, otherPermits) >= 200;
    const closedRings = this.closedSites.map((c) => c.ring);
    const protectedRings = this.protectedAreas.map((a) => a.ring);
    const farFrom = (rings: Ring[]): boolean => this.distanceM(geom, rings) >= 200;
    const inHost = (marginM: number): boolean => host !== null && this.maskInsideRing(box, mask, host.ring, this.m(marginM));
    const flags = result.flags.join(',');
    let ok = false;
    switch (placement) {
      case 'unlicensed':
        ok = areaHa >= 0.4 && flags === 'unlicensed' && this.distanceM(geom, this.permits.map((p) => p.ring)) >= 200 && farFrom(closedRings) && farFrom(protectedRings);
        break;
      case 'protected_area':
        ok =
          areaHa >= 0.4 &&
          flags === 'protected_area,unlicensed' &&
          protectedRings.some((r) => this.maskInsideRing(box, mask, r, this.m(20))) &&
          this.distanceM(geom, this.permits.map((p) => p.ring)) >= 200 &&
          farFrom(closedRings);
        break;
      case 'closed_site_reactivated': {
        const overlapHa = Math.max(...closedRings.map((r) => areaInside(this.metric(geom), this.metric([[close(r)]])) / 10_000));
        ok = areaHa >= 0.4 && flags === 'closed_site_reactivated,unlicensed' && overlapHa >= 0.15 && this.distanceM(geom, this.permits.map((p) => p.ring)) >= 200 && farFrom(protectedRings);
        break;
      }
      case 'exploration_only':
        ok = areaHa >= 1.25 && flags === 'exploration_only' && inHost(15) && farFromOtherPermits && farFrom(closedRings) && farFrom(protectedRings);
        break;
      case 'exploration_small':
        ok = areaHa <= 0.8 && areaHa >= 0.2 && result.category === null && inHost(15) && farFromOtherPermits && farFrom(closedRings) && farFrom(protectedRings);
        break;
      case 'expired_permit':
        ok = areaHa >= 0.4 && flags === 'expired_permit,unlicensed' && inHost(15) && farFromOtherPermits && farFrom(closedRings) && farFrom(protectedRings);
        break;
      case 'licensed':
        ok = areaHa >= 0.2 && result.category === null && result.licensedPermitId === host?.props.permit_id && inHost(12) && farFromOtherPermits && farFrom(closedRings) && farFrom(protectedRings);
        break;
      case 'out_of_bounds': {
        const outsideHa = host ? areaOutside(this.metric(geom), this.metric([[close(host.ring)]])) / 10_000 : 0;
        ok = areaHa >= 0.4 && flags === 'out_of_bounds' && outsideHa >= 0.15 && farFromOtherPermits && farFrom(closedRings) && farFrom(protectedRings);
        if (ok) draft.details['outside_permit_ha'] = round(outsideHa, 4);
        break;
      }
    }
    if (!ok) return false;

    if (draft.pit) draft.pit.used = true;
    for (const layer of draft.layers) this.addLayer(layer);
    this.pushTruth({
      kind: draft.kind,
      role: 'mining',
      placement,
      date: 'after',
      box,
      mask,
      expectedCategory: result.category,
      expectedFlags: result.flags,
      permitId: result.permitId,
      licensedPermitId: result.licensedPermitId,
      details: draft.details,
    });
    this.occ.mark(box, mask, BIT_TRUTH, this.m(70));
    return true;
  }

  /** A new mining site of a kind, around a point. */
  private newSite(rng: Rng, kind: MiningKind, at: Point, areaHa: number, climb = true): Draft {
    if (kind === 'leaching_site') return this.leachingSite(rng, climb ? this.climb(at[0], at[1]) : at, areaHa);
    if (kind === 'tailings') return this.tailingsFan(rng, at, areaHa);
    return this.openPit(rng, at, areaHa);
  }

  private openPit(rng: Rng, at: Point, areaHa: number): Draft {
    const down = this.downslope(at[0], at[1], rng);
    const spec = this.blobSpec(rng, at[0], at[1], areaHa * 0.72, 1.7);
    const pit = this.raster(blobShape(spec));
    const edge = spec.radius * spec.stretch * 0.75;
    const fanLen = Math.sqrt(this.haToPx(areaHa * 0.25) / 0.55);
    const tail = this.raster(fan(at[0] + Math.cos(down) * edge, at[1] + Math.sin(down) * edge, down, rng.range(0.4, 0.7), fanLen, this.harmonics(rng)));
    const layers: SurfaceLayer[] = [
      this.layer('open-pit', pit, [false, true], this.pitSpectrum(rng.range(5, 9), 1)),
      this.layer('tailings', tail, [false, true], this.materialFn(MATERIALS.tailings)),
    ];
    const parts = [pit, tail];
    if (rng.chance(0.5)) {
      const toe = edge + fanLen * 0.9;
      const pond = this.raster(rotatedRect(at[0] + Math.cos(down) * toe, at[1] + Math.sin(down) * toe, this.m(rng.range(8, 20)), this.m(rng.range(6, 14)), down + Math.PI / 2), 1);
      layers.push(this.layer('settling-pond', pond, [false, true], this.materialFn(MATERIALS.turbidWater)));
      parts.push(pond);
    }
    return { kind: 'open_pit', layers, parts, details: {} };
  }

  private harmonics(rng: Rng): { k: number; amp: number; phase: number }[] {
    return [2, 3, 5].map((k) => ({ k, amp: rng.range(0.03, 0.12), phase: rng.range(0, 2 * Math.PI) }));
  }

  private tailingsFan(rng: Rng, at: Point, areaHa: number): Draft {
    const down = this.downslope(at[0], at[1], rng);
    const half = rng.range(0.35, 0.75);
    const length = Math.sqrt(this.haToPx(areaHa) / (0.75 * half));
    const r = this.raster(fan(at[0], at[1], down, half, length, this.harmonics(rng)));
    return {
      kind: 'tailings',
      layers: [this.layer('tailings-fan', r, [false, true], this.materialFn(MATERIALS.tailings, { scale: (p) => 0.92 + 0.16 * valueNoise(77, p.col / 4, p.row / 4) }))],
      parts: [r],
      details: {},
    };
  }

  /**
   * In-situ leaching: a cleared hilltop of red laterite, a row of geometric turbid ponds 10–50 m
   * downslope with bare embankments, and a halo of vegetation dying from the leachate.
   */
  private leachingSite(rng: Rng, at: Point, areaHa: number): Draft {
    const down = this.downslope(at[0], at[1], rng);
    const spec = this.blobSpec(rng, at[0], at[1], areaHa * 0.55, 1.5);
    const cleared = this.raster(blobShape(spec));
    const reach = spec.radius * spec.stretch;
    const ponds: Raster[] = [];
    const banks: Raster[] = [];
    const n = rng.int(3, 6);
    const gap = this.m(rng.range(15, 45));
    const along = down + Math.PI / 2;
    for (let i = 0; i < n; i++) {
      const lateral = (i - (n - 1) / 2) * this.m(rng.range(25, 45));
      const dist = reach + gap + (i % 2) * this.m(rng.range(0, 20));
      const cx = at[0] + Math.cos(down) * dist + Math.cos(along) * lateral;
      const cy = at[1] + Math.sin(down) * dist + Math.sin(along) * lateral;
      const hl = this.m(rng.range(5, 25));
      const hw = this.m(rng.range(5, 18));
      banks.push(this.raster(rotatedRect(cx, cy, hl + this.m(5), hw + this.m(5), along), 1));
      ponds.push(this.raster(rotatedRect(cx, cy, hl, hw, along), 1));
    }
    // Halo: dies back most where leachate flows (downslope), 20–70 m wide.
    const haloW = this.m(rng.range(20, 45));
    const haloShape: Shape = {
      bounds: [at[0] - reach - haloW * 2.6 - gap, at[1] - reach - haloW * 2.6 - gap, at[0] + reach + haloW * 2.6 + gap, at[1] + reach + haloW * 2.6 + gap],
      contains: () => true,
    };
    const haloBox = boxAround(
      [
        [haloShape.bounds[0], haloShape.bounds[1]],
        [haloShape.bounds[2], haloShape.bounds[3]],
      ],
      1,
      this.W,
      this.H,
    );
    const hw = boxWidth(haloBox);
    const halo = new Float32Array(hw * boxHeight(haloBox));
    const seed = hash3(this.o.seed, 313, Math.floor(at[0]), Math.floor(at[1]));
    const excessAt = blobExcessFn(spec);
    for (let i = 0; i < halo.length; i++) {
      const x = haloBox.c0 + (i % hw) + 0.5;
      const y = haloBox.r0 + Math.floor(i / hw) + 0.5;
      const excess = excessAt(x, y);
      if (excess <= 0) continue;
      const dir = Math.cos(Math.atan2(y - at[1], x - at[0]) - down);
      const width = haloW * (0.5 + 1.6 * Math.max(0, dir));
      if (excess > width) continue;
      const sev = Math.pow(1 - excess / width, 0.8) * (0.55 + 0.45 * Math.max(0, dir)) * (0.75 + 0.5 * valueNoise(seed, x / 2.5, y / 2.5));
      halo[i] = clamp(sev, 0, 1);
    }
    const haloRaster = { box: haloBox, cover: halo };
    const layers: SurfaceLayer[] = [
      this.layer('die-off', haloRaster, [false, true], this.materialFn(MATERIALS.dieOff)),
      this.layer('leach-clearing', cleared, [false, true], this.pitSpectrum(rng.range(3, 5), 1)),
      ...banks.map((b) => this.layer('pond-bank', b, [false, true], this.materialFn(MATERIALS.laterite))),
      ...ponds.map((p) => this.layer('leach-pond', p, [false, true], this.materialFn(MATERIALS.turbidWater))),
    ];
    const coreAreaHa = this.pxToHa(this.areaPx(this.maskOf(cleared)));
    return { kind: 'leaching_site', layers, parts: [cleared, ...banks], halo: haloRaster, details: { pond_count: n, core_area_ha: round(coreAreaHa, 4) } };
  }

  /**
   * Growth of an existing pit. `edgeIndex` set: grow outward across that permit edge (out of
   * bounds); else grow towards the permit's interior.
   */
  private growPit(rng: Rng, pit: { spec: BlobSpec; raster: Raster; used: boolean }, edgeIndex: number | null, targetHa: number, permit: PermitRecord): Draft | null {
    const spec = pit.spec;
    const ring = permit.ring;
    let direction: number;
    if (edgeIndex !== null) {
      const closed = close(ring);
      const a = closed[edgeIndex]!;
      const b = closed[edgeIndex + 1]!;
      const mx = (a[0] + b[0]) / 2;
      const my = (a[1] + b[1]) / 2;
      const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
      let nx = -(b[1] - a[1]) / len;
      let ny = (b[0] - a[0]) / len;
      if ((mx - spec.cx) * nx + (my - spec.cy) * ny < 0) {
        nx = -nx;
        ny = -ny;
      }
      direction = Math.atan2(ny, nx) + rng.range(-0.3, 0.3);
    } else {
      const centroid = ring.reduce<Point>((s, p) => [s[0] + p[0] / ring.length, s[1] + p[1] / ring.length], [0, 0]);
      direction = Math.atan2(centroid[1] - spec.cy, centroid[0] - spec.cx) + rng.range(-0.6, 0.6);
    }
    const sharp = rng.range(1, 2.5);
    const existingMask = this.maskOf(pit.raster);
    const existingPx = this.areaPx(existingMask);
    // Find the growth distance that gives about the target area — and, across a permit edge,
    // clearly more than the positional tolerance outside (pixel centres are enough to search
    // with; the chosen one is then rasterised with coverage).
    const growBy = (g: number) => (theta: number): number => g * Math.pow(Math.max(0, Math.cos(theta - direction)), sharp);
    const outsidePx = (r: Raster): number => {
      const w = boxWidth(r.box);
      let n = 0;
      for (let i = 0; i < r.cover.length; i++) if (r.cover[i]! >= 0.5 && !pointInRing(r.box.c0 + (i % w) + 0.5, r.box.r0 + Math.floor(i / w) + 0.5, ring)) n++;
      return n;
    };
    let chosen = 0;
    for (let g = this.m(15); g < this.m(500); g *= 1.2) {
      chosen = g;
      const r = this.raster(blobShape(spec, growBy(g), g), 2, 1);
      const grownHa = this.pxToHa(this.areaPx(this.maskOf(r)) - existingPx);
      if (grownHa >= targetHa && (edgeIndex === null || this.pxToHa(outsidePx(r)) >= 0.2)) break;
    }
    if (chosen === 0) return null;
    const best = this.raster(blobShape(spec, growBy(chosen), chosen));
    const layers = [this.layer('pit-growth', best, [false, true], this.pitSpectrum(rng.range(6, 10), 1))];
    return { kind: 'open_pit', layers, parts: [best], existing: pit.raster, pit, details: { grows_existing_pit: true } };
  }

  // ---------------------------------------------------------------- traps

  private placeTraps(rng: Rng): void {
    const plan: [TrapKind, () => boolean][] = [
      ['harvest', () => this.trapFields(rng, 'harvest')],
      ['seasonal', () => this.trapSeasonal(rng)],
      ['road', () => this.trapRoad(rng)],
      ['building', () => this.trapBuilding(rng)],
      ['orchard', () => this.trapOrchard(rng)],
      ['cloud', () => this.trapCloud(rng)],
      ['haze', () => this.trapHaze(rng)],
      ['illumination', () => this.trapIllumination()],
    ];
    for (const [kind, make] of plan) {
      const wanted = this.o.traps[kind];
      let made = 0;
      for (let i = 0; i < wanted; i++) {
        let ok = false;
        for (let attempt = 0; attempt < 30 && !ok; attempt++) ok = make();
        if (ok) made++;
      }
      if (made < wanted) this.shortfalls.push(`${kind}: ${made} of ${wanted}`);
    }
  }

  private addTrap(kind: TrapKind, box: Box, mask: Uint8Array, layers: SurfaceLayer[], details: TruthRecord['details'], date: TruthRecord['date'] = 'after', dilateM = 40): void {
    for (const layer of layers) this.addLayer(layer);
    this.pushTruth({
      kind,
      role: 'trap',
      placement: null,
      date,
      box,
      mask,
      expectedCategory: null,
      expectedFlags: [],
      permitId: null,
      licensedPermitId: null,
      details,
    });
    this.occ.mark(box, mask, BIT_TRUTH, this.m(dilateM));
  }

  /** Harvest (green dry field → bare) or greening (bare → crop) of 1–4 adjacent fields. */
  private trapFields(rng: Rng, mode: 'harvest' | 'greening'): boolean {
    const candidates = this.dryCandidates[mode];
    if (candidates.length === 0) return false;
    const first = rng.pick(candidates);
    if (this.usedFields.has(first.key)) return false;
    const keys = new Set([first.key]);
    let box = first.box;
    const want = rng.int(1, 4);
    for (const step of [1, -1, 2, -2, 3, -3]) {
      if (keys.size >= want) break;
      const f = this.land.fieldInfo(first.river, first.strip, first.seg + step);
      const entry = this.survey.dryFields.get(f.key);
      if (!entry || f.type !== 'dry' || this.usedFields.has(f.key)) continue;
      if (mode === 'harvest' ? f.dryCover < 0.45 : f.dryCover > 0.3) continue;
      keys.add(f.key);
      box = { c0: Math.min(box.c0, entry.box.c0), r0: Math.min(box.r0, entry.box.r0), c1: Math.max(box.c1, entry.box.c1), r1: Math.max(box.r1, entry.box.r1) };
    }
    box = this.clipBox(box, 3);
    const mask = this.fieldMask(keys, box);
    if (this.areaPx(mask) < 8) return false;
    if (!this.occ.free(box, mask, BIT_TRUTH)) return false;
    for (const k of keys) this.usedFields.add(k);
    const cover = Float32Array.from(mask);
    const raster = { box, cover };
    let layer: SurfaceLayer;
    if (mode === 'harvest') {
      const material = rng.chance(0.5) ? MATERIALS.fieldSoil : MATERIALS.stubble;
      layer = this.layer('harvested-field', raster, [false, true], this.materialFn(material));
    } else {
      const coverAfter = rng.range(0.6, 0.9);
      const tmp = new Float64Array(BAND_COUNT);
      layer = this.layer('greening-field', raster, [false, true], (p, out) => {
        sampleMaterial(MATERIALS.fieldSoil, p.t, p.u, out);
        sampleMaterial(MATERIALS.crop, p.t, p.u, tmp);
        for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (tmp[b]! - out[b]!) * coverAfter;
      });
    }
    if (mode === 'harvest') this.addTrap('harvest', box, mask, [layer], { cause: 'harvest', field_count: keys.size }, 'after', 20);
    else this.addTrap('seasonal', box, mask, [layer], { cause: 'crop_greening', field_count: keys.size }, 'after', 20);
    return true;
  }

  private trapSeasonal(rng: Rng): boolean {
    const leafChange = Math.abs(this.o.conditions[0].leafOn - this.o.conditions[1].leafOn);
    const options: ('greening' | 'pond' | 'deciduous')[] = ['greening', 'pond'];
    if (leafChange >= 0.4) options.push('deciduous', 'deciduous');
    const pick = rng.pick(options);
    if (pick === 'greening') return this.trapFields(rng, 'greening');
    if (pick === 'pond') return this.trapPond(rng);
    return this.trapDeciduous(rng);
  }

  /** A pond's water level drops (mud ring exposed) or it is drained. */
  private trapPond(rng: Rng): boolean {
    const pond = this.ponds.find((p) => !p.used);
    if (!pond) return false;
    const [cx, cy, hl, hw, angle] = pond.spec;
    const drained = rng.chance(0.35);
    const keep = drained ? 0 : rng.range(0.45, 0.7);
    const outer = this.raster(rotatedRect(cx, cy, hl, hw, angle), 2);
    const inner = keep > 0 ? rasterizeCoverage(rotatedRect(cx, cy, hl * keep, hw * keep, angle), outer.box, 4) : new Float32Array(outer.cover.length);
    const ring = new Float32Array(outer.cover.length);
    for (let i = 0; i < ring.length; i++) ring[i] = clamp(outer.cover[i]! - inner[i]!, 0, 1);
    const r = { box: outer.box, cover: ring };
    const mask = this.maskOf(r);
    if (this.areaPx(mask) < 3 || !this.occ.free(r.box, mask, BIT_TRUTH)) return false;
    pond.used = true;
    // Which date shows low water is random: filling up is as much a change as draining.
    const lowAfter = rng.chance(0.6);
    this.addTrap('seasonal', r.box, mask, [this.layer('pond-shore', r, [!lowAfter, lowAfter], this.materialFn(MATERIALS.mud))], { cause: drained ? 'pond_drained' : 'water_level', low_water_on: lowAfter ? 'after' : 'before' }, 'after', 20);
    return true;
  }

  /** A deciduous broadleaf stand: leaf-on on one date, bare branches on the other. */
  private trapDeciduous(rng: Rng): boolean {
    const at = this.randomPoint(rng, (x, y) => this.land.pixel(Math.floor(x), Math.floor(y)).cover === 'forest' && this.occ.pointFree(x, y, BIT_TRUTH | BIT_BUILT | BIT_MINE), 200, 10);
    if (!at) return false;
    const r = this.raster(blobShape(this.blobSpec(rng, at[0], at[1], rng.range(1.5, 6), 1.8)));
    const mask = this.maskOf(r);
    if (!this.occ.free(r.box, mask, BIT_TRUTH | BIT_BUILT | BIT_MINE)) return false;
    const leaf = [this.o.conditions[0].leafOn, this.o.conditions[1].leafOn];
    const tmp = new Float64Array(BAND_COUNT);
    const layer = this.layer('deciduous-stand', r, [true, true], (p, out) => {
      sampleMaterial(MATERIALS.forest, p.t, p.u, out);
      sampleMaterial(MATERIALS.leafOff, p.t, p.u, tmp);
      const bare = 1 - leaf[p.date]!;
      for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (tmp[b]! - out[b]!) * bare;
    });
    this.addTrap('seasonal', r.box, mask, [layer], { cause: leaf[1]! > leaf[0]! ? 'leaf_out' : 'leaf_fall' }, 'after', 30);
    return true;
  }

  /** A new road, 6–15 m wide, cut through forest or across fields: bare soil at first. */
  private trapRoad(rng: Rng): boolean {
    const start =
      this.villages.length > 0 && rng.chance(0.6)
        ? (() => {
            const v = rng.pick(this.villages);
            return [v.center[0] + rng.range(-5, 5), v.center[1] + rng.range(-5, 5)] as Point;
          })()
        : this.randomPoint(rng, (x, y) => this.occ.pointFree(x, y, BIT_TRUTH), 100, 10);
    if (!start) return false;
    const pts: Point[] = [start];
    let heading = rng.range(-Math.PI, Math.PI);
    const step = this.m(rng.range(40, 70));
    const n = rng.int(8, 26);
    for (let i = 0; i < n; i++) {
      heading += rng.range(-0.35, 0.35);
      const last = pts[pts.length - 1]!;
      const next: Point = [last[0] + Math.cos(heading) * step, last[1] + Math.sin(heading) * step];
      if (next[0] < 3 || next[1] < 3 || next[0] > this.W - 3 || next[1] > this.H - 3) break;
      pts.push(next);
    }
    if (pts.length < 5) return false;
    const widthM = rng.range(6, 15);
    const box = boxAround(pts, widthM / this.px + 3, this.W, this.H);
    const cover = rasterizePolyline(pts, this.m(widthM / 2), box);
    const r = { box, cover };
    const mask = this.maskOf(r, 0.25);
    // The truth of a road is where the road is: not where an older road or village already was.
    const w = boxWidth(box);
    for (let i = 0; i < mask.length; i++) if (mask[i] && this.staticCoverAt(box.c0 + (i % w), box.r0 + Math.floor(i / w)) >= 0.5) mask[i] = 0;
    if (this.areaPx(mask) < 10 || !this.occ.free(box, mask, BIT_TRUTH)) return false;
    const paved = rng.chance(0.25);
    const valleyOf = new Map<number, number>();
    const tmp = new Float64Array(BAND_COUNT);
    const layer = this.layer('new-road', r, [false, true], (p, out) => {
      if (paved) {
        sampleMaterial(MATERIALS.concrete, p.t, p.u, out);
        return;
      }
      const key = p.row * this.W + p.col;
      let valley = valleyOf.get(key);
      if (valley === undefined) {
        valley = this.land.pixel(p.col, p.row).valley;
        valleyOf.set(key, valley);
      }
      // Cut into the hills the road is red laterite; across the valley, grey field soil.
      sampleMaterial(MATERIALS.laterite, p.t, p.u, out);
      sampleMaterial(MATERIALS.fieldSoil, p.t, p.u, tmp);
      const a = clamp(1 - valley * 2, 0, 1);
      for (let b = 0; b < BAND_COUNT; b++) out[b] = out[b]! + (tmp[b]! - out[b]!) * a;
    });
    this.addTrap('road', box, mask, [layer], { width_m: round(widthM, 1), length_m: round(polylineLength(pts) * this.px, 0), surface: paved ? 'concrete' : 'bare_soil' }, 'after', 30);
    return true;
  }

  /** New houses and a building site at the edge of a village. */
  private trapBuilding(rng: Rng): boolean {
    if (this.villages.length === 0) return false;
    const v = rng.pick(this.villages);
    const a = rng.range(-Math.PI, Math.PI);
    // Walk out from the village centre to its edge.
    let x = v.center[0];
    let y = v.center[1];
    const w = boxWidth(v.box);
    for (let i = 0; i < 200; i++) {
      const c = Math.floor(x) - v.box.c0;
      const r = Math.floor(y) - v.box.r0;
      if (c < 0 || r < 0 || c >= w || r >= boxHeight(v.box) || !v.mask[r * w + c]) break;
      x += Math.cos(a);
      y += Math.sin(a);
    }
    const areaHa = rng.range(0.3, 1.6);
    const spec = this.blobSpec(rng, x + Math.cos(a) * 2, y + Math.sin(a) * 2, areaHa, 1.5);
    spec.angle = v.angle;
    const site = this.raster(blobShape(spec));
    const mask = this.maskOf(site);
    const sw = boxWidth(site.box);
    for (let i = 0; i < mask.length; i++) if (mask[i] && this.staticCoverAt(site.box.c0 + (i % sw), site.box.r0 + Math.floor(i / sw)) >= 0.5) mask[i] = 0;
    if (this.areaPx(mask) < 15 || !this.occ.free(site.box, mask, BIT_TRUTH)) return false;
    const layers = [this.layer('building-site', site, [false, true], this.materialFn(rng.chance(0.5) ? MATERIALS.fieldSoil : MATERIALS.laterite))];
    const houses = rng.int(2, 8);
    for (let i = 0; i < houses; i++) {
      const hx = spec.cx + rng.range(-0.6, 0.6) * spec.radius;
      const hy = spec.cy + rng.range(-0.6, 0.6) * spec.radius;
      const house = this.raster(rotatedRect(hx, hy, this.m(rng.range(5, 10)), this.m(rng.range(4, 7)), v.angle), 1);
      layers.push(this.layer('new-house', house, [false, true], this.materialFn(rng.chance(0.7) ? MATERIALS.concrete : MATERIALS.blueRoof)));
    }
    this.addTrap('building', site.box, mask, layers, { houses }, 'after', 30);
    return true;
  }

  /** Forest cleared on a lower slope for a new navel-orange orchard: terraced bare laterite. */
  private trapOrchard(rng: Rng): boolean {
    const at = this.randomPoint(
      rng,
      (x, y) => {
        const p = this.land.pixel(Math.floor(x), Math.floor(y));
        return p.valley > 0.35 && p.valley < 0.85 && (p.cover === 'forest' || p.cover === 'shrub') && this.occ.pointFree(x, y, BIT_TRUTH | BIT_BUILT | BIT_MINE | BIT_REF);
      },
      200,
      10,
    );
    if (!at) return false;
    const spec = this.blobSpec(rng, at[0], at[1], this.areaBetween(rng, 1.5, 6), 2.2);
    spec.angle = this.downslope(at[0], at[1], rng) + Math.PI / 2;
    const r = this.raster(blobShape(spec));
    const mask = this.maskOf(r);
    if (!this.occ.free(r.box, mask, BIT_TRUTH | BIT_BUILT | BIT_MINE)) return false;
    // Keep new orchards out of permits and away from closed / protected polygons, so nothing
    // about them depends on the rules.
    const geom = this.maskGeometry(r.box, mask);
    if (this.distanceM(geom, this.allRefRings()) < 150) return false;
    this.addTrap('orchard', r.box, mask, [this.layer('new-orchard', r, [false, true], this.terraceSpectrum(rng.range(0.03, 0.15), rng.range(2.5, 4)))], { cause: 'orchard_terracing' }, 'after', 40);
    return true;
  }

  /** A cumulus cloud with its shadow, displaced away from the sun, on one date. */
  private trapCloud(rng: Rng): boolean {
    const date: 0 | 1 = rng.chance(0.7) ? 1 : 0;
    const sun = this.o.sun[date];
    const heightM = rng.range(700, 2200);
    const offsetPx = this.m(heightM / Math.tan((sun.elevationDeg * Math.PI) / 180));
    const az = (sun.azimuthDeg * Math.PI) / 180;
    // Shadow away from the sun: east = −sin(az), north = −cos(az); rows grow southwards.
    const dx = -Math.sin(az) * offsetPx;
    const dy = Math.cos(az) * offsetPx;
    const at = this.randomPoint(rng, () => true, 1, 10);
    if (!at) return false;
    const puffs = Array.from({ length: rng.int(3, 8) }, () => ({
      x: at[0] + rng.range(-1, 1) * this.m(250),
      y: at[1] + rng.range(-1, 1) * this.m(200),
      s: this.m(rng.range(40, 160)),
    }));
    const reach = Math.max(...puffs.map((p) => Math.hypot(p.x - at[0], p.y - at[1]) + p.s * 2.6));
    const box = boxAround([[at[0], at[1]]], reach, this.W, this.H);
    if (boxWidth(box) < 4 || boxHeight(box) < 4) return false;
    const seed = hash3(this.o.seed, 8080, this.clouds.length + 1);
    const w = boxWidth(box);
    const alpha = new Float32Array(w * boxHeight(box));
    for (let i = 0; i < alpha.length; i++) {
      const x = box.c0 + (i % w) + 0.5;
      const y = box.r0 + Math.floor(i / w) + 0.5;
      let d = 0;
      for (const p of puffs) d = Math.max(d, Math.exp(-((x - p.x) ** 2 + (y - p.y) ** 2) / (2 * p.s * p.s)));
      const density = d * (0.7 + 0.6 * fbm(seed, (x * this.px) / 90, (y * this.px) / 90, 3));
      alpha[i] = clamp((density - 0.22) / 0.45, 0, 1);
    }
    const shadowBox = this.clipBox({ c0: Math.floor(box.c0 + dx), r0: Math.floor(box.r0 + dy), c1: Math.floor(box.c1 + dx), r1: Math.floor(box.r1 + dy) });
    const sw = boxWidth(shadowBox);
    const sh = boxHeight(shadowBox);
    const shadow = new Float32Array(Math.max(0, sw * sh));
    const ox = Math.floor(dx);
    const oy = Math.floor(dy);
    for (let r = 0; r < sh; r++) {
      for (let c = 0; c < sw; c++) {
        const sc = shadowBox.c0 + c - ox - box.c0;
        const sr = shadowBox.r0 + r - oy - box.r0;
        if (sc < 0 || sr < 0 || sc >= w || sr >= boxHeight(box)) continue;
        shadow[r * sw + c] = clamp(alpha[sr * w + sc]! * 1.3, 0, 1);
      }
    }
    // Truth: where the cloud (opacity ≥ 0.1) or its shadow (≥ 0.1) is.
    const all = this.clipBox({ c0: Math.min(box.c0, shadowBox.c0), r0: Math.min(box.r0, shadowBox.r0), c1: Math.max(box.c1, shadowBox.c1), r1: Math.max(box.r1, shadowBox.r1) });
    const aw = boxWidth(all);
    const mask = new Uint8Array(aw * boxHeight(all));
    const paint = (b: Box, values: Float32Array): void => {
      const bw = boxWidth(b);
      for (let i = 0; i < values.length; i++) {
        if (values[i]! < 0.1) continue;
        const col = b.c0 + (i % bw);
        const row = b.r0 + Math.floor(i / bw);
        if (col >= all.c0 && col < all.c1 && row >= all.r0 && row < all.r1) mask[(row - all.r0) * aw + (col - all.c0)] = 1;
      }
    };
    paint(box, alpha);
    if (sw > 0 && sh > 0) paint(shadowBox, shadow);
    if (this.areaPx(mask) < 10) return false;
    // Clouds never hide a mining change (the truth must stay visible), nor another cloud.
    if (!this.occ.free(all, mask, BIT_TRUTH)) return false;
    const toBytes = (values: Float32Array): Uint8Array => Uint8Array.from(values, (v) => Math.round(clamp(v, 0, 1) * 255));
    this.clouds.push({ date, box, alpha: toBytes(alpha), shadowBox, shadow: toBytes(shadow), seed });
    let cloudPx = 0;
    for (const a of alpha) if (a >= 0.1) cloudPx++;
    this.addTrap('cloud', all, mask, [], { cloud_area_ha: round(this.pxToHa(cloudPx), 4), cloud_height_m: Math.round(heightM) }, date === 1 ? 'after' : 'before', 10);
    return true;
  }

  /** Haze on the later date: over the whole scene, or over a broad region. */
  private trapHaze(rng: Rng): boolean {
    const global = rng.chance(0.5);
    const blue = rng.range(0.03, 0.08);
    const seed = hash3(this.o.seed, 6060, this.hazes.length + 1);
    if (global) {
      if (this.hazes.some((h) => h.global)) return false;
      this.hazes.push({ date: 1, blue, global: true, cx: 0, cy: 0, radiusPx: 0, seed });
      this.pushTruth({
        kind: 'haze',
        role: 'trap',
        placement: null,
        date: 'after',
        box: { c0: 0, r0: 0, c1: this.W, r1: this.H },
        mask: new Uint8Array(0),
        footprint: true,
        expectedCategory: null,
        expectedFlags: [],
        permitId: null,
        licensedPermitId: null,
        details: { extent: 'scene', blue_path_radiance: round(blue, 4) },
      });
      return true;
    }
    const cx = rng.range(0, this.W);
    const cy = rng.range(0, this.H);
    const radiusPx = this.m(rng.range(700, 2000) * this.sizeFactor);
    const haze: HazeLayer = { date: 1, blue, global: false, cx, cy, radiusPx, seed };
    const box = this.clipBox({ c0: Math.floor(cx - radiusPx * 1.6), r0: Math.floor(cy - radiusPx * 1.6), c1: Math.ceil(cx + radiusPx * 1.6), r1: Math.ceil(cy + radiusPx * 1.6) });
    const w = boxWidth(box);
    const mask = new Uint8Array(w * boxHeight(box));
    for (let i = 0; i < mask.length; i++) mask[i] = hazeStrength(haze, box.c0 + (i % w), box.r0 + Math.floor(i / w)) >= 0.5 ? 1 : 0;
    if (this.areaPx(mask) < 50) return false;
    this.hazes.push(haze);
    this.pushTruth({
      kind: 'haze',
      role: 'trap',
      placement: null,
      date: 'after',
      box,
      mask,
      expectedCategory: null,
      expectedFlags: [],
      permitId: null,
      licensedPermitId: null,
      details: { extent: 'region', blue_path_radiance: round(blue, 4) },
    });
    return true;
  }

  private trapIllumination(): boolean {
    if (this.truths.some((t) => t.kind === 'illumination')) return false;
    const [b, a] = this.o.sun;
    this.pushTruth({
      kind: 'illumination',
      role: 'trap',
      placement: null,
      date: 'both',
      box: { c0: 0, r0: 0, c1: this.W, r1: this.H },
      mask: new Uint8Array(0),
      footprint: true,
      expectedCategory: null,
      expectedFlags: [],
      permitId: null,
      licensedPermitId: null,
      details: {
        sun_elevation_before_deg: round(b.elevationDeg, 2),
        sun_azimuth_before_deg: round(b.azimuthDeg, 2),
        sun_elevation_after_deg: round(a.elevationDeg, 2),
        sun_azimuth_after_deg: round(a.azimuthDeg, 2),
      },
    });
    return true;
  }

  /**
   * Paddy zones whose stage differs between the dates (flooding, growth, harvest): recorded as
   * `harvest` or `seasonal` truth, minus pixels that belong to other truth or static objects.
   */
  private addPhenologyTruths(): void {
    const [c0, c1] = this.o.conditions;
    // Surface truth (not clouds or haze, which lie above the ground) by 64-px bucket.
    const index = new Map<number, TruthRecord[]>();
    for (const t of this.truths) {
      if (t.footprint || t.kind === 'haze' || t.kind === 'cloud') continue;
      for (let by = t.box.r0 >> 6; by <= (t.box.r1 - 1) >> 6; by++) {
        for (let bx = t.box.c0 >> 6; bx <= (t.box.c1 - 1) >> 6; bx++) {
          const key = by * 4096 + bx;
          const list = index.get(key);
          if (list) list.push(t);
          else index.set(key, [t]);
        }
      }
    }
    const takenAt = (col: number, row: number): boolean => {
      for (const t of index.get((row >> 6) * 4096 + (col >> 6)) ?? []) {
        const b = t.box;
        if (col < b.c0 || col >= b.c1 || row < b.r0 || row >= b.r1) continue;
        if (t.mask[(row - b.r0) * (b.c1 - b.c0) + (col - b.c0)]) return true;
      }
      return false;
    };
    const zones = [...this.survey.zones.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [zone, zoneBox] of zones) {
      const sb = this.land.paddyState(zone, c0.dayOfYear);
      const sa = this.land.paddyState(zone, c1.dayOfYear);
      if (!significantPaddyChange(sb, sa)) continue;
      const box = this.clipBox(zoneBox, 3);
      const w = boxWidth(box);
      const mask = new Uint8Array(w * boxHeight(box));
      for (let row = box.r0; row < box.r1; row++) {
        for (let col = box.c0; col < box.c1; col++) {
          const f = this.land.pixel(col, row).field;
          if (!f || f.type !== 'paddy' || f.zone !== zone) continue;
          if (this.staticCoverAt(col, row) >= 0.5 || takenAt(col, row)) continue;
          mask[(row - box.r0) * w + (col - box.c0)] = 1;
        }
      }
      if (this.areaPx(mask) < 10) continue;
      const harvest = sb.cover >= 0.45 && sa.cover < 0.2 && sa.water < 0.4;
      this.pushTruth({
        kind: harvest ? 'harvest' : 'seasonal',
        role: 'trap',
        placement: null,
        date: 'after',
        box,
        mask,
        expectedCategory: null,
        expectedFlags: [],
        permitId: null,
        licensedPermitId: null,
        details: {
          cause: harvest ? 'rice_harvest' : 'paddy_phenology',
          paddy_zone: zone,
          crop_cover_before: round(sb.cover, 2),
          crop_cover_after: round(sa.cover, 2),
          flooded_before: sb.water >= 0.4,
          flooded_after: sa.water >= 0.4,
        },
      });
    }
  }
}

/** Whether a paddy zone's look changes enough between dates to count as a change. */
export function significantPaddyChange(a: PaddyState, b: PaddyState): boolean {
  return Math.abs(a.cover - b.cover) >= 0.3 || Math.abs(a.water - b.water) >= 0.4 || (Math.abs(a.ripe - b.ripe) >= 0.6 && Math.max(a.cover, b.cover) > 0.4);
}

/** Haze strength 0–1 at a pixel: smooth, broad, irregular. */
export function hazeStrength(h: HazeLayer, col: number, row: number): number {
  if (h.global) return clamp(0.6 + 1.2 * (fbm(h.seed, col / 220, row / 220, 3) - 0.5), 0.2, 1);
  const d = Math.hypot(col - h.cx, row - h.cy) / h.radiusPx;
  const wobble = 0.75 + 0.5 * fbm(h.seed, col / 90, row / 90, 2);
  return clamp(1.25 - d * d * wobble, 0, 1);
}

function addInto(sum: Float32Array, box: Box, r: Raster): void {
  const w = boxWidth(box);
  const rw = boxWidth(r.box);
  for (let i = 0; i < r.cover.length; i++) {
    const v = r.cover[i]!;
    if (v === 0) continue;
    const col = r.box.c0 + (i % rw);
    const row = r.box.r0 + Math.floor(i / rw);
    const k = (row - box.r0) * w + (col - box.c0);
    sum[k] = Math.min(1, sum[k]! + v);
  }
}

export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
