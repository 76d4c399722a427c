/**
 * The project's own evaluation: generate bitemporal scenes with ground truth (pipeline/eval),
 * scan each with the full pipeline on a fresh embedded store, and score the alerts against the
 * truth at site level:
 *   recall    = truth sites that should alert (≥ MMU) overlapped by an alert / all such sites
 *   precision = alerts overlapping a truth site that should alert / all alerts
 *   category accuracy = matched alerts whose category equals the expected one / matched alerts
 * plus false alarms per trap kind (harvest, road, building, cloud, haze, seasonal, …) and
 * alerts on licensed activity.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Feature, FeatureCollection } from 'geojson';
import { intersectionAreaHa } from '../geodata/area.js';
import { createSpectralDetector } from '../models/spectral/spectral-detector.js';
import type { Detector } from '../models/detector.js';
import { generateScenario, type ScenarioManifest, type ScenarioOptions } from '../pipeline/eval/scenario-generator.js';
import type { AreaGeometry, Category } from '../pipeline/types.js';
import { runScan, type ScanOptions } from './scan-runner.js';

export interface EvaluationOptions {
  seeds: number[];
  size: number;
  sensor: 's2' | 'gf';
  workDir?: string;
  detector?: Detector;
  /** Overlap (share of the smaller polygon) for an alert to count as hitting a truth site. */
  minOverlap?: number;
  /** Trap counts per kind instead of the generator's defaults (e.g. a harvest- and road-dense stress set). */
  traps?: ScenarioOptions['traps'];
}

export interface SeedResult {
  seed: number;
  truthAlertSites: number;
  detected: number;
  alerts: number;
  truePositiveAlerts: number;
  categoryCorrect: number;
  categoryMatched: number;
  falseAlarmsByKind: Record<string, number>;
  missed: { truth_id: string; kind: string; expected: string; area_ha: number }[];
  wrongCategory: { alert_id: string; got: string; expected: string }[];
  seconds: number;
}

export interface EvaluationResult {
  detector: string;
  sensor: string;
  size: number;
  seeds: number[];
  recall: number;
  precision: number;
  f1: number;
  categoryAccuracy: number;
  falseAlarmsByKind: Record<string, number>;
  perSeed: SeedResult[];
}

interface TruthProps {
  truth_id: string;
  kind: string;
  expected_category: Category | null;
  area_ha: number;
}

interface AlertProps {
  alert_id: string;
  category: Category;
  area_ha: number;
}

function overlapShare(a: AreaGeometry, aHa: number, b: AreaGeometry, bHa: number): number {
  const inter = intersectionAreaHa(a, b);
  return inter / Math.max(1e-9, Math.min(aHa, bHa));
}

/** The scan of a generated scenario: its scenes and all its reference layers. */
export function scenarioScanOptions(dir: string, files: ScenarioManifest['files']): Pick<ScanOptions, 'before' | 'after' | 'permits' | 'closedSites' | 'protectedAreas'> {
  return {
    before: join(dir, files.before), after: join(dir, files.after), permits: join(dir, files.permits),
    closedSites: join(dir, files.closedSites), protectedAreas: join(dir, files.protectedAreas),
  };
}

export async function runEvaluation(options: EvaluationOptions): Promise<EvaluationResult> {
  const detector = options.detector ?? createSpectralDetector();
  const minOverlap = options.minOverlap ?? 0.1;
  const root = options.workDir ?? mkdtempSync(join(tmpdir(), 'orewatch-eval-'));
  const perSeed: SeedResult[] = [];
  try {
    for (const seed of options.seeds) {
      const t0 = performance.now();
      const dir = join(root, `seed-${seed}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const manifest = await generateScenario({ seed, size: options.size, sensor: options.sensor, traps: options.traps, outDir: dir });
      const files = manifest.files;
      const out = join(dir, 'alerts.geojson');
      await runScan({ ...scenarioScanOptions(dir, files), dataDir: join(dir, 'store'), out }, detector);
      const truth = JSON.parse(readFileSync(join(dir, files.truth), 'utf8')) as FeatureCollection<AreaGeometry, TruthProps>;
      const alerts = JSON.parse(readFileSync(out, 'utf8')) as FeatureCollection<AreaGeometry, AlertProps>;
      perSeed.push({ ...scoreSeed(truth.features, alerts.features, minOverlap), seed, seconds: (performance.now() - t0) / 1000 });
    }
  } finally {
    if (!options.workDir) rmSync(root, { recursive: true, force: true });
  }
  return summarizeEvaluation(detector, { sensor: options.sensor, size: options.size, seeds: options.seeds }, perSeed);
}

/** Recall, precision, F1, category accuracy and false alarms by kind over a detector's seeds. */
export function summarizeEvaluation(detector: Pick<Detector, 'name' | 'version'>,
  run: Pick<EvaluationResult, 'sensor' | 'size' | 'seeds'>, perSeed: SeedResult[]): EvaluationResult {
  const sum = (f: (s: SeedResult) => number) => perSeed.reduce((a, s) => a + f(s), 0);
  const recall = sum((s) => s.detected) / Math.max(1, sum((s) => s.truthAlertSites));
  const precision = sum((s) => s.truePositiveAlerts) / Math.max(1, sum((s) => s.alerts));
  const falseAlarmsByKind: Record<string, number> = {};
  for (const s of perSeed) for (const [k, v] of Object.entries(s.falseAlarmsByKind)) falseAlarmsByKind[k] = (falseAlarmsByKind[k] ?? 0) + v;
  return {
    detector: `${detector.name} ${detector.version}`, sensor: run.sensor, size: run.size, seeds: run.seeds,
    recall, precision, f1: recall + precision > 0 ? (2 * recall * precision) / (recall + precision) : 0,
    categoryAccuracy: sum((s) => s.categoryCorrect) / Math.max(1, sum((s) => s.categoryMatched)),
    falseAlarmsByKind, perSeed,
  };
}

/** Site-level matching of one scene's alerts against its truth. Pure. */
export function scoreSeed(truth: Feature<AreaGeometry, TruthProps>[], alerts: Feature<AreaGeometry, AlertProps>[], minOverlap: number): Omit<SeedResult, 'seed' | 'seconds'> {
  const shouldAlert = truth.filter((t) => t.properties.expected_category !== null && t.properties.area_ha >= 0.3);
  const others = truth.filter((t) => t.properties.expected_category === null);
  const hits = (a: Feature<AreaGeometry, AlertProps>, t: Feature<AreaGeometry, TruthProps>) =>
    overlapShare(a.geometry, a.properties.area_ha, t.geometry, t.properties.area_ha) >= minOverlap;
  let detected = 0;
  const missed: SeedResult['missed'] = [];
  for (const t of shouldAlert) {
    if (alerts.some((a) => hits(a, t))) detected++;
    else missed.push({ truth_id: t.properties.truth_id, kind: t.properties.kind, expected: String(t.properties.expected_category), area_ha: t.properties.area_ha });
  }
  let truePositiveAlerts = 0, categoryCorrect = 0, categoryMatched = 0;
  const wrongCategory: SeedResult['wrongCategory'] = [];
  const falseAlarmsByKind: Record<string, number> = {};
  for (const a of alerts) {
    const match = shouldAlert
      .map((t) => ({ t, share: overlapShare(a.geometry, a.properties.area_ha, t.geometry, t.properties.area_ha) }))
      .filter((m) => m.share >= minOverlap)
      .sort((x, y) => y.share - x.share)[0];
    if (match) {
      truePositiveAlerts++;
      categoryMatched++;
      if (match.t.properties.expected_category === a.properties.category) categoryCorrect++;
      else wrongCategory.push({ alert_id: a.properties.alert_id, got: a.properties.category, expected: String(match.t.properties.expected_category) });
      continue;
    }
    const trap = others.find((t) => hits(a, t));
    const kind = trap ? trap.properties.kind : 'background';
    falseAlarmsByKind[kind] = (falseAlarmsByKind[kind] ?? 0) + 1;
  }
  return { truthAlertSites: shouldAlert.length, detected, alerts: alerts.length, truePositiveAlerts, categoryCorrect, categoryMatched, falseAlarmsByKind, missed, wrongCategory };
}

export function formatEvaluation(r: EvaluationResult): string {
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
  const lines = [
    `detector ${r.detector} · sensor ${r.sensor} · ${r.seeds.length} scenes of ${r.size}×${r.size} px (seeds ${r.seeds.join(',')})`,
    `recall (sites ≥ 0.3 ha)  ${pct(r.recall)}`,
    `precision                ${pct(r.precision)}`,
    `F1                       ${pct(r.f1)}`,
    `category accuracy        ${pct(r.categoryAccuracy)}`,
    `false alarms by kind     ${Object.entries(r.falseAlarmsByKind).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
  ];
  for (const s of r.perSeed) {
    lines.push(`  seed ${s.seed}: ${s.detected}/${s.truthAlertSites} sites found, ${s.truePositiveAlerts}/${s.alerts} alerts true, ` +
      `category ${s.categoryCorrect}/${s.categoryMatched}, ${s.seconds.toFixed(1)} s` +
      (s.missed.length ? `; missed ${s.missed.map((m) => `${m.kind}(${m.expected}, ${m.area_ha.toFixed(2)} ha)`).join(' ')}` : '') +
      (s.wrongCategory.length ? `; wrong category ${s.wrongCategory.map((w) => `${w.got}≠${w.expected}`).join(' ')}` : ''));
  }
  return lines.join('\n');
}

/**
 * Detectors side by side on the same scenes: one row per figure, one column per detector
 * (recall for sites ≥ 0.3 ha, precision, F1, category accuracy, false alarms per trap kind).
 */
export function formatComparison(results: EvaluationResult[]): string {
  if (results.length === 0) return '';
  const first = results[0]!;
  const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
  const kinds = [...new Set(results.flatMap((r) => Object.keys(r.falseAlarmsByKind)))].sort();
  const rows: [string, ...string[]][] = [
    ['', ...results.map((r) => r.detector)],
    ['recall (sites ≥ 0.3 ha)', ...results.map((r) => pct(r.recall))],
    ['precision', ...results.map((r) => pct(r.precision))],
    ['F1', ...results.map((r) => pct(r.f1))],
    ['category accuracy', ...results.map((r) => pct(r.categoryAccuracy))],
    ['alerts (true / all)', ...results.map((r) => `${r.perSeed.reduce((a, s) => a + s.truePositiveAlerts, 0)} / ${r.perSeed.reduce((a, s) => a + s.alerts, 0)}`)],
    ...kinds.map((k): [string, ...string[]] => [`false alarms: ${k}`, ...results.map((r) => String(r.falseAlarmsByKind[k] ?? 0))]),
    ['seconds', ...results.map((r) => r.perSeed.reduce((a, s) => a + s.seconds, 0).toFixed(1))],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [
    `sensor ${first.sensor} · ${first.seeds.length} scenes of ${first.size}×${first.size} px (seeds ${first.seeds.join(',')})`,
    line(rows[0]),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...rows.slice(1).map(line),
  ].join('\n');
}

