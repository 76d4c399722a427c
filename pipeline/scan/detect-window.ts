/**
 * The read → mask → detect stage for one window of a scene pair: reads both dates with a halo of
 * context, converts to reflectance, masks nodata, cloud, shadow and haze (SCL when present, else
 * the own test), runs the detector and returns the change mask of the window proper.
 *
 * Change pixels are found by hysteresis, as edges are in Canny's detector: a site is a connected
 * region of pixels of a mining kind with probability ≥ half the detector's threshold ("support")
 * that contains a core — pixels of a core kind at or above the threshold that survive a 3×3 morphological
 * opening. Support pixels are opened too (with the site's edge restored within 2 px), so lines one
 * or two pixels wide — new roads, field margins, misregistered edges — vanish while blobs stay
 * whole. Core pixels carry CORE_BIT in the mask; the site stage keeps only sites with a core.
 */
import { dilateMask, erodeMask } from '../../geodata/vectorize.js';
import { detectCloudsAndShadows, estimateMaskBaseline, maskFromScl, MASK_CLEAR, MASK_NAMES, type MaskBands, type MaskBaseline } from '../../geodata/masks.js';
import { pairScenes, readAfter, readBefore, type ScenePair, type WindowSource } from '../../geodata/pair.js';
import type { PixelWindow, WindowPixels } from '../../geodata/types.js';
import type { Calibration, CanonicalBand, Detector, DetectorSample, Reflectance } from '../../models/detector.js';
import { commonBands, planBands, type BandPlan } from '../bands.js';

export interface PairPlan {
  pair: ScenePair;
  before: BandPlan;
  after: BandPlan;
  /** Canonical bands both scenes have (what the detector gets). */
  bands: CanonicalBand[];
  /** Scene-wide differences between the dates, for the own cloud test (estimateMaskBaselines). */
  maskBaseline?: { before: MaskBaseline; after: MaskBaseline };
  /**
   * An area scan: the box of the windows the area touches. Halos are clipped to it as to the
   * grid's edge, so an area scan over HTTP fetches no tile beyond the area's windows; the area's
   * outer edge is then detected as a scene edge is.
   */
  readBounds?: PixelWindow;
}

/** Plans a pair for a detector: maps both scenes' bands and puts them on one grid. */
export function createPairPlan(before: WindowSource, after: WindowSource, detector: Pick<Detector, 'requiredBands' | 'optionalBands'>): PairPlan {
  const beforePlan = planBands(before.info, detector.requiredBands, detector.optionalBands);
  const afterPlan = planBands(after.info, detector.requiredBands, detector.optionalBands);
  return { pair: pairScenes(before, after), before: beforePlan, after: afterPlan, bands: commonBands(beforePlan, afterPlan) };
}

/** Pixels of context read around each window, for the cloud dilation and the opening. */
export const HALO_PX = 4;

/** Set in the mask on core pixels (kind codes stay below it). */
export const CORE_BIT = 0x80;

/** Support threshold as a share of the detector's threshold (hysteresis). */
export const SUPPORT_SHARE = 0.5;

export interface WindowResult {
  window: PixelWindow;
  /** width*height: 0 no change, else the detector's kind code. */
  mask: Uint8Array;
  prob: Float32Array;
  /** Pixels per mask class (clear, nodata, cloud, shadow, haze) in the window proper. */
  maskCounts: Record<string, number>;
  changePixels: number;
  seconds: WindowSeconds;
}

interface PairPixels {
  width: number;
  height: number;
  before: Reflectance;
  after: Reflectance;
  clear: Uint8Array;
  maskClass: Uint8Array;
}

/**
 * The read's bands as reflectance, scaled in place: the arrays are this read's own (new, or an
 * earlier window's handed back through `reuse`), and a copy would double what a window holds.
 */
function toReflectance(px: WindowPixels, plan: BandPlan, bands: CanonicalBand[]): Reflectance {
  const out: Reflectance = {};
  const scaled = new Map<string, Float32Array>();
  for (const b of bands) {
    const name = plan.bands[b]!;
    const done = scaled.get(name);
    if (done) {
      out[b] = done;
      continue;
    }
    const arr = px.bands[name];
    const { scale, offset } = plan.scaling[name];
    if (scale !== 1 || offset !== 0) for (let i = 0; i < arr.length; i++) arr[i] = arr[i] * scale + offset;
    scaled.set(name, arr);
    out[b] = arr;
  }
  return out;
}

function bandNames(plan: BandPlan, bands: CanonicalBand[]): string[] {
  return [...bands.map((b) => plan.bands[b]!), ...(plan.scl ? [plan.scl] : [])];
}

/** Both dates of a window in reflectance, before any cloud test. */
export interface RawPairPixels {
  width: number;
  height: number;
  before: Reflectance;
  after: Reflectance;
  /** SCL classes per date, when the scene has the band. */
  sclBefore: Float32Array | null;
  sclAfter: Float32Array | null;
  /** 1 where both dates have data. */
  valid: Uint8Array;
  /** The reads these arrays belong to, for a later window's `reuse`. */
  read: { before: WindowPixels; after: WindowPixels };
}

async function readRawPair(plan: PairPlan, window: PixelWindow, reuse?: RawPairPixels | null): Promise<RawPairPixels> {
  const [bpx, apx] = await Promise.all([
    readBefore(plan.pair, window, bandNames(plan.before, plan.bands), reuse?.read.before),
    readAfter(plan.pair, window, bandNames(plan.after, plan.bands), plan.after.scl ? [plan.after.scl] : [], reuse?.read.after),
  ]);
  const n = window.width * window.height;
  const valid = reuse && reuse.valid.length === n ? reuse.valid : new Uint8Array(n);
  for (let i = 0; i < n; i++) valid[i] = bpx.valid[i] && apx.valid[i] ? 1 : 0;
  return {
    width: window.width, height: window.height,
    before: toReflectance(bpx, plan.before, plan.bands), after: toReflectance(apx, plan.after, plan.bands),
    sclBefore: plan.before.scl ? bpx.bands[plan.before.scl] : null, sclAfter: plan.after.scl ? apx.bands[plan.after.scl] : null,
    valid,
    read: { before: bpx, after: apx },
  };
}

/** Nodata, then cloud, shadow and haze of either date: SCL when the scene has it, else the own test. */
function maskPair(raw: RawPairPixels, baseline: PairPlan['maskBaseline']): PairPixels {
  const { width, height, before, after, valid } = raw;
  const n = width * height;
  const maskFor = (scl: Float32Array | null, self: Reflectance, other: Reflectance, b: MaskBaseline | undefined): Uint8Array => {
    const base = scl ? maskFromScl(scl) : new Uint8Array(n);
    for (let i = 0; i < n; i++) if (!valid[i]) base[i] = 1;
    return scl ? base : detectCloudsAndShadows(self as MaskBands, other as MaskBands, width, height, base, b);
  };
  const mb = maskFor(raw.sclBefore, before, after, baseline?.before);
  const ma = maskFor(raw.sclAfter, after, before, baseline?.after);
  const clear = new Uint8Array(n);
  const maskClass = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    // Nodata first, then whichever date is masked.
    maskClass[i] = mb[i] === 1 || ma[i] === 1 ? 1 : Math.max(mb[i], ma[i]);
    clear[i] = maskClass[i] === MASK_CLEAR ? 1 : 0;
  }
  return { width, height, before, after, clear, maskClass };
}

/** Reads both dates of a window (clipped to the grid) and builds the clear-sky mask. */
export async function readPairPixels(plan: PairPlan, window: PixelWindow): Promise<PairPixels> {
  return maskPair(await readRawPair(plan, window), plan.maskBaseline);
}

function clipWindow(w: PixelWindow, gridWidth: number, gridHeight: number): PixelWindow {
  const col = Math.max(0, w.col), row = Math.max(0, w.row);
  return { col, row, width: Math.min(gridWidth, w.col + w.width) - col, height: Math.min(gridHeight, w.row + w.height) - row };
}

/** Seconds one window spent in each stage (read: both dates decoded; mask; detect: network and hysteresis). */
export interface WindowSeconds {
  read: number;
  mask: number;
  detect: number;
}

/** A window's pixels as read (window plus halo, clipped to the grid), before masking. */
export interface WindowInput {
  window: PixelWindow;
  outer: PixelWindow;
  raw: RawPairPixels;
  readSeconds: number;
}

/** The window plus the halo the detector and the masks need, clipped to the grid. */
export function outerWindow(plan: PairPlan, window: PixelWindow, detector: Pick<Detector, 'haloPx'>): PixelWindow {
  const halo = Math.max(HALO_PX, detector.haloPx);
  const wanted = { col: window.col - halo, row: window.row - halo, width: window.width + 2 * halo, height: window.height + 2 * halo };
  const b = plan.readBounds;
  if (!b) return clipWindow(wanted, plan.pair.grid.width, plan.pair.grid.height);
  const inBounds = clipWindow({ ...wanted, col: wanted.col - b.col, row: wanted.row - b.row }, b.width, b.height);
  return { ...inBounds, col: inBounds.col + b.col, row: inBounds.row + b.row };
}

/** The box holding all `windows` (an area scan's read bounds); null for none. */
export function windowsBounds(windows: PixelWindow[]): PixelWindow | null {
  if (windows.length === 0) return null;
  let c0 = Infinity, r0 = Infinity, c1 = -Infinity, r1 = -Infinity;
  for (const w of windows) {
    c0 = Math.min(c0, w.col); r0 = Math.min(r0, w.row);
    c1 = Math.max(c1, w.col + w.width); r1 = Math.max(r1, w.row + w.height);
  }
  return { col: c0, row: r0, width: c1 - c0, height: r1 - r0 };
}

/**
 * The read stage of one window: both dates with the halo. Separate from the rest so that a scan
 * can read the next window (in the decode worker threads) while this one is detected. `reuse`:
 * an earlier window's input that is done with (masked and detected); its arrays are refilled
 * when they fit, so a scan holds two windows' pixels in all instead of a new 62 MB a window.
 */
export async function readWindowInput(plan: PairPlan, window: PixelWindow, detector: Pick<Detector, 'haloPx'>, reuse?: WindowInput | null): Promise<WindowInput> {
  const t0 = performance.now();
  const outer = outerWindow(plan, window, detector);
  const raw = await readRawPair(plan, outer, reuse?.raw);
  return { window, outer, raw, readSeconds: (performance.now() - t0) / 1000 };
}

/** Runs read → mask → detect on one window and returns its change mask. */
export async function detectWindow(plan: PairPlan, window: PixelWindow, detector: Detector, calibration: Calibration): Promise<WindowResult> {
  return detectWindowInput(plan, await readWindowInput(plan, window, detector), detector, calibration);
}

/** The mask and detect stages of a window already read. */
export async function detectWindowInput(plan: PairPlan, input: WindowInput, detector: Detector, calibration: Calibration): Promise<WindowResult> {
  const { window, outer } = input;
  const t0 = performance.now();
  const px = maskPair(input.raw, plan.maskBaseline);
  const t1 = performance.now();
  const out = await detector.detect({ width: outer.width, height: outer.height, before: px.before, after: px.after, clear: px.clear }, calibration);
  const w = outer.width, h = outer.height;
  const support = new Uint8Array(w * h);
  const high = new Uint8Array(w * h);
  const low = detector.threshold * SUPPORT_SHARE;
  for (let i = 0; i < w * h; i++) {
    if (!px.clear[i] || !detector.miningKinds.includes(out.kind[i])) continue;
    if (out.prob[i] >= low) support[i] = 1;
    if (out.prob[i] >= detector.threshold && detector.coreKinds.includes(out.kind[i])) high[i] = 1;
  }
  const restored = dilateMask(dilateMask(erodeMask(support, w, h, 1), w, h, 1), w, h, 2);
  const core = dilateMask(erodeMask(high, w, h, 1), w, h, 1);
  const mask = new Uint8Array(window.width * window.height);
  const prob = new Float32Array(window.width * window.height);
  const maskCounts: Record<string, number> = Object.fromEntries(MASK_NAMES.map((m) => [m, 0]));
  let changePixels = 0;
  const dx = window.col - outer.col, dy = window.row - outer.row;
  for (let y = 0; y < window.height; y++) {
    for (let x = 0; x < window.width; x++) {
      const o = (y + dy) * w + (x + dx), i = y * window.width + x;
      maskCounts[MASK_NAMES[px.maskClass[o]]]++;
      prob[i] = out.prob[o];
      if (support[o] && restored[o]) {
        mask[i] = out.kind[o] | (core[o] ? CORE_BIT : 0);
        changePixels++;
      }
    }
  }
  const t2 = performance.now();
  return {
    window, mask, prob, maskCounts, changePixels,
    seconds: { read: input.readSeconds, mask: (t1 - t0) / 1000, detect: (t2 - t1) / 1000 },
  };
}

/**
 * One pass over a lattice of windows spread evenly over the pair (3×3 of 256 px by default):
 * the scene-wide baselines of the own cloud test (when a scene has no SCL band), then — masked
 * with them — every `stride`-th clear pixel as the detector's calibration sample. Sets
 * `plan.maskBaseline`. Cheap, and representative of the scene.
 */
export async function samplePair(plan: PairPlan, options: { windowSize?: number; lattice?: number; stride?: number; within?: PixelWindow[] } = {}): Promise<DetectorSample[]> {
  const stride = options.stride ?? 2;
  const size = options.windowSize ?? 256, lattice = options.lattice ?? 3;
  const raws: RawPairPixels[] = [];
  const sampled = options.within ? windowsWithin(options.within, size, lattice * lattice) : latticeWindows(plan, size, lattice);
  for (const win of sampled) raws.push(await readRawPair(plan, win));
  if (!plan.before.scl || !plan.after.scl) {
    const join = (pick: (r: RawPairPixels) => Reflectance): MaskBands => {
      const out: Partial<Record<CanonicalBand, Float32Array>> = {};
      for (const band of plan.bands) out[band] = concat(raws.map((r) => pick(r)[band]!));
      return out as MaskBands;
    };
    const b = join((r) => r.before), a = join((r) => r.after);
    const valid = concat(raws.map((r) => r.valid));
    plan.maskBaseline = { before: estimateMaskBaseline(b, a, valid), after: estimateMaskBaseline(a, b, valid) };
  }
  const samples: DetectorSample[] = [];
  for (const raw of raws) {
    const px = maskPair(raw, plan.maskBaseline);
    const idx: number[] = [];
    for (let k = 0; k < px.clear.length; k += stride) if (px.clear[k]) idx.push(k);
    const pick = (r: Reflectance): Reflectance => Object.fromEntries(Object.entries(r).map(([band, arr]) => {
      const out = new Float32Array(idx.length);
      for (let j = 0; j < idx.length; j++) out[j] = arr![idx[j]];
      return [band, out];
    }));
    samples.push({ before: pick(px.before), after: pick(px.after), clear: new Uint8Array(idx.length).fill(1), length: idx.length });
  }
  return samples;
}

function concat<T extends Float32Array | Uint8Array>(parts: T[]): T {
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new (parts[0].constructor as new (n: number) => T)(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/**
 * Up to `count` sample windows spread evenly over the windows a scan covers (an area scan): the
 * sample stays inside the area, so a scan over HTTP fetches no tile the area does not touch.
 */
function windowsWithin(windows: PixelWindow[], size: number, count: number): PixelWindow[] {
  const k = Math.min(count, windows.length);
  const out: PixelWindow[] = [];
  for (let t = 0; t < k; t++) {
    const w = windows[Math.floor(((t + 0.5) * windows.length) / k)]!;
    const width = Math.min(size, w.width), height = Math.min(size, w.height);
    out.push({ col: w.col + Math.floor((w.width - width) / 2), row: w.row + Math.floor((w.height - height) / 2), width, height });
  }
  return out;
}

function latticeWindows(plan: PairPlan, size: number, lattice: number): PixelWindow[] {
  const { width, height } = plan.pair.grid;
  const out: PixelWindow[] = [];
  const seen = new Set<string>();
  for (let j = 0; j < lattice; j++) {
    for (let i = 0; i < lattice; i++) {
      const col = Math.max(0, Math.round(((i + 0.5) / lattice) * width - size / 2));
      const row = Math.max(0, Math.round(((j + 0.5) / lattice) * height - size / 2));
      const win = clipWindow({ col, row, width: size, height: size }, width, height);
      const key = `${win.col},${win.row}`;
      if (win.width <= 0 || win.height <= 0 || seen.has(key)) continue;
      seen.add(key);
      out.push(win);
    }
  }
  return out;
}

/** Window columns per band of `readingOrder`. */
export const READING_BAND_WINDOWS = 4;

/**
 * The order a scan reads its windows in: bands of a few window columns, each band top to bottom
 * and row by row within it. Row-major over a whole 10980 px tile would need a decoded-block cache
 * of a full row of tiles to read each tile once (a window's halo reaches into the row below,
 * which is read again one row later); a band needs a few tiles. The sites do not depend on the
 * order (the accumulator sorts them).
 */
export function readingOrder(windows: PixelWindow[], windowSize: number): PixelWindow[] {
  const band = (w: PixelWindow): number => Math.floor(w.col / (windowSize * READING_BAND_WINDOWS));
  return [...windows].sort((a, b) => band(a) - band(b) || a.row - b.row || a.col - b.col);
}

/** Windows covering the grid, row-major; deterministic. */
export function planWindows(gridWidth: number, gridHeight: number, size: number): PixelWindow[] {
  const windows: PixelWindow[] = [];
  for (let row = 0; row < gridHeight; row += size) {
    for (let col = 0; col < gridWidth; col += size) {
      windows.push({ col, row, width: Math.min(size, gridWidth - col), height: Math.min(size, gridHeight - row) });
    }
  }
  return windows;
}
