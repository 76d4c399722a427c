/**
 * Shapes shared by the scenario generator's modules: what a layout holds (surface layers,
 * clouds, haze, reference polygons, truth records) before it is rendered and written.
 * Pixel space throughout (x = column, y = row).
 */
import type { Box, Ring } from './scenario-geometry.js';
import type { Category, PermitProps } from './scenario-rules.js';

export type MiningKind = 'open_pit' | 'leaching_site' | 'tailings';
export type TrapKind = 'harvest' | 'road' | 'building' | 'cloud' | 'haze' | 'seasonal' | 'illumination' | 'orchard';
export type TruthKind = MiningKind | TrapKind;

/** Where a mining change was put, i.e. which rule it is meant to exercise. */
export type Placement =
  | 'licensed'
  | 'out_of_bounds'
  | 'unlicensed'
  | 'exploration_only'
  | 'exploration_small'
  | 'expired_permit'
  | 'closed_site_reactivated'
  | 'protected_area';

export const MINING_KINDS: readonly MiningKind[] = ['open_pit', 'leaching_site', 'tailings'];
export const TRAP_KINDS: readonly TrapKind[] = ['harvest', 'road', 'building', 'cloud', 'haze', 'seasonal', 'illumination', 'orchard'];
export const PLACEMENTS: readonly Placement[] = [
  'licensed',
  'out_of_bounds',
  'unlicensed',
  'exploration_only',
  'exploration_small',
  'expired_permit',
  'closed_site_reactivated',
  'protected_area',
];

/** One pixel being painted by a layer. */
export interface PaintPoint {
  col: number;
  row: number;
  /** 0 before, 1 after. */
  date: 0 | 1;
  elevationM: number;
  /** Landscape texture: vigour (~100 m) and brightness (~30 m), 0–1. */
  t: number;
  u: number;
}

/** A surface drawn over the landscape with fractional coverage, on one or both dates. */
export interface SurfaceLayer {
  name: string;
  box: Box;
  /** Coverage in 1/255 steps (0 none – 255 full), boxWidth × boxHeight, row-major. */
  cover: Uint8Array;
  /** Drawn on [before, after]. */
  dates: readonly [boolean, boolean];
  /** The layer's reflectance at a pixel (6 bands), blended in with alpha = cover. */
  spectrum(p: PaintPoint, out: Float64Array): void;
}

/** A cumulus cloud and its shadow on one date. */
export interface CloudLayer {
  date: 0 | 1;
  box: Box;
  /** Cloud opacity over `box`, 0–255 for 0–1. */
  alpha: Uint8Array;
  shadowBox: Box;
  /** Shadow strength over `shadowBox`, 0–255 for 0–1. */
  shadow: Uint8Array;
  seed: number;
}

/** Added path radiance on one date: the whole scene, or a broad smooth region. */
export interface HazeLayer {
  date: 0 | 1;
  /** Path radiance in blue at full strength (reflectance units). */
  blue: number;
  global: boolean;
  cx: number;
  cy: number;
  radiusPx: number;
  seed: number;
}

export interface PermitRecord {
  ring: Ring;
  props: PermitProps;
}

export interface ClosedSiteProps {
  site_id: string;
  name: string;
  county: string;
  closed_date: string;
  measure: string;
}

export interface ProtectedAreaProps {
  area_id: string;
  name: string;
  type: 'ecological_red_line' | 'nature_reserve';
  level: string;
}

export interface ReferenceRecord<P> {
  ring: Ring;
  props: P;
}

/** A generated change or trap with its exact pixels. */
export interface TruthRecord {
  kind: TruthKind;
  role: 'mining' | 'trap';
  placement: Placement | null;
  /** Which image shows it: mining and most traps 'after'; a cloud may be 'before'; illumination 'both'. */
  date: 'before' | 'after' | 'both';
  box: Box;
  /** 1 = pixel changed (≥ half covered; ≥ a quarter for thin roads). boxWidth × boxHeight. */
  mask: Uint8Array;
  /** Whole-scene features (global haze, illumination) use the footprint instead of a mask. */
  footprint?: boolean;
  expectedCategory: Category | null;
  expectedFlags: Category[];
  permitId: string | null;
  licensedPermitId: string | null;
  /** Extra properties for the truth file (units in names). */
  details: Record<string, string | number | boolean | null>;
}
