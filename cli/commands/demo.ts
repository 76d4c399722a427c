/**
 * `orewatch demo`: the newcomer's first run. Generates a Sentinel-2-like scene pair of the Ganzhou
 * rare-earth district with permits, closed sites and protected areas, scans it on the embedded
 * store, prints the alerts and writes a before/after PNG of the top alert.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createSpectralDetector } from '../../models/spectral/spectral-detector.js';
import { generateScenario } from '../../pipeline/eval/scenario-generator.js';
import { renderAlertPng } from '../../workers/render-alert.js';
import { runScan } from '../../workers/scan-runner.js';
import { scenarioScanOptions } from '../../workers/evaluate.js';
import { createProgress } from '../progress.js';
import { printScanSummary } from './scan.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('generate a sample scene pair with permits, scan it on the embedded store, and show the alerts')
    .option('--out-dir <dir>', 'where the sample scenes, store and outputs go', 'demo-out')
    .option('--seed <n>', 'scenario seed', '7')
    .option('--size <px>', 'scene size in pixels', '768')
    .action(async (flags: { outDir: string; seed: string; size: string }) => {
      const outDir = resolve(flags.outDir);
      const scenes = join(outDir, 'scenes');
      mkdirSync(scenes, { recursive: true });
      const t0 = performance.now();
      const manifest = await generateScenario({ seed: Number(flags.seed), size: Number(flags.size), outDir: scenes });
      process.stdout.write(`generated a ${flags.size}×${flags.size} px Sentinel-2-like pair (${manifest.dates.before} → ${manifest.dates.after}) in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${scenes}\n`);
      const f = manifest.files;
      const detector = createSpectralDetector();
      const progress = createProgress('scan');
      const scan = scenarioScanOptions(scenes, f);
      const outcome = await runScan({ ...scan, dataDir: join(outDir, 'store'), out: join(outDir, 'alerts.geojson') }, detector, progress.update)
        .finally(() => progress.stop());
      printScanSummary(outcome, false);
      const top = [...outcome.alerts].sort((a, b) => b.score * b.area_ha - a.score * a.area_ha)[0];
      if (top) {
        const png = join(outDir, 'top-alert.png');
        await renderAlertPng({ before: scan.before, after: scan.after, geometry: top.geometry, out: png, detector });
        process.stdout.write(`top alert ${top.alert_id} (${top.category}): before | after chip written to ${png}\n`);
      }
      process.stdout.write(`store: ${join(outDir, 'store')} (embedded PGlite) · alerts: ${join(outDir, 'alerts.geojson')} · ground truth: ${join(scenes, f.truth)}\n`);
    });
}
