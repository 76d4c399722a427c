/**
 * Seeded generator of Sentinel-2-like (or 4-band Gaofen-like) bitemporal scenes of the Ganzhou
 * ion-adsorption rare-earth district, with permits, closed sites, protected areas and exact
 * ground truth: every mining change (open pits, leaching sites, tailings) placed so that each
 * alert rule of DESIGN.md fires somewhere, and every trap (harvest, roads, buildings, new
 * orchards, seasonal change, clouds, haze, illumination) that should not become an alert.
 *
 * It is the project's own evaluation data and the demo's input. Realism comes before making the
 * detector's job easy: a harvested field is bare soil, a new road through the hills is red
 * laterite; what differs is context. Nothing about the answer is written into the images.
 *
 * Writes into `outDir`: before.tif, after.tif (uint16 DN = reflectance × 10000, DEFLATE, band
 * descriptions, ACQUISITION_DATE, EPSG:32650), permits.geojson, closed-sites.geojson,
 * protected-areas.geojson, truth.geojson (EPSG:4326) and manifest.json. Same seed and options →
 * byte-identical files.
 */
import { mkdir, open, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import proj4 from 'proj4';
import { OrewatchError } from '../../errors/index.js';
import { createGeoTiffWriter, type GeoTiffWriter } from '../../geodata/tiff-writer.js';
import type { GeoTransform } from '../../geodata/types.js';
import { createRng, hashString, mix32, type Rng } from './random.js';
import { Landscape, drynessFor, leafOnFor, type DateConditions } from './landscape.js';
import { buildLayout, round, type Layout } from './scenario-layout.js';
import { renderScenes, type Radiometry } from './scenario-render.js';
import { traceMask, boxWidth, boxHeight, type MultiPolygon, type Ring } from './scenario-geometry.js';
import { S2_BANDS } from './scenario-spectra.js';
import { PLACEMENTS, TRAP_KINDS, type Placement, type TrapKind, type TruthKind } from './scenario-types.js';
import type { Category } from './scenario-rules.js';

export const GENERATOR_NAME = 'orewatch-scenario-generator';
export const GENERATOR_VERSION = '1.0.0';

/** The projected CRS of the scenes: WGS 84 / UTM zone 50N. */
export const SCENE_EPSG = 32650;
const UTM50N = '+proj=utm +zone=50 +datum=WGS84 +units=m +no_defs';
/** Centre of the district the scenes are placed in (Longnan–Dingnan, Ganzhou, Jiangxi). */
const DISTRICT_CENTER: [number, number] = [114.9, 24.9];

/** Options of {@link generateScenario}. */
export interface ScenarioOptions {
  seed: number;
  /** Scene side in pixels (square). Default 512; up to 5490 (a Sentinel-2 tile). */
  size?: number;
  /** Default 10. */
  pixelSizeM?: number;
  /** Append an SCL band (Sentinel-2 L2A scene classification). Default false. */
  withScl?: boolean;
  /** `s2`: B02 B03 B04 B08 B11 B12 (default); `gf`: B02 B03 B04 B08 as on Gaofen. */
  sensor?: 's2' | 'gf';
  /** `false`: no trap objects (the natural paddy calendar and the sun still differ); or counts per kind. */
  traps?: boolean | Partial<Record<TrapKind, number>>;
  /** Counts of mining changes per placement (rule exercised); the default scales with area. */
  changes?: Partial<Record<Placement, number>>;
  outDir: string;
}

/** File names, relative to `outDir`. */
export interface ScenarioFiles {
  before: string;
  after: string;
  permits: string;
  closedSites: string;
  protectedAreas: string;
  truth: string;
  manifest: string;
}

/** What was generated: written to manifest.json and returned. */
export interface ScenarioManifest {
  generator: string;
  version: string;
  seed: number;
  options: {
    size: number;
    pixelSizeM: number;
    withScl: boolean;
    sensor: 's2' | 'gf';
    traps: Record<TrapKind, number>;
    changes: Record<Placement, number>;
  };
  crs: string;
  grid: { width: number; height: number; pixelSizeM: number; transform: GeoTransform };
  /** [west, south, east, north], EPSG:4326. */
  bbox: [number, number, number, number];
  bands: string[];
  dates: { before: string; after: string };
  sun: { before: { elevation_deg: number; azimuth_deg: number }; after: { elevation_deg: number; azimuth_deg: number } };
  radiometry: { before: Radiometry; after: Radiometry };
  misregistration_px: { before: [number, number]; after: [number, number] };
  files: ScenarioFiles;
  /** sha256 of each written file except the manifest. */
  checksums: Record<string, string>;
  counts: {
    mining: number;
    traps: number;
    permits: number;
    closedSites: number;
    protectedAreas: number;
    byCategory: Record<string, number>;
    byKind: Record<string, number>;
  };
  /** Changes or traps asked for that found no room in the scene. */
  shortfalls: string[];
}

const FILES: ScenarioFiles = {
  before: 'before.tif',
  after: 'after.tif',
  permits: 'permits.geojson',
  closedSites: 'closed-sites.geojson',
  protectedAreas: 'protected-areas.geojson',
  truth: 'truth.geojson',
  manifest: 'manifest.json',
};

function invalid(name: string, what: string, value: unknown): OrewatchError {
  return new OrewatchError('SCENARIO.INVALID_OPTION', `Expected ${what} for ${name} but received ${JSON.stringify(value)}`, { kind: 'input' });
}

/** Day of year (1–366) of an ISO date. */
function dayOfYear(iso: string): number {
  const d = Date.parse(`${iso}T00:00:00Z`);
  return Math.floor((d - Date.UTC(Number(iso.slice(0, 4)), 0, 1)) / 86_400_000) + 1;
}

/**
 * Sun position at Sentinel-2's overpass (10:30 local solar time) for a date and latitude:
 * elevation and azimuth (clockwise from north), degrees.
 */
export function sunAtOverpass(iso: string, latDeg: number): { elevationDeg: number; azimuthDeg: number } {
  const doy = dayOfYear(iso);
  const decl = ((23.44 * Math.PI) / 180) * Math.sin((2 * Math.PI * (284 + doy)) / 365);
  const lat = (latDeg * Math.PI) / 180;
  const hourAngle = ((10.5 - 12) * 15 * Math.PI) / 180;
  const sinEl = Math.sin(lat) * Math.sin(decl) + Math.cos(lat) * Math.cos(decl) * Math.cos(hourAngle);
  const el = Math.asin(sinEl);
  const cosAz = (Math.sin(decl) - sinEl * Math.sin(lat)) / (Math.cos(el) * Math.cos(lat));
  const az = Math.acos(Math.max(-1, Math.min(1, cosAz)));
  return { elevationDeg: (el * 180) / Math.PI, azimuthDeg: (az * 180) / Math.PI };
}

/** Before: mostly the clear dry season; after: about a year later, sometimes another season. */
function pickDates(rng: Rng): { before: string; after: string } {
  const dry = rng.chance(0.7);
  const doy = dry ? (rng.int(274, 445) - 1) % 365 + 1 : rng.int(81, 273);
  const beforeMs = Date.UTC(2025, 0, 1) + (doy - 1) * 86_400_000;
  const otherSeason = rng.chance(0.3);
  const shiftDays = otherSeason ? (rng.chance(0.5) ? 1 : -1) * rng.int(75, 150) : rng.int(-25, 25);
  const afterMs = beforeMs + (365 + shiftDays) * 86_400_000;
  const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
  return { before: iso(beforeMs), after: iso(afterMs) };
}

function conditionsFor(iso: string): DateConditions {
  const doy = dayOfYear(iso);
  return { dayOfYear: doy, leafOn: leafOnFor(doy), dryness: drynessFor(doy) };
}

function radiometryFor(rng: Rng, spread: number): Radiometry {
  const g0 = 1 + rng.range(-spread, spread);
  return {
    gain: Array.from({ length: 6 }, () => round(g0 * (1 + rng.range(-0.01, 0.01)), 5)),
    offset: Array.from({ length: 6 }, () => round(rng.range(-0.003, 0.006) * (spread / 0.045), 5)),
  };
}

function defaultPlacements(rng: Rng, areaFactor: number): Record<Placement, number> {
  const scaled = (base: number, min: number): number => Math.max(min, Math.round(base * areaFactor));
  return {
    licensed: scaled(rng.int(1, 2), 1),
    out_of_bounds: scaled(1, 1),
    unlicensed: scaled(rng.int(2, 4), 2),
    exploration_only: scaled(1, 1),
    exploration_small: scaled(rng.chance(0.5) ? 1 : 0, 0),
    expired_permit: scaled(1, 1),
    closed_site_reactivated: scaled(1, 1),
    protected_area: scaled(1, 1),
  };
}

function defaultTraps(rng: Rng, areaFactor: number): Record<TrapKind, number> {
  const scaled = (base: number): number => Math.round(base * areaFactor);
  return {
    harvest: Math.max(1, scaled(rng.int(1, 2))),
    seasonal: Math.max(1, scaled(rng.int(1, 2))),
    road: Math.max(1, scaled(rng.int(1, 2))),
    building: Math.max(1, scaled(1)),
    orchard: scaled(rng.chance(0.6) ? 1 : 0),
    cloud: scaled(rng.int(0, 2)),
    haze: Math.min(Math.max(1, Math.round(areaFactor / 4)), rng.chance(0.55) ? Math.max(1, Math.round(areaFactor / 4)) : 0),
    illumination: 1,
  };
}

function checkCounts<K extends string>(name: string, value: Partial<Record<K, number>>, keys: readonly K[]): void {
  for (const [k, v] of Object.entries(value)) {
    if (!keys.includes(k as K)) throw invalid(`${name}.${k}`, `one of ${keys.join(', ')}`, k);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 100_000) throw invalid(`${name}.${k}`, 'a non-negative integer', v);
  }
}

/**
 * Generates one scenario into `options.outDir` and returns its manifest.
 * Memory stays bounded (strips of 256 rows); a 512 px pair takes a few seconds.
 */
export async function generateScenario(options: ScenarioOptions): Promise<ScenarioManifest> {
  const size = options.size ?? 512;
  const pixelSizeM = options.pixelSizeM ?? 10;
  const sensor = options.sensor ?? 's2';
  const withScl = options.withScl ?? false;
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffff_ffff) throw invalid('seed', 'an integer 0–4294967295', options.seed);
  if (!Number.isInteger(size) || size < 64 || size > 10980) throw invalid('size', 'an integer 64–10980', size);
  if (typeof pixelSizeM !== 'number' || !(pixelSizeM >= 1 && pixelSizeM <= 60)) throw invalid('pixelSizeM', 'a number 1–60', pixelSizeM);
  if (sensor !== 's2' && sensor !== 'gf') throw invalid('sensor', "'s2' or 'gf'", sensor);
  if (typeof options.outDir !== 'string' || options.outDir === '') throw invalid('outDir', 'a directory path', options.outDir);
  if (options.traps !== undefined && typeof options.traps !== 'boolean') checkCounts('traps', options.traps, TRAP_KINDS);
  if (options.changes !== undefined) checkCounts('changes', options.changes, PLACEMENTS);

  const seed = options.seed >>> 0;
  const rng = createRng(mix32(seed ^ hashString(GENERATOR_NAME)));
  const areaFactor = (size * size * pixelSizeM * pixelSizeM) / (5120 * 5120);

  // Where: the district centre, moved per seed by up to ±25 km on the pixel grid.
  const toUtm = proj4('EPSG:4326', UTM50N);
  const [cx, cy] = toUtm.forward(DISTRICT_CENTER);
  const placeRng = rng.fork('place');
  const snap = (v: number): number => Math.round(v / pixelSizeM) * pixelSizeM;
  const x0 = snap(cx + placeRng.range(-25_000, 25_000) - (size * pixelSizeM) / 2);
  const y0 = snap(cy + placeRng.range(-25_000, 25_000) + (size * pixelSizeM) / 2);
  const transform: GeoTransform = [x0, pixelSizeM, 0, y0, 0, -pixelSizeM];
  const toLonLat = (x: number, y: number): [number, number] => {
    const [lon, lat] = toUtm.inverse([x, y]);
    return [round(lon!, 9), round(lat!, 9)];
  };
  const centerLat = toLonLat(x0 + (size * pixelSizeM) / 2, y0 - (size * pixelSizeM) / 2)[1];

  const dateRng = rng.fork('dates');
  const dates = pickDates(dateRng);
  const conditions: [DateConditions, DateConditions] = [conditionsFor(dates.before), conditionsFor(dates.after)];
  const sun: [{ elevationDeg: number; azimuthDeg: number }, { elevationDeg: number; azimuthDeg: number }] = [
    sunAtOverpass(dates.before, centerLat),
    sunAtOverpass(dates.after, centerLat),
  ];
  const radiometry: [Radiometry, Radiometry] = [radiometryFor(dateRng, 0.015), radiometryFor(dateRng, 0.045)];
  const shift: [[number, number], [number, number]] = [
    [0, 0],
    [round(dateRng.range(-0.25, 0.25), 3), round(dateRng.range(-0.25, 0.25), 3)],
  ];

  const countRng = rng.fork('counts');
  const placements = { ...defaultPlacements(countRng, areaFactor), ...(options.changes ?? {}) };
  let traps = defaultTraps(countRng, areaFactor);
  if (options.traps === false) traps = { harvest: 0, seasonal: 0, road: 0, building: 0, orchard: 0, cloud: 0, haze: 0, illumination: 1 };
  else if (typeof options.traps === 'object') traps = { ...traps, ...options.traps };

  const landscape = new Landscape({ seed: mix32(seed * 7 + 1), width: size, height: size, pixelSizeM }, rng.fork('landscape'));
  const layout = buildLayout(rng.fork('layout'), landscape, {
    seed: mix32(seed * 13 + 5),
    width: size,
    height: size,
    pixelSizeM,
    dates,
    conditions,
    sun,
    placements,
    traps,
  });

  // What placing needed (caches of fields and lattice nodes) can go before rendering.
  landscape.clearCaches();
  await mkdir(options.outDir, { recursive: true });
  const bandIndices = sensor === 's2' ? [0, 1, 2, 3, 4, 5] : [0, 1, 2, 3];
  const bandNames = [...bandIndices.map((i) => S2_BANDS[i]!), ...(withScl ? ['SCL'] : [])];
  const spacecraft = sensor === 's2' ? ['Sentinel-2A', 'Sentinel-2B', 'Sentinel-2C'] : ['GF-1', 'GF-6'];
  const writers: GeoTiffWriter[] = [];
  for (const which of ['before', 'after'] as const) {
    const d = which === 'before' ? 0 : 1;
    writers.push(
      await createGeoTiffWriter(join(options.outDir, FILES[which]), {
        width: size,
        height: size,
        bands: bandNames,
        sampleType: 'uint16',
        tileSize: 256,
        compression: 'deflate',
        predictor: 2,
        crs: { epsg: SCENE_EPSG },
        transform,
        nodata: 0,
        metadata: {
          ACQUISITION_DATE: dates[which],
          SPACECRAFT_NAME: spacecraft[(seed + d) % spacecraft.length]!,
          PROCESSING_LEVEL: sensor === 's2' ? 'Level-2A' : 'L1A-ortho',
          QUANTIFICATION_VALUE: '10000',
          MEAN_SUN_ELEVATION_ANGLE: sun[d]!.elevationDeg.toFixed(3),
          MEAN_SUN_AZIMUTH_ANGLE: sun[d]!.azimuthDeg.toFixed(3),
          SOURCE: `synthetic (${GENERATOR_NAME} ${GENERATOR_VERSION})`,
        },
      }),
    );
  }
  try {
    await renderScenes({
      seed: mix32(seed * 17 + 3),
      landscape,
      layout,
      conditions,
      sun,
      radiometry,
      shift,
      bands: bandIndices,
      withScl,
      swirBlocks: Math.round(20 / pixelSizeM) === 2,
      writers: [writers[0]!, writers[1]!],
      bandNames,
      // Smaller strips on wide scenes keep memory down; the writer still emits 256-px tiles.
      stripRows: size > 2048 ? 32 : size > 1024 ? 128 : 256,
    });
  } finally {
    for (const w of writers) await w.close();
  }

  // Vector files, EPSG:4326.
  const pixelToLonLat = (col: number, row: number): [number, number] => toLonLat(x0 + col * pixelSizeM, y0 - row * pixelSizeM);
  const ringToLonLat = (ring: Ring): [number, number][] => {
    const closed = ring[0]![0] === ring[ring.length - 1]![0] && ring[0]![1] === ring[ring.length - 1]![1] ? ring : [...ring, ring[0]!];
    let coords = closed.map(([c, r]) => pixelToLonLat(c, r));
    // RFC 7946: exterior rings counter-clockwise.
    if (signedArea(coords) < 0) coords = coords.reverse();
    return coords;
  };
  const polygonsToGeometry = (mp: MultiPolygon): { type: 'Polygon'; coordinates: [number, number][][] } | { type: 'MultiPolygon'; coordinates: [number, number][][][] } => {
    const polys = mp.map((poly) =>
      poly.map((ring, i) => {
        let coords = ring.map(([c, r]) => pixelToLonLat(c, r));
        const ccw = signedArea(coords) > 0;
        if ((i === 0) !== ccw) coords = coords.reverse();
        return coords;
      }),
    );
    return polys.length === 1 ? { type: 'Polygon', coordinates: polys[0]! } : { type: 'MultiPolygon', coordinates: polys };
  };

  const featureCollection = (name: string, features: object[]): string =>
    `{"type":"FeatureCollection","name":${JSON.stringify(name)},"features":[\n${features.map((f) => JSON.stringify(f)).join(',\n')}\n]}\n`;
  const refFeature = (ring: Ring, props: object): object => ({ type: 'Feature', properties: props, geometry: { type: 'Polygon', coordinates: [ringToLonLat(ring)] } });

  const pxHa = (pixelSizeM * pixelSizeM) / 10_000;
  const byCategory: Record<string, number> = {};
  const byKind: Record<string, number> = {};
  const truthFeatures = layout.truths.map((t, i) => {
    let geometry: object;
    let areaHa: number;
    if (t.footprint) {
      geometry = { type: 'Polygon', coordinates: [ringToLonLat([[0, 0], [0, size], [size, size], [size, 0]])] };
      areaHa = size * size * pxHa;
    } else {
      geometry = polygonsToGeometry(traceMask(t.mask, boxWidth(t.box), boxHeight(t.box), t.box.c0, t.box.r0));
      let n = 0;
      for (const v of t.mask) n += v;
      areaHa = n * pxHa;
    }
    const category: Category | null = t.expectedCategory;
    byCategory[category ?? (t.role === 'mining' ? 'licensed_or_allowed' : 'trap')] = (byCategory[category ?? (t.role === 'mining' ? 'licensed_or_allowed' : 'trap')] ?? 0) + 1;
    byKind[t.kind] = (byKind[t.kind] ?? 0) + 1;
    return {
      type: 'Feature',
      properties: {
        truth_id: `T${String(i + 1).padStart(3, '0')}`,
        kind: t.kind satisfies TruthKind,
        role: t.role,
        placement: t.placement,
        expected_category: category,
        expected_flags: t.expectedFlags,
        licensed_permit_id: t.licensedPermitId,
        permit_id: t.permitId,
        area_ha: round(areaHa, 4),
        date: t.date,
        ...t.details,
      },
      geometry,
    };
  });

  const outputs: [keyof ScenarioFiles, string][] = [
    ['permits', featureCollection('permits', layout.permits.map((p) => refFeature(p.ring, p.props)))],
    ['closedSites', featureCollection('closed-sites', layout.closedSites.map((c) => refFeature(c.ring, c.props)))],
    ['protectedAreas', featureCollection('protected-areas', layout.protectedAreas.map((a) => refFeature(a.ring, a.props)))],
    ['truth', featureCollection('truth', truthFeatures)],
  ];
  for (const [key, text] of outputs) await writeFile(join(options.outDir, FILES[key]), text);

  const checksums: Record<string, string> = {};
  for (const key of ['before', 'after', 'permits', 'closedSites', 'protectedAreas', 'truth'] as const) {
    checksums[FILES[key]] = await sha256File(join(options.outDir, FILES[key]));
  }

  const corners = [
    [0, 0],
    [size, 0],
    [0, size],
    [size, size],
  ].map(([c, r]) => pixelToLonLat(c!, r!));
  const manifest: ScenarioManifest = {
    generator: GENERATOR_NAME,
    version: GENERATOR_VERSION,
    seed,
    options: { size, pixelSizeM, withScl, sensor, traps, changes: placements },
    crs: `EPSG:${SCENE_EPSG}`,
    grid: { width: size, height: size, pixelSizeM, transform },
    bbox: [Math.min(...corners.map((c) => c[0])), Math.min(...corners.map((c) => c[1])), Math.max(...corners.map((c) => c[0])), Math.max(...corners.map((c) => c[1]))],
    bands: bandNames,
    dates,
    sun: {
      before: { elevation_deg: round(sun[0].elevationDeg, 3), azimuth_deg: round(sun[0].azimuthDeg, 3) },
      after: { elevation_deg: round(sun[1].elevationDeg, 3), azimuth_deg: round(sun[1].azimuthDeg, 3) },
    },
    radiometry: { before: radiometry[0], after: radiometry[1] },
    misregistration_px: { before: shift[0], after: shift[1] },
    files: { ...FILES },
    checksums,
    counts: {
      mining: layout.truths.filter((t) => t.role === 'mining').length,
      traps: layout.truths.filter((t) => t.role === 'trap').length,
      permits: layout.permits.length,
      closedSites: layout.closedSites.length,
      protectedAreas: layout.protectedAreas.length,
      byCategory,
      byKind,
    },
    shortfalls: layout.shortfalls,
  };
  await writeFile(join(options.outDir, FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** sha256 of a file, read through one reused buffer (a 5490 px scene is hundreds of MB). */
async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(1 << 20);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** Signed area of a lon/lat ring (positive when counter-clockwise). */
function signedArea(coords: [number, number][]): number {
  let sum = 0;
  for (let i = 0, j = coords.length - 1; i < coords.length; j = i++) sum += coords[j]![0] * coords[i]![1] - coords[i]![0] * coords[j]![1];
  return sum / 2;
}

export type { Layout };
