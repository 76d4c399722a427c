/**
 * Scene discovery for the nightly scan: STAC API search (paging in three link styles, cloud
 * filter on the server and again on the client, errors by kind), the watched folder (new files
 * listed, corrupt ones rejected with a reason while the rest are listed, files still being
 * written and temporary files left alone), and the choice of the before scene.
 *
 * The STAC API is test/helpers/stac-server.ts on 127.0.0.1; GeoTIFFs are written here with
 * geodata/tiff-writer.ts. No network, no GDAL.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Polygon } from 'geojson';
import proj4 from 'proj4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { areaHa } from '../geodata/area.js';
import { openScene } from '../geodata/scene-reader.js';
import { createGeoTiffWriter } from '../geodata/tiff-writer.js';
import type { GeoTransform } from '../geodata/types.js';
import { chooseBefore, planPairs } from '../pipeline/discovery/pairing.js';
import { searchStac } from '../pipeline/discovery/stac.js';
import type { SceneCandidate } from '../pipeline/discovery/types.js';
import { dateFromFileName, listWatchedFolder } from '../pipeline/discovery/watched-folder.js';
import { rejection } from './helpers/scenes.js';
import { makeS2Item, startStacServer, type StacItemJson, type StacServer } from './helpers/stac-server.js';

const tmp = mkdtempSync(join(tmpdir(), 'orewatch-discovery-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function box(w: number, s: number, e: number, n: number): Polygon {
  return { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] };
}

const AOI = box(114.05, 25.3, 114.1, 25.35);

// ---- STAC search ------------------------------------------------------------------------------

describe('searchStac', () => {
  let server: StacServer;
  /** 13 passes of tile 50RKV every 5 days from 2024-01-01, clouds cycling; plus decoys. */
  const clouds = [5, 50, 12, 80, 0, 30, 19.5, 20, 21, 3, 60, 8, 15];
  const items: StacItemJson[] = clouds.map((cloudCover, i) => makeS2Item({
    id: `S2B_50RKV_${String(i).padStart(2, '0')}`,
    datetime: new Date(Date.UTC(2024, 0, 1 + 5 * i, 3, 4, 5)).toISOString(),
    cloudCover, bbox: [113.9, 25.2, 114.9, 26.1], tile: '50RKV',
  }));
  const decoys = [
    makeS2Item({ id: 'ELSEWHERE', datetime: '2024-01-15T03:00:00Z', cloudCover: 1, bbox: [100, 10, 101, 11], tile: '47PQS' }),
    makeS2Item({ id: 'OTHER_COLLECTION', collection: 'sentinel-2-l1c', datetime: '2024-01-15T03:00:00Z', cloudCover: 1, bbox: [113.9, 25.2, 114.9, 26.1] }),
    makeS2Item({ id: 'TOO_LATE', datetime: '2024-06-01T03:00:00Z', cloudCover: 1, bbox: [113.9, 25.2, 114.9, 26.1] }),
  ];
  const expectedIds = items.filter((it) => (it.properties['eo:cloud_cover'] as number) <= 20).map((it) => it.id);

  beforeAll(async () => {
    server = await startStacServer({ items: [...items, ...decoys] });
  });
  afterAll(async () => server?.close());

  const search = (extra: Partial<Parameters<typeof searchStac>[0]> = {}) => searchStac({
    apiUrl: server.url, collections: ['sentinel-2-l2a'], intersects: AOI,
    datetime: { from: '2024-01-01', to: '2024-03-31' }, maxCloudCover: 20, limit: 4, ...extra,
  });

  for (const style of ['post-merge', 'post-body', 'get'] as const) {
    it(`follows ${style} next links and returns the right items, oldest first`, async () => {
      server.nextLink = style;
      server.resetCounters();
      const found = await search();
      expect(found.map((c) => c.key.replace('stac:sentinel-2-l2a/', ''))).toEqual(expectedIds);
      const pages = server.requests.filter((r) => r.path.startsWith('/search'));
      expect(pages.length).toBe(Math.ceil(expectedIds.length / 4));
      const first = pages[0];
      expect(first?.method).toBe('POST');
      expect(first?.body).toMatchObject({
        collections: ['sentinel-2-l2a'], limit: 4, intersects: AOI,
        datetime: '2024-01-01T00:00:00Z/2024-03-31T23:59:59.999Z', query: { 'eo:cloud_cover': { lte: 20 } },
      });
      if (style === 'get') expect(pages.slice(1).every((p) => p.method === 'GET')).toBe(true);
      else expect(pages.slice(1).every((p) => p.method === 'POST' && JSON.stringify(p.body).includes('"query"'))).toBe(true);
      server.nextLink = 'post-merge';
    });
  }

  it('filters on cloud cover itself when the server ignores the query extension', async () => {
    server.supportsQuery = false;
    try {
      const found = await search();
      expect(found.map((c) => c.key.replace('stac:sentinel-2-l2a/', ''))).toEqual(expectedIds);
      expect(found.every((c) => c.cloudCover !== null && c.cloudCover <= 20)).toBe(true);
    } finally {
      server.supportsQuery = true;
    }
  });

  it('describes each item as a candidate that opens as a scene', async () => {
    const [first] = await search({ maxCloudCover: 100, limit: 100 });
    expect(first).toEqual({
      key: 'stac:sentinel-2-l2a/S2B_50RKV_00',
      uri: `stac:${server.itemUrl('sentinel-2-l2a', 'S2B_50RKV_00')}`,
      source: 'stac',
      acquiredAt: '2024-01-01T03:04:05.000Z',
      date: '2024-01-01',
      cloudCover: 5,
      footprint: box(113.9, 25.2, 114.9, 26.1),
      tile: '50RKV',
      platform: 'sentinel-2b',
    });
    // The uri is one openScene understands: the item is fetched and read (it has no assets here,
    // so asking for B04 is refused, naming the asset it looked for).
    const scene = await openScene(first?.uri ?? '', { bandNames: ['B04'] }).catch((error: unknown) => error);
    expect(scene).toMatchObject({ code: 'STAC.MISSING_ASSET' });
  });

  it('stops at maxItems and takes open-ended time ranges', async () => {
    expect((await search({ maxItems: 3 })).length).toBe(3);
    const late = await search({ datetime: { from: new Date('2024-02-20T00:00:00Z') }, maxCloudCover: undefined });
    expect(late.map((c) => c.date)).toEqual(['2024-02-20', '2024-02-25', '2024-03-01', '2024-06-01']);
  });

  it('network failures and 5xx are transient; 4xx, bad JSON and bad items are input errors naming the URL and field', async () => {
    server.fault('/search', { status: 502 }, 1);
    const bad502 = await rejection(search());
    expect(bad502).toMatchObject({ code: 'STAC.NETWORK', kind: 'transient' });
    expect(bad502.message).toContain(`${server.url}/search`);

    // A failure on a later page is just as transient.
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      calls += 1;
      if (calls === 2) throw new TypeError('fetch failed');
      return fetch(input, init);
    };
    expect(await rejection(search({ fetch: flaky }))).toMatchObject({ code: 'STAC.NETWORK', kind: 'transient' });

    server.fault('/search', { status: 400, body: '{"code":"BadRequest","description":"unknown field intersects"}' }, 1);
    const bad400 = await rejection(search());
    expect(bad400).toMatchObject({ code: 'STAC.HTTP', kind: 'input' });
    expect(bad400.message).toContain('unknown field intersects');

    server.fault('/search', { status: 200, body: '<html>maintenance</html>', contentType: 'text/html' }, 1);
    expect(await rejection(search())).toMatchObject({ code: 'STAC.INVALID_JSON', kind: 'input' });

    server.fault('/search', { status: 200, body: JSON.stringify({ type: 'FeatureCollection', features: [{ id: 'X', collection: 'sentinel-2-l2a', properties: {} }] }) }, 1);
    const noDate = await rejection(search());
    expect(noDate).toMatchObject({ code: 'STAC.INVALID_ITEM', kind: 'input' });
    expect(noDate.message).toContain('features[0].properties.start_datetime');
    expect(noDate.message).toContain('/search');

    server.fault('/search', { status: 200, body: '{"type":"FeatureCollection"}' }, 1);
    expect(await rejection(search())).toMatchObject({ code: 'STAC.INVALID_RESPONSE' });
    server.clearFaults();
  });

  it('gives up on a server that does not answer in time (transient)', async () => {
    server.fault('/search', { status: 200, body: '{}', delayMs: 1500 }, 1);
    const error = await rejection(search({ timeoutMs: 200 }));
    expect(error).toMatchObject({ code: 'STAC.NETWORK', kind: 'transient' });
    expect(error.message).toContain('timed out after 200 ms');
    server.clearFaults();
  });

  it('refuses options that cannot work, with one uniform message', async () => {
    expect((await rejection(search({ apiUrl: 'ftp://x' }))).message).toBe('Expected an http(s) URL for apiUrl but received "ftp://x"');
    expect((await rejection(search({ maxCloudCover: 120 }))).code).toBe('STAC.INVALID_OPTION');
    expect((await rejection(search({ datetime: { from: '2024-13-01' } }))).message).toContain('datetime.from');
    expect((await rejection(search({ collections: [] }))).message).toContain('collections');
  });
});

// ---- watched folder ---------------------------------------------------------------------------

describe('listWatchedFolder', () => {
  const dir = join(tmp, 'inbox');
  const transform: GeoTransform = [400_000, 10, 0, 2_800_000, 0, -10];
  const now = new Date();
  const past = new Date(now.getTime() - 60_000);

  async function writeScene(name: string, metadata: Record<string, string>, mtime = past): Promise<string> {
    const path = join(dir, name);
    const writer = await createGeoTiffWriter(path, { width: 64, height: 48, bands: ['B04', 'B08'], sampleType: 'uint16', tileSize: 32, crs: { epsg: 32650 }, transform, metadata });
    const band = new Uint16Array(64 * 48).map((_, i) => 1000 + (i % 97) + name.length);
    await writer.writeRows(0, { B04: band, B08: band });
    await writer.close();
    utimesSync(path, mtime, mtime);
    return path;
  }
  const sha = (path: string): string => `sha256:${createHash('sha256').update(readFileSync(path)).digest('hex')}`;

  let sentinel: string, dated: string;
  beforeAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    sentinel = await writeScene('S2B_MSIL2A_20240105T030109_N0510_R032_T50RKV_20240105T065408.tif', {
      ACQUISITION_DATE: '2024-01-05', CLOUDY_PIXEL_PERCENTAGE: '12.5', SPACECRAFT_NAME: 'Sentinel-2B',
    });
    dated = await writeScene('site_2024-02-10.tiff', {});
    await writeScene('undated.tif', {});
    await writeScene('.hidden.tif', { ACQUISITION_DATE: '2024-01-06' });
    await writeScene('download.part.tif', { ACQUISITION_DATE: '2024-01-07' });
    writeFileSync(join(dir, 'notes.txt'), 'not a scene');
    const corrupt = join(dir, 'corrupt_20240301.tif');
    writeFileSync(corrupt, Buffer.concat([Buffer.from('II*\0'), Buffer.alloc(200, 0xab)]));
    utimesSync(corrupt, past, past);
    const garbage = join(dir, 'garbage.tif');
    writeFileSync(garbage, 'PK\u0003\u0004 this is a zip, not a tiff');
    utimesSync(garbage, past, past);
  });

  it('lists scenes with date, time, cloud cover, tile, platform, footprint and content key', async () => {
    const { candidates, rejected } = await listWatchedFolder(dir, { now });
    expect(candidates.map((c) => c.uri)).toEqual([sentinel, dated]);
    const [s2, site] = candidates as [SceneCandidate, SceneCandidate];
    expect(s2).toMatchObject({
      key: sha(sentinel), source: 'folder', date: '2024-01-05', acquiredAt: '2024-01-05T03:01:09.000Z',
      cloudCover: 12.5, tile: '50RKV', platform: 'sentinel-2b',
    });
    expect(site).toMatchObject({ key: sha(dated), date: '2024-02-10', acquiredAt: '2024-02-10T00:00:00.000Z', cloudCover: null, tile: null, platform: null });
    // The footprint is the grid outline in WGS 84: 640 m × 480 m = 30.72 ha (UTM scale error < 0.1 %).
    const footprint = s2.footprint as Polygon;
    expect(footprint.type).toBe('Polygon');
    expect(areaHa(footprint)).toBeCloseTo(30.72, 1);
    const ring = footprint.coordinates[0] ?? [];
    expect(ring[0]).toEqual(ring[ring.length - 1]);
    // Its extremes are the grid corners, transformed by proj4 directly (x 400 000–400 640, y 2 799 520–2 800 000).
    const utm50 = '+proj=utm +zone=50 +datum=WGS84 +units=m +no_defs';
    const corners = [[400_000, 2_800_000], [400_640, 2_800_000], [400_640, 2_799_520], [400_000, 2_799_520]].map((xy) => proj4(utm50, 'WGS84', xy));
    const lons = ring.map((p) => p[0] as number), lats = ring.map((p) => p[1] as number);
    expect(Math.min(...lons)).toBeCloseTo(Math.min(...corners.map((c) => c[0] as number)), 9);
    expect(Math.max(...lons)).toBeCloseTo(Math.max(...corners.map((c) => c[0] as number)), 9);
    expect(Math.min(...lats)).toBeCloseTo(Math.min(...corners.map((c) => c[1] as number)), 9);
    expect(Math.max(...lats)).toBeCloseTo(Math.max(...corners.map((c) => c[1] as number)), 9);

    // Rejected with a reason, and the others still listed.
    expect(rejected.map((r) => [r.file.slice(dir.length + 1), r.code])).toEqual([
      ['corrupt_20240301.tif', expect.stringMatching(/^SCENE\./)],
      ['garbage.tif', 'SCENE.NOT_TIFF'],
      ['undated.tif', 'DISCOVERY.NO_DATE'],
    ]);
    expect(rejected.every((r) => r.message.includes(r.file))).toBe(true);
  });

  it('leaves files still being written for the next run, and lists only what changed since', async () => {
    const fresh = await writeScene('fresh_20240320.tif', {}, new Date());
    const first = await listWatchedFolder(dir, { settleMs: 30_000 });
    expect(first.candidates.map((c) => c.uri)).not.toContain(fresh);

    const lastRun = new Date(past.getTime() + 1000);
    const later = await listWatchedFolder(dir, { since: lastRun, settleMs: 0 });
    expect(later.candidates.map((c) => c.uri)).toEqual([fresh]);
    expect(later.rejected).toEqual([]);

    // The same bytes under another name are the same scene.
    const copy = join(dir, 'copy_20240320.tif');
    copyFileSync(fresh, copy);
    const withCopy = await listWatchedFolder(dir, { since: lastRun, settleMs: 0 });
    expect(withCopy.candidates.map((c) => c.uri)).toEqual([copy]);
    expect(withCopy.rejected).toEqual([expect.objectContaining({ file: fresh, code: 'DISCOVERY.DUPLICATE' })]);
    rmSync(copy);
    rmSync(fresh);
  });

  it('a missing folder is a configuration error', async () => {
    const error = await rejection(listWatchedFolder(join(tmp, 'no-such-folder')));
    expect(error).toMatchObject({ code: 'DISCOVERY.FOLDER_NOT_FOUND', kind: 'config' });
  });

  it('finds dates in file names', () => {
    expect(dateFromFileName('S2A_MSIL2A_20231231T030101_N0510.tif')).toBe('2023-12-31');
    expect(dateFromFileName('mine-2024-02-29.tif')).toBe('2024-02-29');
    expect(dateFromFileName('mine-2023-02-29_20230301.tif')).toBe('2023-03-01');
    expect(dateFromFileName('id12345678.tif')).toBeNull();
    expect(dateFromFileName('2024-0101.tif')).toBeNull();
  });
});

// ---- pairing ----------------------------------------------------------------------------------

describe('choosing the before scene', () => {
  const covering = box(113.9, 25.2, 114.9, 26.1);
  const partial = box(114.07, 25.2, 114.9, 26.1); // 60 % of the AOI
  let n = 0;
  function scene(date: string, extra: Partial<SceneCandidate> = {}): SceneCandidate {
    n += 1;
    return {
      key: `stac:sentinel-2-l2a/S${n}_${date}`, uri: `stac:http://x/S${n}`, source: 'stac',
      acquiredAt: `${date}T03:00:00.000Z`, date, cloudCover: 5, footprint: covering, tile: '50RKV', platform: 'sentinel-2a', ...extra,
    };
  }
  const after = scene('2024-06-01');

  it('prefers the same tile, then the most recent, then the lower cloud cover', () => {
    const old = scene('2024-04-01', { cloudCover: 1 });
    const recentCloudier = scene('2024-05-20', { cloudCover: 15 });
    const recentClear = scene('2024-05-20', { cloudCover: 2 });
    const otherTile = scene('2024-05-30', { tile: '49RGQ', cloudCover: 0 });
    const choice = chooseBefore(after, [old, otherTile, recentCloudier, recentClear], AOI);
    expect(choice).toMatchObject({ kind: 'chosen', before: recentClear, gapDays: 12 });
    if (choice.kind === 'chosen') expect(choice.coverage).toBeCloseTo(1, 6);
    // A scene of another tile is used when it is the only one.
    expect(chooseBefore(after, [otherTile], AOI)).toMatchObject({ kind: 'chosen', before: otherTile });
  });

  it('skips cloudy scenes, and says so when nothing is left', () => {
    const clear = scene('2024-03-01', { cloudCover: 10 });
    const cloudy = [scene('2024-05-01', { cloudCover: 60 }), scene('2024-05-21', { cloudCover: 20.5 })];
    expect(chooseBefore(after, [...cloudy, clear], AOI)).toMatchObject({ kind: 'chosen', before: clear });
    const none = chooseBefore(after, cloudy, AOI);
    expect(none.kind).toBe('none');
    if (none.kind === 'none') {
      expect(none.reason).toContain('2 cloudier than 20 %');
      expect(none.rejected.map((r) => r.reason)).toEqual(['cloudy', 'cloudy']);
    }
    // The limit is an option.
    expect(chooseBefore(after, cloudy, AOI, { maxCloudCover: 30 })).toMatchObject({ kind: 'chosen', before: cloudy[1] });
  });

  it('refuses scenes that are too old, not earlier, or do not cover the AOI', () => {
    const tooOld = scene('2023-04-01');
    const sameDay = scene('2024-06-01', { tile: '50RKA' });
    const later = scene('2024-06-05');
    const notCovering = scene('2024-05-25', { footprint: partial });
    const none = chooseBefore(after, [tooOld, sameDay, later, notCovering, after], AOI);
    expect(none.kind).toBe('none');
    if (none.kind === 'none') {
      expect(none.rejected).toEqual([
        { key: tooOld.key, reason: 'too-old' },
        { key: sameDay.key, reason: 'not-earlier' },
        { key: later.key, reason: 'not-earlier' },
        { key: notCovering.key, reason: 'not-covering' },
        { key: after.key, reason: 'same-scene' },
      ]);
      expect(none.reason).toContain('1 more than 400 days older');
      expect(none.reason).toContain('1 covering less than 95 % of the AOI');
    }
    expect(chooseBefore(after, [tooOld], AOI, { maxGapDays: 500 })).toMatchObject({ kind: 'chosen', before: tooOld });
    expect(chooseBefore(after, [notCovering], AOI, { minCoverage: 0.5 })).toMatchObject({ kind: 'chosen', before: notCovering });
    expect(chooseBefore(after, [], AOI)).toMatchObject({ kind: 'none', reason: expect.stringContaining('no earlier scene to compare') });
  });

  it('unknown cloud cover and footprint are allowed; unknown cloud ranks after known-clear', () => {
    const unknownRecent = scene('2024-05-31', { cloudCover: null });
    const knownOlder = scene('2024-05-01', { cloudCover: 18 });
    const noFootprint = scene('2024-05-15', { footprint: null, cloudCover: 3 });
    expect(chooseBefore(after, [unknownRecent, knownOlder], AOI)).toMatchObject({ before: knownOlder });
    expect(chooseBefore(after, [unknownRecent], AOI)).toMatchObject({ kind: 'chosen', before: unknownRecent });
    expect(chooseBefore(after, [knownOlder, noFootprint], AOI)).toMatchObject({ before: noFootprint, coverage: null });
  });

  it('plans a pair or a reason for every new scene', () => {
    const history = [scene('2024-03-01', { cloudCover: 4 })];
    const first = scene('2024-06-10', { cloudCover: 6 });
    const cloudy = scene('2024-06-15', { cloudCover: 70 });
    const second = scene('2024-06-20', { cloudCover: 9 });
    const outside = scene('2024-06-21', { footprint: box(100, 10, 101, 11) });
    const plan = planPairs([second, outside, cloudy, first], history, AOI);
    expect(plan.map((p) => p.after)).toEqual([first, cloudy, second, outside]);
    expect(plan[0]).toMatchObject({ kind: 'pair', before: history[0] });
    expect(plan[1]).toMatchObject({ kind: 'skipped', final: true, skipped: { code: 'after-cloudy' } });
    // Two new passes in one run: the later pairs with the earlier.
    expect(plan[2]).toMatchObject({ kind: 'pair', before: first, gapDays: 10 });
    expect(plan[3]).toMatchObject({ kind: 'skipped', final: true, skipped: { code: 'after-outside-aoi' } });
    const lonely = planPairs([scene('2024-06-10')], [], AOI);
    expect(lonely[0]).toMatchObject({ kind: 'skipped', final: false, skipped: { code: 'no-before' } });
    expect(() => planPairs([], [], { type: 'GeometryCollection', geometries: [] })).toThrow(/aoi/);
    expect(() => chooseBefore(after, [], AOI, { minCoverage: 2 })).toThrow('Expected a share from 0 to 1 for minCoverage but received 2');
  });

  it('the choice always qualifies and never depends on input order (property)', () => {
    const footprints = [covering, partial, null, box(100, 10, 101, 11)];
    const arbitraryScene = fc.record({
      day: fc.integer({ min: 0, max: 600 }),
      cloud: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
      footprint: fc.constantFrom(...footprints),
      tile: fc.constantFrom('50RKV', '49RGQ', null),
    }).map(({ day, cloud, footprint, tile }) => {
      const date = new Date(Date.UTC(2023, 0, 1 + day)).toISOString().slice(0, 10);
      return scene(date, { cloudCover: cloud, footprint, tile });
    });
    fc.assert(fc.property(fc.array(arbitraryScene, { maxLength: 12 }), fc.integer({ min: 0, max: 1000 }), (earlier, seed) => {
      const target = scene('2024-08-01');
      const choice = chooseBefore(target, earlier, AOI);
      const k = seed % Math.max(1, earlier.length);
      const shuffled = [...earlier.slice(k), ...earlier.slice(0, k)].reverse();
      const again = chooseBefore(target, shuffled, AOI);
      expect(again.kind).toBe(choice.kind);
      expect(again.before?.key).toBe(choice.before?.key);
      if (choice.kind === 'chosen') {
        expect(choice.before.date < target.date).toBe(true);
        expect(choice.gapDays).toBeLessThanOrEqual(400);
        expect(choice.before.cloudCover === null || choice.before.cloudCover <= 20).toBe(true);
        expect(choice.coverage === null || choice.coverage >= 0.95).toBe(true);
      } else {
        expect(choice.rejected.length).toBe(earlier.length);
      }
    }), { numRuns: 60 });
  });
});
