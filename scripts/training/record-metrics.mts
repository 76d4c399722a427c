// Measures the committed ONNX model against the spectral detector and writes the figures into
// models/onnx/manifest.json ("metrics"): site-level evaluation (workers/evaluate.ts, the same as
// `orewatch eval`) on seeds training never saw, and pixel-level precision/recall/F1 of the final
// change mask (after the window stage's hysteresis) against the truth rasterised at pixel centres.
//
// Usage: node --import tsx scripts/training/record-metrics.mts [modelDir]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openScene } from '../../geodata/scene-reader.js';
import type { Detector } from '../../models/detector.js';
import { createOnnxDetector } from '../../models/onnx/onnx-detector.js';
import { createSpectralDetector } from '../../models/spectral/spectral-detector.js';
import { generateScenario } from '../../pipeline/eval/scenario-generator.js';
import { createPairPlan, detectWindow, planWindows, samplePair } from '../../pipeline/scan/detect-window.js';
import { formatComparison, runEvaluation, type EvaluationResult } from '../../workers/evaluate.js';
import { rasterizeTruth } from './truth-raster.mjs';

const modelDir = process.argv[2] ?? 'models/onnx';
const manifestPath = join(modelDir, 'manifest.json');
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const SETS: { name: string; seeds: number[]; sensor: 's2' | 'gf'; traps?: { harvest: number; road: number } }[] = [
  { name: 's2 201-208 (test/eval.test.ts, test/onnx-detector.test.ts)', seeds: range(201, 208), sensor: 's2' },
  { name: 's2 301-310 (held out)', seeds: range(301, 310), sensor: 's2' },
  { name: 'gf 201-208 (four bands)', seeds: range(201, 208), sensor: 'gf' },
  { name: 's2 221-226, 6 harvested fields + 6 new roads per scene (trap stress set)', seeds: range(221, 226), sensor: 's2', traps: { harvest: 6, road: 6 } },
];

const detectors = (): Detector[] => [createSpectralDetector(), createOnnxDetector({ modelPath: join(modelDir, 'orewatch-change-v1.onnx'), threads: 1 })];
const summary = (r: EvaluationResult) => ({
  recall: round(r.recall), precision: round(r.precision), f1: round(r.f1), category_accuracy: round(r.categoryAccuracy),
  false_alarms_by_kind: r.falseAlarmsByKind, seconds: round(r.perSeed.reduce((a, s) => a + s.seconds, 0), 1),
});
function round(v: number, d = 4): number { return Math.round(v * 10 ** d) / 10 ** d; }

const siteLevel: Record<string, Record<string, unknown>> = {};
for (const set of SETS) {
  const results: EvaluationResult[] = [];
  for (const detector of detectors()) results.push(await runEvaluation({ seeds: set.seeds, size: 512, sensor: set.sensor, traps: set.traps, detector }));
  console.log(`${set.name}\n${formatComparison(results)}\n`);
  siteLevel[set.name] = Object.fromEntries(results.map((r) => [r.detector, summary(r)]));
}

// Pixel level on s2 201-208.
const pixel: Record<string, unknown> = {};
const tmp = mkdtempSync(join(tmpdir(), 'orewatch-pixel-'));
try {
  const counts = new Map<string, { tp: number; fp: number; fn: number }>();
  for (const seed of range(201, 208)) {
    const dir = join(tmp, `seed-${seed}`);
    const m = await generateScenario({ seed, size: 512, sensor: 's2', outDir: dir });
    for (const detector of detectors()) {
      const before = await openScene(join(dir, m.files.before)), after = await openScene(join(dir, m.files.after));
      const plan = createPairPlan(before, after, detector);
      const calibration = detector.calibrate(await samplePair(plan));
      const g = plan.pair.grid;
      const labels = rasterizeTruth(join(dir, m.files.truth), g);
      const c = counts.get(`${detector.name} ${detector.version}`) ?? { tp: 0, fp: 0, fn: 0 };
      for (const w of planWindows(g.width, g.height, 512)) {
        const r = await detectWindow(plan, w, detector, calibration);
        for (let y = 0; y < w.height; y++) for (let x = 0; x < w.width; x++) {
          const pred = r.mask[y * w.width + x] !== 0, truth = labels[(w.row + y) * g.width + w.col + x] === 1;
          if (pred && truth) c.tp++; else if (pred) c.fp++; else if (truth) c.fn++;
        }
      }
      counts.set(`${detector.name} ${detector.version}`, c);
    }
  }
  for (const [name, c] of counts) {
    const p = c.tp / Math.max(1, c.tp + c.fp), r = c.tp / Math.max(1, c.tp + c.fn);
    pixel[name] = { precision: round(p), recall: round(r), f1: round((2 * p * r) / Math.max(1e-9, p + r)) };
  }
  console.log('pixel level, s2 201-208:', JSON.stringify(pixel));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { metrics?: Record<string, unknown> };
manifest.metrics = { ...manifest.metrics, site_level: siteLevel, pixel_level_s2_201_208: pixel,
  measured_with: 'node --import tsx scripts/training/record-metrics.mts (512 px scenes, full pipeline, minOverlap 0.1)' };
writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`metrics written to ${manifestPath}`);
