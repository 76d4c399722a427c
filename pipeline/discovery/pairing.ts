/**
 * Choosing the "before" scene for each newly found scene: the change detector compares a new
 * scene with an earlier clear look at the same ground. Pure functions over SceneCandidates (no
 * I/O, no clock); "nothing suitable" is a value with a reason, not an exception.
 *
 * An earlier scene qualifies when its date is strictly earlier (two passes on one day are not a
 * before and an after), it is at most `maxGapDays` older, its cloud cover is at most
 * `maxCloudCover` (unknown cloud cover is allowed), and its footprint covers at least
 * `minCoverage` of the AOI (an unknown footprint is allowed). Among those the best is, in order:
 *   1. the same MGRS tile as the new scene (the same grid: no resampling, no edge of swath);
 *   2. known cloud cover before unknown (an unknown scene may be wholly cloudy);
 *   3. the most recent (the least natural change to explain away);
 *   4. the lower cloud cover; then the key, so the choice never depends on input order.
 *
 * Coverage is measured on the ellipsoid (geodata/area.ts): area(footprint ∩ AOI) / area(AOI). A
 * point or line AOI is covered (1) when the footprint touches it, else not (0).
 */
import type { Geometry } from 'geojson';
import { inputError } from '../../errors/index.js';
import { areaHa, intersectionAreaHa, intersects, type AreaGeometry, type DistanceGeometry } from '../../geodata/area.js';
import type { SceneCandidate } from './types.js';

export interface PairingOptions {
  /** Largest cloud cover of a usable scene, percent (default 20). */
  maxCloudCover?: number;
  /** Oldest usable before scene, days before the new one (default 400: a year and a season). */
  maxGapDays?: number;
  /** Share of the AOI a before scene must cover, 0–1 (default 0.95). */
  minCoverage?: number;
}

/** Why one earlier scene was not taken. */
export type BeforeRejection = 'same-scene' | 'not-earlier' | 'too-old' | 'cloudy' | 'not-covering';

export type BeforeChoice =
  | {
      kind: 'chosen';
      before: SceneCandidate;
      /** Share of the AOI the before scene covers, 0–1; null when its footprint is unknown. */
      coverage: number | null;
      /** Whole days between the two acquisition dates. */
      gapDays: number;
    }
  | {
      kind: 'none';
      before: null;
      /** One sentence for logs and the operator. */
      reason: string;
      /** Every earlier scene offered, and why it was not taken. */
      rejected: { key: string; reason: BeforeRejection }[];
    };

export interface SkipReason {
  code: 'after-cloudy' | 'after-outside-aoi' | 'no-before';
  message: string;
}

export type PlannedPair =
  | { kind: 'pair'; after: SceneCandidate; before: SceneCandidate; coverage: number | null; gapDays: number }
  | {
      kind: 'skipped';
      after: SceneCandidate;
      skipped: SkipReason;
      /** `skipped.message`, for callers that only log. */
      reason: string;
      /**
       * True when the verdict cannot change (the new scene is too cloudy or misses the AOI); false
       * for `no-before`, which a later run may lift when an older scene turns up.
       */
      final: boolean;
    };

interface Settings {
  maxCloudCover: number;
  maxGapDays: number;
  minCoverage: number;
}

const DAY_MS = 86_400_000;
const AOI_TYPES = ['Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon'];

function settingsOf(options: PairingOptions): Settings {
  const { maxCloudCover = 20, maxGapDays = 400, minCoverage = 0.95 } = options;
  if (typeof maxCloudCover !== 'number' || !(maxCloudCover >= 0 && maxCloudCover <= 100)) {
    throw inputError('PAIRING.INVALID_OPTION', `Expected a percentage from 0 to 100 for maxCloudCover but received ${String(maxCloudCover)}`);
  }
  if (typeof maxGapDays !== 'number' || !(maxGapDays > 0) || !Number.isFinite(maxGapDays)) {
    throw inputError('PAIRING.INVALID_OPTION', `Expected a positive number of days for maxGapDays but received ${String(maxGapDays)}`);
  }
  if (typeof minCoverage !== 'number' || !(minCoverage >= 0 && minCoverage <= 1)) {
    throw inputError('PAIRING.INVALID_OPTION', `Expected a share from 0 to 1 for minCoverage but received ${String(minCoverage)}`);
  }
  return { maxCloudCover, maxGapDays, minCoverage };
}

function checkAoi(aoi: Geometry): DistanceGeometry {
  if (typeof aoi !== 'object' || aoi === null || !AOI_TYPES.includes(aoi.type) || !Array.isArray((aoi as { coordinates?: unknown }).coordinates)) {
    let text: string;
    try {
      text = JSON.stringify(aoi)?.slice(0, 120) ?? String(aoi);
    } catch {
      text = String(aoi);
    }
    throw inputError('PAIRING.INVALID_AOI', `Expected a GeoJSON Point, LineString or Polygon geometry (or Multi-) in lon/lat for aoi but received ${text}`);
  }
  return aoi as DistanceGeometry;
}

/** Share of the AOI a footprint covers, 0–1, for one AOI; memoized per footprint object. */
function coverageMeter(aoi: DistanceGeometry): (footprint: AreaGeometry) => number {
  const polygonal = aoi.type === 'Polygon' || aoi.type === 'MultiPolygon';
  const aoiHa = polygonal ? areaHa(aoi) : 0;
  const memo = new Map<AreaGeometry, number>();
  return (footprint) => {
    let value = memo.get(footprint);
    if (value === undefined) {
      value = polygonal && aoiHa > 0
        ? Math.min(1, intersectionAreaHa(aoi, footprint) / aoiHa)
        : intersects(aoi, footprint) ? 1 : 0;
      memo.set(footprint, value);
    }
    return value;
  };
}

function gapDaysOf(after: SceneCandidate, before: SceneCandidate): number {
  return Math.round((Date.parse(`${after.date}T00:00:00Z`) - Date.parse(`${before.date}T00:00:00Z`)) / DAY_MS);
}

function choose(after: SceneCandidate, earlier: readonly SceneCandidate[], settings: Settings, coverageOf: (f: AreaGeometry) => number): BeforeChoice {
  const rejected: { key: string; reason: BeforeRejection }[] = [];
  const eligible: { scene: SceneCandidate; coverage: number | null; gapDays: number }[] = [];
  for (const scene of earlier) {
    const gapDays = gapDaysOf(after, scene);
    let reason: BeforeRejection | null = null;
    let coverage: number | null = null;
    if (scene.key === after.key) reason = 'same-scene';
    else if (!(scene.date < after.date)) reason = 'not-earlier';
    else if (gapDays > settings.maxGapDays) reason = 'too-old';
    else if (scene.cloudCover !== null && scene.cloudCover > settings.maxCloudCover) reason = 'cloudy';
    else if (scene.footprint !== null) {
      coverage = coverageOf(scene.footprint);
      if (coverage < settings.minCoverage) reason = 'not-covering';
    }
    if (reason) rejected.push({ key: scene.key, reason });
    else eligible.push({ scene, coverage, gapDays });
  }
  const sameTile = (s: SceneCandidate): number => (after.tile !== null && s.tile === after.tile ? 0 : 1);
  const unknownCloud = (s: SceneCandidate): number => (s.cloudCover === null ? 1 : 0);
  eligible.sort((a, b) => sameTile(a.scene) - sameTile(b.scene)
    || unknownCloud(a.scene) - unknownCloud(b.scene)
    || (a.scene.acquiredAt > b.scene.acquiredAt ? -1 : a.scene.acquiredAt < b.scene.acquiredAt ? 1 : 0)
    || (a.scene.cloudCover ?? 0) - (b.scene.cloudCover ?? 0)
    || (a.scene.key < b.scene.key ? -1 : a.scene.key > b.scene.key ? 1 : 0));
  const best = eligible[0];
  if (best) return { kind: 'chosen', before: best.scene, coverage: best.coverage, gapDays: best.gapDays };

  const count = (reason: BeforeRejection): number => rejected.filter((r) => r.reason === reason).length;
  const parts = [
    count('cloudy') ? `${count('cloudy')} cloudier than ${settings.maxCloudCover} %` : '',
    count('too-old') ? `${count('too-old')} more than ${settings.maxGapDays} days older` : '',
    count('not-covering') ? `${count('not-covering')} covering less than ${Math.round(settings.minCoverage * 100)} % of the AOI` : '',
    count('not-earlier') ? `${count('not-earlier')} not earlier than ${after.date}` : '',
  ].filter((p) => p !== '');
  const offered = rejected.filter((r) => r.reason !== 'same-scene').length;
  const reason = offered === 0
    ? `no earlier scene to compare ${after.key} (${after.date}) with`
    : `no earlier scene qualifies as the before scene of ${after.key} (${after.date}): ${parts.join(', ')}`;
  return { kind: 'none', before: null, reason, rejected };
}

/**
 * The best earlier scene to compare `after` with (see the module header for the rules).
 * @param earlier scenes to choose from, in any order (the after scene itself may be among them).
 * @param aoi the area of interest, lon/lat GeoJSON (Polygon / MultiPolygon; points and lines too).
 * @returns `{ kind: 'chosen', before, coverage, gapDays }` or `{ kind: 'none', before: null, reason, rejected }`.
 * @throws OrewatchError PAIRING.INVALID_OPTION, PAIRING.INVALID_AOI for bad arguments only.
 */
export function chooseBefore(after: SceneCandidate, earlier: readonly SceneCandidate[], aoi: Geometry, options: PairingOptions = {}): BeforeChoice {
  const settings = settingsOf(options);
  return choose(after, earlier, settings, coverageMeter(checkAoi(aoi)));
}

/**
 * A before scene for every new scene, or the reason it is skipped: the new scene is cloudier than
 * `maxCloudCover` (`after-cloudy`), its footprint misses the AOI (`after-outside-aoi`), or no
 * earlier scene qualifies (`no-before`). Before scenes come from `history` and from the other new
 * scenes (two new passes found in one run pair with each other). A new scene covering only part
 * of the AOI is still paired: the scan covers what it can.
 * @returns one entry per new scene (the same key once), sorted by acquisition time.
 */
export function planPairs(newScenes: readonly SceneCandidate[], history: readonly SceneCandidate[], aoi: Geometry, options: PairingOptions = {}): PlannedPair[] {
  const settings = settingsOf(options);
  const coverageOf = coverageMeter(checkAoi(aoi));
  const pool = new Map<string, SceneCandidate>();
  for (const scene of [...history, ...newScenes]) if (!pool.has(scene.key)) pool.set(scene.key, scene);
  const fresh = new Map<string, SceneCandidate>();
  for (const scene of newScenes) if (!fresh.has(scene.key)) fresh.set(scene.key, scene);
  const ordered = [...fresh.values()].sort((a, b) => (a.acquiredAt < b.acquiredAt ? -1 : a.acquiredAt > b.acquiredAt ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const candidates = [...pool.values()];
  const skip = (after: SceneCandidate, code: SkipReason['code'], message: string): PlannedPair =>
    ({ kind: 'skipped', after, skipped: { code, message }, reason: message, final: code !== 'no-before' });
  return ordered.map((after): PlannedPair => {
    if (after.cloudCover !== null && after.cloudCover > settings.maxCloudCover) {
      return skip(after, 'after-cloudy', `${after.key} (${after.date}) is ${after.cloudCover} % cloudy, above the ${settings.maxCloudCover} % limit`);
    }
    if (after.footprint !== null && coverageOf(after.footprint) === 0) {
      return skip(after, 'after-outside-aoi', `${after.key} (${after.date}) does not cover the AOI`);
    }
    const choice = choose(after, candidates, settings, coverageOf);
    if (choice.kind === 'none') return skip(after, 'no-before', choice.reason);
    return { kind: 'pair', after, before: choice.before, coverage: choice.coverage, gapDays: choice.gapDays };
  });
}
