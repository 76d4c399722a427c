import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { areaHa } from '../geodata/area.js';
import { saveScan, listAlerts, type ScanFinding, type ScanRecord } from '../pipeline/store/alert-store.js';
import { migrate } from '../pipeline/store/migrations.js';
import { DEFAULT_RULES, RULES_VERSION, type ChangeSite, type Classification } from '../pipeline/types.js';
import { openTestStore, postgresAvailable, type TestStore } from './helpers/databases.js';
import { rect } from './helpers/geometry.js';

const hasPostgres = await postgresAvailable();
if (!hasPostgres) console.warn('PostgreSQL not reachable at TEST_DATABASE_URL: the PostgreSQL store tests are skipped');

function scan(id: string, afterDate: string): ScanRecord {
  return {
    scanId: id, scanKey: `key-${id}`, beforeUri: 'b.tif', afterUri: `a-${afterDate}.tif`, beforeSha256: null, afterSha256: null,
    beforeDate: '2025-10-01', afterDate, detector: 'spectral', detectorVersion: '0.1.0',
    rules: { ...DEFAULT_RULES, version: RULES_VERSION }, layers: [], startedAt: new Date().toISOString(), stats: {},
  };
}

function finding(x0: number, classification?: Partial<Extract<Classification, { outcome: 'alert' }>>): ScanFinding {
  const geometry = rect(x0, 0, x0 + 100, 100);
  const site: ChangeSite = { siteIndex: 0, geometry, areaHa: areaHa(geometry), score: 0.8, changeKind: 'vegetation_to_bare_soil', kindShares: {}, centroid: [114.9, 24.9] };
  const alert: Extract<Classification, { outcome: 'alert' }> = {
    outcome: 'alert', category: 'unlicensed', flags: ['unlicensed'], permitId: null, areaOutsidePermitHa: null, trace: [], summary: 'change of 1.00 ha', ...classification,
  };
  return { site, county: { code: '360728', name: '定南县' }, classification: alert };
}

for (const kind of ['pglite', 'postgres'] as const) {
  describe.skipIf(kind === 'postgres' && !hasPostgres)(`alert store on ${kind}`, () => {
    let store: TestStore;
    beforeEach(async () => {
      store = await openTestStore(kind);
      await migrate(store.db);
    });
    afterEach(async () => store.cleanup());

    it('migrations are idempotent', async () => {
      expect(await migrate(store.db)).toEqual([]);
    });

    it('the same scan twice keeps one alert per site, still provisional', async () => {
      const f = [finding(0), finding(500)];
      const r1 = await store.db.transaction((tx) => saveScan(tx, scan('S1', '2026-10-17'), f, 'scene-A'));
      const r2 = await store.db.transaction((tx) => saveScan(tx, scan('S2', '2026-10-17'), f, 'scene-A'));
      expect(r1.opened).toBe(2);
      expect(r2.opened).toBe(0);
      expect(r2.updated).toBe(2);
      const alerts = await listAlerts(store.db);
      expect(alerts).toHaveLength(2);
      expect(alerts.map((a) => a.alert_id).sort()).toEqual(r1.alerts.map((a) => a.alert_id).sort());
      expect(alerts.every((a) => a.confidence === 'provisional' && a.observation_count === 1)).toBe(true);
    });

    it('a later scan of the same (grown) site confirms and updates the alert', async () => {
      await store.db.transaction((tx) => saveScan(tx, scan('S1', '2026-10-17'), [finding(0)], 'scene-A'));
      const grown = finding(0);
      grown.site.geometry = rect(0, 0, 160, 100);
      grown.site.areaHa = areaHa(grown.site.geometry);
      const r = await store.db.transaction((tx) => saveScan(tx, scan('S2', '2026-11-20'), [grown], 'scene-B'));
      expect(r.updated).toBe(1);
      const [a] = await listAlerts(store.db);
      expect(a.confidence).toBe('confirmed');
      expect(a.observation_count).toBe(2);
      expect(a.first_seen).toBe('2026-10-17');
      expect(a.last_seen).toBe('2026-11-20');
      expect(a.area_ha).toBeCloseTo(1.6, 2);
      const audit = await store.db.query<{ action: string }>('SELECT action FROM audit_log WHERE alert_id = $1 ORDER BY audit_id', [a.alert_id]);
      expect(audit.rows.map((x) => x.action)).toEqual(['alert_opened', 'alert_observed']);
    });

    it('activity on a closed alert reopens it', async () => {
      const r = await store.db.transaction((tx) => saveScan(tx, scan('S1', '2026-10-17'), [finding(0)], 'scene-A'));
      await store.db.query(`UPDATE alerts SET status = 'closed' WHERE alert_id = $1`, [r.alerts[0].alert_id]);
      await store.db.transaction((tx) => saveScan(tx, scan('S2', '2026-12-01'), [finding(0)], 'scene-C'));
      const [a] = await listAlerts(store.db);
      expect(a.status).toBe('new');
    });

    it('a failing write leaves no half-written rows', async () => {
      const bad = finding(0);
      (bad.site as { areaHa: number }).areaHa = Number.NaN;
      bad.classification = { ...(bad.classification as Extract<Classification, { outcome: 'alert' }>), category: null as unknown as 'unlicensed' };
      await expect(store.db.transaction((tx) => saveScan(tx, scan('S1', '2026-10-17'), [finding(800), bad], 'scene-A'))).rejects.toThrow();
      expect(await listAlerts(store.db)).toHaveLength(0);
      expect((await store.db.query('SELECT * FROM scans')).rows).toHaveLength(0);
    });

    it('licensed activity is recorded per permit, with no alert', async () => {
      const f = finding(0);
      f.classification = { outcome: 'licensed', permitId: 'C1', trace: [], summary: 'inside C1' };
      const r = await store.db.transaction((tx) => saveScan(tx, scan('S1', '2026-10-17'), [f], 'scene-A'));
      expect(r.licensed).toBe(1);
      expect(await listAlerts(store.db)).toHaveLength(0);
      const rows = await store.db.query<{ permit_id: string }>('SELECT permit_id FROM licensed_activity');
      expect(rows.rows).toEqual([{ permit_id: 'C1' }]);
    });
  });
}

describe('embedded store lock', () => {
  it('a second opener of the same data dir gets a clear message', async () => {
    const store = await openTestStore('pglite');
    try {
      const { openDatabase } = await import('../pipeline/store/database.js');
      // Same process: simulate another owner by writing a live foreign pid (our parent) into the lock.
      const { writeFileSync } = await import('node:fs');
      const { join } = await import('node:path');
      writeFileSync(join(store.env.dataDir!, 'orewatch.lock'), String(process.ppid));
      await expect(openDatabase({ dataDir: store.env.dataDir })).rejects.toThrow(/in use by another orewatch process/);
    } finally {
      await store.cleanup();
    }
  });
});

describe.skipIf(!hasPostgres)('one alert per site under concurrency (PostgreSQL)', () => {
  it('two processes writing overlapping sites at the same moment open one alert, not two', async () => {
    const store = await openTestStore('postgres');
    // A second pool on the same schema stands for a second worker process.
    const { openDatabase } = await import('../pipeline/store/database.js');
    const other = await openDatabase({ databaseUrl: store.env.databaseUrl, schema: store.env.schema });
    try {
      await migrate(store.db);
      // The same site seen by two scans, traced a pixel apart: different geometries (so different
      // first-detection ids) that overlap far beyond SAME_SITE_OVERLAP.
      const a = finding(0), b = finding(3);
      for (let round = 0; round < 5; round++) {
        await store.db.query('TRUNCATE alerts, observations, scans, audit_log CASCADE');
        let open!: () => void;
        const started = new Promise<void>((resolve) => { open = resolve; });
        const write = (db: typeof store.db, id: string, f: ScanFinding) => db.transaction(async (tx) => {
          await started; // both transactions are open before either writes
          return saveScan(tx, scan(id, '2026-10-17'), [f], `scene-${id}`);
        });
        const both = Promise.all([write(store.db, `A${round}`, a), write(other, `B${round}`, b)]);
        open();
        const [ra, rb] = await both;
        expect(ra.opened + rb.opened).toBe(1);
        expect(ra.updated + rb.updated).toBe(1);
        const alerts = await listAlerts(store.db);
        expect(alerts).toHaveLength(1);
        expect(alerts[0].observation_count).toBe(2);
      }
    } finally {
      await other.close();
      await store.cleanup();
    }
  }, 60_000);
});
