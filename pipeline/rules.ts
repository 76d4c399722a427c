/**
 * The alert rules of DESIGN.md: which category a change site falls in, given the permits, closed
 * sites and protected areas valid on the later image's date, with the reasoning kept as a trace.
 *
 * Pure: geometry in EPSG:4326, areas and distances computed in metres by geodata/area.
 * Reference polygons are found through an R-tree (flatbush) on their bboxes, and most site ×
 * polygon pairs are decided by exact shortcuts (see "Deciding pairs without overlays" below), so
 * classification stays fast with 100,000 permits: the overlays and distances of geodata/area run
 * only for pairs whose boundaries come close.
 */
import Flatbush from 'flatbush';
import type { Position } from 'geojson';
import { areaHa, areaOutsideHa, bufferedIntersects } from '../geodata/area.js';
import type {
  AreaGeometry, Category, ChangeSite, Classification, PermitProperties, ReferenceArea, RuleLayers,
  RuleSettings, TraceStep,
} from './types.js';
import { CATEGORIES } from './types.js';

/** [minLon, minLat, maxLon, maxLat] in degrees. */
export type Bbox = [number, number, number, number];

interface IndexedLayer<P> {
  items: ReferenceArea<P>[];
  /** null when the layer is empty, or in the exhaustive reference (every item is a candidate). */
  index: Flatbush | null;
  exhaustive: boolean;
  /** Outlines prepared for the shortcuts, made the first time an item is a candidate. */
  shapes: (Shape | undefined)[];
}

export interface RuleIndex {
  permits: IndexedLayer<PermitProperties>;
  closedSites: IndexedLayer<Record<string, unknown>>;
  protectedAreas: IndexedLayer<Record<string, unknown>>;
  jurisdictions: IndexedLayer<{ code: string; name: string }>;
  /** Every site against every polygon with geodata/area alone: no R-tree, no shortcuts. */
  exhaustive: boolean;
}

/** Bounding box [minLon, minLat, maxLon, maxLat] of a polygon or multipolygon. */
export function bboxOf(geometry: AreaGeometry): Bbox {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  const polys = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  for (const poly of polys) {
    for (const [x, y] of poly[0]) {
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  return [minX, minY, maxX, maxY];
}

function indexLayer<P>(items: ReferenceArea<P>[], exhaustive: boolean): IndexedLayer<P> {
  const shapes = new Array<Shape | undefined>(items.length);
  if (items.length === 0 || exhaustive) return { items, index: null, exhaustive, shapes };
  const index = new Flatbush(items.length);
  for (const item of items) index.add(...bboxOf(item.geometry));
  index.finish();
  return { items, index, exhaustive, shapes };
}

function buildIndex(layers: RuleLayers, exhaustive: boolean): RuleIndex {
  return {
    permits: indexLayer(layers.permits, exhaustive),
    closedSites: indexLayer(layers.closedSites, exhaustive),
    protectedAreas: indexLayer(layers.protectedAreas, exhaustive),
    jurisdictions: indexLayer(layers.jurisdictions, exhaustive),
    exhaustive,
  };
}

export function createRuleIndex(layers: RuleLayers): RuleIndex {
  return buildIndex(layers, false);
}

/**
 * The reference classification: the site against every polygon of every layer with geodata/area's
 * overlays and distances alone, O(polygons) per site. Tests and benchmarks check that
 * classifySite, with the R-tree and the shortcuts, gives exactly this.
 */
export function classifySiteExhaustively(site: ChangeSite, layers: RuleLayers, date: string, settings: RuleSettings): Classification {
  return classifySite(site, buildIndex(layers, true), date, settings);
}

/** jurisdictionOf by the reference path (see classifySiteExhaustively). */
export function jurisdictionOfExhaustively(site: ChangeSite, layers: RuleLayers): { code: string; name: string } | null {
  return jurisdictionOf(site, buildIndex(layers, true));
}

/** `bbox` grown by at least `marginM` metres on every side. */
function growBbox(bbox: Bbox, marginM: number): Bbox {
  const lat = (bbox[1] + bbox[3]) / 2;
  const dLat = marginM / 111_000;
  const dLon = marginM / (111_000 * Math.max(0.01, Math.cos((lat * Math.PI) / 180)));
  return [bbox[0] - dLon, bbox[1] - dLat, bbox[2] + dLon, bbox[3] + dLat];
}

/** Positions in `layer.items` of the candidates whose bbox meets the site's bbox grown by `marginM` metres, ascending. */
function candidates<P>(layer: IndexedLayer<P>, bbox: Bbox, marginM: number): number[] {
  if (layer.exhaustive) return layer.items.map((_, i) => i);
  if (!layer.index) return [];
  // Flatbush returns hits in tree order; sort so the outcome never depends on insertion quirks.
  return layer.index.search(...growBbox(bbox, marginM)).sort((a, b) => a - b);
}

/**
 * Where the rules look for reference polygons for these sites, per layer: the boxes that a
 * polygon's bbox must meet to be consulted at all. A store loads only the polygons these boxes
 * meet (loadLayersByRef's `near`) and the classification is the same as with every polygon.
 */
export function ruleSearchBoxes(sites: readonly ChangeSite[], settings: RuleSettings): Record<keyof RuleLayers, Bbox[]> {
  // classifySite looks at no layer for a site under the minimum mapping unit; jurisdictionOf does.
  const judged = sites.filter((s) => !(s.areaHa < settings.mmuHa)).map((s) => bboxOf(s.geometry));
  return {
    permits: judged.map((b) => growBbox(b, settings.nearPermitM)),
    closedSites: judged,
    protectedAreas: judged,
    jurisdictions: sites.map((s) => bboxOf(s.geometry)),
  };
}

/** A permit is valid on a date when active and valid_from ≤ date ≤ valid_to (ISO dates compare as strings). */
export function isPermitValid(permit: PermitProperties, date: string): boolean {
  return permit.status === 'active' && permit.valid_from <= date && date <= permit.valid_to;
}

function fmtHa(value: number): string {
  return value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function validityText(p: PermitProperties, date: string): string {
  if (p.status !== 'active') return `status ${p.status}`;
  if (date > p.valid_to) return `expired ${p.valid_to}`;
  if (date < p.valid_from) return `not valid before ${p.valid_from}`;
  return `valid to ${p.valid_to}`;
}

interface PermitRelation {
  permit: ReferenceArea<PermitProperties>;
  shape: Shape | null;
  /** The site lies inside the permit, clear of its boundary (so nothing of it is outside). */
  within: boolean;
  valid: boolean;
  insideHa: number;
  outsideHa: number;
}

/**
 * Classify one change site. `date` is the acquisition date of the later image (YYYY-MM-DD).
 * Implements DESIGN.md's definitions and precedence exactly; see the trace for each step.
 */
export function classifySite(site: ChangeSite, index: RuleIndex, date: string, settings: RuleSettings): Classification {
  const trace: TraceStep[] = [];
  const siteHa = site.areaHa;
  const bbox = bboxOf(site.geometry);

  if (siteHa < settings.mmuHa) {
    const detail = `change of ${fmtHa(siteHa)} ha is below the minimum mapping unit of ${settings.mmuHa} ha`;
    trace.push({ rule: 'minimum_mapping_unit', result: false, detail });
    return { outcome: 'ignored', reason: 'below_mmu', trace, summary: detail };
  }
  const probe = index.exhaustive ? null : probeSite(site.geometry);

  // Every permit within the "near" distance, with how much of the site lies inside it.
  const near: PermitRelation[] = [];
  for (const i of candidates(index.permits, bbox, settings.nearPermitM)) {
    const permit = index.permits.items[i];
    const shape = probe ? shapeOf(index.permits, i) : null;
    const relation = probe && shape ? relate(probe, shape, settings.nearPermitM) : null;
    if (!comesWithin(relation, probe, shape, site.geometry, permit.geometry, settings.nearPermitM)) continue;
    const within = relation?.kind === 'inside';
    const outsideHa = within ? 0 : areaOutsideHa(site.geometry, permit.geometry);
    near.push({ permit, shape, within, valid: isPermitValid(permit.properties, date), insideHa: Math.max(0, siteHa - outsideHa), outsideHa });
  }
  const validMining = near.filter((r) => r.valid && r.permit.properties.type === 'mining');
  const validExploration = near.filter((r) => r.valid && r.permit.properties.type === 'exploration');
  const flags = new Set<Category>();
  const permitFor: Partial<Record<Category, { id: string; outsideHa: number | null; text: string }>> = {};
  const touching = <P>(layer: IndexedLayer<P>): ReferenceArea<P>[] => candidates(layer, bbox, 0)
    .filter((i) => {
      const shape = probe ? shapeOf(layer, i) : null;
      return comesWithin(probe && shape ? relate(probe, shape, 0) : null, probe, shape, site.geometry, layer.items[i].geometry, 0);
    })
    .map((i) => layer.items[i]);

  // protected_area: touching a protected polygon.
  const protectedHits = touching(index.protectedAreas);
  if (protectedHits.length > 0) {
    flags.add('protected_area');
    trace.push({ rule: 'protected_area', result: true, detail: `touches protected area ${protectedHits.map((a) => a.id).join(', ')}` });
  } else {
    trace.push({ rule: 'protected_area', result: false, detail: 'touches no protected area' });
  }

  // closed_site_reactivated: touching a closed-site polygon.
  const closedHits = touching(index.closedSites);
  if (closedHits.length > 0) {
    flags.add('closed_site_reactivated');
    trace.push({ rule: 'closed_site_reactivated', result: true, detail: `touches closed site ${closedHits.map((a) => a.id).join(', ')}` });
  } else {
    trace.push({ rule: 'closed_site_reactivated', result: false, detail: 'touches no closed site' });
  }

  // expired_permit: inside a mining permit not valid on the date. "Inside" means more than the
  // positional tolerance of the site lies in it (or most of a small site), so a site that only
  // grazes an old permit's edge does not count.
  const invalidMining = near.filter((r) => !r.valid && r.permit.properties.type === 'mining'
    && (r.insideHa >= settings.outsideToleranceHa || r.insideHa >= 0.5 * siteHa));
  if (invalidMining.length > 0) {
    const top = invalidMining.reduce((a, b) => (b.insideHa > a.insideHa ? b : a));
    flags.add('expired_permit');
    const text = `${fmtHa(top.insideHa)} ha inside mining permit ${top.permit.id}, not valid on ${date} (${validityText(top.permit.properties, date)})`;
    permitFor.expired_permit = { id: top.permit.id, outsideHa: null, text };
    trace.push({ rule: 'expired_permit', result: true, detail: text });
  } else {
    trace.push({ rule: 'expired_permit', result: false, detail: 'inside no mining permit that is invalid on the image date' });
  }

  // exploration_only: ≥ 1 ha inside a valid exploration permit.
  const exploration = validExploration.filter((r) => r.insideHa > 0);
  const bigExploration = exploration.filter((r) => r.insideHa >= settings.explorationExtractionHa);
  if (bigExploration.length > 0) {
    const top = bigExploration.reduce((a, b) => (b.insideHa > a.insideHa ? b : a));
    flags.add('exploration_only');
    const text = `${fmtHa(top.insideHa)} ha inside exploration permit ${top.permit.id} (≥ ${settings.explorationExtractionHa} ha is extraction scale)`;
    permitFor.exploration_only = { id: top.permit.id, outsideHa: null, text };
    trace.push({ rule: 'exploration_only', result: true, detail: text });
  } else {
    trace.push({
      rule: 'exploration_only', result: false,
      detail: exploration.length > 0
        ? `${fmtHa(exploration[0].insideHa)} ha inside exploration permit ${exploration[0].permit.id}, below ${settings.explorationExtractionHa} ha`
        : 'inside no valid exploration permit',
    });
  }

  // out_of_bounds: near a valid mining permit and extending outside it by ≥ the tolerance.
  // Outside is measured against all valid mining permits nearby together, so a site spanning two
  // adjacent permits of the same holder is not out of bounds at their shared line.
  let outsideAllHa = siteHa;
  if (validMining.length > 0) {
    outsideAllHa = validMining.length === 1
      ? validMining[0].outsideHa
      : Math.min(siteHa, outsideOfAll(site.geometry, probe, validMining));
    const top = validMining.reduce((a, b) => (b.insideHa > a.insideHa ? b : a));
    if (outsideAllHa >= settings.outsideToleranceHa) {
      flags.add('out_of_bounds');
      const text = `change of ${fmtHa(siteHa)} ha, ${fmtHa(outsideAllHa)} ha outside permit ${top.permit.id}, permit ${validityText(top.permit.properties, date)}`;
      permitFor.out_of_bounds = { id: top.permit.id, outsideHa: outsideAllHa, text };
      trace.push({ rule: 'out_of_bounds', result: true, detail: text });
    } else {
      trace.push({ rule: 'out_of_bounds', result: false, detail: `${fmtHa(outsideAllHa)} ha outside permit ${top.permit.id}, below the ${settings.outsideToleranceHa} ha tolerance` });
    }
  } else {
    trace.push({ rule: 'out_of_bounds', result: false, detail: `no valid mining permit within ${settings.nearPermitM} m` });
  }

  // unlicensed: ≥ MMU and near no valid permit.
  const validNear = near.filter((r) => r.valid);
  if (validNear.length === 0) {
    flags.add('unlicensed');
    trace.push({ rule: 'unlicensed', result: true, detail: `change of ${fmtHa(siteHa)} ha with no valid permit within ${settings.nearPermitM} m` });
  } else {
    trace.push({ rule: 'unlicensed', result: false, detail: `valid permit ${validNear.map((r) => r.permit.id).join(', ')} within ${settings.nearPermitM} m` });
  }

  const ordered = CATEGORIES.filter((c) => flags.has(c));
  if (ordered.length > 0) {
    const category = ordered[0];
    const permit = permitFor[category] ?? null;
    const summary = permit?.text ?? trace.find((t) => t.rule === category)!.detail;
    return {
      outcome: 'alert', category, flags: ordered, permitId: permit?.id ?? null,
      areaOutsidePermitHa: category === 'out_of_bounds' ? outsideAllHa : null, trace, summary,
    };
  }

  // No rule fired: the change lies inside a valid permit (licensed activity, recorded per permit).
  const holder = [...validMining, ...exploration].reduce<PermitRelation | null>((a, b) => (!a || b.insideHa > a.insideHa ? b : a), null)
    ?? validNear[0];
  const summary = `change of ${fmtHa(siteHa)} ha inside ${holder.permit.properties.type} permit ${holder.permit.id}, permit ${validityText(holder.permit.properties, date)}`;
  trace.push({ rule: 'licensed_activity', result: true, detail: summary });
  return { outcome: 'licensed', permitId: holder.permit.id, trace, summary };
}

/**
 * Area of the site outside the union of several permits, in hectares: areaOutsideHa against all
 * of them, unless the answer is already known. geodata/area overlays only the polygons whose
 * bboxes meet the site's, so with one such permit the union is that permit; a site inside one of
 * them, clear of its boundary, has nothing outside.
 */
function outsideOfAll(site: AreaGeometry, probe: SiteProbe | null, relations: PermitRelation[]): number {
  if (probe && relations.every((r) => r.shape !== null)) {
    if (relations.some((r) => r.within)) return 0;
    const overlapping = relations.filter((r) => r.shape!.parts.some((part) => boxesMeet(part.bbox, probe.bbox)));
    if (overlapping.length <= 1) return (overlapping[0] ?? relations[0]).outsideHa;
  }
  return areaOutsideHa(site, relations.map((r) => r.permit.geometry));
}

/**
 * Level of a 6-digit administrative division code (2 digits province, 2 city, 2 county):
 * `360000` province, `360700` city, `360728` county.
 */
export function divisionLevel(code: string): 'province' | 'city' | 'county' {
  if (code.endsWith('0000')) return 'province';
  if (code.endsWith('00')) return 'city';
  return 'county';
}

const LEVEL_RANK = { county: 0, city: 1, province: 2 } as const;

/**
 * The jurisdiction holding most of the site's area, or null. A layer may hold provinces and cities
 * beside their counties (the codes nest): the most specific level that holds any of the site wins,
 * so an alert goes to its county, not to the province polygon around it.
 */
export function jurisdictionOf(site: ChangeSite, index: RuleIndex): { code: string; name: string } | null {
  const layer = index.jurisdictions;
  const found = candidates(layer, bboxOf(site.geometry), 0);
  const rankOf = (i: number): number => LEVEL_RANK[divisionLevel(String(layer.items[i].properties.code))];
  // A share must be positive to count, so the shortcuts (which give a held site all its area) need one.
  const probe = index.exhaustive || !(site.areaHa > 0) ? null : probeSite(site.geometry);
  if (!probe) return largestShare(site, layer, found);
  // Level by level, most specific first: the first level where any of the site lies decides.
  for (const rank of [0, 1, 2]) {
    const level = found.filter((i) => rankOf(i) === rank);
    if (level.length === 0) continue;
    const best = largestShareByShortcuts(site, probe, layer, level);
    const answer = best === undefined ? largestShare(site, layer, level) : best;
    if (answer) return answer;
  }
  return null;
}

/** The candidate with the largest positive share of the site (the first of equals), by overlays. */
function largestShare(site: ChangeSite, layer: IndexedLayer<{ code: string; name: string }>, found: number[]): { code: string; name: string } | null {
  let best: { code: string; name: string } | null = null;
  let bestHa = 0;
  let bestRank = Infinity;
  for (const i of found) {
    const j = layer.items[i];
    const insideHa = site.areaHa - areaOutsideHa(site.geometry, j.geometry);
    if (!(insideHa > 0)) continue;
    const rank = LEVEL_RANK[divisionLevel(String(j.properties.code))];
    if (rank < bestRank || (rank === bestRank && insideHa > bestHa)) {
      bestRank = rank;
      bestHa = insideHa;
      best = j.properties;
    }
  }
  return best;
}

/**
 * largestShare over one level's candidates, skipping the overlays the shortcuts make needless;
 * undefined when they cannot tell (then largestShare decides).
 *
 * A polygon holding the site clear of its boundary holds all of it (areaOutsideHa is exactly 0),
 * the most any can, and the first such wins; overlays are needed only for candidates before it
 * whose boundary comes close. A polygon clear of the site holds none of it, but areaOutsideHa
 * gives it a share of rounding noise (±1e-16 ha), which can matter only when no candidate holds a
 * real share: then every candidate is overlaid, as before.
 */
function largestShareByShortcuts(
  site: ChangeSite, probe: SiteProbe, layer: IndexedLayer<{ code: string; name: string }>, level: number[],
): { code: string; name: string } | null | undefined {
  let best: { code: string; name: string } | null = null;
  let bestHa = 0;
  let skipped = false;
  for (const i of level) {
    const relation = relate(probe, shapeOf(layer, i), 0);
    if (relation.kind === 'inside') {
      // Nothing after this can hold more; something before it held as much only if it held it all.
      return best !== null && bestHa >= site.areaHa ? best : layer.items[i].properties;
    }
    if (relation.kind === 'disjoint') {
      skipped = true;
      continue;
    }
    const insideHa = site.areaHa - areaOutsideHa(site.geometry, layer.items[i].geometry);
    if (insideHa > 0 && insideHa > bestHa) {
      bestHa = insideHa;
      best = layer.items[i].properties;
    }
  }
  if (!skipped) return best;
  // The skipped polygons' noise (|share| ≤ 1e-10 of the site) loses to any real share, when the
  // site's recorded area is the area geodata/area gives it (as sites are made).
  if (best !== null && bestHa > 1e-6 * site.areaHa && site.areaHa === areaHa(site.geometry)) return best;
  return undefined;
}

// ---- Deciding pairs without overlays ------------------------------------------------------
//
// geodata/area measures in local planes: areaOutsideHa overlays with polygon-clipping in an
// equal-area plane centred on the site, bufferedIntersects measures gaps in an azimuthal one. Most
// site × polygon pairs do not need that. A site inside a permit and clear of its boundary has
// nothing outside it (the overlay returns nothing: exactly 0 ha); a site clear of a polygon does
// not touch it; a gap well under or over the 100 m decides "near" by itself. "Clear" and "well"
// are margins that cover how far a straight lon/lat edge bends in those planes (its sagitta, at
// most L²·tan φ / 8R for an edge of length L, measured; taken here as L²·(1 + tan φ) / 4R) and how
// far a local metric frame strays from them (≤ 0.1 % of a distance near the site, taken as more).
// Pairs within the margins go to geodata/area as before, so every answer is the one it would give.

/** Metres; the margin beyond the bends and the metric error below which a pair is left to geodata/area. */
const CLEARANCE_M = 0.001;
const EARTH_RADIUS_M = 6_371_000;
const WGS84_A = 6_378_137;
const WGS84_E2 = 0.006_694_379_990_14;

/** A reference polygon's outline: per part, its rings as flat closed [lon, lat, lon, lat, …]. */
interface Shape {
  parts: { rings: Float64Array[]; bbox: Bbox }[];
}

/** A site prepared for the checks: its rings in metres in a local frame, and the frame. */
interface SiteProbe {
  /** bbox over all rings, in degrees (as geodata/area computes it). */
  bbox: Bbox;
  /** The site's rings in lon/lat (closed) per part, for point-in-polygon. */
  parts: Float64Array[][];
  /** The site's edges in metres, x east and y north of the origin: [ax, ay, bx, by] each. */
  edgesM: Float64Array;
  /** Their boxes: [minX, minY, maxX, maxY] each. */
  edgeBoxesM: Float64Array;
  boxM: Bbox;
  lon0: number;
  lat0: number;
  /** Metres per degree of longitude and latitude at the origin. */
  kx: number;
  ky: number;
  /** Bend of an edge of length L: L² · bendK metres. */
  bendK: number;
  /** The bend of the site's longest edge, metres. */
  siteBendM: number;
  tanPhi: number;
  extentM: number;
}

function closedRing(ring: Position[]): Float64Array {
  const n = ring.length;
  const closed = n > 0 && (ring[0][0] !== ring[n - 1][0] || ring[0][1] !== ring[n - 1][1]);
  const out = new Float64Array(2 * (n + (closed ? 1 : 0)));
  for (let k = 0; k < n; k++) {
    out[2 * k] = ring[k][0];
    out[2 * k + 1] = ring[k][1];
  }
  if (closed) {
    out[2 * n] = ring[0][0];
    out[2 * n + 1] = ring[0][1];
  }
  return out;
}

function ringsBbox(rings: Float64Array[]): Bbox {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const ring of rings) {
    for (let k = 0; k < ring.length; k += 2) {
      const x = ring[k], y = ring[k + 1];
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
  }
  return [minX, minY, maxX, maxY];
}

function partsOf(geometry: AreaGeometry): Position[][][] {
  return geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
}

function makeShape(geometry: AreaGeometry): Shape {
  return {
    parts: partsOf(geometry).map((rings) => {
      const flat = rings.filter((r) => r.length > 0).map(closedRing);
      return { rings: flat, bbox: ringsBbox(flat) };
    }),
  };
}

function shapeOf<P>(layer: IndexedLayer<P>, i: number): Shape {
  let shape = layer.shapes[i];
  if (shape === undefined) {
    shape = makeShape(layer.items[i].geometry);
    layer.shapes[i] = shape;
  }
  return shape;
}

/** Like geodata/area's box test: touching counts. */
function boxesMeet(a: Bbox, b: Bbox): boolean {
  return a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];
}

const probes = new WeakMap<AreaGeometry, SiteProbe | null>();

/**
 * The site in a local frame, or null when the shortcuts should not be used for it (empty,
 * degenerate, not finite or near a pole: geodata/area decides everything then). Kept per geometry
 * object, as classifySite and jurisdictionOf both need it.
 */
function probeSite(geometry: AreaGeometry): SiteProbe | null {
  let probe = probes.get(geometry);
  if (probe === undefined) {
    probe = makeProbe(geometry);
    probes.set(geometry, probe);
  }
  return probe;
}

function makeProbe(geometry: AreaGeometry): SiteProbe | null {
  const parts = partsOf(geometry).map((rings) => rings.filter((r) => r.length > 0).map(closedRing)).filter((rings) => rings.length > 0);
  if (parts.length === 0) return null;
  const bbox = ringsBbox(parts.flat());
  if (!bbox.every(Number.isFinite) || Math.abs(bbox[1]) > 85 || Math.abs(bbox[3]) > 85) return null;
  const lon0 = (bbox[0] + bbox[2]) / 2;
  const lat0 = (bbox[1] + bbox[3]) / 2;
  const phi = (lat0 * Math.PI) / 180;
  const w = 1 - WGS84_E2 * Math.sin(phi) ** 2;
  const kx = ((WGS84_A / Math.sqrt(w)) * Math.cos(phi) * Math.PI) / 180;
  const ky = ((WGS84_A * (1 - WGS84_E2)) / w ** 1.5 * Math.PI) / 180;
  const rings = parts.flat();
  const edgeCount = rings.reduce((n, ring) => n + ring.length / 2 - 1, 0);
  const edgesM = new Float64Array(4 * edgeCount);
  const edgeBoxesM = new Float64Array(4 * edgeCount);
  let e = 0;
  let longest2 = 0;
  let areaM2 = 0;
  for (const ring of rings) {
    for (let k = 2; k < ring.length; k += 2) {
      const ax = (ring[k - 2] - lon0) * kx, ay = (ring[k - 1] - lat0) * ky;
      const bx = (ring[k] - lon0) * kx, by = (ring[k + 1] - lat0) * ky;
      edgesM[e] = ax;
      edgesM[e + 1] = ay;
      edgesM[e + 2] = bx;
      edgesM[e + 3] = by;
      edgeBoxesM[e] = Math.min(ax, bx);
      edgeBoxesM[e + 1] = Math.min(ay, by);
      edgeBoxesM[e + 2] = Math.max(ax, bx);
      edgeBoxesM[e + 3] = Math.max(ay, by);
      e += 4;
      longest2 = Math.max(longest2, (bx - ax) ** 2 + (by - ay) ** 2);
      areaM2 += ax * by - bx * ay;
    }
  }
  // A sliver has (near) no area: the argument about noise in jurisdictionOf needs some.
  if (!(Math.abs(areaM2) / 2 >= 1)) return null;
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let k = 0; k < edgeBoxesM.length; k += 4) {
    minX = Math.min(minX, edgeBoxesM[k]);
    minY = Math.min(minY, edgeBoxesM[k + 1]);
    maxX = Math.max(maxX, edgeBoxesM[k + 2]);
    maxY = Math.max(maxY, edgeBoxesM[k + 3]);
  }
  const tanPhi = Math.tan((Math.min(85, Math.max(Math.abs(bbox[1]), Math.abs(bbox[3]))) * Math.PI) / 180);
  const bendK = (1 + tanPhi) / (4 * EARTH_RADIUS_M);
  return {
    bbox, parts, edgesM, edgeBoxesM, boxM: [minX, minY, maxX, maxY], lon0, lat0, kx, ky, bendK,
    siteBendM: longest2 * bendK, tanPhi, extentM: Math.hypot(maxX - minX, maxY - minY),
  };
}

interface Relation {
  /**
   * inside: the site lies in the polygon and every boundary is clear of the other's;
   * disjoint: no part of either lies in the other, boundaries clear; unknown: anything else.
   */
  kind: 'inside' | 'disjoint' | 'unknown';
  /** Bounds on the gap geodata/area would measure between the boundaries, metres (only below `reachM`). */
  gapLoM: number;
  gapHiM: number;
}

/** Even-odd test of a point against rings given as flat closed [x, y, …] arrays. */
function inRings(x: number, y: number, rings: Float64Array[]): boolean {
  let inside = false;
  for (const ring of rings) {
    for (let k = 2; k < ring.length; k += 2) {
      const xi = ring[k], yi = ring[k + 1], xj = ring[k - 2], yj = ring[k - 1];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

/** Squared distance from p to segment ab. */
function pointSegment2(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / len2));
  const ex = px - (ax + t * dx), ey = py - (ay + t * dy);
  return ex * ex + ey * ey;
}

/** Squared distance between segments ab and cd; 0 when they cross. */
function segments2(ax: number, ay: number, bx: number, by: number, cx: number, cy: number, dx: number, dy: number): number {
  const d1 = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
  const d2 = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax);
  const d3 = (dx - cx) * (ay - cy) - (dy - cy) * (ax - cx);
  const d4 = (dx - cx) * (by - cy) - (dy - cy) * (bx - cx);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return 0;
  return Math.min(
    pointSegment2(ax, ay, cx, cy, dx, dy), pointSegment2(bx, by, cx, cy, dx, dy),
    pointSegment2(cx, cy, ax, ay, bx, by), pointSegment2(dx, dy, ax, ay, bx, by),
  );
}

/**
 * How the site and a polygon lie, decided only where the margins allow (see above). Gaps are
 * measured up to `reachM`; beyond it they only count as beyond it.
 */
function relate(probe: SiteProbe, shape: Shape, reachM: number): Relation {
  const { lon0, lat0, kx, ky, boxM, edgesM, edgeBoxesM, bendK, siteBendM } = probe;
  // The frame keeps the scale of its origin's latitude: off by about tan φ · Δφ at Δφ from it.
  const relErr = 1e-3 + (2 * probe.tanPhi * (probe.extentM + reachM + 1000)) / EARTH_RADIUS_M;
  let clear = true;
  let gapLoM = Infinity;
  let gapHiM = Infinity;
  for (const part of shape.parts) {
    for (const ring of part.rings) {
      let ax = (ring[0] - lon0) * kx;
      let ay = (ring[1] - lat0) * ky;
      for (let k = 2; k < ring.length; k += 2) {
        const bx = (ring[k] - lon0) * kx;
        const by = (ring[k + 1] - lat0) * ky;
        const x0 = Math.min(ax, bx), y0 = Math.min(ay, by), x1 = Math.max(ax, bx), y1 = Math.max(ay, by);
        const slackM = ((bx - ax) ** 2 + (by - ay) ** 2) * bendK + siteBendM + CLEARANCE_M;
        // Past this distance an edge is clear of the site and beyond reach: no need to know more.
        const capM = (reachM + slackM) / (1 - relErr);
        let best2 = capM * capM;
        const gx = Math.max(0, x0 - boxM[2], boxM[0] - x1);
        const gy = Math.max(0, y0 - boxM[3], boxM[1] - y1);
        if (gx * gx + gy * gy < best2) {
          for (let m = 0; m < edgesM.length && best2 > 0; m += 4) {
            const hx = Math.max(0, x0 - edgeBoxesM[m + 2], edgeBoxesM[m] - x1);
            const hy = Math.max(0, y0 - edgeBoxesM[m + 3], edgeBoxesM[m + 1] - y1);
            if (hx * hx + hy * hy >= best2) continue;
            best2 = Math.min(best2, segments2(ax, ay, bx, by, edgesM[m], edgesM[m + 1], edgesM[m + 2], edgesM[m + 3]));
          }
          if (best2 < capM * capM) {
            const d = Math.sqrt(best2);
            const lo = d * (1 - relErr) - slackM;
            if (!(lo > 0)) clear = false;
            gapLoM = Math.min(gapLoM, lo);
            gapHiM = Math.min(gapHiM, d * (1 + relErr) + slackM);
          }
        }
        ax = bx;
        ay = by;
      }
    }
  }
  if (!clear) return { kind: 'unknown', gapLoM, gapHiM };
  // Boundaries clear of each other: each ring lies wholly inside or outside the other polygon, so
  // one vertex of each tells.
  let partsIn = 0;
  for (const rings of probe.parts) {
    if (shape.parts.some((part) => inRings(rings[0][0], rings[0][1], part.rings))) partsIn += 1;
  }
  const shapeInSite = shape.parts.some((part) => part.rings.some((ring) => probe.parts.some((rings) => inRings(ring[0], ring[1], rings))));
  if (shapeInSite || (partsIn > 0 && partsIn < probe.parts.length)) return { kind: 'unknown', gapLoM, gapHiM };
  return { kind: partsIn > 0 ? 'inside' : 'disjoint', gapLoM, gapHiM };
}

/**
 * bufferedIntersects(site, polygon, bufferM), from the relation when it tells: inside touches;
 * a clear site is near when the gap is surely under bufferM and not when surely over it; a site
 * with a vertex inside the polygon touches it (the even-odd test here is geodata/area's, operation
 * for operation, so it finds that vertex inside too).
 */
function comesWithin(relation: Relation | null, probe: SiteProbe | null, shape: Shape | null, site: AreaGeometry, polygon: AreaGeometry, bufferM: number): boolean {
  if (relation?.kind === 'inside') return true;
  if (relation?.kind === 'disjoint') {
    if (relation.gapLoM > bufferM) return false;
    if (relation.gapHiM < bufferM) return true;
  }
  if (relation?.kind === 'unknown' && probe && shape && hasVertexIn(probe, shape)) return true;
  return bufferedIntersects(site, polygon, bufferM);
}

/** Whether a vertex of the site lies inside the polygon (even-odd, in lon/lat). */
function hasVertexIn(probe: SiteProbe, shape: Shape): boolean {
  for (const rings of probe.parts) {
    for (const ring of rings) {
      for (let k = 0; k < ring.length; k += 2) {
        if (shape.parts.some((part) => inRings(ring[k], ring[k + 1], part.rings))) return true;
      }
    }
  }
  return false;
}
