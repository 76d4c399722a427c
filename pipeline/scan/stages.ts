/**
 * The scan's stages after detection, shared by the embedded runner (one process) and the server
 * jobs (many processes): which windows to read, window masks → sites, the reference layers a scan
 * is judged against, classification, and the scan's identity. Keeping them in one place is what
 * makes a server scan give exactly the alerts of an embedded scan of the same pair.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Geometry } from 'geojson';
import { createTransform, WGS84 } from '../../geodata/crs.js';
import { inverseTransform } from '../../geodata/pair.js';
import type { ReferenceLayer } from '../../geodata/reference-layers/types.js';
import type { Grid, PixelWindow } from '../../geodata/types.js';
import type { ChangeAccumulator } from '../../geodata/vectorize.js';
import { classifySite, createRuleIndex, jurisdictionOf, ruleSearchBoxes } from '../rules.js';
import type { LayerRef, ScanFinding } from '../store/alert-store.js';
import type { Queryable } from '../store/database.js';
import { loadLayersByRef, loadStoredLayers, storeLayer } from '../store/layer-store.js';
import { RULES_VERSION, type ChangeSite, type RuleSettings } from '../types.js';
import { planWindows } from './detect-window.js';
import { pixelAreaM2, sitesFromComponents } from './sites.js';

export const DEFAULT_WINDOW_SIZE = 512;

export const LAYER_KINDS = ['permits', 'closed_sites', 'protected_areas', 'jurisdictions'] as const;

/**
 * Windows of the scan, row-major. With a region (an area of interest in WGS 84), only the windows
 * of the lattice that its bounding box touches: the lattice stays that of the whole grid, so an
 * area scan reads the same windows as the full scan does there.
 */
export function scanWindows(grid: Grid, windowSize: number, region?: Geometry | null): PixelWindow[] {
  const all = planWindows(grid.width, grid.height, windowSize);
  if (!region) return all;
  const box = regionPixelBox(grid, region);
  if (!box) return [];
  return all.filter((w) => w.col < box.maxCol && w.col + w.width > box.minCol && w.row < box.maxRow && w.row + w.height > box.minRow);
}

/** The pixel bounding box of a WGS 84 geometry on a grid, clipped to it; null when outside. */
export function regionPixelBox(grid: Grid, region: Geometry): { minCol: number; minRow: number; maxCol: number; maxRow: number } | null {
  const toGrid = createTransform(grid.crs, WGS84);
  const toPixel = inverseTransform(grid.transform);
  let minCol = Infinity, minRow = Infinity, maxCol = -Infinity, maxRow = -Infinity;
  const visit = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === 'number') {
      const [x, y] = toGrid.inverse(c[0] as number, c[1] as number);
      const [col, row] = toPixel(x, y);
      minCol = Math.min(minCol, col); maxCol = Math.max(maxCol, col);
      minRow = Math.min(minRow, row); maxRow = Math.max(maxRow, row);
    } else if (Array.isArray(c)) {
      for (const item of c) visit(item);
    }
  };
  if (region.type === 'GeometryCollection') for (const g of region.geometries) visit('coordinates' in g ? g.coordinates : []);
  else visit(region.coordinates);
  const box = {
    minCol: Math.max(0, Math.floor(minCol)), minRow: Math.max(0, Math.floor(minRow)),
    maxCol: Math.min(grid.width, Math.ceil(maxCol)), maxRow: Math.min(grid.height, Math.ceil(maxRow)),
  };
  return box.minCol < box.maxCol && box.minRow < box.maxRow ? box : null;
}

/** Window masks → sites: 8-connected components over the whole grid, holes under the MMU filled. */
export function extractSites(accumulator: ChangeAccumulator, grid: Grid, kinds: Readonly<Record<number, string>>, rules: RuleSettings): ChangeSite[] {
  // Components a little under the MMU by pixel count may still reach it by area on lat/lon grids.
  const minPixels = Math.max(1, Math.floor(((rules.mmuHa * 10_000) / pixelAreaM2(grid)) * 0.8));
  // Holes below the MMU (a pond or bench inside a pit) belong to the site.
  return sitesFromComponents(accumulator.finish({ minPixels, fillHolesSmallerThan: minPixels }), grid, kinds, rules.mmuHa);
}

/**
 * Stores the layer files given with the scan (as new versions when their content changed) and
 * completes them with the latest stored versions of the kinds not given.
 */
export async function resolveScanLayers(tx: Queryable, files: { layer: ReferenceLayer; name: string }[]): Promise<LayerRef[]> {
  const refs: LayerRef[] = [];
  for (const f of files) {
    const { created: _created, ...ref } = await storeLayer(tx, f.layer, f.name);
    refs.push(ref);
  }
  const given = new Set(files.map((f) => f.layer.kind));
  refs.push(...(await loadStoredLayers(tx, LAYER_KINDS.filter((k) => !given.has(k)))).refs);
  return refs;
}

/**
 * Judges every site against the scan's layers. Only the reference polygons the rules can consult
 * for these sites are loaded (ruleSearchBoxes): a scan of one county does not parse a province's
 * 100,000 permits, and the classification is the same as against all of them.
 */
export async function classifySites(db: Queryable, sites: ChangeSite[], refs: LayerRef[], afterDate: string, rules: RuleSettings): Promise<ScanFinding[]> {
  const index = createRuleIndex(await loadLayersByRef(db, refs, { near: ruleSearchBoxes(sites, rules) }));
  return sites.map((site) => ({ site, classification: classifySite(site, index, afterDate, rules), county: jurisdictionOf(site, index) }));
}

/** What makes two scans the same scan: the same scenes, dates, detector, rules and layer versions. */
export function scanKeyFor(input: {
  beforeKey: string; afterKey: string; beforeDate: string; afterDate: string;
  detector: Record<string, unknown>; rules: RuleSettings; layers: LayerRef[]; region?: Geometry | null;
}): string {
  // Intra-op threads change how fast the network runs, not what it says (the full-tile pair gives
  // the same alerts with 1 and 2), so an embedded scan and a server scan of a pair share a key.
  const { threads: _threads, ...detector } = input.detector;
  return createHash('sha256').update(JSON.stringify({
    before: input.beforeKey, after: input.afterKey, beforeDate: input.beforeDate, afterDate: input.afterDate,
    detector, rules: input.rules, rulesVersion: RULES_VERSION, layers: input.layers.map((r) => r.sha256).sort(),
    ...(input.region ? { region: input.region } : {}),
  })).digest('hex');
}

export function newScanId(now = new Date()): string {
  return `SCAN-${now.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
}

/** SHA-256 of a local scene file; null for remote scenes (http, STAC), which are known by URI. */
export async function sha256OfScene(uri: string): Promise<string | null> {
  if (/^(https?|stac):/i.test(uri)) return null;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(uri)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
