/**
 * The trained change network (models/onnx) through onnxruntime-node: the figures it must hold
 * against the spectral detector on a fixed seed set training never saw (issue 4: recall ≥ 0.95,
 * precision ≥ 0.90, a higher F1, fewer false alarms on harvested fields and roads), the change
 * gate that keeps the network off unchanged land without losing a site (issue 7), and the
 * runner's contract — manifest and checksum checks, band checks, seamless tiling, determinism.
 *
 * The evaluation is workers/evaluate.ts's, run so that each scene is generated once for both
 * detectors and each scan gets a fresh store cheaply: a schema of its own in the machine's
 * PostgreSQL (dropped after), or without one a copy of one migrated empty PGlite store (creating
 * a PGlite store costs seconds, more than scanning a 512 px scene).
 */
import { cpSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detector, DetectorInput, Reflectance } from '../models/detector.js';
import { changeEvidence, gateTiles, type ChangeGate } from '../models/onnx/change-gate.js';
import { createOnnxDetector, defaultModelPath, tileOffsets } from '../models/onnx/onnx-detector.js';
import { createDetector } from '../models/registry.js';
import { createSpectralDetector } from '../models/spectral/spectral-detector.js';
import { openScene } from '../geodata/scene-reader.js';
import { generateScenario, type ScenarioOptions } from '../pipeline/eval/scenario-generator.js';
import { createPairPlan, detectWindow, planWindows, readPairPixels, samplePair } from '../pipeline/scan/detect-window.js';
import { openDatabase } from '../pipeline/store/database.js';
import { migrate } from '../pipeline/store/migrations.js';
import { formatComparison, scenarioScanOptions, scoreSeed, summarizeEvaluation, type EvaluationResult, type SeedResult } from '../workers/evaluate.js';
import { runScan, type ScanOptions } from '../workers/scan-runner.js';
import { postgresAvailable, TEST_DATABASE_URL } from './helpers/databases.js';

/** Never used for training (training seeds are 5000–5059, models/onnx/manifest.json) nor to choose the threshold (401–408). */
const HELD_OUT_SEEDS = [201, 202, 203, 204, 205, 206, 207, 208, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310];
/** A stress set for the traps the issue names: six harvested fields and six new roads per scene. */
const TRAP_DENSE_SEEDS = [221, 222, 223, 224, 225, 226];
const TRAP_DENSE = { harvest: 6, road: 6 };

const tmp = mkdtempSync(join(tmpdir(), 'orewatch-onnx-'));
const storeTemplate = join(tmp, 'store-template');
const hasPostgres = await postgresAvailable();
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A fresh, empty, migrated store for one scan, and its removal. */
async function withFreshStore<T>(key: string, scan: (store: Pick<ScanOptions, 'dataDir' | 'databaseUrl' | 'dbSchema'>) => Promise<T>): Promise<T> {
  if (!hasPostgres) {
    const dataDir = join(tmp, `store-${key}`);
    cpSync(storeTemplate, dataDir, { recursive: true });
    try {
      return await scan({ dataDir });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const dbSchema = `onnx_test_${process.pid}_${key}`;
  try {
    return await scan({ databaseUrl: TEST_DATABASE_URL, dbSchema });
  } finally {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${dbSchema} CASCADE`).finally(() => client.end());
  }
}

/**
 * runEvaluation (workers/evaluate.ts) for several detectors on the same scenes: the same
 * generation, full-pipeline scan, site-level scoring (minOverlap 0.1) and sums. Two scenes are
 * in flight at a time (scans wait on decoding threads, the network and the file system); results
 * keep the seeds' order.
 */
async function evaluateDetectors(name: string, seeds: number[], sensor: 's2' | 'gf', detectors: Detector[], traps?: ScenarioOptions['traps']): Promise<EvaluationResult[]> {
  const bySeed: SeedResult[][] = [];
  const evaluateSeed = async (seed: number): Promise<SeedResult[]> => {
    const dir = join(tmp, name, `seed-${seed}`);
    const m = await generateScenario({ seed, size: 512, sensor, traps, outDir: dir });
    const truth = (JSON.parse(readFileSync(join(dir, m.files.truth), 'utf8')) as { features: Parameters<typeof scoreSeed>[0] }).features;
    const results: SeedResult[] = [];
    for (const [k, detector] of detectors.entries()) {
      const t0 = performance.now();
      const out = join(dir, `alerts-${k}.geojson`);
      await withFreshStore(`${name.replace(/\W/g, '_')}_${seed}_${k}`, (store) => runScan({ ...scenarioScanOptions(dir, m.files), ...store, out }, detector));
      const alerts = (JSON.parse(readFileSync(out, 'utf8')) as { features: Parameters<typeof scoreSeed>[1] }).features;
      results.push({ ...scoreSeed(truth, alerts, 0.1), seed, seconds: (performance.now() - t0) / 1000 });
    }
    rmSync(dir, { recursive: true, force: true });
    return results;
  };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < seeds.length) {
      const i = next++;
      bySeed[i] = await evaluateSeed(seeds[i]!);
    }
  };
  await Promise.all([lane(), lane()]);
  const perSeed = detectors.map((_, k) => bySeed.map((r) => r[k]!));
  return detectors.map((detector, k) => summarizeEvaluation(detector, { sensor, size: 512, seeds }, perSeed[k]!));
}

beforeAll(async () => {
  if (hasPostgres) return;
  const db = await openDatabase({ dataDir: storeTemplate });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
});

/** A real window of a generated scene pair, as the window stage hands it to a detector. */
async function sceneInput(seed: number, size: number, sensor: 's2' | 'gf'): Promise<{ input: DetectorInput; calibration: Record<string, unknown> }> {
  const dir = join(tmp, `scene-${seed}-${sensor}`);
  const m = await generateScenario({ seed, size, sensor, outDir: dir });
  const plan = createPairPlan(await openScene(join(dir, m.files.before)), await openScene(join(dir, m.files.after)), spectral);
  const calibration = spectral.calibrate(await samplePair(plan));
  const g = plan.pair.grid;
  const px = await readPairPixels(plan, { col: 0, row: 0, width: g.width, height: g.height });
  return { input: { width: g.width, height: g.height, before: px.before, after: px.after, clear: px.clear }, calibration };
}

/** One detector (one onnxruntime session) per setting for the whole file. */
const onnx = createOnnxDetector({ threads: 1 });
const ungated = createOnnxDetector({ threads: 1, gate: false });
const spectral = createSpectralDetector();

describe('onnx detector on seeds training never saw', () => {
  it('recall ≥ 0.95, precision ≥ 0.90 and a higher F1 than spectral on 18 held-out scenes', async () => {
    const [sp, on] = await evaluateDetectors('held-out', HELD_OUT_SEEDS, 's2', [spectral, onnx]);
    console.log(formatComparison([sp!, on!]));
    expect(on!.recall).toBeGreaterThanOrEqual(0.95);
    expect(on!.precision).toBeGreaterThanOrEqual(0.9);
    expect(on!.f1).toBeGreaterThan(sp!.f1);
    expect(on!.categoryAccuracy).toBeGreaterThanOrEqual(0.95);
    // The spectral detector keeps its own floor of issue 2 (recall ≥ 0.90, precision ≥ 0.85,
    // category accuracy ≥ 0.95) on the same scenes.
    expect(sp!.recall).toBeGreaterThanOrEqual(0.9);
    expect(sp!.precision).toBeGreaterThanOrEqual(0.85);
    expect(sp!.categoryAccuracy).toBeGreaterThanOrEqual(0.95);
  }, 1_200_000);

  it('raises fewer false alarms on harvested fields and new roads than spectral, and a higher F1, where they abound', async () => {
    const [sp, on] = await evaluateDetectors('traps', TRAP_DENSE_SEEDS, 's2', [spectral, onnx], TRAP_DENSE);
    console.log(formatComparison([sp!, on!]));
    const harvestRoad = (r: EvaluationResult) => (r.falseAlarmsByKind.harvest ?? 0) + (r.falseAlarmsByKind.road ?? 0);
    expect(harvestRoad(on!)).toBeLessThan(harvestRoad(sp!));
    expect(on!.f1).toBeGreaterThan(sp!.f1);
  }, 1_200_000);
});

describe('onnx change gate', () => {
  const gate: ChangeGate = { minNdviLoss: 0.1, minNdwiGain: 0.1, minBrightening: 0.2, marginPx: 32, minPixels: 1 };
  /** A uniform vegetated pair of `size`² pixels, with `change` applied to the later date. */
  function pair(size: number, change: (x: number, y: number, after: Record<'blue' | 'green' | 'red' | 'nir', Float32Array>, i: number) => void): DetectorInput {
    const n = size * size;
    const band = (v: number) => new Float32Array(n).fill(v);
    const before = { blue: band(0.03), green: band(0.06), red: band(0.04), nir: band(0.3) };
    const after = { blue: band(0.03), green: band(0.06), red: band(0.04), nir: band(0.3) };
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) change(x, y, after, y * size + x);
    return { width: size, height: size, before, after, clear: new Uint8Array(n).fill(1) };
  }
  const bare = (a: Record<'blue' | 'green' | 'red' | 'nir', Float32Array>, i: number) => { a.blue[i] = 0.08; a.green[i] = 0.11; a.red[i] = 0.15; a.nir[i] = 0.2; };

  it('finds a 3×3 patch of cleared vegetation, and not single pixels or a 2 px line', () => {
    const patch = changeEvidence(pair(64, (x, y, a, i) => { if (x >= 10 && x < 13 && y >= 20 && y < 23) bare(a, i); }), {}, gate);
    expect([...patch.keys()].filter((i) => patch[i])).toEqual([21 * 64 + 11]);
    const noise = changeEvidence(pair(64, (x, y, a, i) => { if ((x * 7 + y * 13) % 5 === 0) bare(a, i); }), {}, gate);
    const line = changeEvidence(pair(64, (x, y, a, i) => { if (y === 30 || y === 31) bare(a, i); }), {}, gate);
    expect(noise.some((v) => v) || line.some((v) => v)).toBe(false);
    // New water and brightening count too; greening and darkening alone do not.
    const water = changeEvidence(pair(16, (_x, _y, a, i) => { a.green[i] = 0.05; a.nir[i] = 0.02; a.red[i] = 0.02; }), {}, gate);
    const bright = changeEvidence(pair(16, (_x, _y, a, i) => { a.blue[i] = 0.039; a.green[i] = 0.078; a.red[i] = 0.052; a.nir[i] = 0.39; }), {}, gate);
    const greener = changeEvidence(pair(16, (_x, _y, a, i) => { a.red[i] = 0.02; a.nir[i] = 0.36; }), {}, gate);
    expect([water.some((v) => v), bright.some((v) => v), greener.some((v) => v)]).toEqual([true, true, false]);
  });

  it('runs a tile only when the tile and its margin hold evidence', () => {
    // Cleared 10 × 10 px at x 400–409, y 300–309: inside the two right tiles' margins, in the lower one itself.
    const evidence = changeEvidence(pair(544, (x, y, a, i) => { if (x >= 400 && x < 410 && y >= 300 && y < 310) bare(a, i); }), {}, gate);
    const tiles = [[0, 0], [256, 0], [0, 256], [256, 256]] as const;
    expect(gateTiles(evidence, 544, 544, tiles, 288, gate)).toEqual([false, true, false, true]);
    expect(gateTiles(evidence, 544, 544, tiles, 288, { ...gate, marginPx: 0 })).toEqual([false, false, false, true]);
  });

  it('skips unchanged land without running the network, and records the gate', async () => {
    const detector = createOnnxDetector();
    const out = await detector.detect(pair(600, () => undefined), {});
    expect(out.prob.every((p) => p === 0) && out.kind.every((k) => k === 0)).toBe(true);
    expect(detector.gateCounts()).toEqual({ tiles: 9, skipped: 9 });
    expect(detector.describe()).toMatchObject({ gate: { minNdviLoss: 0.1, marginPx: 32 } });
    expect(ungated.describe()).toMatchObject({ gate: false });
    expect(() => createOnnxDetector({ gate: { ...gate, marginPx: -1 } })).toThrow(expect.objectContaining({ code: 'DETECTOR.BAD_OPTION' }));
  });

  it('loses nothing: the same change masks as the ungated network on sparse scenes where it skips tiles', async () => {
    const none = { licensed: 0, out_of_bounds: 0, unlicensed: 0, exploration_only: 0, exploration_small: 0, expired_permit: 0, closed_site_reactivated: 0, protected_area: 0 };
    let skipped = 0, tiles = 0, changed = 0;
    for (const [seed, sensor] of [[231, 's2'], [232, 'gf']] as const) {
      const dir = join(tmp, `sparse-${seed}`);
      const m = await generateScenario({ seed, size: 640, sensor, outDir: dir, changes: { ...none, unlicensed: 2, out_of_bounds: 1 }, traps: { harvest: 1, road: 1, building: 1, orchard: 1, seasonal: 1, cloud: 0, haze: 0 } });
      const plan = createPairPlan(await openScene(join(dir, m.files.before)), await openScene(join(dir, m.files.after)), onnx);
      const calibration = onnx.calibrate(await samplePair(plan));
      const before = onnx.gateCounts();
      for (const w of planWindows(plan.pair.grid.width, plan.pair.grid.height, 512)) {
        const gated = await detectWindow(plan, w, onnx, calibration);
        const full = await detectWindow(plan, w, ungated, calibration);
        expect(Buffer.from(gated.mask).equals(Buffer.from(full.mask))).toBe(true);
        changed += full.changePixels;
      }
      const after = onnx.gateCounts();
      skipped += after.skipped - before.skipped;
      tiles += after.tiles - before.tiles;
    }
    expect(changed).toBeGreaterThan(0);
    expect(skipped).toBeGreaterThan(0);
    expect(skipped).toBeLessThan(tiles);
  }, 300_000);
});

describe('onnx detector runner', () => {
  it('tiles cover the window with the stated overlap', () => {
    expect(tileOffsets(200, 256, 32)).toEqual([0]);
    expect(tileOffsets(520, 256, 32)).toEqual([0, 224, 264]);
    expect(tileOffsets(544, 288, 32)).toEqual([0, 256]);
    for (const length of [256, 257, 480, 528, 1000]) {
      const offs = tileOffsets(length, 256, 32);
      expect(offs[0]).toBe(0);
      expect(offs[offs.length - 1]! + 256).toBe(length);
      for (let i = 1; i < offs.length; i++) expect(offs[i - 1]! + 256 - offs[i]!).toBeGreaterThanOrEqual(32);
    }
  });

  it('is deterministic, and batching does not change the result', async () => {
    const { input, calibration } = await sceneInput(7, 300, 's2');
    const a = await onnx.detect(input, calibration);
    const b = await createOnnxDetector({ batchSize: 1 }).detect(input, calibration);
    const c = await createOnnxDetector({ batchSize: 4 }).detect(input, calibration);
    expect(Buffer.from(a.prob.buffer).equals(Buffer.from(b.prob.buffer))).toBe(true);
    expect(Buffer.from(a.kind).equals(Buffer.from(b.kind))).toBe(true);
    let maxDiff = 0;
    for (let i = 0; i < a.prob.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.prob[i]! - c.prob[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('blends tiles without seams: a window cut differently gives the same probabilities inside', async () => {
    const { input, calibration } = await sceneInput(8, 400, 's2');
    // The tiling's property, so every tile runs (the gate's own test is above).
    const detector = ungated;
    const whole = await detector.detect(input, calibration);
    // The right part of the scene as its own window (another tiling), compared away from its edge.
    const x0 = 120, w = input.width - x0;
    const crop = (arr: Float32Array) => { const out = new Float32Array(w * input.height); for (let y = 0; y < input.height; y++) out.set(arr.subarray(y * input.width + x0, (y + 1) * input.width), y * w); return out; };
    const part: Reflectance = {}, partB: Reflectance = {};
    for (const band of Object.keys(input.after) as (keyof Reflectance)[]) { part[band] = crop(input.after[band]!); partB[band] = crop(input.before[band]!); }
    const clear = new Uint8Array(w * input.height);
    for (let y = 0; y < input.height; y++) clear.set(input.clear.subarray(y * input.width + x0, (y + 1) * input.width), y * w);
    const right = await detector.detect({ width: w, height: input.height, before: partB, after: part, clear }, calibration);
    let maxDiff = 0, n = 0;
    for (let y = 40; y < input.height - 40; y++) for (let x = 60; x < w - 40; x++) {
      maxDiff = Math.max(maxDiff, Math.abs(right.prob[y * w + x]! - whole.prob[y * input.width + x0 + x]!));
      n++;
    }
    expect(n).toBeGreaterThan(50_000);
    // Different tile borders give slightly different context, never a different answer.
    expect(maxDiff).toBeLessThan(0.15);
  });

  it('runs a four-band (Gaofen-like) scene on the declared subset, and refuses a scene without NIR', async () => {
    const { input, calibration } = await sceneInput(9, 256, 'gf');
    expect(input.after.swir1).toBeUndefined();
    const detector = createOnnxDetector();
    expect(detector.requiredBands).toEqual(['blue', 'green', 'red', 'nir']);
    expect(detector.optionalBands).toEqual(['swir1', 'swir2']);
    const out = await detector.detect(input, calibration);
    expect(out.prob.every((p) => p >= 0 && p <= 1)).toBe(true);
    const noNir = { ...input, before: { ...input.before, nir: undefined }, after: { ...input.after, nir: undefined } };
    await expect(Promise.resolve(detector.detect(noNir, calibration))).rejects.toMatchObject({ code: 'DETECTOR.MISSING_BAND' });
  });

  it('refuses a model whose SHA-256 does not match its manifest, or that has no manifest', () => {
    const dir = join(tmp, 'tampered');
    const model = join(dir, 'orewatch-change-v1.onnx');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    copyFileSync(defaultModelPath(), model);
    expect(() => createOnnxDetector({ modelPath: model })).toThrow(expect.objectContaining({ code: 'MODEL.NO_MANIFEST' }));
    const manifest = JSON.parse(readFileSync(join(defaultModelPath(), '..', 'manifest.json'), 'utf8'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    expect(createOnnxDetector({ modelPath: model }).name).toBe('onnx');
    const bytes = readFileSync(model);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(model, bytes);
    expect(() => createOnnxDetector({ modelPath: model })).toThrow(expect.objectContaining({ code: 'MODEL.CHECKSUM' }));
  });

  it('is selectable by name, with the manifest version recorded', () => {
    const manifest = JSON.parse(readFileSync(join(defaultModelPath(), '..', 'manifest.json'), 'utf8')) as { version: string; sha256: string; gate: { min_ndvi_loss: number; margin_px: number } };
    const detector = createDetector('onnx');
    expect(detector.version).toBe(manifest.version);
    expect(detector.describe()).toMatchObject({ name: 'onnx', sha256: manifest.sha256 });
    expect(() => createDetector('spectral', { modelPath: defaultModelPath() })).toThrow(expect.objectContaining({ code: 'DETECTOR.BAD_OPTION' }));
    // The gate is on unless OREWATCH_ONNX_GATE=0 or the option says otherwise.
    expect(createDetector('onnx', { gate: true }).describe().gate).toMatchObject({ minNdviLoss: manifest.gate.min_ndvi_loss, marginPx: manifest.gate.margin_px });
    const saved = process.env.OREWATCH_ONNX_GATE;
    try {
      process.env.OREWATCH_ONNX_GATE = '0';
      expect(createDetector('onnx').describe().gate).toBe(false);
      expect(createDetector('onnx', { gate: true }).describe().gate).not.toBe(false);
      process.env.OREWATCH_ONNX_GATE = 'off';
      expect(() => createDetector('onnx')).toThrow(expect.objectContaining({ code: 'DETECTOR.BAD_OPTION' }));
    } finally {
      if (saved === undefined) delete process.env.OREWATCH_ONNX_GATE;
      else process.env.OREWATCH_ONNX_GATE = saved;
    }
  });
});
