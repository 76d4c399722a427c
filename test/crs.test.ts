// CRS definitions and transforms (geodata/crs.ts), checked against PROJ-computed vectors in
// ../shared/data/cn-permit-formats/gk-test-vectors.csv (every row, both directions).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WGS84, createTransform, crsFromCode, crsFromGeoKeys, utmCrsFor } from '../geodata/crs.js';
import { isOrewatchError } from '../errors/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sharedData = path.resolve(here, '../../shared/data');
const vectorsFile = path.join(sharedData, 'cn-permit-formats/gk-test-vectors.csv');

function expectCode(fn: () => unknown, code: string, text?: string): void {
  try {
    fn();
  } catch (error) {
    expect(isOrewatchError(error)).toBe(true);
    if (isOrewatchError(error)) {
      expect(error.code).toBe(code);
      expect(error.kind).toBe('input');
      if (text) expect(error.message).toContain(text);
    }
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('crsFromCode', () => {
  it('defines WGS 84, CGCS2000, Web Mercator and UTM itself', () => {
    expect(crsFromCode('EPSG:4326')).toEqual(WGS84);
    expect(crsFromCode('epsg:4490')).toMatchObject({ code: 'EPSG:4490', geographic: true });
    expect(crsFromCode('EPSG:3857').geographic).toBe(false);
    expect(crsFromCode('EPSG:32650').proj4).toContain('+zone=50');
    expect(crsFromCode('EPSG:32723').proj4).toContain('+south');
  });

  it.each([
    [4491, 75, 13500000], [4498, 117, 20500000], [4501, 135, 23500000],
    [4502, 75, 500000], [4509, 117, 500000], [4512, 135, 500000],
    [4513, 75, 25500000], [4526, 114, 38500000], [4533, 135, 45500000],
    [4534, 75, 500000], [4547, 114, 500000], [4554, 135, 500000],
  ])('EPSG:%i is Gauss-Krüger with central meridian %i and false easting %i', (code, meridian, easting) => {
    const crs = crsFromCode(`EPSG:${code}`);
    expect(crs.geographic).toBe(false);
    expect(crs.proj4).toContain(`+lon_0=${meridian} `);
    expect(crs.proj4).toContain(`+x_0=${easting} `);
    expect(crs.proj4).toContain('+ellps=GRS80');
    expect(crs.proj4).toContain('+k=1 ');
  });

  it('falls back to the GeoKeys tables for other EPSG codes', () => {
    const crs = crsFromCode('EPSG:3031');
    expect(crs.code).toBe('EPSG:3031');
    expect(crs.proj4).toContain('+proj=stere');
  });

  it('repairs polar stereographic definitions from the GeoKeys tables (true-scale latitude, pole)', () => {
    // PROJ (gdaltransform) values.
    const south = createTransform(WGS84, crsFromCode('EPSG:3031')).forward(109.15, -66.83);
    expect(south[0]).toBeCloseTo(2409805.92377075, 3);
    expect(south[1]).toBeCloseTo(-836825.950246489, 3);
    const north = createTransform(WGS84, crsFromCode('EPSG:3413')).forward(-45, 75);
    expect(north[0]).toBeCloseTo(0, 3);
    expect(north[1]).toBeCloseTo(-1633879.49747079, 3);
  });

  it('refuses unknown and malformed codes with CRS.UNSUPPORTED naming the code', () => {
    expectCode(() => crsFromCode('EPSG:99999'), 'CRS.UNSUPPORTED', 'EPSG:99999');
    expectCode(() => crsFromCode('WGS84'), 'CRS.UNSUPPORTED', 'WGS84');
  });
});

describe('crsFromGeoKeys', () => {
  it('uses our own definitions for the EPSG codes we know', () => {
    expect(crsFromGeoKeys({ GTModelTypeGeoKey: 1, ProjectedCSTypeGeoKey: 4526, GeographicTypeGeoKey: 4490 })).toEqual(crsFromCode('EPSG:4526'));
    expect(crsFromGeoKeys({ GTModelTypeGeoKey: 2, GeographicTypeGeoKey: 4490 })).toEqual(crsFromCode('EPSG:4490'));
  });

  it('converts other codes with geotiff-geokeys-to-proj4, longitude first', () => {
    const crs = crsFromGeoKeys({ GTModelTypeGeoKey: 2, GeographicTypeGeoKey: 4258 });
    expect(crs.code).toBe('EPSG:4258');
    expect(crs.geographic).toBe(true);
    expect(crs.proj4).not.toContain('+axis');
  });

  it('builds user-defined polar stereographic systems the way GDAL reads them', () => {
    // Keys of NSIDC's sea-ice grid (geotiff-foreign-producers/nt_20201024_f18_nrt_s.tif).
    const crs = crsFromGeoKeys({
      GTModelTypeGeoKey: 1, GeographicTypeGeoKey: 32767, GeogGeodeticDatumGeoKey: 32767, GeogAngularUnitsGeoKey: 9102,
      GeogEllipsoidGeoKey: 32767, GeogSemiMajorAxisGeoKey: 6378273, GeogInvFlatteningGeoKey: 298.279411123064,
      GeogPrimeMeridianLongGeoKey: 0, ProjectedCSTypeGeoKey: 32767, ProjectionGeoKey: 32767, ProjCoordTransGeoKey: 15,
      ProjLinearUnitsGeoKey: 9001, ProjNatOriginLatGeoKey: -70, ProjFalseEastingGeoKey: 0, ProjFalseNorthingGeoKey: 0,
      ProjScaleAtNatOriginGeoKey: 1, ProjStraightVertPoleLongGeoKey: 0,
    });
    expect(crs.code).toBeNull();
    // gdaltransform gives -42.2408923413797 -39.2308884002773 for the corner (-3950000, 4350000).
    const [lon, lat] = createTransform(crs, WGS84).forward(-3950000, 4350000);
    expect(lon).toBeCloseTo(-42.2408923413797, 6);
    expect(lat).toBeCloseTo(-39.2308884002773, 6);
  });

  it('refuses geocentric and unknown systems', () => {
    expectCode(() => crsFromGeoKeys({ GTModelTypeGeoKey: 3 }, 'x.tif'), 'CRS.UNSUPPORTED', 'x.tif');
    expectCode(() => crsFromGeoKeys({ GTModelTypeGeoKey: 1, ProjectedCSTypeGeoKey: 12345 }, 'y.tif'), 'CRS.UNSUPPORTED', 'y.tif');
  });
});

describe('utmCrsFor', () => {
  it('picks the regular 6-degree zone and hemisphere', () => {
    expect(utmCrsFor(114.79, 24.91).code).toBe('EPSG:32650');
    expect(utmCrsFor(-48.04, -15.83).code).toBe('EPSG:32722');
    expect(utmCrsFor(-47.9, -15.83).code).toBe('EPSG:32723');
    expect(utmCrsFor(-180, 0).code).toBe('EPSG:32601');
    expect(utmCrsFor(179.999, -1).code).toBe('EPSG:32760');
    expect(utmCrsFor(180, 10).code).toBe('EPSG:32601');
  });
});

describe('createTransform', () => {
  it('is the identity for the same CRS', () => {
    const t = createTransform(WGS84, crsFromCode('EPSG:4326'));
    expect(t.forward(1.5, 2.5)).toEqual([1.5, 2.5]);
    expect(t.inverse(1.5, 2.5)).toEqual([1.5, 2.5]);
  });

  it('treats CGCS2000 as WGS 84 (no datum shift)', () => {
    const [lon, lat] = createTransform(crsFromCode('EPSG:4490'), WGS84).forward(114.79, 24.91);
    expect(lon).toBeCloseTo(114.79, 12);
    expect(lat).toBeCloseTo(24.91, 12);
  });
});

interface Vector {
  point: string;
  lon: number;
  lat: number;
  kind: string;
  epsg: number;
  northing: number;
  easting: number;
}

function readVectors(): Vector[] {
  const [header, ...rows] = readFileSync(vectorsFile, 'utf8').trim().split(/\r?\n/);
  const columns = (header ?? '').split(',');
  return rows.map((row) => {
    const cells = row.split(',');
    const get = (name: string): string => cells[columns.indexOf(name)] ?? '';
    return {
      point: get('point'),
      lon: Number(get('lon')),
      lat: Number(get('lat')),
      kind: get('kind'),
      epsg: Number(get('epsg')),
      northing: Number(get('northing_x')),
      easting: Number(get('easting_y')),
    };
  });
}

describe.skipIf(!existsSync(vectorsFile))('Gauss-Krüger and UTM test vectors (shared/data/cn-permit-formats)', () => {
  const vectors = existsSync(vectorsFile) ? readVectors() : [];

  it('has every row', () => {
    expect(vectors.length).toBe(50);
  });

  it.each(vectors.map((v) => [v.point, v.kind, v.epsg, v] as const))('%s %s EPSG:%i within 1 mm / 1e-8°', (_point, _kind, epsg, v) => {
    const transform = createTransform(WGS84, crsFromCode(`EPSG:${epsg}`));
    const [easting, northing] = transform.forward(v.lon, v.lat);
    // The file's x is the northing and y the easting (Chinese surveying convention).
    expect(Math.abs(easting - v.easting)).toBeLessThanOrEqual(0.001);
    expect(Math.abs(northing - v.northing)).toBeLessThanOrEqual(0.001);
    const [lon, lat] = transform.inverse(v.easting, v.northing);
    expect(Math.abs(lon - v.lon)).toBeLessThanOrEqual(1e-8);
    expect(Math.abs(lat - v.lat)).toBeLessThanOrEqual(1e-8);
  });
});
