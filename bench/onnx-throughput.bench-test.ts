/**
 * Inference throughput of the committed change network (models/onnx) on this machine:
 * onnxruntime-node with 1 and 2 intra-op threads (graph optimisation on), against the same
 * network in PyTorch (Debian's python3-torch, models/training/bench_torch.py) on the same tensor,
 * as a ratio; plus the whole detector (packing, tiling with overlap, blending) on a real 512 px
 * window. Prints figures; never fails on timing. `npm run bench -- bench/onnx-throughput.bench-test.ts`
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { openScene } from '../geodata/scene-reader.js';
import { DEFAULT_INPUT, packChannels } from '../models/onnx/input-spec.js';
import { createOnnxDetector, defaultModelPath } from '../models/onnx/onnx-detector.js';
import { generateScenario } from '../pipeline/eval/scenario-generator.js';
import { createPairPlan, readPairPixels, samplePair } from '../pipeline/scan/detect-window.js';

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
