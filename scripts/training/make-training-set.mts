// Writes the training set of the change network (models/training/train.py) as plain files.
//
// Each training scene comes from the project's scenario generator, widened beyond what the
// evaluation draws: both sensors' band sets (Sentinel-2 six bands, Gaofen-like four), with and
// without an SCL band, two scene sizes, and 1–4× the evaluation's density of non-mining change
// (harvest, roads, building sites, seasonal water, new orchards), clouds and haze. Every scene is
// read back through the scan's own path (scene reader → pair → masks → calibration) and packed
// with the detector's own pre-processing (models/onnx/input-spec.ts), so the network is trained
// on exactly what it will see. Labels come from truth.geojson rasterised at pixel centres:
//   0 no change · 1 mining-type disturbance (open pit, leaching site, tailings; licensed or not)
//   2 other change (harvest, road, building, seasonal, orchard) · 255 ignored (not clear).
// Seeds are 5000 + i (never the evaluation's 101–110, 201–208, 301–310 or 401–410).
//
// This script lives in scripts/ rather than models/ because it drives the pipeline (generator,
// reader, masks), which models/ may not import.
//
// Usage: node --import tsx scripts/training/make-training-set.mts [outDir] [count]
// Output: <outDir>/scene-NNNN/{x.f32 [C,H,W] float32 LE, y.u8 [H,W]}, <outDir>/meta.json.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openScene } from '../../geodata/scene-reader.js';
import { calibrateInput, channelCount, DEFAULT_INPUT, packChannels } from '../../models/onnx/input-spec.js';
import { generateScenario } from '../../pipeline/eval/scenario-generator.js';
import { createRng } from '../../pipeline/eval/random.js';
import { createPairPlan, readPairPixels, samplePair } from '../../pipeline/scan/detect-window.js';
import { rasterizeTruth } from './truth-raster.mjs';

export const TRAINING_SEED_BASE = 5000;

const outDir = process.argv[2] ?? 'models/training/.data';
const count = Number(process.argv[3] ?? 60);
mkdirSync(outDir, { recursive: true });

const t0 = performance.now();
const scenes: { dir: string; seed: number; sensor: string; size: number; withScl: boolean; width: number; height: number; labelCounts: number[] }[] = [];
for (let i = 0; i < count; i++) {
  const seed = TRAINING_SEED_BASE + i;
  const rng = createRng(seed * 2654435761 >>> 0);
  const sensor = i % 3 === 2 ? 'gf' : 's2';
  const size = i % 4 === 3 ? 384 : 512;
  const withScl = sensor === 's2' && i % 5 === 1;
  const density = 1 + rng.int(0, 3);
  const traps = {
    harvest: rng.int(1, 2) * density,
    road: rng.int(1, 2) * density,
    building: rng.int(0, 1) * density + 1,
    seasonal: rng.int(1, 2) * density,
    orchard: rng.int(0, 1) * density,
    cloud: rng.int(0, 3),
    haze: rng.chance(0.5) ? 1 : 0,
  };
  // More mining than the evaluation draws (positives are rare: ~0.5 % of pixels at its density).
  const changes = { unlicensed: rng.int(2, 6), out_of_bounds: rng.int(1, 2), protected_area: rng.int(1, 2) };
  const dir = join(outDir, `scene-${String(i).padStart(4, '0')}`);
  const work = join(dir, 'scenario');
  rmSync(dir, { recursive: true, force: true });
  const m = await generateScenario({ seed, size, sensor, withScl, traps, changes, outDir: work });
  const before = await openScene(join(work, m.files.before));
  const after = await openScene(join(work, m.files.after));
  const plan = createPairPlan(before, after, { requiredBands: ['blue', 'green', 'red', 'nir'], optionalBands: ['swir1', 'swir2'] });
  const calibration = calibrateInput(await samplePair(plan));
  const g = plan.pair.grid;
  const px = await readPairPixels(plan, { col: 0, row: 0, width: g.width, height: g.height });
  const x = packChannels({ width: g.width, height: g.height, before: px.before, after: px.after, clear: px.clear }, calibration, DEFAULT_INPUT);

  const y = rasterizeTruth(join(work, m.files.truth), g);
  const labelCounts = [0, 0, 0, 0];
  for (let k = 0; k < y.length; k++) {
    if (!px.clear[k]) y[k] = 255;
    labelCounts[y[k] === 255 ? 3 : y[k]!]!++;
  }
  writeFileSync(join(dir, 'x.f32'), Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  writeFileSync(join(dir, 'y.u8'), y);
  rmSync(work, { recursive: true, force: true });
  scenes.push({ dir: `scene-${String(i).padStart(4, '0')}`, seed, sensor, size, withScl, width: g.width, height: g.height, labelCounts });
  console.log(`scene ${i} seed ${seed} ${sensor} ${size}px scl=${withScl} density ${density}: none ${labelCounts[0]} mining ${labelCounts[1]} other ${labelCounts[2]} ignored ${labelCounts[3]} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
writeFileSync(join(outDir, 'meta.json'), `${JSON.stringify({
  channels: channelCount(DEFAULT_INPUT), normalisation: DEFAULT_INPUT, labels: { 0: 'none', 1: 'mining_disturbance', 2: 'other_change', 255: 'ignored' },
  seeds: { base: TRAINING_SEED_BASE, count }, scenes, seconds: Math.round((performance.now() - t0) / 1000),
}, null, 2)}\n`);
console.log(`training set: ${count} scenes in ${((performance.now() - t0) / 1000).toFixed(0)} s → ${outDir}`);
