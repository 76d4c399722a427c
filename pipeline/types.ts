/**
 * The domain's vocabulary: alert categories, statuses, rule settings, change sites and the
 * classification that the rules give them. Plain serializable data.
 */
import type { MultiPolygon, Polygon } from 'geojson';

/** Primary categories in precedence order (first wins), as in DESIGN.md "Alert rules". */
export const CATEGORIES = [
  'protected_area',
  'closed_site_reactivated',
  'expired_permit',
  'exploration_only',
  'out_of_bounds',
  'unlicensed',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const STATUSES = [
  'new', 'triaged', 'suspected_illegal', 'pseudo_change', 'licensed', 'needs_field_check',
  'field_verified_illegal', 'field_verified_legal', 'rectification', 'closed',
] as const;
export type AlertStatus = (typeof STATUSES)[number];

export type Confidence = 'provisional' | 'confirmed';

export type AreaGeometry = Polygon | MultiPolygon;

/** The configurable thresholds of the alert rules; every alert records the values used. */
export interface RuleSettings {
  /** Minimum mapping unit: smaller change is not a site. */
  mmuHa: number;
  /** "Near a permit": overlapping it or within this distance of its boundary. */
  nearPermitM: number;
  /** Change outside a permit below this area is positional noise, not out of bounds. */
  outsideToleranceHa: number;
  /** Extraction-scale disturbance inside an exploration permit. */
  explorationExtractionHa: number;
}

export const DEFAULT_RULES: RuleSettings = {
  mmuHa: 0.3,
  nearPermitM: 100,
  outsideToleranceHa: 0.1,
  explorationExtractionHa: 1,
};

/** Version of the rule logic; part of a scan's identity, so changing the rules rescans. */
export const RULES_VERSION = '1.0.0';

// Permit attributes are what the reference-layer import normalizes them to.
import type { PermitProperties } from '../geodata/reference-layers/types.js';
export type { PermitProperties, PermitType } from '../geodata/reference-layers/types.js';

/** A polygon of a reference layer as the rules see it. */
export interface ReferenceArea<P = Record<string, unknown>> {
  id: string;
  geometry: AreaGeometry;
  properties: P;
}

export interface RuleLayers {
  permits: ReferenceArea<PermitProperties>[];
  closedSites: ReferenceArea[];
  protectedAreas: ReferenceArea[];
  jurisdictions: ReferenceArea<{ code: string; name: string }>[];
}

/** One detected change site, in EPSG:4326, ready for the rules. */
export interface ChangeSite {
  /** Deterministic within a scan: ordered by position in the grid. */
  siteIndex: number;
  geometry: AreaGeometry;
  areaHa: number;
  /** Mean mining-change probability over the site's pixels, 0–1. */
  score: number;
  /** Dominant change kind named by the detector (e.g. `bare_soil_gain`). */
  changeKind: string;
  /** Share of the site's pixels per change kind. */
  kindShares: Record<string, number>;
  centroid: [number, number];
}

/** One step of the reasoning behind a classification, kept for the alert's trace. */
export interface TraceStep {
  rule: string;
  result: boolean;
  detail: string;
}

export type Classification =
  | {
      outcome: 'alert';
      category: Category;
      flags: Category[];
      /** The permit the primary category is about, when there is one. */
      permitId: string | null;
      areaOutsidePermitHa: number | null;
      trace: TraceStep[];
      summary: string;
    }
  | {
      /** Change inside a valid permit (mining, or small inside exploration): recorded, no alert. */
      outcome: 'licensed';
      permitId: string;
      trace: TraceStep[];
      summary: string;
    }
  | {
      /** Below the minimum mapping unit: not a site. */
      outcome: 'ignored';
      reason: string;
      trace: TraceStep[];
      summary: string;
    };
