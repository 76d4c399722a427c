// Makes (once, cached) a generated scene pair of the given size for the benchmarks.
// Usage: node --import tsx bench/make-scenario.mts <size> <outDir> [seed]
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { generateScenario } from '../pipeline/eval/scenario-generator.js';

const size = Number(process.argv[2] ?? 5490);
const outDir = process.argv[3] ?? `bench/.cache/scenario-${size}`;
const seed = Number(process.argv[4] ?? 5490);
if (existsSync(join(outDir, 'manifest.json'))) {
  console.log(`cached: ${outDir}`);
} else {
  const t0 = performance.now();
  await generateScenario({ seed, size, outDir });
  console.log(`generated ${size}×${size} pair in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${outDir}`);
}
