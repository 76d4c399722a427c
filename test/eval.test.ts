/**
 * The SCL path of the evaluation pipeline: a scene with an SCL band is masked from it. (The
 * detectors' figures on the fixed seed sets are held by test/onnx-detector.test.ts, which
 * evaluates both detectors on the same scenes once.)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureCollection } from 'geojson';
import { afterAll, describe, expect, it } from 'vitest';
import { generateScenario } from '../pipeline/eval/scenario-generator.js';
import { createSpectralDetector } from '../models/spectral/spectral-detector.js';
import { scenarioScanOptions } from '../workers/evaluate.js';
import { runScan } from '../workers/scan-runner.js';

const tmp = mkdtempSync(join(tmpdir(), 'orewatch-eval-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('masks from the SCL band', () => {
  it('a scene with SCL is masked from it, and cloud never becomes change', async () => {
    const dir = join(tmp, 'scl');
    const m = await generateScenario({ seed: 31, size: 384, withScl: true, outDir: dir });
    const out = join(dir, 'alerts.geojson');
    const outcome = await runScan({ ...scenarioScanOptions(dir, m.files), dataDir: join(dir, 'store'), out }, createSpectralDetector());
    const truth = JSON.parse(readFileSync(join(dir, m.files.truth), 'utf8')) as FeatureCollection;
    const clouds = truth.features.filter((f) => f.properties?.kind === 'cloud');
    if (clouds.length > 0) expect(outcome.maskCounts.cloud + outcome.maskCounts.shadow + outcome.maskCounts.haze).toBeGreaterThan(0);
    const { intersectionAreaHa } = await import('../geodata/area.js');
    const alerts = JSON.parse(readFileSync(out, 'utf8')) as FeatureCollection;
    for (const a of alerts.features) {
      for (const c of clouds) {
        // An alert may touch a cloud's edge region, but never sit mostly under it.
        const inter = intersectionAreaHa(a.geometry as never, c.geometry as never);
        expect(inter / (a.properties!.area_ha as number)).toBeLessThan(0.5);
      }
    }
  }, 300_000);
});
