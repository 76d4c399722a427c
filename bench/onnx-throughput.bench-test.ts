/**
 * Inference throughput of the committed change network (models/onnx) on this machine:
 * onnxruntime-node with 1 and 2 intra-op threads (graph optimisation on), against the same
 * network in PyTorch (Debian's python3-torch, models/training/bench_torch.py) on the same tensor,
 * as a ratio; plus the whole detector (packing, tiling with overlap, blending) on a real 512 px
 * window; and the change gate: the detector with and without it over every scan window of 2048 px
 * scenes — the generator's default density (bench/make-scenario.mts), a sparse one (11 mining
 * sites and 18 traps in 42 km²) and one without any change — as Mpx/s of scene, tiles skipped and
 * the minutes a 10980² tile would take at that rate. Prints figures; never fails on timing.
 * `npm run bench -- bench/onnx-throughput.bench-test.ts`
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { openScene } from '../geodata/scene-reader.js';
import { DEFAULT_INPUT, packChannels } from '../models/onnx/input-spec.js';
import { createOnnxDetector, defaultModelPath } from '../models/onnx/onnx-detector.js';
import { generateScenario, type ScenarioManifest, type ScenarioOptions } from '../pipeline/eval/scenario-generator.js';
import { createPairPlan, planWindows, readPairPixels, samplePair } from '../pipeline/scan/detect-window.js';
import { DEFAULT_WINDOW_SIZE } from '../pipeline/scan/stages.js';

const CACHE = 'bench/.cache/onnx';
const TILE = 256, BATCH = 4, REPEATS = 3;

it('prints onnxruntime vs PyTorch throughput of the change network', async () => {
  mkdirSync(CACHE, { recursive: true });
  const m = await generateScenario({ seed: 9001, size: 512, outDir: join(CACHE, 'scene') });
  const detector = createOnnxDetector({ threads: 1 });
  const plan = createPairPlan(await openScene(join(CACHE, 'scene', m.files.before)), await openScene(join(CACHE, 'scene', m.files.after)), detector);
  const calibration = detector.calibrate(await samplePair(plan));
  const px = await readPairPixels(plan, { col: 0, row: 0, width: 512, height: 512 });
  const input = { width: 512, height: 512, before: px.before, after: px.after, clear: px.clear };

  // The same tensor for both runtimes: four 256 px tiles of the real window.
  const packed = packChannels(input, calibration, DEFAULT_INPUT);
  const C = packed.length / (512 * 512);
  const tensor = new Float32Array(BATCH * C * TILE * TILE);
  for (let b = 0; b < BATCH; b++) {
    const c0 = (b % 2) * TILE, r0 = Math.floor(b / 2) * TILE;
    for (let ch = 0; ch < C; ch++) for (let y = 0; y < TILE; y++) {
      tensor.set(packed.subarray(ch * 512 * 512 + (r0 + y) * 512 + c0, ch * 512 * 512 + (r0 + y) * 512 + c0 + TILE), ((b * C + ch) * TILE + y) * TILE);
    }
  }
  const inputPath = join(CACHE, 'input.f32');
  writeFileSync(inputPath, Buffer.from(tensor.buffer));
  const mpx = (BATCH * TILE * TILE) / 1e6;

  const lines: string[] = [];
  for (const threads of [1, 2]) {
    const session = await ort.InferenceSession.create(defaultModelPath(), { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    const feeds = { x: new ort.Tensor('float32', tensor, [BATCH, C, TILE, TILE]) };
    await session.run(feeds);
    const t0 = performance.now();
    for (let i = 0; i < REPEATS; i++) await session.run(feeds);
    const ortMpx = mpx / ((performance.now() - t0) / 1000 / REPEATS);
    await session.release();
    const torch = JSON.parse(execFileSync('/usr/bin/python3', ['models/training/bench_torch.py', inputPath, String(BATCH), String(C), String(TILE), String(TILE), String(threads), String(REPEATS)], { encoding: 'utf8' })) as { mpx_per_s: number };
    const full = createOnnxDetector({ threads });
    await full.detect(input, calibration);
    const t1 = performance.now();
    await full.detect(input, calibration);
    const detMpx = 0.262144 / ((performance.now() - t1) / 1000);
    lines.push(`threads ${threads}: onnxruntime ${ortMpx.toFixed(3)} Mpx/s · PyTorch ${torch.mpx_per_s.toFixed(3)} Mpx/s · ratio ${(ortMpx / torch.mpx_per_s).toFixed(2)}× · ` +
      `detector end to end (tiling, overlap, blend) ${detMpx.toFixed(3)} Mpx/s → full 10980² tile ≈ ${(120.56 / detMpx / 60).toFixed(1)} min`);
    expect(ortMpx).toBeGreaterThan(0);
  }
  console.log(`change network ${defaultModelPath()}, input ${BATCH}×${C}×${TILE}×${TILE}\n${lines.join('\n')}`);
});

/** A generated scene, made once into bench/.cache. */
async function cachedScene(dir: string, options: Omit<ScenarioOptions, 'outDir'>): Promise<ScenarioManifest> {
  if (existsSync(join(dir, 'manifest.json'))) return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ScenarioManifest;
  return generateScenario({ ...options, outDir: dir });
}

it('prints the detector with and without the change gate on 2048 px scenes', async () => {
  const none = { licensed: 0, out_of_bounds: 0, unlicensed: 0, exploration_only: 0, exploration_small: 0, expired_permit: 0, closed_site_reactivated: 0, protected_area: 0 };
  const scenes: [string, string, Omit<ScenarioOptions, 'outDir'>][] = [
    ['default density (5490 seed, as bench/make-scenario.mts)', 'bench/.cache/scenario-2048', { seed: 5490, size: 2048 }],
    ['sparse: 11 sites, 18 traps', join(CACHE, 'sparse-2048'), {
      seed: 7202, size: 2048,
      changes: { licensed: 2, out_of_bounds: 1, unlicensed: 3, exploration_only: 1, exploration_small: 1, expired_permit: 1, closed_site_reactivated: 1, protected_area: 1 },
      traps: { harvest: 4, seasonal: 2, road: 4, building: 2, orchard: 2, cloud: 3, haze: 1 },
    }],
    ['no change (sun and season only)', join(CACHE, 'empty-2048'), { seed: 7101, size: 2048, changes: none, traps: false }],
  ];
  const lines: string[] = [];
  for (const threads of [1, 2]) {
    const gated = createOnnxDetector({ threads }), ungated = createOnnxDetector({ threads, gate: false });
    for (const [label, dir, options] of scenes) {
      const m = await cachedScene(dir, options);
      const plan = createPairPlan(await openScene(join(dir, m.files.before)), await openScene(join(dir, m.files.after)), gated);
      const calibration = gated.calibrate(await samplePair(plan));
      const { width, height } = plan.pair.grid;
      const ms = { gated: 0, ungated: 0 };
      const before = gated.gateCounts();
      // Windows as the scan reads them (512 px and the detector's halo); reading is not timed.
      for (const w of planWindows(width, height, DEFAULT_WINDOW_SIZE)) {
        const halo = gated.haloPx;
        const col = Math.max(0, w.col - halo), row = Math.max(0, w.row - halo);
        const outer = { col, row, width: Math.min(width, w.col + w.width + halo) - col, height: Math.min(height, w.row + w.height + halo) - row };
        const px = await readPairPixels(plan, outer);
        const input = { width: outer.width, height: outer.height, before: px.before, after: px.after, clear: px.clear };
        for (const [name, detector] of [['ungated', ungated], ['gated', gated]] as const) {
          const t0 = performance.now();
          await detector.detect(input, calibration);
          ms[name] += performance.now() - t0;
        }
      }
      const counts = gated.gateCounts();
      const mpx = (width * height) / 1e6;
      const rate = (t: number) => mpx / (t / 1000);
      lines.push(`threads ${threads} · ${label}: ungated ${rate(ms.ungated).toFixed(3)} Mpx/s, gated ${rate(ms.gated).toFixed(3)} Mpx/s ` +
        `(${(ms.ungated / ms.gated).toFixed(2)}×), tiles skipped ${counts.skipped - before.skipped}/${counts.tiles - before.tiles} → 10980² tile ` +
        `${(120.56 / rate(ms.ungated) / 60).toFixed(1)} min ungated, ${(120.56 / rate(ms.gated) / 60).toFixed(1)} min gated`);
    }
  }
  console.log(`change gate (detector only, reading excluded)\n${lines.join('\n')}`);
  expect(lines.length).toBe(6);
});
