// Reference-layer import: the shared corner-point CSVs and the GDAL-made fixtures must all give
// permits-expected.geojson; other layer kinds, ids, merging and format detection.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync, zipSync } from 'fflate';
import type { FeatureCollection, MultiPolygon, Polygon, Position } from 'geojson';
import { afterAll, describe, expect, it } from 'vitest';
import { loadReferenceLayer, loadReferenceLayers, type ReferenceLayer } from '../geodata/reference-layers/index.js';
import { parseCsv } from '../geodata/reference-layers/text.js';
import { dbfEncoding } from '../geodata/reference-layers/shapefile.js';
import { normalizeDate, normalizeMineral, normalizePermitStatus, normalizePermitType } from '../geodata/reference-layers/properties.js';

const SHARED = fileURLToPath(new URL('../../shared/data/cn-permit-formats/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/reference-layers/', import.meta.url));
const HAVE_SHARED = existsSync(SHARED);
const TOLERANCE_DEG = 1e-7;

const tmp = mkdtempSync(join(tmpdir(), 'orewatch-layers-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function write(name: string, content: string | Uint8Array): string {
  const file = join(tmp, name);
  writeFileSync(file, content);
  return file;
}

function expected(): FeatureCollection<Polygon | MultiPolygon> {
  return JSON.parse(readFileSync(`${SHARED}permits-expected.geojson`, 'utf8')) as FeatureCollection<Polygon | MultiPolygon>;
}

function expectPositionsClose(actual: unknown, wanted: unknown, path: string): void {
  if (typeof wanted === 'number') {
    expect(typeof actual, path).toBe('number');
    expect(Math.abs((actual as number) - wanted), `${path}: ${String(actual)} vs ${wanted}`).toBeLessThanOrEqual(TOLERANCE_DEG);
    return;
  }
  expect(Array.isArray(actual), path).toBe(true);
  expect((actual as unknown[]).length, `${path} length`).toBe((wanted as unknown[]).length);
  (wanted as unknown[]).forEach((w, i) => expectPositionsClose((actual as unknown[])[i], w, `${path}[${i}]`));
}

function ringsOf(geometry: Polygon | MultiPolygon): Position[][] {
  return geometry.type === 'Polygon' ? geometry.coordinates : geometry.coordinates.flat();
}

/** The layer equals permits-expected.geojson: same ids, properties, geometry types, coordinates within 1e-7°. */
function expectExpectedPermits(layer: ReferenceLayer): void {
  const want = expected();
  expect(layer.kind).toBe('permits');
  expect(layer.features).toHaveLength(want.features.length);
  expect(layer.source.featureCount).toBe(want.features.length);
  want.features.forEach((w, i) => {
    const got = layer.features[i]!;
    expect(got.type).toBe('Feature');
    expect(got.id).toBe(w.properties!['permit_id']);
    expect(got.properties).toEqual(w.properties);
    expect(got.geometry.type).toBe(w.geometry.type);
    expectPositionsClose(got.geometry.coordinates, w.geometry.coordinates, `${String(got.id)}`);
    for (const ring of ringsOf(got.geometry)) expect(ring[0]).toEqual(ring[ring.length - 1]);
  });
}

function checksums(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`${SHARED}CHECKSUMS.sha256`, 'utf8').trim().split(/\r?\n/)) {
    const [hash, name] = line.split(/\s+/);
    out[name!] = hash!;
  }
  return out;
}

describe.skipIf(!HAVE_SHARED)('shared corner-point CSVs → permits-expected.geojson', () => {
  it('imports the zone-prefixed CSV (zone read from the easting)', async () => {
    const layer = await loadReferenceLayer(`${SHARED}permits-gk3-zone-prefix.csv`, { kind: 'permits' });
    expectExpectedPermits(layer);
    expect(layer.source).toMatchObject({ format: 'csv', file: `${SHARED}permits-gk3-zone-prefix.csv` });
    expect(layer.source.sha256).toBe(checksums()['permits-gk3-zone-prefix.csv']);
  });

  it('imports the Chinese-header CSV (采矿权/探矿权, 有效, 稀土)', async () => {
    const layer = await loadReferenceLayer(`${SHARED}permits-zh-headers.csv`, { kind: 'permits' });
    expectExpectedPermits(layer);
    expect(layer.source.sha256).toBe(checksums()['permits-zh-headers.csv']);
  });

  it('imports the unprefixed CSV with its CRS given (--permits-crs EPSG:4547)', async () => {
    const layer = await loadReferenceLayer(`${SHARED}permits-gk3-cm114-no-prefix.csv`, { kind: 'permits', crs: 'EPSG:4547' });
    expectExpectedPermits(layer);
    expect(layer.source.sha256).toBe(checksums()['permits-gk3-cm114-no-prefix.csv']);
  });

  it('accepts the CRS as a bare number or a URN, too', async () => {
    expectExpectedPermits(await loadReferenceLayer(`${SHARED}permits-gk3-cm114-no-prefix.csv`, { kind: 'permits', crs: '4547' }));
    expectExpectedPermits(await loadReferenceLayer(`${SHARED}permits-gk3-cm114-no-prefix.csv`, { kind: 'permits', crs: 'urn:ogc:def:crs:EPSG::4547' }));
  });

  it('lets a prefix agree with an unprefixed CRS of the same zone', async () => {
    expectExpectedPermits(await loadReferenceLayer(`${SHARED}permits-gk3-zone-prefix.csv`, { kind: 'permits', crs: 'EPSG:4547' }));
    expectExpectedPermits(await loadReferenceLayer(`${SHARED}permits-gk3-zone-prefix.csv`, { kind: 'permits', crs: 'EPSG:4526' }));
  });

  it('reads the GBK + CRLF variant that Excel on Chinese Windows writes', async () => {
    expectExpectedPermits(await loadReferenceLayer(`${FIXTURES}permits-zh-headers-gbk-crlf.csv`, { kind: 'permits' }));
  });

  it('handles a BOM, quoted fields (with commas and doubled quotes) and CRLF', async () => {
    const lines = readFileSync(`${SHARED}permits-gk3-zone-prefix.csv`, 'utf8').trim().split('\n');
    const quoted = lines.map((line, i) => (i === 0 ? line : line.split(',').map((cell, c) => (c === 1 || c === 9 ? `"${cell}"` : cell)).join(',')));
    const file = write('bom-quoted.csv', `\ufeff${quoted.join('\r\n')}\r\n\r\n`);
    expectExpectedPermits(await loadReferenceLayer(file, { kind: 'permits' }));
    const parsed = parseCsv('a,b\r\n"x, ""y""",2\r\n"multi\nline",3');
    expect(parsed).toEqual({
      delimiter: ',',
      records: [
        { row: 1, fields: ['a', 'b'] },
        { row: 2, fields: ['x, "y"', '2'] },
        { row: 3, fields: ['multi\nline', '3'] },
      ],
    });
  });

  it('does not depend on row order or on the corners being listed clockwise', async () => {
    const [header, ...rows] = readFileSync(`${SHARED}permits-gk3-zone-prefix.csv`, 'utf8').trim().split('\n');
    // Reverse every block's corner numbering (clockwise listing) and shuffle the rows.
    const renumbered = rows.map((row) => {
      const cells = row.split(',');
      cells[8] = String(5 - Number(cells[8]));
      return cells.join(',');
    });
    const shuffled = [renumbered[5], renumbered[0], renumbered[14], renumbered[9], ...renumbered.filter((_, i) => ![5, 0, 14, 9].includes(i))];
    const file = write('shuffled.csv', [header, ...shuffled].join('\n'));
    const layer = await loadReferenceLayer(file, { kind: 'permits' });
    // Same outlines; the first corner is corner 1 of the new numbering, so compare as sets of corners.
    const want = expected();
    layer.features.forEach((f) => {
      const w = want.features.find((x) => x.properties!['permit_id'] === f.id)!;
      expect(f.geometry.type).toBe(w.geometry.type);
      const corners = (g: Polygon | MultiPolygon): string[] =>
        ringsOf(g).flatMap((r) => r.slice(0, -1).map((p) => `${p[0]!.toFixed(6)},${p[1]!.toFixed(6)}`)).sort();
      expect(corners(f.geometry)).toEqual(corners(w.geometry));
    });
    // Shells come out counter-clockwise (RFC 7946) whatever the listing order.
    for (const f of layer.features) {
      for (const ring of ringsOf(f.geometry)) {
        let twiceArea = 0;
        for (let i = 0; i + 1 < ring.length; i++) twiceArea += ring[i]![0]! * ring[i + 1]![1]! - ring[i + 1]![0]! * ring[i]![1]!;
        expect(twiceArea).toBeGreaterThan(0);
      }
    }
  });

  it('loadReferenceLayers passes --permits-crs to the permits file only', async () => {
    const layers = await loadReferenceLayers(
      { permits: `${SHARED}permits-gk3-cm114-no-prefix.csv`, closedSites: `${FIXTURES}permits.kml` },
      { permitsCrs: 'EPSG:4547' },
    );
    expectExpectedPermits(layers.permits!);
    expect(layers.closedSites?.kind).toBe('closed_sites');
    expect(layers.protectedAreas).toBeUndefined();
    expect(layers.jurisdictions).toBeUndefined();
  });
});

describe.skipIf(!HAVE_SHARED)('GDAL-made fixtures (test/fixtures/reference-layers) → permits-expected.geojson', () => {
  it.each([
    ['permits-gk38.geojson', 'geojson'],
    ['permits.kml', 'kml'],
    ['permits-gk38-utf8.zip', 'shapefile'],
    ['permits-4490-gbk.zip', 'shapefile'],
    ['permits-4490-gbk-no-cpg.zip', 'shapefile'],
  ] as const)('%s', async (name, format) => {
    const layer = await loadReferenceLayer(`${FIXTURES}${name}`, { kind: 'permits' });
    expectExpectedPermits(layer);
    expect(layer.source.format).toBe(format);
    expect(layer.source.sha256).toBe(createHash('sha256').update(readFileSync(`${FIXTURES}${name}`)).digest('hex'));
  });

  it('reads a plain lon/lat GeoJSON (the expected file itself)', async () => {
    expectExpectedPermits(await loadReferenceLayer(`${SHARED}permits-expected.geojson`, { kind: 'permits' }));
  });

  it('reads a KMZ', async () => {
    const kmz = zipSync({ 'doc.kml': readFileSync(`${FIXTURES}permits.kml`) });
    expectExpectedPermits(await loadReferenceLayer(write('permits.kmz', kmz), { kind: 'permits' }));
  });

  it('ignores AXIS order in an OGC-style .prj (x is always the easting in a shapefile)', async () => {
    const entries = unzipSync(readFileSync(`${FIXTURES}permits-gk38-utf8.zip`));
    entries['permits_gk38.prj'] = new TextEncoder().encode(
      'PROJCS["CGCS2000 / 3-degree Gauss-Kruger zone 38",GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",' +
        'SPHEROID["CGCS2000",6378137,298.257222101]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],' +
        'PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",114],' +
        'PARAMETER["scale_factor",1],PARAMETER["false_easting",38500000],PARAMETER["false_northing",0],UNIT["metre",1],' +
        'AXIS["Northing",NORTH],AXIS["Easting",EAST],AUTHORITY["EPSG","4526"]]',
    );
    expectExpectedPermits(await loadReferenceLayer(write('axis.zip', zipSync(entries)), { kind: 'permits' }));
  });

  it('uses options.crs for a zipped shapefile without .prj', async () => {
    const entries = unzipSync(readFileSync(`${FIXTURES}permits-gk38-utf8.zip`));
    delete entries['permits_gk38.prj'];
    expectExpectedPermits(await loadReferenceLayer(write('no-prj.zip', zipSync(entries)), { kind: 'permits', crs: 'EPSG:4526' }));
  });

  it('reads a bare .shp with its sibling files', async () => {
    const dir = join(tmp, 'bare');
    mkdirSync(dir);
    for (const [name, bytes] of Object.entries(unzipSync(readFileSync(`${FIXTURES}permits-gk38-utf8.zip`)))) writeFileSync(join(dir, name), bytes);
    expectExpectedPermits(await loadReferenceLayer(join(dir, 'permits_gk38.shp'), { kind: 'permits' }));
  });

  it('detects the format from content when the extension says nothing', async () => {
    const geojson = await loadReferenceLayer(write('permits-geojson', readFileSync(`${SHARED}permits-expected.geojson`)), { kind: 'permits' });
    expect(geojson.source.format).toBe('geojson');
    const kml = await loadReferenceLayer(write('permits-kml', readFileSync(`${FIXTURES}permits.kml`)), { kind: 'permits' });
    expect(kml.source.format).toBe('kml');
    const zip = await loadReferenceLayer(write('permits-zip', readFileSync(`${FIXTURES}permits-4490-gbk.zip`)), { kind: 'permits' });
    expect(zip.source.format).toBe('shapefile');
    const csv = await loadReferenceLayer(write('permits-csv', readFileSync(`${SHARED}permits-zh-headers.csv`)), { kind: 'permits' });
    expectExpectedPermits(csv);
  });

  it('merges features sharing a permit_id and equal attributes into one MultiPolygon (one record per block)', async () => {
    const want = expected();
    const t = want.features[2]!;
    const blocks = (t.geometry as MultiPolygon).coordinates.map((polygon) => ({
      type: 'Feature',
      properties: t.properties,
      geometry: { type: 'Polygon', coordinates: polygon },
    }));
    const file = write('split-blocks.geojson', JSON.stringify({ type: 'FeatureCollection', features: [want.features[0], want.features[1], ...blocks] }));
    expectExpectedPermits(await loadReferenceLayer(file, { kind: 'permits' }));
  });
});

describe('other layer kinds', () => {
  const square = (lon: number, lat: number, d = 0.01): Polygon => ({
    type: 'Polygon',
    coordinates: [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]],
  });

  it('closed sites and protected areas: id from id/name/code, else feature id, else <kind>-<n>; duplicates get a suffix', async () => {
    const file = write(
      'closed.geojson',
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          { type: 'Feature', properties: { name: '岭北矿点', closed_on: '2018-06-01' }, geometry: square(114.7, 24.9) },
          { type: 'Feature', id: 77, properties: {}, geometry: square(114.72, 24.9) },
          { type: 'Feature', properties: null, geometry: square(114.74, 24.9) },
          { type: 'Feature', properties: { name: '岭北矿点' }, geometry: square(114.76, 24.9) },
          { type: 'Feature', properties: { ID: 'CS-9', count: Number.NaN }, geometry: square(114.78, 24.9) },
        ],
      }),
    );
    const layer = await loadReferenceLayer(file, { kind: 'closed_sites' });
    expect(layer.kind).toBe('closed_sites');
    expect(layer.features.map((f) => f.id)).toEqual(['岭北矿点', '77', 'closed_sites-3', '岭北矿点-2', 'CS-9']);
    expect(layer.features[0]!.properties).toEqual({ name: '岭北矿点', closed_on: '2018-06-01' });
    const protectedAreas = await loadReferenceLayer(file, { kind: 'protected_areas' });
    expect(protectedAreas.features[2]!.id).toBe('protected_areas-3');
  });

  it('jurisdictions: 6-digit code and name; the code is the id; equal duplicates merge', async () => {
    const file = write(
      'counties.geojson',
      JSON.stringify({
        type: 'FeatureCollection',
        features: [
          { type: 'Feature', properties: { code: '360728', name: '定南县' }, geometry: square(115.0, 24.7) },
          { type: 'Feature', properties: { 行政区划代码: 360727, 名称: '龙南市' }, geometry: square(114.7, 24.8) },
          { type: 'Feature', properties: { code: '360728', name: '定南县' }, geometry: square(115.1, 24.7) },
        ],
      }),
    );
    const layer = await loadReferenceLayer(file, { kind: 'jurisdictions' });
    expect(layer.features.map((f) => [f.id, f.properties.code, f.properties.name, f.geometry.type])).toEqual([
      ['360728', '360728', '定南县', 'MultiPolygon'],
      ['360727', '360727', '龙南市', 'Polygon'],
    ]);
  });

  it('flattens a KML MultiGeometry of polygons and keeps ExtendedData as properties', async () => {
    const kml = `<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>生态保护红线 A</name>
<ExtendedData><Data name="code"><value>HX-01</value></Data></ExtendedData>
<MultiGeometry>
<Polygon><outerBoundaryIs><LinearRing><coordinates>114.7,24.9,0 114.71,24.9,0 114.71,24.91,0 114.7,24.91,0 114.7,24.9,0</coordinates></LinearRing></outerBoundaryIs></Polygon>
<Polygon><outerBoundaryIs><LinearRing><coordinates>114.72,24.9 114.73,24.9 114.73,24.91 114.72,24.9</coordinates></LinearRing></outerBoundaryIs></Polygon>
</MultiGeometry></Placemark></Document></kml>`;
    const layer = await loadReferenceLayer(write('red-line.kml', kml), { kind: 'protected_areas' });
    expect(layer.features).toHaveLength(1);
    expect(layer.features[0]!.id).toBe('生态保护红线 A');
    expect(layer.features[0]!.properties).toMatchObject({ name: '生态保护红线 A', code: 'HX-01' });
    expect(layer.features[0]!.geometry.type).toBe('MultiPolygon');
    expect((layer.features[0]!.geometry as MultiPolygon).coordinates[0]![0]![0]).toEqual([114.7, 24.9]);
  });

  it('an empty FeatureCollection is an empty layer, not an error', async () => {
    const layer = await loadReferenceLayer(write('empty.geojson', '{"type":"FeatureCollection","features":[]}'), { kind: 'protected_areas' });
    expect(layer.features).toEqual([]);
    expect(layer.source.featureCount).toBe(0);
  });
});

describe('attribute normalization', () => {
  it('maps Chinese and English permit types and statuses', () => {
    expect(normalizePermitType('采矿权')).toBe('mining');
    expect(normalizePermitType('探矿权')).toBe('exploration');
    expect(normalizePermitType('Mining')).toBe('mining');
    expect(normalizePermitType('采砂权')).toBeNull();
    expect(normalizePermitStatus('有效')).toBe('active');
    expect(normalizePermitStatus('已过期')).toBe('expired');
    expect(normalizePermitStatus('过期')).toBe('expired');
    expect(normalizePermitStatus('暂停')).toBe('suspended');
    expect(normalizePermitStatus('中止')).toBe('suspended');
    expect(normalizePermitStatus('注销')).toBe('revoked');
    expect(normalizePermitStatus('吊销')).toBe('revoked');
    expect(normalizePermitStatus('ACTIVE')).toBe('active');
    expect(normalizePermitStatus('pending')).toBeNull();
  });

  it('normalizes minerals and unambiguous dates, refusing day/month-first ones', () => {
    expect(normalizeMineral('稀土')).toBe('rare_earth');
    expect(normalizeMineral('离子型稀土矿')).toBe('rare_earth');
    expect(normalizeMineral('Rare Earth')).toBe('rare_earth');
    expect(normalizeMineral('独居石')).toBe('独居石');
    expect(normalizeDate('2019-01-01')).toBe('2019-01-01');
    expect(normalizeDate('2019/1/1')).toBe('2019-01-01');
    expect(normalizeDate('2019年1月1日')).toBe('2019-01-01');
    expect(normalizeDate('20190101')).toBe('2019-01-01');
    expect(normalizeDate(new Date(2019, 0, 1))).toBe('2019-01-01');
    expect(normalizeDate('01/02/2019')).toBeNull();
    expect(normalizeDate('2023-02-29')).toBeNull();
    expect(normalizeDate('2023-13-01')).toBeNull();
  });

  it('picks the dBase text encoding from .cpg, language driver or content', () => {
    const dbf = new Uint8Array(64);
    dbf[8] = 33;
    expect(dbfEncoding(dbf, 'UTF-8')).toBe('utf-8');
    expect(dbfEncoding(dbf, 'CP936')).toBe('gb18030');
    expect(dbfEncoding(dbf, '936')).toBe('gb18030');
    expect(dbfEncoding(dbf, 'ANSI 936')).toBe('gb18030');
    expect(dbfEncoding(dbf, 'GBK')).toBe('gb18030');
    expect(dbfEncoding(dbf, '1252')).toBe('windows-1252');
    const ldid = dbf.slice();
    ldid[29] = 0x4d;
    expect(dbfEncoding(ldid, undefined)).toBe('gb18030');
    expect(dbfEncoding(dbf, undefined)).toBe('utf-8');
    const gbk = dbf.slice();
    gbk.set([0xd6, 0xd0], 40); // 中 in GBK, invalid UTF-8
    expect(dbfEncoding(gbk, undefined)).toBe('gb18030');
  });
});
