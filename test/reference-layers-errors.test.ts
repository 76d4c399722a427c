// Every way a reference layer can be wrong gives one input error naming the file, the row or
// feature, the field and the bad value, with all problems of the file listed together.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { isOrewatchError, type OrewatchError } from '../errors/index.js';
import { loadReferenceLayer } from '../geodata/reference-layers/index.js';
import type { LayerKind } from '../geodata/reference-layers/types.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/reference-layers/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'orewatch-layer-errors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
function write(ext: string, content: string | Uint8Array): string {
  const file = join(tmp, `case-${++counter}${ext}`);
  writeFileSync(file, content);
  return file;
}

/** Loads and expects an input error with `code` whose message names the file and every `parts`. */
async function expectProblem(file: string, kind: LayerKind, code: string, parts: string[], crs?: string): Promise<OrewatchError> {
  let caught: unknown = null;
  try {
    await loadReferenceLayer(file, crs === undefined ? { kind } : { kind, crs });
  } catch (error) {
    caught = error;
  }
  expect(isOrewatchError(caught), `expected an OrewatchError, got ${String(caught)}`).toBe(true);
  const error = caught as OrewatchError;
  expect(error.kind).toBe('input');
  expect(error.retryable).toBe(false);
  expect(error.file).toBe(file);
  expect(error.message).toContain(file);
  for (const part of parts) expect(error.message).toContain(part);
  expect(error.code).toBe(code);
  return error;
}

// Corner rows (EPSG:4526, zone prefix 38) of two of the example permits, as in ../shared/data/cn-permit-formats.
const HEADER = 'permit_id,holder,type,mineral,valid_from,valid_to,status,ring,point,x,y';
const C1 = 'C3607002019001,赣州示例稀土矿业有限公司,mining,rare_earth,2019-01-01,2029-12-31,active';
const C1_CORNERS = ['1,1,2755202.82,38578806.26', '1,2,2755320.60,38580018.07', '1,3,2756430.15,38580314.71', '1,4,2756644.67,38579101.09'];
const C2 = 'C3607002016007,龙南示例矿业有限公司,mining,rare_earth,2016-05-01,2023-12-31,active';
const C2_CORNERS = ['1,1,2752998.98,38580840.04', '1,2,2753006.16,38582052.70', '1,3,2754003.16,38582046.75', '1,4,2753995.99,38580834.18'];

function csv(rows: string[]): string {
  return `${[HEADER, ...rows].join('\n')}\n`;
}
const permitRows = (attributes: string, corners: string[]): string[] => corners.map((c) => `${attributes},${c}`);

describe('file-level errors', () => {
  it('LAYER.NOT_FOUND for a missing file or a directory', async () => {
    await expectProblem(join(tmp, 'nope.geojson'), 'permits', 'LAYER.NOT_FOUND', ['file not found']);
    const dir = join(tmp, 'a-folder.geojson');
    mkdirSync(dir);
    await expectProblem(dir, 'permits', 'LAYER.NOT_FOUND', ['is a directory']);
  });

  it('LAYER.UNKNOWN_FORMAT for content it cannot place, and for a CSV given as a non-permit layer', async () => {
    await expectProblem(write('.bin', new Uint8Array([1, 2, 3, 4, 5])), 'permits', 'LAYER.UNKNOWN_FORMAT', ['cannot tell the format']);
    await expectProblem(write('.csv', csv(permitRows(C1, C1_CORNERS))), 'closed_sites', 'LAYER.UNKNOWN_FORMAT', ['CSV is read only for permit corner points']);
  });

  it('LAYER.CRS for a CRS option it does not support', async () => {
    await expectProblem(write('.csv', csv(permitRows(C1, C1_CORNERS))), 'permits', 'LAYER.CRS', ["'EPSG:9999'", 'not supported'], 'EPSG:9999');
  });

  it('LAYER.PARSE for broken JSON, XML, KML and zips', async () => {
    await expectProblem(write('.geojson', '{"type": "FeatureCollection", "features": ['), 'permits', 'LAYER.PARSE', ['not valid JSON']);
    await expectProblem(write('.geojson', '[1,2]'), 'permits', 'LAYER.PARSE', ['expected a GeoJSON FeatureCollection']);
    await expectProblem(write('.kml', '<kml><Document><Placemark></Document></kml>'), 'permits', 'LAYER.PARSE', ['not well-formed XML']);
    await expectProblem(write('.kml', '<gpx></gpx>'), 'permits', 'LAYER.PARSE', ['not a KML document', '<gpx>']);
    await expectProblem(write('.zip', zipSync({ 'readme.txt': new Uint8Array([65]) })), 'permits', 'LAYER.PARSE', ['no .shp file', 'readme.txt']);
    await expectProblem(write('.zip', new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0])), 'permits', 'LAYER.PARSE', ['not a readable zip']);
    const twoLayers = unzipSync(readFileSync(`${FIXTURES}permits-gk38-utf8.zip`));
    twoLayers['other.shp'] = twoLayers['permits_gk38.shp']!;
    await expectProblem(write('.zip', zipSync(twoLayers)), 'permits', 'LAYER.PARSE', ['2 shapefiles', 'other.shp']);
  });
});

describe('corner-point CSV errors name the row, the field and the value', () => {
  it('an empty permit id', async () => {
    const rows = permitRows(C1, C1_CORNERS);
    rows[1] = rows[1]!.replace('C3607002019001', '');
    await expectProblem(write('.csv', csv(rows)), 'permits', 'PERMIT.MISSING_FIELD', ['row 3', 'field permit_id', 'is empty']);
  });

  it('a date that is not YYYY-MM-DD, and valid_to before valid_from', async () => {
    const bad = C1.replace('2029-12-31', '2023-13-01');
    await expectProblem(write('.csv', csv(permitRows(bad, C1_CORNERS))), 'permits', 'PERMIT.BAD_DATE', [
      "rows 2–5 (permit_id 'C3607002019001')", 'field valid_to', "'2023-13-01'", 'YYYY-MM-DD',
    ]);
    const reversed = C1.replace('2029-12-31', '2018-12-31');
    await expectProblem(write('.csv', csv(permitRows(reversed, C1_CORNERS))), 'permits', 'PERMIT.BAD_DATE', [
      "permit_id 'C3607002019001'", 'field valid_to', '2018-12-31 is before valid_from 2019-01-01',
    ]);
  });

  it('a missing or unknown type, an unknown status', async () => {
    await expectProblem(write('.csv', csv(permitRows(C1.replace(',mining,', ',,'), C1_CORNERS))), 'permits', 'PERMIT.MISSING_FIELD', [
      "permit_id 'C3607002019001'", 'field type', 'missing',
    ]);
    await expectProblem(write('.csv', csv(permitRows(C1.replace(',mining,', ',采砂权,'), C1_CORNERS))), 'permits', 'PERMIT.BAD_VALUE', [
      'field type', "'采砂权'", 'mining / exploration',
    ]);
    await expectProblem(write('.csv', csv(permitRows(C1.replace(',active', ',pending'), C1_CORNERS))), 'permits', 'PERMIT.BAD_VALUE', [
      'field status', "'pending'",
    ]);
  });

  it('a coordinate that is not a number', async () => {
    const rows = permitRows(C1, C1_CORNERS);
    rows[2] = rows[2]!.replace('2756430.15', '2756a30.15');
    await expectProblem(write('.csv', csv(rows)), 'permits', 'PERMIT.INVALID_GEOMETRY', ['row 4', 'field x', "'2756a30.15'", 'not a number']);
  });

  it('a zone prefix that differs between rows of one permit', async () => {
    const rows = permitRows(C1, C1_CORNERS);
    rows[2] = rows[2]!.replace('38580314.71', '39580314.71');
    const error = await expectProblem(write('.csv', csv(rows)), 'permits', 'PERMIT.ZONE_MISMATCH', [
      "rows 2–5 (permit_id 'C3607002019001')", 'field y', 'zone prefix differs', 'row 2', 'zone 38 (EPSG:4526)', 'row 4', 'zone 39 (EPSG:4527)',
    ]);
    expect(error.message).toContain('39580314.71');
  });

  it('an 8-digit easting whose prefix is no CGCS2000 zone', async () => {
    const rows = permitRows(C1, C1_CORNERS).map((r) => r.replace(',385', ',125'));
    await expectProblem(write('.csv', csv(rows)), 'permits', 'LAYER.CRS', ['row 2', 'field y', '12578806.26', 'not a CGCS2000 zone prefix']);
  });

  it('an unprefixed easting without --permits-crs, or with a prefixed CRS', async () => {
    const rows = permitRows(C1, C1_CORNERS).map((r) => r.replace(',38', ','));
    const file = write('.csv', csv(rows));
    await expectProblem(file, 'permits', 'LAYER.CRS', ['row 2', 'field y', 'easting 578806.26 has no zone prefix', '--permits-crs']);
    await expectProblem(file, 'permits', 'LAYER.CRS', ['row 2', 'EPSG:4526 expects eastings starting with 38', 'EPSG:4547'], 'EPSG:4526');
    await expectProblem(file, 'permits', 'LAYER.CRS', ['longitude/latitude'], 'EPSG:4490');
  });

  it('a prefix that disagrees with the CRS given', async () => {
    await expectProblem(write('.csv', csv(permitRows(C1, C1_CORNERS))), 'permits', 'LAYER.CRS', ['zone prefix 38', 'EPSG:4527'], 'EPSG:4527');
  });

  it('x and y swapped (x must be the northing)', async () => {
    const rows = permitRows(C1, C1_CORNERS).map((r) => {
      const cells = r.split(',');
      return [...cells.slice(0, 9), cells[10], cells[9]].join(',');
    });
    await expectProblem(write('.csv', csv(rows)), 'permits', 'PERMIT.INVALID_GEOMETRY', ['row 2', 'field x', 'x must be the northing']);
  });

  it('attributes that differ between the rows of one permit', async () => {
    const rows = permitRows(C1, C1_CORNERS);
    rows[3] = rows[3]!.replace('赣州示例稀土矿业有限公司', '赣州示例矿业公司');
    await expectProblem(write('.csv', csv(rows)), 'permits', 'PERMIT.INCONSISTENT', ['field holder', 'row 2', 'row 5', "'赣州示例矿业公司'"]);
  });

  it('a block with fewer than 3 corners, a self-crossing block, a repeated corner number', async () => {
    await expectProblem(write('.csv', csv(permitRows(C1, C1_CORNERS.slice(0, 2)))), 'permits', 'PERMIT.INVALID_GEOMETRY', [
      "rows 2–3 (permit_id 'C3607002019001')", 'block 1', 'has 2 distinct corners', 'at least 3',
    ]);
    const bowTie = [C1_CORNERS[0]!, C1_CORNERS[1]!.replace('1,2,', '1,3,'), C1_CORNERS[2]!.replace('1,3,', '1,2,'), C1_CORNERS[3]!];
    await expectProblem(write('.csv', csv(permitRows(C1, bowTie))), 'permits', 'PERMIT.INVALID_GEOMETRY', [
      "permit_id 'C3607002019001'", 'block 1', 'crosses itself',
    ]);
    const repeated = [C1_CORNERS[0]!, C1_CORNERS[1]!, C1_CORNERS[2]!.replace('1,3,', '1,2,'), C1_CORNERS[3]!];
    await expectProblem(write('.csv', csv(permitRows(C1, repeated))), 'permits', 'PERMIT.INVALID_GEOMETRY', [
      'rows 3 and 4', 'field point', 'both give corner 2 of block 1',
    ]);
  });

  it('a header without a required column', async () => {
    const text = csv(permitRows(C1, C1_CORNERS)).replace('status,', 'state,');
    await expectProblem(write('.csv', text), 'permits', 'PERMIT.MISSING_FIELD', ['row 1 (header)', 'status (状态)', "'state'"]);
  });

  it('lists every problem of the file in one error (the first ten, then a count)', async () => {
    // Rows 2–9: a bad northing each (8 problems); rows 10–13: one permit with a bad date (1);
    // rows 14–17: bad northings again (4). 13 in all, of which the message lists 10.
    const badX = (rows: string[]): string[] => rows.map((r, i) => r.replace(/,(2\d{6})\.(\d\d),/, `,x${i},`));
    const rows = [
      ...badX([...permitRows(C1, C1_CORNERS), ...permitRows(C2, C2_CORNERS)]),
      ...permitRows(C2.replace('C3607002016007', 'C9').replace('2016-05-01', '2016-5-32'), C2_CORNERS),
      ...badX(permitRows('C10,h,mining,m,2019-01-01,2019-01-02,active', C1_CORNERS)),
    ];
    const error = await expectProblem(write('.csv', csv(rows)), 'permits', 'PERMIT.INVALID_GEOMETRY', [
      '13 problems in permits layer', 'row 2, field x', 'row 9, field x', '… and 3 more',
    ]);
    const problems = (error.cause as { problems: { code: string; where: string; field?: string }[] }).problems;
    expect(problems).toHaveLength(13);
    expect(problems.filter((p) => p.code === 'PERMIT.BAD_DATE')).toEqual([
      expect.objectContaining({ where: "rows 10–13 (permit_id 'C9')", field: 'valid_from' }),
    ]);
  });
});

describe('GeoJSON, KML and shapefile errors name the feature, the field and the value', () => {
  const square = (lon: number, lat: number, d = 0.01): number[][][] => [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]];
  const permit = (id: string, geometry: unknown, extra: Record<string, unknown> = {}): unknown => ({
    type: 'Feature',
    properties: { permit_id: id, holder: 'h', type: 'mining', mineral: '稀土', valid_from: '2019-01-01', valid_to: '2029-12-31', status: '有效', ...extra },
    geometry,
  });
  const collection = (features: unknown[], crs?: unknown): string =>
    JSON.stringify(crs === undefined ? { type: 'FeatureCollection', features } : { type: 'FeatureCollection', crs, features });

  it('points and lines in an area layer, and features without geometry', async () => {
    const file = write(
      '.geojson',
      collection([
        permit('P1', { type: 'Polygon', coordinates: square(114.7, 24.9) }),
        permit('P2', { type: 'Point', coordinates: [114.7, 24.9] }),
        permit('P3', null),
        permit('P4', { type: 'GeometryCollection', geometries: [{ type: 'Polygon', coordinates: square(114.7, 24.9) }, { type: 'LineString', coordinates: [[114, 24], [115, 25]] }] }),
      ]),
    );
    const error = await expectProblem(file, 'permits', 'PERMIT.INVALID_GEOMETRY', [
      "features[1] (permit_id 'P2'): is a Point",
      "features[2] (permit_id 'P3'): has no geometry",
      "features[3] (permit_id 'P4'): is a GeometryCollection holding a LineString",
    ]);
    expect(error.message).not.toContain('features[0]');
    const kml = `<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>井口</name><Point><coordinates>114.7,24.9</coordinates></Point></Placemark></Document></kml>`;
    await expectProblem(write('.kml', kml), 'protected_areas', 'LAYER.INVALID_GEOMETRY', ["Placemark 1 ('井口')", 'is a Point', 'Polygon or MultiPolygon']);
  });

  it('metres without a CRS: "coordinates look projected; give the CRS"', async () => {
    const file = write('.geojson', collection([permit('P1', { type: 'Polygon', coordinates: [[[38578806.26, 2755202.82], [38580018.07, 2755320.6], [38580314.71, 2756430.15], [38578806.26, 2755202.82]]] })]));
    await expectProblem(file, 'permits', 'LAYER.CRS', ['coordinates look projected', '38578806.26', 'give the CRS', '--permits-crs']);
    const entries = unzipSync(readFileSync(`${FIXTURES}permits-gk38-utf8.zip`));
    delete entries['permits_gk38.prj'];
    await expectProblem(write('.zip', zipSync(entries)), 'permits', 'LAYER.CRS', ['coordinates look projected', 'a .prj in the zip']);
  });

  it('a crs member it cannot honour, or one that contradicts the numbers', async () => {
    const beijing = { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::2435' } };
    await expectProblem(write('.geojson', collection([permit('P1', { type: 'Polygon', coordinates: square(114.7, 24.9) })], beijing)), 'permits', 'LAYER.CRS', [
      'urn:ogc:def:crs:EPSG::2435', 'no supported CRS',
    ]);
    const gk = { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::4526' } };
    await expectProblem(write('.geojson', collection([permit('P1', { type: 'Polygon', coordinates: square(114.7, 24.9) })], gk)), 'permits', 'LAYER.CRS', [
      'look like longitude/latitude degrees', 'EPSG:4526',
    ]);
  });

  it('a .prj on a datum without a shift to WGS 84 (Beijing 1954)', async () => {
    const entries = unzipSync(readFileSync(`${FIXTURES}permits-gk38-utf8.zip`));
    entries['permits_gk38.prj'] = new TextEncoder().encode(
      'PROJCS["Beijing_1954_3_Degree_GK_Zone_38",GEOGCS["GCS_Beijing_1954",DATUM["D_Beijing_1954",SPHEROID["Krasovsky_1940",6378245.0,298.3]],' +
        'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",38500000.0],' +
        'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",114.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]',
    );
    await expectProblem(write('.zip', zipSync(entries)), 'permits', 'LAYER.CRS', ['.prj', 'Beijing 1954', 'no transformation to WGS 84']);
  });

  it('non-finite coordinates, short rings, out-of-range latitude, self-crossing rings and holes', async () => {
    const file = write(
      '.geojson',
      collection([
        permit('NaN', { type: 'Polygon', coordinates: [[[114.7, 24.9], [114.71, null], [114.71, 24.91], [114.7, 24.9]]] }),
        permit('SHORT', { type: 'Polygon', coordinates: [[[114.7, 24.9], [114.71, 24.9], [114.7, 24.9]]] }),
        permit('LAT95', { type: 'Polygon', coordinates: [[[114.7, 94.9], [114.71, 95], [114.71, 95.01], [114.7, 94.9]]] }),
        permit('BOWTIE', { type: 'Polygon', coordinates: [[[114.7, 24.9], [114.71, 24.91], [114.71, 24.9], [114.7, 24.91], [114.7, 24.9]]] }),
        permit('HOLE', { type: 'Polygon', coordinates: [...square(114.7, 24.9), [[114.705, 24.905], [114.72, 24.905], [114.72, 24.906], [114.705, 24.905]]] }),
        permit('FLAT', { type: 'MultiPolygon', coordinates: [square(114.8, 24.9), [[[114.7, 24.9], [114.71, 24.9], [114.72, 24.9], [114.7, 24.9]]]] }),
      ]),
    );
    await expectProblem(file, 'permits', 'PERMIT.INVALID_GEOMETRY', [
      "features[0] (permit_id 'NaN'): ring 1, position 2: [114.71, null] is not a pair of finite numbers",
      "features[1] (permit_id 'SHORT'): ring 1 has 2 distinct corners",
      "features[2] (permit_id 'LAT95'): ring 1: position [114.7, 94.9] is outside",
      "features[3] (permit_id 'BOWTIE'): ring 1 crosses itself near [114.705, 24.905]",
      "features[4] (permit_id 'HOLE'): rings 1 and 2 cross",
      "features[5] (permit_id 'FLAT'): polygon 2, ring 1 has no area",
      '6 problems',
    ]);
  });

  it('missing and bad permit attributes', async () => {
    const file = write(
      '.geojson',
      collection([
        permit('', { type: 'Polygon', coordinates: square(114.7, 24.9) }),
        permit('P2', { type: 'Polygon', coordinates: square(114.72, 24.9) }, { valid_from: '2019/13/01', type: undefined }),
      ]),
    );
    await expectProblem(file, 'permits', 'PERMIT.MISSING_FIELD', [
      'features[0], field permit_id: is missing or empty',
      "features[1] (permit_id 'P2'), field type: is missing",
      "features[1] (permit_id 'P2'), field valid_from: '2019/13/01' is not a date YYYY-MM-DD",
    ]);
  });

  it('one permit_id on features with different attributes', async () => {
    const file = write(
      '.geojson',
      collection([
        permit('P1', { type: 'Polygon', coordinates: square(114.7, 24.9) }),
        permit('P1', { type: 'Polygon', coordinates: square(114.72, 24.9) }, { valid_to: '2030-12-31' }),
      ]),
    );
    await expectProblem(file, 'permits', 'PERMIT.DUPLICATE_ID', [
      "features[0] (permit_id 'P1') and features[1] (permit_id 'P1')", 'field permit_id', 'differ in valid_to', "'2029-12-31' vs '2030-12-31'",
    ]);
  });

  it('jurisdictions without a 6-digit code or a name', async () => {
    const file = write(
      '.geojson',
      collection([
        { type: 'Feature', properties: { code: '36072', name: '定南县' }, geometry: { type: 'Polygon', coordinates: square(115, 24.7) } },
        { type: 'Feature', properties: { code: '360727' }, geometry: { type: 'Polygon', coordinates: square(114.7, 24.7) } },
      ]),
    );
    await expectProblem(file, 'jurisdictions', 'LAYER.BAD_VALUE', [
      "features[0] (code '36072'), field code: '36072' is not a 6-digit administrative division code",
      "features[1] (code '360727'), field name: is missing",
    ]);
  });

  it('shapefile problems are named by FID', async () => {
    // The GBK shapefile with its status field emptied is still parseable: the problem is per record.
    const entries = unzipSync(readFileSync(`${FIXTURES}permits-4490-gbk.zip`));
    const dbf = entries['permits_gbk.dbf']!;
    const text = new TextDecoder('latin1').decode(dbf);
    const at = text.indexOf('active');
    expect(at).toBeGreaterThan(0);
    const patched = dbf.slice();
    patched.set(new TextEncoder().encode('paused'), at);
    entries['permits_gbk.dbf'] = patched;
    await expectProblem(write('.zip', zipSync(entries)), 'permits', 'PERMIT.BAD_VALUE', ["FID 0 (permit_id 'C3607002019001'), field status: 'paused'"]);
  });
});
