/**
 * From sorted change runs to sites: 8-connected components, the holes they enclose, hole filling
 * and the minimum mapping unit, all on run-length rows (no scene-sized raster is ever made).
 *
 * Topology used throughout (the usual dual pair of digital topology):
 * - change pixels are 8-connected: pixels touching at a corner belong to one site;
 * - background pixels are 4-connected: a hole is a 4-connected background region that does not
 *   reach the grid edge; it is enclosed by exactly one component, the one owning the pixel just
 *   above the hole's top-left pixel (that pixel lies across the hole's outer boundary).
 * Components and holes form a tree (component → its holes → islands in them → …); a node's top
 * row is always below its parent's, which lets the tree be summed bottom-up and decided
 * top-down by sorting on top rows alone.
 */
import { OrewatchError } from '../../errors/index.js';
import type { PixelWindow } from '../types.js';
import type { SortedRuns } from './run-store.js';
import { UnionFind } from './union-find.js';

/** One site: a change component plus the holes (and islands in them) it absorbed. */
export interface SiteStats {
  bbox: PixelWindow;
  /** Pixels inside the site's polygons: change pixels plus filled holes. */
  pixelCount: number;
  changePixelCount: number;
  sumProb: number;
  maxProb: number;
  kindCounts: Record<number, number>;
}

/**
 * The pixels of all kept sites as maximal horizontal spans, sorted by (row, start); spans of
 * grid row r are [rowStart[r], rowStart[r + 1]).
 */
export interface SiteSpans {
  count: number;
  rowStart: Int32Array;
  start: Int32Array;
  end: Int32Array;
  /** Index of the span's site in the returned site list. */
  site: Int32Array;
  /** 4-connected piece of its site the span belongs to (global numbering, raster-scan order). */
  piece: Int32Array;
  pieceCount: number;
}

export interface SiteOptions {
  minPixels: number;
  fillHolesSmallerThan: number;
}

/** Index of the last span in [a, b) whose start ≤ col, or -1. */
export function lastStartAtOrBefore(start: Int32Array, a: number, b: number, col: number): number {
  let lo = a;
  let hi = b;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (start[mid] <= col) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1 >= a ? lo - 1 : -1;
}

/** Index of the span in [a, b) containing col, or -1. */
function containing(start: Int32Array, end: Int32Array, a: number, b: number, col: number): number {
  const k = lastStartAtOrBefore(start, a, b, col);
  return k >= 0 && col < end[k] ? k : -1;
}

interface Spans {
  count: number;
  rowStart: Int32Array;
  start: Int32Array;
  end: Int32Array;
  /** Component (for change spans) or region (for background runs) of each span; -1 = outside. */
  label: Int32Array;
}

/**
 * Labels the components, decides which holes are filled and which sites are big enough, and
 * returns the kept sites in (top row, left column) order with their pixels as spans.
 */
export function buildSites(runs: SortedRuns, gridWidth: number, gridHeight: number, options: SiteOptions): { sites: SiteStats[]; spans: SiteSpans } {
  const { rowStart, start, end } = runs;
  const n = runs.count;

  // 1. 8-connected components over the runs (runs split at window borders and kind changes
  //    join their neighbours in the row; runs in adjacent rows join when they overlap or touch
  //    diagonally).
  const uf = new UnionFind(n);
  for (let r = 0; r < gridHeight; r++) {
    const a = rowStart[r];
    const b = rowStart[r + 1];
    for (let i = a + 1; i < b; i++) if (start[i] === end[i - 1]) uf.union(i - 1, i);
    if (r === 0) continue;
    let i = rowStart[r - 1];
    const ib = a;
    let j = a;
    while (i < ib && j < b) {
      if (end[i] < start[j]) i++;
      else if (end[j] < start[i]) j++;
      else {
        uf.union(i, j);
        if (end[i] < end[j]) i++;
        else j++;
      }
    }
  }
  const compOfRun = new Int32Array(n);
  let compCount = 0;
  for (let i = 0; i < n; i++) {
    const root = uf.find(i);
    compOfRun[i] = root === i ? compCount++ : compOfRun[root];
  }
  const comps: SiteStats[] = [];
  const compTop = new Int32Array(compCount);
  const compLeft = new Int32Array(compCount);
  const compMaxCol = new Int32Array(compCount);
  const compMaxRow = new Int32Array(compCount);
  for (let r = 0; r < gridHeight; r++) {
    for (let i = rowStart[r]; i < rowStart[r + 1]; i++) {
      const c = compOfRun[i];
      let s = comps[c];
      if (s === undefined) {
        s = { bbox: { col: start[i], row: r, width: 0, height: 0 }, pixelCount: 0, changePixelCount: 0, sumProb: 0, maxProb: 0, kindCounts: {} };
        comps[c] = s;
        compTop[c] = r;
        compLeft[c] = start[i];
        compMaxCol[c] = end[i];
      }
      const count = end[i] - start[i];
      s.pixelCount += count;
      s.changePixelCount += count;
      s.sumProb += runs.sumProb[i];
      if (runs.maxProb[i] > s.maxProb) s.maxProb = runs.maxProb[i];
      s.kindCounts[runs.kind[i]] = (s.kindCounts[runs.kind[i]] ?? 0) + count;
      if (start[i] < s.bbox.col) s.bbox.col = start[i];
      if (end[i] > compMaxCol[c]) compMaxCol[c] = end[i];
      compMaxRow[c] = r;
    }
  }
  for (let c = 0; c < compCount; c++) {
    comps[c].bbox.width = compMaxCol[c] - comps[c].bbox.col;
    comps[c].bbox.height = compMaxRow[c] + 1 - compTop[c];
  }

  // 2. Maximal change spans per row (binary: runs of other kinds or windows merged).
  const fg = mergeRuns(runs, compOfRun, gridHeight);

  // 3. Holes and hole filling. siteOfComp: the component whose site absorbs it (itself if none).
  const siteOfComp = new Int32Array(compCount);
  for (let c = 0; c < compCount; c++) siteOfComp[c] = c;
  let bg: Spans | null = null;
  let regionSite: Int32Array = new Int32Array(0);
  if (options.fillHolesSmallerThan > 0 && compCount > 0) {
    bg = backgroundRuns(fg, gridWidth, gridHeight);
    const regions = describeRegions(bg, fg, gridHeight);
    regionSite = fillHoles(regions, bg, compTop, compLeft, comps, siteOfComp, options.fillHolesSmallerThan);
    for (let g = 0; g < regions.count; g++) {
      const s = regionSite[g];
      if (s >= 0) comps[s].pixelCount += regions.area[g];
    }
    for (let c = 0; c < compCount; c++) {
      const s = siteOfComp[c];
      if (s === c) continue;
      const site = comps[s];
      const part = comps[c];
      site.pixelCount += part.pixelCount;
      site.changePixelCount += part.changePixelCount;
      site.sumProb += part.sumProb;
      if (part.maxProb > site.maxProb) site.maxProb = part.maxProb;
      for (const [kind, count] of Object.entries(part.kindCounts)) {
        site.kindCounts[Number(kind)] = (site.kindCounts[Number(kind)] ?? 0) + count;
      }
    }
  }

  // 4. Minimum mapping unit; sites numbered in (top row, left col) order of their root component.
  const keptIndex = new Int32Array(compCount).fill(-1);
  const sites: SiteStats[] = [];
  for (let c = 0; c < compCount; c++) {
    if (siteOfComp[c] !== c || comps[c].pixelCount < options.minPixels) continue;
    keptIndex[c] = sites.length;
    sites.push(comps[c]);
  }

  return { sites, spans: siteSpans(fg, bg, siteOfComp, regionSite, keptIndex, gridHeight) };
}

/** Merges touching runs of a row into maximal spans labelled with their component. */
function mergeRuns(runs: SortedRuns, compOfRun: Int32Array, gridHeight: number): Spans {
  const n = runs.count;
  const out: Spans = { count: 0, rowStart: new Int32Array(gridHeight + 1), start: new Int32Array(n), end: new Int32Array(n), label: new Int32Array(n) };
  for (let r = 0; r < gridHeight; r++) {
    out.rowStart[r] = out.count;
    for (let i = runs.rowStart[r]; i < runs.rowStart[r + 1]; i++) {
      if (out.count > out.rowStart[r] && out.end[out.count - 1] === runs.start[i]) {
        out.end[out.count - 1] = runs.end[i];
        continue;
      }
      out.start[out.count] = runs.start[i];
      out.end[out.count] = runs.end[i];
      out.label[out.count] = compOfRun[i];
      out.count++;
    }
  }
  out.rowStart[gridHeight] = out.count;
  return out;
}

/**
 * The background gaps of every row that has change pixels. Rows without change are wholly
 * background and therefore part of the outside; they get no runs (memory stays ∝ change runs).
 * Labels: region number of each run, -1 for the outside (touching the grid edge).
 */
function backgroundRuns(fg: Spans, gridWidth: number, gridHeight: number): Spans {
  const cap = fg.count + gridHeight;
  const bg: Spans = { count: 0, rowStart: new Int32Array(gridHeight + 1), start: new Int32Array(cap), end: new Int32Array(cap), label: new Int32Array(cap) };
  const rowHasFg = (r: number): boolean => r >= 0 && r < gridHeight && fg.rowStart[r + 1] > fg.rowStart[r];
  const outsideFlags = new Uint8Array(cap);
  for (let r = 0; r < gridHeight; r++) {
    bg.rowStart[r] = bg.count;
    const a = fg.rowStart[r];
    const b = fg.rowStart[r + 1];
    if (a === b) continue;
    let col = 0;
    const edgeRow = r === 0 || r === gridHeight - 1 || !rowHasFg(r - 1) || !rowHasFg(r + 1);
    for (let i = a; i <= b; i++) {
      const gapEnd = i < b ? fg.start[i] : gridWidth;
      if (gapEnd > col) {
        bg.start[bg.count] = col;
        bg.end[bg.count] = gapEnd;
        outsideFlags[bg.count] = edgeRow || col === 0 || gapEnd === gridWidth ? 1 : 0;
        bg.count++;
      }
      if (i < b) col = fg.end[i];
    }
  }
  bg.rowStart[gridHeight] = bg.count;

  // Background is 4-connected: runs of adjacent rows join only where they share columns.
  const outside = bg.count;
  const uf = new UnionFind(bg.count + 1);
  for (let i = 0; i < bg.count; i++) if (outsideFlags[i] === 1) uf.union(i, outside);
  for (let r = 1; r < gridHeight; r++) {
    let i = bg.rowStart[r - 1];
    const ib = bg.rowStart[r];
    let j = bg.rowStart[r];
    const jb = bg.rowStart[r + 1];
    while (i < ib && j < jb) {
      if (bg.end[i] <= bg.start[j]) i++;
      else if (bg.end[j] <= bg.start[i]) j++;
      else {
        uf.union(i, j);
        if (bg.end[i] < bg.end[j]) i++;
        else j++;
      }
    }
  }
  const outsideRoot = uf.find(outside);
  let regions = 0;
  for (let i = 0; i < bg.count; i++) {
    const root = uf.find(i);
    bg.label[i] = root === outsideRoot ? -1 : root === i ? regions++ : bg.label[root];
  }
  return bg;
}

interface Regions {
  count: number;
  area: Float64Array;
  top: Int32Array;
  /** Component whose pixel lies just above the region's top-left pixel: the one enclosing it. */
  encloser: Int32Array;
}

function describeRegions(bg: Spans, fg: Spans, gridHeight: number): Regions {
  let count = 0;
  for (let i = 0; i < bg.count; i++) count = Math.max(count, bg.label[i] + 1);
  const regions: Regions = { count, area: new Float64Array(count), top: new Int32Array(count).fill(-1), encloser: new Int32Array(count) };
  for (let r = 0; r < gridHeight; r++) {
    for (let i = bg.rowStart[r]; i < bg.rowStart[r + 1]; i++) {
      const g = bg.label[i];
      if (g < 0) continue;
      regions.area[g] += bg.end[i] - bg.start[i];
      if (regions.top[g] >= 0) continue;
      regions.top[g] = r;
      const above = containing(fg.start, fg.end, fg.rowStart[r - 1], fg.rowStart[r], bg.start[i]);
      if (above < 0) throw new OrewatchError('VECTORIZE.INTERNAL', `Hole at row ${r}, col ${bg.start[i]} has no enclosing pixel`, { kind: 'internal' });
      regions.encloser[g] = fg.label[above];
    }
  }
  return regions;
}

/**
 * Decides which holes are filled. A hole's size is everything its boundary encloses: its own
 * pixels plus any islands (and their holes) inside, so a pocket with a speck in it is judged by
 * the pocket's area. A filled hole takes everything inside it into the enclosing site.
 * Returns, per region, the component whose site it joins (-1: it stays a hole).
 */
function fillHoles(
  regions: Regions,
  bg: Spans,
  compTop: Int32Array,
  compLeft: Int32Array,
  comps: SiteStats[],
  siteOfComp: Int32Array,
  threshold: number,
): Int32Array {
  const compCount = comps.length;
  // The region just above each component's top-left pixel is the one it lies in (-1 outside).
  const parent = new Int32Array(compCount).fill(-1);
  for (let c = 0; c < compCount; c++) {
    const r = compTop[c];
    if (r === 0) continue;
    const k = containing(bg.start, bg.end, bg.rowStart[r - 1], bg.rowStart[r], compLeft[c]);
    if (k >= 0) parent[c] = bg.label[k];
  }
  // Bottom-up (children have larger top rows): enclosed area of each region.
  const filled = new Float64Array(compCount);
  for (let c = 0; c < compCount; c++) filled[c] = comps[c].pixelCount;
  const enclosed = Float64Array.from(regions.area);
  let c = compCount - 1;
  let g = regions.count - 1;
  while (c >= 0 || g >= 0) {
    if (g < 0 || (c >= 0 && compTop[c] >= regions.top[g])) {
      if (parent[c] >= 0) enclosed[parent[c]] += filled[c];
      c--;
    } else {
      filled[regions.encloser[g]] += enclosed[g];
      g--;
    }
  }
  // Top-down: a component lying in a filled region joins that region's site; a region inside an
  // absorbed component is filled too.
  const regionSite = new Int32Array(regions.count).fill(-1);
  c = 0;
  g = 0;
  while (c < compCount || g < regions.count) {
    if (g >= regions.count || (c < compCount && compTop[c] <= regions.top[g])) {
      const p = parent[c];
      siteOfComp[c] = p >= 0 && regionSite[p] >= 0 ? regionSite[p] : c;
      c++;
    } else {
      const e = regions.encloser[g];
      const s = siteOfComp[e];
      regionSite[g] = s !== e ? s : enclosed[g] < threshold ? e : -1;
      g++;
    }
  }
  return regionSite;
}

/** The pixels of kept sites as maximal spans, with 4-connected piece labels. */
function siteSpans(fg: Spans, bg: Spans | null, siteOfComp: Int32Array, regionSite: Int32Array, keptIndex: Int32Array, gridHeight: number): SiteSpans {
  const cap = fg.count + (bg?.count ?? 0);
  const out: SiteSpans = {
    count: 0,
    rowStart: new Int32Array(gridHeight + 1),
    start: new Int32Array(cap),
    end: new Int32Array(cap),
    site: new Int32Array(cap),
    piece: new Int32Array(cap),
    pieceCount: 0,
  };
  const emit = (r: number, s: number, e: number, site: number): void => {
    if (site < 0) return;
    const last = out.count - 1;
    if (out.count > out.rowStart[r] && out.end[last] === s && out.site[last] === site) {
      out.end[last] = e;
      return;
    }
    out.start[out.count] = s;
    out.end[out.count] = e;
    out.site[out.count] = site;
    out.count++;
  };
  for (let r = 0; r < gridHeight; r++) {
    out.rowStart[r] = out.count;
    let i = fg.rowStart[r];
    const ib = fg.rowStart[r + 1];
    let j = bg === null ? 0 : bg.rowStart[r];
    const jb = bg === null ? 0 : bg.rowStart[r + 1];
    while (i < ib || j < jb) {
      if (bg === null || j >= jb || (i < ib && fg.start[i] < bg.start[j])) {
        emit(r, fg.start[i], fg.end[i], keptIndex[siteOfComp[fg.label[i]]]);
        i++;
      } else {
        const region = bg.label[j];
        const site = region >= 0 ? regionSite[region] : -1;
        emit(r, bg.start[j], bg.end[j], site >= 0 ? keptIndex[site] : -1);
        j++;
      }
    }
  }
  out.rowStart[gridHeight] = out.count;

  // Pieces: 4-connected parts of a site. Each becomes one polygon of the output, because pixels
  // that only share a corner cannot share an interior.
  const uf = new UnionFind(out.count);
  for (let r = 1; r < gridHeight; r++) {
    let i = out.rowStart[r - 1];
    const ib = out.rowStart[r];
    let j = out.rowStart[r];
    const jb = out.rowStart[r + 1];
    while (i < ib && j < jb) {
      if (out.end[i] <= out.start[j]) i++;
      else if (out.end[j] <= out.start[i]) j++;
      else {
        uf.union(i, j);
        if (out.end[i] < out.end[j]) i++;
        else j++;
      }
    }
  }
  for (let i = 0; i < out.count; i++) {
    const root = uf.find(i);
    out.piece[i] = root === i ? out.pieceCount++ : out.piece[root];
  }
  return out;
}
