/**
 * The scenario generator (pipeline/eval): files and manifest, determinism, the expected
 * categories recomputed from the written geometry with Turf — an implementation independent of
 * the generator's own rule code — realistic pixel behaviour at changes and traps, GDAL and
 * geotiff.js reading the scenes, and bounded memory for a 2048 px pair (in a child process).
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { fromFile } from 'geotiff';
import proj4 from 'proj4';
import * as turf from '@turf/turf';
import type { Feature, FeatureCollection, LineString, MultiPolygon, Polygon, Position } from 'geojson';
import type { PermitProps } from '../pipeline/eval/scenario-rules.js';
import { generateScenario, type ScenarioManifest } from '../pipeline/eval/scenario-generator.js';
import { isOrewatchError } from '../errors/index.js';

type Area = Polygon | MultiPolygon;
interface TruthProps {
  truth_id: string;
  kind: string;
  role: 'mining' | 'trap';
  placement: string | null;
  expected_category: string | null;
  expected_flags: string[];
  licensed_permit_id: string | null;
  permit_id: string | null;
  area_ha: number;
  date: 'before' | 'after' | 'both';
  cause?: string;
}

const PRECEDENCE = ['protected_area', 'closed_site_reactivated', 'expired_permit', 'exploration_only', 'out_of_bounds', 'unlicensed'];
const UTM50N = '+proj=utm +zone=50 +datum=WGS84 +units=m +no_defs';
const hasGdal = spawnSync('gdalinfo', ['--version']).status === 0;

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'scenario-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

interface Scene {
  dir: string;
  manifest: ScenarioManifest;
  truth: Feature<Area, TruthProps>[];
  permits: Feature<Polygon, PermitProps>[];
  closed: Feature<Polygon>[];
  protectedAreas: Feature<Polygon>[];
}

async function makeScene(seed: number, extra: { withScl?: boolean; size?: number; sensor?: 's2' | 'gf' } = {}, name = `s${seed}`): Promise<Scene> {
  const dir = join(root, name);
  const manifest = await generateScenario({ seed, outDir: dir, ...extra });
  const fc = <P>(file: string): Feature<Area, P>[] => readJson<FeatureCollection<Area, P>>(join(dir, file)).features;
  return {
    dir,
    manifest,
    truth: fc<TruthProps>(manifest.files.truth),
    permits: fc<PermitProps>(manifest.files.permits) as Feature<Polygon, PermitProps>[],
    closed: fc<object>(manifest.files.closedSites) as Feature<Polygon>[],
    protectedAreas: fc<object>(manifest.files.protectedAreas) as Feature<Polygon>[],
  };
}

/** Rings of a polygonal feature as line strings (for point-to-boundary distances). */
function boundaryLines(f: Feature<Area>): Feature<LineString>[] {
  const polys: Position[][][] = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
  return polys.flatMap((p) => p.map((ring) => turf.lineString(ring)));
}

function vertices(f: Feature<Area>): Position[] {
  const polys: Position[][][] = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
  return polys.flatMap((p) => p.flatMap((ring) => ring));
}

/** Distance in metres between two polygonal features: 0 when they intersect. */
function distanceM(a: Feature<Area>, b: Feature<Area>): number {
  if (turf.booleanIntersects(a, b)) return 0;
  let best = Infinity;
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    const lines = boundaryLines(to);
    for (const v of vertices(from)) for (const line of lines) best = Math.min(best, turf.pointToLineDistance(turf.point(v), line, { units: 'meters' }));
  }
  return best;
}

function outsideHa(a: Feature<Area>, b: Feature<Area>): number {
  const diff = turf.difference(turf.featureCollection([a, b]));
  return diff ? turf.area(diff) / 10_000 : 0;
}

/** DESIGN.md's rules, written again here from the text, on the files as written (EPSG:4326). */
function expectedByRules(f: Feature<Area, TruthProps>, scene: Scene): { category: string | null; flags: string[]; licensed: string | null } {
  const date = scene.manifest.dates.after;
  const areaHa = turf.area(f) / 10_000;
  const flags = new Set<string>();
  if (scene.protectedAreas.some((p) => turf.booleanIntersects(f, p))) flags.add('protected_area');
  if (scene.closed.some((c) => turf.booleanIntersects(f, c))) flags.add('closed_site_reactivated');
  let nearValid = false;
  let licensed: string | null = null;
  for (const p of scene.permits) {
    if (distanceM(f, p) > 100) continue;
    const props = p.properties;
    const valid = props.status === 'active' && props.valid_from <= date && date <= props.valid_to;
    if (valid) nearValid = true;
    const outside = outsideHa(f, p);
    const inside = outside < 0.1;
    if (props.type === 'mining') {
      if (!valid && inside) flags.add('expired_permit');
      if (valid && !inside) flags.add('out_of_bounds');
      if (valid && inside) licensed = props.permit_id;
    } else if (valid && inside) {
      if (areaHa >= 1) flags.add('exploration_only');
      else licensed = props.permit_id;
    }
  }
  if (!nearValid && areaHa >= 0.3) flags.add('unlicensed');
  const ordered = PRECEDENCE.filter((c) => flags.has(c));
  return { category: ordered[0] ?? null, flags: ordered, licensed: ordered.length === 0 ? licensed : null };
}

/** Pixel centres (col, row) inside a truth feature. */
function pixelsIn(f: Feature<Area>, m: ScenarioManifest): [number, number][] {
  const toUtm = proj4('EPSG:4326', UTM50N);
  const [x0, px, , y0] = m.grid.transform;
  const [w, s, e, n] = turf.bbox(f);
  const [ax, ay] = toUtm.forward([w, n]);
  const [bx, by] = toUtm.forward([e, s]);
  const [cx, cy] = toUtm.forward([w, s]);
  const [dx, dy] = toUtm.forward([e, n]);
  const c0 = Math.max(0, Math.floor((Math.min(ax!, cx!) - x0) / px) - 1);
  const c1 = Math.min(m.grid.width, Math.ceil((Math.max(bx!, dx!) - x0) / px) + 1);
  const r0 = Math.max(0, Math.floor((y0 - Math.max(ay!, dy!)) / px) - 1);
  const r1 = Math.min(m.grid.height, Math.ceil((y0 - Math.min(by!, cy!)) / px) + 1);
  const out: [number, number][] = [];
  for (let r = r0; r < r1; r++) {
    for (let c = c0; c < c1; c++) {
      const ll = toUtm.inverse([x0 + (c + 0.5) * px, y0 - (r + 0.5) * px]);
      if (turf.booleanPointInPolygon(turf.point(ll), f)) out.push([c, r]);
    }
  }
  return out;
}

async function readScene(path: string): Promise<{ bands: Uint16Array[]; width: number }> {
  const image = await (await fromFile(path)).getImage();
  return { bands: (await image.readRasters()) as unknown as Uint16Array[], width: image.getWidth() };
}

function meanNdvi(img: { bands: Uint16Array[]; width: number }, pixels: [number, number][]): number {
  let sum = 0;
  for (const [c, r] of pixels) {
    const k = r * img.width + c;
    const red = img.bands[2]![k]!;
    const nir = img.bands[3]![k]!;
    sum += (nir - red) / Math.max(1, nir + red);
  }
  return sum / Math.max(1, pixels.length);
}

describe('generateScenario', () => {
  let main: Scene;
  beforeAll(async () => {
    main = await makeScene(7, { withScl: true });
  });

  it('writes every file the manifest names, with matching checksums', () => {
    const m = main.manifest;
    for (const file of Object.values(m.files)) expect(existsSync(join(main.dir, file)), file).toBe(true);
    for (const [file, hash] of Object.entries(m.checksums)) expect(sha256(join(main.dir, file)), file).toBe(hash);
    const onDisk = readJson<ScenarioManifest>(join(main.dir, m.files.manifest));
    expect(onDisk).toEqual(m);
    expect(m.crs).toBe('EPSG:32650');
    expect(m.bands).toEqual(['B02', 'B03', 'B04', 'B08', 'B11', 'B12', 'SCL']);
    // In the Ganzhou rare-earth district.
    const [w, s, e, n] = m.bbox;
    expect((w + e) / 2).toBeGreaterThan(114.5);
    expect((w + e) / 2).toBeLessThan(115.3);
    expect((s + n) / 2).toBeGreaterThan(24.6);
    expect((s + n) / 2).toBeLessThan(25.2);
    // About a year apart.
    const days = (Date.parse(m.dates.after) - Date.parse(m.dates.before)) / 86_400_000;
    expect(days).toBeGreaterThan(200);
    expect(days).toBeLessThan(530);
  });

  it('has 6–12 mining changes covering every category, licensed activity, and ≥ 6 traps', () => {
    const mining = main.truth.filter((f) => f.properties.role === 'mining');
    const traps = main.truth.filter((f) => f.properties.role === 'trap');
    expect(mining.length).toBeGreaterThanOrEqual(6);
    expect(mining.length).toBeLessThanOrEqual(12);
    expect(traps.length).toBeGreaterThanOrEqual(6);
    const categories = new Set(mining.map((f) => f.properties.expected_category));
    for (const c of PRECEDENCE) expect(categories.has(c), c).toBe(true);
    expect(mining.some((f) => f.properties.expected_category === null && f.properties.licensed_permit_id !== null)).toBe(true);
    const trapKinds = new Set(traps.map((f) => f.properties.kind));
    for (const k of ['harvest', 'road', 'building', 'seasonal', 'illumination']) expect(trapKinds.has(k), k).toBe(true);
    for (const t of traps) {
      expect(t.properties.expected_category).toBeNull();
      expect(t.properties.expected_flags).toEqual([]);
    }
    expect(main.manifest.shortfalls).toEqual([]);
    const ids = main.truth.map((f) => f.properties.truth_id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('permits carry the documented properties', () => {
    for (const p of main.permits) {
      const props = p.properties;
      expect(props.permit_id).toMatch(props.type === 'mining' ? /^C3607002\d{3}\d{5}$/ : /^T3607002\d{3}\d{5}$/);
      expect(props.mineral).toBe('稀土');
      expect(['active', 'expired', 'suspended']).toContain(props.status);
      expect(props.valid_from < props.valid_to).toBe(true);
      expect(props.holder.length).toBeGreaterThan(2);
    }
  });

  for (const seed of [7, 19, 42]) {
    it(`expected categories and flags follow DESIGN's rules, recomputed with Turf (seed ${seed})`, async () => {
      const scene = seed === 7 ? main : await makeScene(seed);
      const mining = scene.truth.filter((f) => f.properties.role === 'mining');
      expect(mining.length).toBeGreaterThan(0);
      for (const f of mining) {
        const got = expectedByRules(f, scene);
        const label = `${f.properties.truth_id} ${f.properties.kind} (${f.properties.placement})`;
        expect(f.properties.expected_category, label).toBe(got.category);
        expect(f.properties.expected_flags, label).toEqual(got.flags);
        expect(f.properties.licensed_permit_id, label).toBe(got.licensed);
        // Areas: the written polygon's area equals the stated one (ellipsoid vs grid: ±1.5 %).
        expect(Math.abs(turf.area(f) / 10_000 - f.properties.area_ha) / f.properties.area_ha, label).toBeLessThan(0.015);
      }
      // Unambiguous truth: unlicensed changes keep ≥ 200 m from every permit.
      for (const f of mining.filter((x) => x.properties.placement === 'unlicensed')) {
        for (const p of scene.permits) expect(distanceM(f, p)).toBeGreaterThanOrEqual(199);
      }
      // Mining changes never overlap each other or a surface trap.
      const surfaceTraps = scene.truth.filter((t) => t.properties.role === 'trap' && !['haze', 'illumination'].includes(t.properties.kind));
      for (const f of mining) {
        for (const g of [...mining, ...surfaceTraps]) {
          if (f === g) continue;
          const overlap = turf.intersect(turf.featureCollection([f, g]));
          expect(overlap ? turf.area(overlap) : 0, `${f.properties.truth_id} × ${g.properties.truth_id}`).toBeLessThan(1);
        }
      }
    });
  }

  it('writes valid, counter-clockwise polygons', () => {
    for (const f of [...main.truth, ...main.permits, ...main.closed, ...main.protectedAreas]) {
      expect(turf.booleanValid(f), JSON.stringify(f.properties)).toBe(true);
      const polys: Position[][][] = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
      for (const p of polys) expect(turf.booleanClockwise(turf.lineString(p[0]!))).toBe(false);
    }
  });

  it('reads back with geotiff.js: size, bands, dates, CRS, nodata', async () => {
    const m = main.manifest;
    for (const which of ['before', 'after'] as const) {
      const image = await (await fromFile(join(main.dir, m.files[which]))).getImage();
      expect(image.getWidth()).toBe(512);
      expect(image.getHeight()).toBe(512);
      expect(image.getSamplesPerPixel()).toBe(7);
      expect(image.getGeoKeys()?.ProjectedCSTypeGeoKey).toBe(32650);
      expect(image.getOrigin()).toEqual([m.grid.transform[0], m.grid.transform[3], 0]);
      expect(image.getGDALNoData()).toBe(0);
      expect((await image.getGDALMetadata())?.['ACQUISITION_DATE']).toBe(m.dates[which]);
      const names = await Promise.all(m.bands.map(async (_, i) => (await image.getGDALMetadata(i))?.['DESCRIPTION']));
      expect(names).toEqual(m.bands);
      const rasters = (await image.readRasters()) as unknown as Uint16Array[];
      // Reflectance × 10000 in plausible ranges; no nodata inside the scene.
      for (let b = 0; b < 6; b++) {
        const values = rasters[b]!;
        let min = Infinity;
        let sum = 0;
        for (const v of values) {
          if (v < min) min = v;
          sum += v;
        }
        expect(min).toBeGreaterThan(0);
        expect(sum / values.length).toBeGreaterThan(100);
        expect(sum / values.length).toBeLessThan(4000);
      }
      const scl = new Set(rasters[6]);
      for (const v of scl) expect([2, 3, 4, 5, 6, 7, 8, 9, 10]).toContain(v);
      expect(scl.has(4)).toBe(true);
    }
  });

  it('changes look like what they are: mining and harvest lose vegetation, clouds are flagged in SCL', async () => {
    const m = main.manifest;
    const before = await readScene(join(main.dir, m.files.before));
    const after = await readScene(join(main.dir, m.files.after));
    for (const f of main.truth) {
      const p = f.properties;
      if (p.role === 'mining' && p.kind !== 'leaching_site') {
        const px = pixelsIn(f, m);
        // Forest or shrub → bare soil: NDVI falls a lot.
        expect(meanNdvi(before, px) - meanNdvi(after, px), p.truth_id).toBeGreaterThan(0.25);
        expect(meanNdvi(after, px), p.truth_id).toBeLessThan(0.35);
      }
      if (p.kind === 'harvest' && p.cause === 'harvest') {
        const px = pixelsIn(f, m);
        expect(meanNdvi(after, px), p.truth_id).toBeLessThan(0.3);
        expect(meanNdvi(before, px), p.truth_id).toBeGreaterThan(0.35);
      }
      if (p.kind === 'cloud') {
        const img = p.date === 'after' ? after : before;
        const px = pixelsIn(f, m);
        const flagged = px.filter(([c, r]) => [3, 8, 9, 10].includes(img.bands[6]![r * img.width + c]!)).length;
        expect(flagged / px.length, p.truth_id).toBeGreaterThan(0.6);
      }
    }
    // Outside all truth the scene is stable: the median NDVI difference is small.
    const diffs: number[] = [];
    for (let k = 0; k < before.bands[0]!.length; k += 97) {
      const nb = (before.bands[3]![k]! - before.bands[2]![k]!) / (before.bands[3]![k]! + before.bands[2]![k]!);
      const na = (after.bands[3]![k]! - after.bands[2]![k]!) / (after.bands[3]![k]! + after.bands[2]![k]!);
      diffs.push(na - nb);
    }
    diffs.sort((a, b) => a - b);
    expect(Math.abs(diffs[Math.floor(diffs.length / 2)]!)).toBeLessThan(0.12);
  });

  it.skipIf(!hasGdal)('gdalinfo reads the scene: CRS, geotransform, band descriptions, metadata, nodata', () => {
    const m = main.manifest;
    const info = JSON.parse(execFileSync('gdalinfo', ['-json', join(main.dir, m.files.after)], { encoding: 'utf8' })) as {
      geoTransform: number[];
      coordinateSystem: { wkt: string };
      metadata: Record<string, Record<string, string>>;
      bands: { description?: string; noDataValue?: number; type: string }[];
    };
    expect(info.geoTransform).toEqual(m.grid.transform);
    expect(info.coordinateSystem.wkt).toMatch(/ID\["EPSG",32650\]\]$/);
    expect(info.metadata['']?.['ACQUISITION_DATE']).toBe(m.dates.after);
    expect(info.bands.map((b) => b.description)).toEqual(m.bands);
    expect(info.bands.every((b) => b.noDataValue === 0 && b.type === 'UInt16')).toBe(true);
  });

  it('is deterministic: the same seed gives byte-identical files; other seeds differ', async () => {
    const again = await makeScene(7, { withScl: true }, 's7-again');
    expect(again.manifest.checksums).toEqual(main.manifest.checksums);
    for (const file of Object.keys(main.manifest.checksums)) expect(sha256(join(again.dir, file))).toBe(sha256(join(main.dir, file)));
    const other = await makeScene(8, { size: 256 }, 's8-small');
    const otherAgain = await makeScene(8, { size: 256 }, 's8-small-again');
    expect(otherAgain.manifest.checksums).toEqual(other.manifest.checksums);
    const third = await makeScene(9, { size: 256 }, 's9-small');
    for (const file of ['before.tif', 'after.tif', 'truth.geojson', 'permits.geojson']) expect(third.manifest.checksums[file]).not.toBe(other.manifest.checksums[file]);
    expect(third.manifest.bbox).not.toEqual(other.manifest.bbox);
  });

  it("sensor 'gf' writes the four Gaofen bands", async () => {
    const gf = await makeScene(3, { sensor: 'gf', size: 256 }, 'gf');
    expect(gf.manifest.bands).toEqual(['B02', 'B03', 'B04', 'B08']);
    const image = await (await fromFile(join(gf.dir, gf.manifest.files.after))).getImage();
    expect(image.getSamplesPerPixel()).toBe(4);
  });

  it('rejects bad options with a uniform message', async () => {
    for (const bad of [{ seed: -1 }, { seed: 1, size: 10 }, { seed: 1, sensor: 'x' }, { seed: 1, traps: { volcano: 1 } }, { seed: 1, changes: { unlicensed: -2 } }]) {
      const error = await generateScenario({ outDir: join(root, 'bad'), ...(bad as { seed: number }) }).catch((e: unknown) => e);
      expect(isOrewatchError(error) && error.code === 'SCENARIO.INVALID_OPTION', JSON.stringify(bad)).toBe(true);
      expect((error as Error).message).toMatch(/^Expected .* for .* but received /);
    }
  });

  it('keeps memory bounded for a 2048 × 2048 pair (child process; prints its peak RSS)', () => {
    const generator = resolve('pipeline/eval/scenario-generator.ts');
    const out = join(root, 'big');
    const script = [
      `const { generateScenario } = await import(${JSON.stringify(generator)});`,
      'const t0 = performance.now();',
      `const m = await generateScenario({ seed: 5, size: 2048, outDir: ${JSON.stringify(out)} });`,
      'console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000, maxRssMb: process.resourceUsage().maxRSS / 1024, mining: m.counts.mining, traps: m.counts.traps }));',
    ].join('\n');
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: resolve('.') });
    expect(child.status, child.stderr).toBe(0);
    const line = child.stdout.trim().split('\n').pop()!;
    const result = JSON.parse(line) as { seconds: number; maxRssMb: number; mining: number; traps: number };
    console.log(`2048 × 2048 scenario: ${result.seconds.toFixed(1)} s, peak RSS ${result.maxRssMb.toFixed(0)} MB, ${result.mining} mining changes, ${result.traps} traps`);
    // Strips of rows and one row of tiles at a time: far below the ~100 MB per band-date of a
    // full float raster, whatever the size.
    expect(result.maxRssMb).toBeLessThan(300);
    expect(result.mining).toBeGreaterThan(60);
  });
});

/** Opt-in robustness sweep over many seeds: SCENARIO_SWEEP=40 npx vitest run test/scenario. */
describe.skipIf(!process.env['SCENARIO_SWEEP'])('generateScenario sweep', () => {
  const count = Number(process.env['SCENARIO_SWEEP'] ?? 0);
  it(`rules hold and nothing falls short over ${count} seeds`, async () => {
    const problems: string[] = [];
    for (let seed = 1000; seed < 1000 + count; seed++) {
      const scene = await makeScene(seed, { withScl: seed % 2 === 0 }, `sweep-${seed}`);
      if (scene.manifest.shortfalls.length > 0) problems.push(`seed ${seed}: shortfalls ${scene.manifest.shortfalls.join('; ')}`);
      for (const f of scene.truth.filter((t) => t.properties.role === 'mining')) {
        const got = expectedByRules(f, scene);
        if (got.category !== f.properties.expected_category || got.flags.join() !== f.properties.expected_flags.join()) {
          problems.push(`seed ${seed} ${f.properties.truth_id} ${f.properties.placement}: expected ${f.properties.expected_flags.join()} but rules give ${got.flags.join()}`);
        }
      }
      for (const f of scene.truth) if (!turf.booleanValid(f)) problems.push(`seed ${seed} ${f.properties.truth_id}: invalid geometry`);
      rmSync(scene.dir, { recursive: true, force: true });
    }
    expect(problems).toEqual([]);
  });
});
