/**
 * Runs one scan in this process, stage by stage (the embedded mode): validate everything first —
 * scenes, bands, dates, reference layers — so bad input fails before anything is written; then
 * calibrate, read → mask → detect window by window, vectorize, classify, and store the scan and
 * its alerts in one transaction; last, write the alerts file atomically.
 */
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { Geometry } from 'geojson';
import { basename, dirname, resolve } from 'node:path';
import { inputError, OrewatchError } from '../errors/index.js';
import { loadReferenceLayer } from '../geodata/reference-layers/index.js';
import type { ReferenceLayer } from '../geodata/reference-layers/types.js';
import { openScene, stopIdleDecodeWorkers, type Scene } from '../geodata/scene-reader.js';
import { createChangeAccumulator } from '../geodata/vectorize.js';
import type { Detector } from '../models/detector.js';
import { createPairPlan, detectWindowInput, readingOrder, readWindowInput, samplePair, windowsBounds, type WindowInput } from '../pipeline/scan/detect-window.js';
import { classifySites, DEFAULT_WINDOW_SIZE, extractSites, newScanId, resolveScanLayers, scanKeyFor, scanWindows, sha256OfScene } from '../pipeline/scan/stages.js';
import { alertsToGeoJson } from '../pipeline/alerts-geojson.js';
import { saveScan, type SaveScanResult } from '../pipeline/store/alert-store.js';
import { openDatabase } from '../pipeline/store/database.js';
import { migrate } from '../pipeline/store/migrations.js';
import { DEFAULT_RULES, RULES_VERSION, type ChangeSite, type RuleSettings } from '../pipeline/types.js';

export interface ScanOptions {
  before: string;
  after: string;
  permits?: string;
  closedSites?: string;
  protectedAreas?: string;
  jurisdictions?: string;
  beforeDate?: string;
  afterDate?: string;
  bands?: string[];
  permitsCrs?: string;
  dataDir?: string;
  databaseUrl?: string;
  dbSchema?: string;
  out?: string;
  rules?: Partial<RuleSettings>;
  windowSize?: number;
  /** Scan only the windows this area (WGS 84) touches. */
  region?: Geometry | null;
}

export interface ScanProgress {
  (done: number, total: number, stage: string): void;
}

export interface ScanOutcome extends SaveScanResult {
  scanId: string;
  sitesFound: number;
  windows: number;
  seconds: Record<string, number>;
  grid: { width: number; height: number };
  maskCounts: Record<string, number>;
  out: string | null;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function checkDate(value: string, flag: string): string {
  const d = new Date(`${value}T00:00:00Z`);
  if (!DATE.test(value) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) {
    throw inputError('SCAN.BAD_DATE', `${flag}: expected a date YYYY-MM-DD but received "${value}"`);
  }
  return value;
}

function resolveDate(flagValue: string | undefined, scene: Scene, flag: string): string {
  if (flagValue) return checkDate(flagValue, flag);
  if (scene.info.acquisitionDate) return scene.info.acquisitionDate;
  throw inputError('SCENE.NO_DATE',
    `${scene.info.uri}: no acquisition date in the file (ACQUISITION_DATE / TIFFTAG_DATETIME metadata); give it with ${flag} YYYY-MM-DD`, scene.info.uri);
}

interface LoadedLayers {
  files: { layer: ReferenceLayer; name: string }[];
}

async function loadLayerFiles(options: ScanOptions): Promise<LoadedLayers> {
  const files: { layer: ReferenceLayer; name: string }[] = [];
  const specs = [
    ['permits', options.permits],
    ['closed_sites', options.closedSites],
    ['protected_areas', options.protectedAreas],
    ['jurisdictions', options.jurisdictions],
  ] as const;
  for (const [kind, file] of specs) {
    if (!file) continue;
    const layer = await loadReferenceLayer(file, { kind, crs: kind === 'permits' ? options.permitsCrs : undefined });
    files.push({ layer, name: basename(file) });
  }
  // Classification reads the layers back from the store (stages.ts classifySites), in both modes.
  return { files };
}

/** Everything checked before a single row or file is written. */
export async function prepareScan(options: ScanOptions, detector: Detector) {
  const rules: RuleSettings = { ...DEFAULT_RULES, ...options.rules };
  for (const [key, value] of Object.entries(rules)) {
    if (typeof value !== 'number' || !(value >= 0)) throw new OrewatchError('SCAN.BAD_RULE', `Expected a non-negative number for rule ${key} but received ${String(value)}`, { kind: 'config' });
  }
  if (options.out && !existsSync(dirname(resolve(options.out)))) {
    throw inputError('SCAN.BAD_OUT', `--out ${options.out}: the folder ${dirname(resolve(options.out))} does not exist`, options.out);
  }
  const layers = await loadLayerFiles(options);
  const before = await openScene(options.before, { bandNames: options.bands });
  let after: Scene;
  try {
    after = await openScene(options.after, { bandNames: options.bands });
  } catch (error) {
    await before.close();
    throw error;
  }
  try {
    const beforeDate = resolveDate(options.beforeDate, before, '--before-date');
    const afterDate = resolveDate(options.afterDate, after, '--after-date');
    if (beforeDate >= afterDate) {
      throw inputError('SCAN.DATE_ORDER', `The before scene (${beforeDate}, ${options.before}) must be earlier than the after scene (${afterDate}, ${options.after})`);
    }
    const plan = createPairPlan(before, after, detector);
    return { rules, layers, before, after, beforeDate, afterDate, plan };
  } catch (error) {
    await Promise.all([before.close(), after.close()]);
    throw error;
  }
}

/** The embedded scan: one process, PGlite in the data dir (or PostgreSQL with a URL). */
export async function runScan(options: ScanOptions, detector: Detector, progress?: ScanProgress): Promise<ScanOutcome> {
  const t0 = performance.now();
  const seconds: Record<string, number> = {};
  const lap = (stage: string, since: number) => { seconds[stage] = (seconds[stage] ?? 0) + (performance.now() - since) / 1000; };
  const prep = await prepareScan(options, detector);
  const { plan, rules, afterDate } = prep;
  lap('validate', t0);
  const grid = plan.pair.grid;
  const windows = readingOrder(scanWindows(grid, options.windowSize ?? DEFAULT_WINDOW_SIZE, options.region), options.windowSize ?? DEFAULT_WINDOW_SIZE);
  if (options.region) plan.readBounds = windowsBounds(windows) ?? undefined;
  const maskCounts: Record<string, number> = {};
  let sites: ChangeSite[];
  // Hashing the scene files (for the scan key) reads them whole: start it now, beside detection.
  const hashes = Promise.all([sha256OfScene(options.before), sha256OfScene(options.after)]);
  hashes.catch(() => undefined);
  try {
    const t1 = performance.now();
    const calibration = detector.calibrate(await samplePair(plan, options.region ? { within: windows } : {}));
    lap('calibrate', t1);
    const accumulator = createChangeAccumulator(grid.width, grid.height);
    let done = 0;
    // The next window is read (in the scenes' decode worker threads) while this one is masked and
    // detected on this thread: `read` is the reads' own time, `read_wait` what the scan waited for them.
    // Two windows' arrays in turn: the next read refills those of the window detected last.
    const read = (index: number, reuse: WindowInput | null): Promise<WindowInput> => {
      const pending = readWindowInput(plan, windows[index]!, detector, reuse);
      pending.catch(() => undefined);
      return pending;
    };
    let next = windows.length > 0 ? read(0, null) : null;
    let detected: WindowInput | null = null;
    for (let index = 0; index < windows.length; index++) {
      const tw = performance.now();
      const input = await next!;
      lap('read_wait', tw);
      next = index + 1 < windows.length ? read(index + 1, detected) : null;
      const result = await detectWindowInput(plan, input, detector, calibration);
      detected = input;
      for (const [stage, s] of Object.entries(result.seconds)) seconds[stage] = (seconds[stage] ?? 0) + s;
      const ta = performance.now();
      accumulator.addWindow(result.window, result.mask, result.prob);
      lap('vectorize', ta);
      for (const [k, v] of Object.entries(result.maskCounts)) maskCounts[k] = (maskCounts[k] ?? 0) + v;
      progress?.(++done, windows.length, 'detect');
    }
    const t3 = performance.now();
    sites = extractSites(accumulator, grid, detector.kinds, rules);
    lap('vectorize', t3);
  } finally {
    await Promise.all([prep.before.close(), prep.after.close()]);
    // Reading is over: the decode workers' heaps would otherwise stay through classify and store.
    await stopIdleDecodeWorkers();
  }
  const th = performance.now();
  const [beforeSha, afterSha] = await hashes;
  lap('hash_wait', th);

  const db = await openDatabase({ dataDir: options.dataDir, databaseUrl: options.databaseUrl, schema: options.dbSchema });
  try {
    await migrate(db);
    const result = await db.transaction(async (tx) => {
      const t4 = performance.now();
      // Layers come from the files given (stored as versions), else the latest stored versions.
      const refs = await resolveScanLayers(tx, prep.layers.files);
      const findings = await classifySites(tx, sites, refs, afterDate, rules);
      lap('classify', t4);
      const t5 = performance.now();
      const describe = detector.describe();
      const scanKey = scanKeyFor({
        beforeKey: beforeSha ?? options.before, afterKey: afterSha ?? options.after, beforeDate: prep.beforeDate, afterDate,
        detector: describe, rules, layers: refs, region: options.region,
      });
      const now = new Date();
      const scanId = newScanId(now);
      const saved = await saveScan(tx, {
        scanId, scanKey, beforeUri: options.before, afterUri: options.after, beforeSha256: beforeSha, afterSha256: afterSha,
        beforeDate: prep.beforeDate, afterDate, detector: detector.name, detectorVersion: detector.version,
        rules: { ...rules, version: RULES_VERSION }, layers: refs, startedAt: now.toISOString(),
        stats: { windows: windows.length, sites: sites.length, maskCounts, grid: { width: grid.width, height: grid.height }, detector: describe },
      }, findings, afterSha ?? options.after);
      lap('store', t5);
      return { ...saved, scanId };
    });
    let out: string | null = null;
    if (options.out) {
      writeAtomically(options.out, `${JSON.stringify(alertsToGeoJson(result.alerts))}\n`);
      out = options.out;
    }
    seconds.total = (performance.now() - t0) / 1000;
    return { ...result, sitesFound: sites.length, windows: windows.length, seconds, grid: { width: grid.width, height: grid.height }, maskCounts, out };
  } finally {
    await db.close();
  }
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw inputError('OUT.WRITE', `Cannot write ${path}: ${(error as Error).message}`, path, error);
  }
}
