/**
 * The alert rules of DESIGN.md: which category a change site falls in, given the permits, closed
 * sites and protected areas valid on the later image's date, with the reasoning kept as a trace.
 *
 * Pure: geometry in EPSG:4326, areas and distances computed in metres by geodata/area.
 * Reference polygons are found through an R-tree (flatbush) on their bboxes, so classification
 * stays fast with tens of thousands of permits.
 */
import Flatbush from 'flatbush';
import { areaOutsideHa, bufferedIntersects } from '../geodata/area.js';
import type {
  AreaGeometry, Category, ChangeSite, Classification, PermitProperties, ReferenceArea, RuleLayers,
  RuleSettings, TraceStep,
} from './types.js';
import { CATEGORIES } from './types.js';

type Bbox = [number, number, number, number];

interface IndexedLayer<P> {
  items: ReferenceArea<P>[];
  index: Flatbush | null;
}

export interface RuleIndex {
  permits: IndexedLayer<PermitProperties>;
  closedSites: IndexedLayer<Record<string, unknown>>;
  protectedAreas: IndexedLayer<Record<string, unknown>>;
  jurisdictions: IndexedLayer<{ code: string; name: string }>;
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

function indexLayer<P>(items: ReferenceArea<P>[]): IndexedLayer<P> {
  if (items.length === 0) return { items, index: null };
  const index = new Flatbush(items.length);
  for (const item of items) index.add(...bboxOf(item.geometry));
  index.finish();
  return { items, index };
}

export function createRuleIndex(layers: RuleLayers): RuleIndex {
  return {
    permits: indexLayer(layers.permits),
    closedSites: indexLayer(layers.closedSites),
    protectedAreas: indexLayer(layers.protectedAreas),
    jurisdictions: indexLayer(layers.jurisdictions),
  };
}

/** Candidates whose bbox meets the site's bbox grown by `marginM` metres. */
function candidates<P>(layer: IndexedLayer<P>, bbox: Bbox, marginM: number): ReferenceArea<P>[] {
  if (!layer.index) return [];
  const lat = (bbox[1] + bbox[3]) / 2;
  const dLat = marginM / 111_000;
  const dLon = marginM / (111_000 * Math.max(0.01, Math.cos((lat * Math.PI) / 180)));
  const hits = layer.index.search(bbox[0] - dLon, bbox[1] - dLat, bbox[2] + dLon, bbox[3] + dLat);
  // Flatbush returns hits in tree order; sort so the outcome never depends on insertion quirks.
  return hits.sort((a, b) => a - b).map((i) => layer.items[i]);
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

  // Every permit within the "near" distance, with how much of the site lies inside it.
  const near: PermitRelation[] = [];
  for (const permit of candidates(index.permits, bbox, settings.nearPermitM)) {
    if (!bufferedIntersects(site.geometry, permit.geometry, settings.nearPermitM)) continue;
    const outsideHa = areaOutsideHa(site.geometry, permit.geometry);
    near.push({ permit, valid: isPermitValid(permit.properties, date), insideHa: Math.max(0, siteHa - outsideHa), outsideHa });
  }
  const validMining = near.filter((r) => r.valid && r.permit.properties.type === 'mining');
  const validExploration = near.filter((r) => r.valid && r.permit.properties.type === 'exploration');
  const flags = new Set<Category>();
  const permitFor: Partial<Record<Category, { id: string; outsideHa: number | null; text: string }>> = {};

  // protected_area: touching a protected polygon.
  const protectedHits = candidates(index.protectedAreas, bbox, 0).filter((a) => bufferedIntersects(site.geometry, a.geometry, 0));
  if (protectedHits.length > 0) {
    flags.add('protected_area');
    trace.push({ rule: 'protected_area', result: true, detail: `touches protected area ${protectedHits.map((a) => a.id).join(', ')}` });
  } else {
    trace.push({ rule: 'protected_area', result: false, detail: 'touches no protected area' });
  }

  // closed_site_reactivated: touching a closed-site polygon.
  const closedHits = candidates(index.closedSites, bbox, 0).filter((a) => bufferedIntersects(site.geometry, a.geometry, 0));
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
      : Math.min(siteHa, areaOutsideHa(site.geometry, validMining.map((r) => r.permit.geometry)));
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
  let best: { code: string; name: string } | null = null;
  let bestHa = 0;
  let bestRank = Infinity;
  for (const j of candidates(index.jurisdictions, bboxOf(site.geometry), 0)) {
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
