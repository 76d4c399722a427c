/**
 * DESIGN.md's alert rules, applied to the generator's own geometry to state what each generated
 * change should become. Written independently of pipeline/ rules on purpose: the evaluation must
 * not share code (or bugs) with what it evaluates. Geometry is in a metric frame (metres).
 *
 * - valid permit: status `active` and valid_from ≤ date ≤ valid_to (date = later image);
 * - near: overlapping or within `nearM` of the boundary;
 * - inside: the part outside the permit is below the positional tolerance;
 * - licensed activity: inside a valid mining permit, and nothing else applies;
 * - out_of_bounds: near a valid mining permit and ≥ toleranceHa outside it;
 * - exploration_only: inside a valid exploration permit and ≥ explorationHa;
 * - expired_permit: inside a mining permit not valid on the date;
 * - closed_site_reactivated / protected_area: touching such a polygon;
 * - unlicensed: ≥ MMU and near no valid permit.
 * Primary category: the first that applies in precedence order; all that apply are flags.
 */
import { areaOutside, multiPolygonDistance, type MultiPolygon } from './scenario-geometry.js';

export const CATEGORY_PRECEDENCE = ['protected_area', 'closed_site_reactivated', 'expired_permit', 'exploration_only', 'out_of_bounds', 'unlicensed'] as const;
export type Category = (typeof CATEGORY_PRECEDENCE)[number];

/** Rule thresholds (DESIGN.md defaults). */
export interface RuleThresholds {
  mmuHa: number;
  nearM: number;
  toleranceHa: number;
  explorationHa: number;
}

export const DEFAULT_THRESHOLDS: RuleThresholds = { mmuHa: 0.3, nearM: 100, toleranceHa: 0.1, explorationHa: 1 };

export interface PermitProps {
  permit_id: string;
  holder: string;
  type: 'mining' | 'exploration';
  mineral: string;
  valid_from: string;
  valid_to: string;
  status: 'active' | 'expired' | 'suspended';
  name: string;
}

/** A reference polygon in metres. */
export interface MetricPermit {
  geometry: MultiPolygon;
  props: PermitProps;
}

export interface RuleInput {
  /** The change, in metres. */
  geometry: MultiPolygon;
  areaHa: number;
  permits: MetricPermit[];
  closedSites: MultiPolygon[];
  protectedAreas: MultiPolygon[];
  /** YYYY-MM-DD of the later image. */
  date: string;
  thresholds?: RuleThresholds;
}

export interface RuleResult {
  category: Category | null;
  flags: Category[];
  /** The permit the decision rests on (licensed, out of bounds, exploration, expired), or null. */
  permitId: string | null;
  /** Set when the change is licensed activity. */
  licensedPermitId: string | null;
  /** Area outside the involved permit, ha (0 when none). */
  outsidePermitHa: number;
}

/** Whether a permit is valid on a date (ISO strings compare as dates). */
export function isPermitValid(props: PermitProps, date: string): boolean {
  return props.status === 'active' && props.valid_from <= date && date <= props.valid_to;
}

/** Applies the rules to one change. Pure. */
export function classifyChange(input: RuleInput): RuleResult {
  const t = input.thresholds ?? DEFAULT_THRESHOLDS;
  const flags = new Set<Category>();
  let permitId: string | null = null;
  let licensedPermitId: string | null = null;
  let outsidePermitHa = 0;
  const m2 = 10_000;

  if (input.protectedAreas.some((p) => multiPolygonDistance(input.geometry, p) === 0)) flags.add('protected_area');
  if (input.closedSites.some((p) => multiPolygonDistance(input.geometry, p) === 0)) flags.add('closed_site_reactivated');

  let nearValid = false;
  for (const permit of input.permits) {
    const distanceM = multiPolygonDistance(input.geometry, permit.geometry);
    if (distanceM > t.nearM) continue;
    const outsideHa = areaOutside(input.geometry, permit.geometry) / m2;
    const inside = outsideHa < t.toleranceHa;
    const valid = isPermitValid(permit.props, input.date);
    if (valid) nearValid = true;
    if (permit.props.type === 'mining') {
      if (!valid && inside) {
        flags.add('expired_permit');
        permitId ??= permit.props.permit_id;
      } else if (valid && !inside) {
        flags.add('out_of_bounds');
        permitId ??= permit.props.permit_id;
        outsidePermitHa = outsideHa;
      } else if (valid && inside) {
        licensedPermitId = permit.props.permit_id;
        permitId ??= permit.props.permit_id;
      }
    } else if (valid && inside) {
      permitId ??= permit.props.permit_id;
      if (input.areaHa >= t.explorationHa) flags.add('exploration_only');
      else licensedPermitId ??= permit.props.permit_id;
    }
  }
  if (!nearValid && input.areaHa >= t.mmuHa) flags.add('unlicensed');

  const ordered = CATEGORY_PRECEDENCE.filter((c) => flags.has(c));
  const category = ordered[0] ?? null;
  return {
    category,
    flags: ordered,
    permitId,
    licensedPermitId: category === null ? licensedPermitId : null,
    outsidePermitHa,
  };
}
