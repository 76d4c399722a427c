/**
 * `orewatch import`: versioned reference layers in the store, reused by later scans for the kinds
 * a scan is not given as files.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureCollection } from 'geojson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateScenario, type ScenarioManifest } from '../pipeline/eval/scenario-generator.js';
import { orewatch } from './helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'orewatch-import-'));
let m: ScenarioManifest;
const dir = join(tmp, 'scenario');
beforeAll(async () => {
  m = await generateScenario({ seed: 11, size: 384, outDir: dir });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('orewatch import', () => {
  it('stores a new version only when the content changed, and scans use stored layers', async () => {
    const store = join(tmp, 'store');
    const protectedFile = join(dir, m.files.protectedAreas);
    const r1 = await orewatch(['import', 'protected-areas', protectedFile, '--name', 'redline', '--data-dir', store]);
    expect(r1.stderr).toBe('');
    expect(r1.status).toBe(0);
    expect(r1.stdout).toMatch(/imported: protected-areas layer "redline" version 1/);
    const r2 = await orewatch(['import', 'protected-areas', protectedFile, '--name', 'redline', '--data-dir', store]);
    expect(r2.stdout).toMatch(/unchanged: protected-areas layer "redline" version 1/);
    const changed = JSON.parse(readFileSync(protectedFile, 'utf8')) as FeatureCollection;
    changed.features = changed.features.slice(0, Math.max(1, changed.features.length - 1));
    const changedFile = join(tmp, 'redline-v2.geojson');
    writeFileSync(changedFile, JSON.stringify(changed));
    const r3 = await orewatch(['import', 'protected-areas', changedFile, '--name', 'redline', '--data-dir', store]);
    expect(r3.stdout).toMatch(/imported: protected-areas layer "redline" version 2/);

    // A scan given no --protected-areas judges against the stored (latest) version.
    const r4 = await orewatch(['import', 'protected-areas', protectedFile, '--name', 'redline', '--data-dir', store]);
    expect(r4.stdout).toMatch(/version 3/);
    const out = join(tmp, 'alerts.geojson');
    const withStored = await orewatch(['scan', '--before', join(dir, m.files.before), '--after', join(dir, m.files.after),
      '--permits', join(dir, m.files.permits), '--closed-sites', join(dir, m.files.closedSites), '--data-dir', store, '--out', out]);
    expect(withStored.status).toBe(0);
    // The same scan given the file directly (on a fresh store) judges alike.
    const out2 = join(tmp, 'alerts-direct.geojson');
    const direct = await orewatch(['scan', '--before', join(dir, m.files.before), '--after', join(dir, m.files.after),
      '--permits', join(dir, m.files.permits), '--closed-sites', join(dir, m.files.closedSites),
      '--protected-areas', protectedFile, '--data-dir', join(tmp, 'store-direct'), '--out', out2]);
    expect(direct.status).toBe(0);
    const summary = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as FeatureCollection).features
      .map((f) => `${String(f.properties?.alert_id)} ${String(f.properties?.category)} ${JSON.stringify(f.properties?.flags)}`).sort();
    expect(summary(out)).toEqual(summary(out2));
    // And the stored layer version is what the scan recorded.
    const { openDatabase } = await import('../pipeline/store/database.js');
    const db = await openDatabase({ dataDir: store });
    try {
      const scans = await db.query<{ layers: { kind: string; name: string; version: number }[] }>('SELECT layers FROM scans');
      expect(scans.rows[0].layers.filter((l) => l.kind === 'protected_areas')).toEqual([expect.objectContaining({ name: 'redline', version: 3 })]);
    } finally {
      await db.close();
    }
  });

  it('refuses an unknown kind and a broken file with exit 2, storing nothing', async () => {
    const store = join(tmp, 'store-bad');
    const r1 = await orewatch(['import', 'roads', join(dir, m.files.permits), '--data-dir', store]);
    expect(r1.status).toBe(2);
    expect(r1.stderr).toMatch(/roads/);
    const broken = join(tmp, 'broken.kml');
    writeFileSync(broken, '<kml><Document><Placemark>');
    const r2 = await orewatch(['import', 'permits', broken, '--data-dir', store]);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toContain('broken.kml');
    const { existsSync } = await import('node:fs');
    expect(existsSync(store)).toBe(false);
  });
});
