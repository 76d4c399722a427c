/**
 * Watched areas and nightly scans, end to end with real processes: a local STAC API serving
 * Sentinel-2-style items whose bands are single-band COGs read by HTTP range requests, a watched
 * folder, `orewatch aoi add/run`, a worker. A new scene is paired with the best earlier clear
 * scene and scanned once — never again for the same detector and rules version; a cloudy scene is
 * skipped; a corrupt scene fails its own pair with its reason while the others complete.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openScene } from '../geodata/scene-reader.js';
import { createGeoTiffWriter } from '../geodata/tiff-writer.js';
import { gridFootprint } from '../pipeline/discovery/watched-folder.js';
import { orewatch } from './helpers/cli.js';
import { corruptPixelData } from './helpers/corrupt.js';
import { postgresAvailable, TEST_DATABASE_URL } from './helpers/databases.js';
import { alertsById, dropSchema, scenario, serverEnv, spawnWorker, sql, type ScenarioFiles, type ServerEnv, type WorkerProc } from './helpers/server-mode.js';
import { makeS2Item, startStacServer, type S2AssetSpec, type S2Band, type StacServer } from './helpers/stac-server.js';

const SHARED_REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const pgUp = await postgresAvailable();
const BANDS: S2Band[] = ['B02', 'B03', 'B04', 'B08', 'B11', 'B12'];

/** Splits a multi-band scene into one tiled single-band GeoTIFF per band (as Sentinel-2 COGs are published). */
async function splitBands(src: string, dir: string, prefix: string): Promise<Partial<Record<S2Band, S2AssetSpec>> & { grid: { width: number; height: number; transform: number[]; epsg: number } }> {
  const scene = await openScene(src);
  const { width, height, transform, crs } = scene.info.grid;
  const epsg = Number(crs.code!.split(':')[1]);
  const px = await scene.readWindow({ col: 0, row: 0, width, height });
  await scene.close();
  const assets: Partial<Record<S2Band, S2AssetSpec>> = {};
  for (const band of BANDS) {
    const name = `${prefix}_${band}.tif`;
    const writer = await createGeoTiffWriter(join(dir, name), { width, height, bands: [band], sampleType: 'uint16', tileSize: 256, crs: { epsg }, transform, nodata: 0 });
    await writer.writeRows(0, { [band]: px.bands[band] });
    await writer.close();
    assets[band] = { href: name, grid: { epsg, width, height, transform }, scale: 0.0001, offset: 0, nodata: 0, dataType: 'uint16' };
  }
  return Object.assign(assets, { grid: { width, height, transform, epsg } });
}

describe.skipIf(!pgUp)('watched areas: scheduled discovery and scans (STAC, folder)', () => {
  let env: ServerEnv;
  let tmp: string;
  let s: ScenarioFiles;
  let stac: StacServer;
  let worker: WorkerProc;
  let aoiFile: string;

  beforeAll(async () => {
    env = serverEnv(SHARED_REDIS, TEST_DATABASE_URL);
    tmp = mkdtempSync(join(tmpdir(), 'orewatch-nightly-'));
    s = await scenario(512, 203);
    const assetsDir = join(tmp, 'assets');
    mkdirSync(assetsDir);
    const before = await splitBands(s.before, assetsDir, 'before');
    const after = await splitBands(s.after, assetsDir, 'after');
    const beforeScene = await openScene(s.before);
    const footprint = gridFootprint(beforeScene.info.grid)!;
    await beforeScene.close();
    const afterScene = await openScene(s.after);
    await afterScene.close();
    const lons = footprint.coordinates[0].map((p) => p[0]), lats = footprint.coordinates[0].map((p) => p[1]);
    const bbox: [number, number, number, number] = [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)];
    stac = await startStacServer({ assetsDir });
    const item = (id: string, date: string, assets: Partial<Record<S2Band, S2AssetSpec>>, cloudCover: number) => makeS2Item({
      id, datetime: `${date}T03:04:05.000Z`, cloudCover, bbox, tile: '50RKV',
      assets: Object.fromEntries(BANDS.map((b) => [b, { ...assets[b]!, href: stac.assetUrl(assets[b]!.href) }])),
    });
    // A clear earlier pass, a cloudy pass between, and the clear later pass, in the last weeks.
    const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString().slice(0, 10);
    const [beforeDate, cloudyDate, afterDate] = [daysAgo(40), daysAgo(20), daysAgo(10)];
    stac.addItems([item('S2B_50RKV_BEFORE_L2A', beforeDate, before, 3.2), item('S2A_50RKV_CLOUDY_L2A', cloudyDate, after, 78), item('S2B_50RKV_AFTER_L2A', afterDate, after, 4.1)]);
    aoiFile = join(tmp, 'aoi.geojson');
    // The area: the middle of the scene, so the scan reads only the windows it touches.
    const [w, so, e, n] = bbox;
    const inset = (a: number, b: number, t: number) => a + (b - a) * t;
    writeFileSync(aoiFile, JSON.stringify({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[
      [inset(w, e, 0.05), inset(so, n, 0.05)], [inset(w, e, 0.95), inset(so, n, 0.05)], [inset(w, e, 0.95), inset(so, n, 0.95)], [inset(w, e, 0.05), inset(so, n, 0.95)], [inset(w, e, 0.05), inset(so, n, 0.05)],
    ]] } }));
    const imported = await orewatch(['import', 'permits', s.permits], env);
    expect(imported.status, imported.stderr).toBe(0);
    for (const [kind, file] of [['closed-sites', s.closedSites], ['protected-areas', s.protectedAreas]] as const) {
      const r = await orewatch(['import', kind, file], env);
      expect(r.status, r.stderr).toBe(0);
    }
    worker = spawnWorker(env, ['--concurrency', '2']);
    await worker.waitFor((l) => l.msg === 'worker started', 30_000);
  }, 180_000);

  afterAll(async () => {
    await worker?.stop();
    await stac?.close();
    await dropSchema(env);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('schedules an area nightly in Asia/Shanghai, scans the new STAC scene against the earlier clear one, once', async () => {
    const add = await orewatch(['aoi', 'add', 'ganzhou-test', '--geometry', aoiFile, '--stac', stac.url], env);
    expect(add.status, add.stderr).toBe(0);
    expect(add.stdout).toMatch(/0 2 \* \* \* Asia\/Shanghai/);
    const queue = new Queue('discover', { connection: { url: env.REDIS_URL }, prefix: env.OREWATCH_QUEUE_PREFIX });
    try {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((j) => ({ pattern: j.pattern, tz: j.tz }))).toEqual([{ pattern: '0 2 * * *', tz: 'Asia/Shanghai' }]);
    } finally {
      await queue.close();
    }
    const before = stac.bytesServed();
    const run = await orewatch(['aoi', 'run', 'ganzhou-test', '--wait'], env);
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    // The cloudy pass is filtered out by the search (eo:cloud_cover ≤ 20); the earliest scene waits as a reference.
    expect(run.stdout).toMatch(/2 scenes found, 1 scans queued, 1 done, 0 failed, 0 skipped, 1 waiting/);
    const scans = await sql<{ before_uri: string; after_uri: string; status: string; windows_total: number; stats: { alert_ids: string[] } }>(env,
      `SELECT before_uri, after_uri, status, windows_total, stats FROM scans WHERE aoi_id IS NOT NULL`);
    expect(scans).toHaveLength(1);
    expect(scans[0].before_uri).toMatch(/^stac:http.*S2B_50RKV_BEFORE_L2A$/);
    expect(scans[0].after_uri).toMatch(/^stac:http.*S2B_50RKV_AFTER_L2A$/);
    expect(scans[0].status).toBe('done');
    expect(scans[0].stats.alert_ids.length).toBeGreaterThan(0);
    const served = (stac.bytesServed()) - before;
    expect(served).toBeGreaterThan(0);

    // The same pair scanned directly (embedded, whole scene) finds the alerts the area scan found.
    const direct = await orewatch(['scan', '--before', scans[0].before_uri, '--after', scans[0].after_uri, '--permits', s.permits,
      '--closed-sites', s.closedSites, '--protected-areas', s.protectedAreas, '--quiet', '--data-dir', join(tmp, 'embedded'), '--out', join(tmp, 'direct.geojson')]);
    expect(direct.status, direct.stderr).toBe(0);
    const directIds = [...alertsById(JSON.parse(readFileSync(join(tmp, 'direct.geojson'), 'utf8'))).keys()];
    expect([...scans[0].stats.alert_ids].sort()).toEqual(directIds.sort());

    // Again: nothing new to scan (the claim is in the database), the earliest still waits.
    const again = await orewatch(['aoi', 'run', 'ganzhou-test', '--wait'], env);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/2 scenes found, 0 scans queued/);
    const claims = await sql<{ outcome: string; n: number }>(env, `SELECT outcome, count(*)::int AS n FROM scene_scans GROUP BY outcome ORDER BY outcome`);
    expect(claims).toEqual([{ outcome: 'queued', n: 1 }]);
    const searched = stac.requests.filter((r) => r.path.startsWith('/search'));
    expect(JSON.stringify(searched[0]?.body)).toMatch(/eo:cloud_cover/);
    const list = await orewatch(['aoi', 'list'], env);
    expect(list.stdout).toMatch(/ganzhou-test/);
  }, 240_000);

  it('fails the pair of a corrupt scene with its reason and completes the others (watched folder)', async () => {
    const watch = join(tmp, 'watch');
    mkdirSync(watch);
    copyFileSync(s.before, join(watch, 'scene-a.tif'));
    copyFileSync(s.after, join(watch, 'scene-b.tif'));
    corruptPixelData(s.after, join(watch, 'scene-c-corrupt.tif'));
    writeFileSync(join(watch, 'scene-d-garbage.tif'), Buffer.from('II*\0 this is not a GeoTIFF at all'));
    const past = new Date(Date.now() - 60_000);
    for (const f of ['scene-a.tif', 'scene-b.tif', 'scene-c-corrupt.tif', 'scene-d-garbage.tif']) utimesSync(join(watch, f), past, past);
    const add = await orewatch(['aoi', 'add', 'folder-test', '--geometry', aoiFile, '--watch', watch, '--cron', '30 1 * * *', '--max-gap-days', '600'], env);
    expect(add.status, add.stderr).toBe(0);
    const run = await orewatch(['aoi', 'run', 'folder-test', '--wait'], env);
    // Once (of many runs) this exited 1 within seconds in CI; the output says why next time.
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(2);
    expect(run.stdout).toMatch(/3 scenes found, 2 scans queued, 1 done, 2 failed/);
    expect(run.stdout).toMatch(/failed: SCAN-\S+: Scan SCAN-\S+ failed: .*scene-c-corrupt\.tif.*DEFLATE block cannot be decoded/);
    expect(run.stdout).toMatch(/failed: .*scene-d-garbage\.tif: /);
    const status = await orewatch(['status'], env);
    expect(status.stdout).toMatch(/scene-d-garbage\.tif/);
    expect(status.stdout).toMatch(/SCENE\.CORRUPT_BLOCK/);
  }, 240_000);
});
