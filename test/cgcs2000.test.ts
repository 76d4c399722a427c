// CGCS2000 Gauss-Krüger definitions against PROJ's figures in ../shared/data/cn-permit-formats.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  describeGaussKruger,
  epsgFromPrefixedEasting,
  fromWgs84,
  gaussKrugerProj4,
  gk3EpsgForCentralMeridian,
  gk3EpsgForZone,
  toWgs84,
  zoneFromPrefixedEasting,
} from '../geodata/cgcs2000.js';
import { converterFor, resolveCrs } from '../geodata/reference-layers/crs.js';

const SHARED = fileURLToPath(new URL('../../shared/data/cn-permit-formats/', import.meta.url));
const VECTORS = `${SHARED}gk-test-vectors.csv`;

describe('describeGaussKruger / gaussKrugerProj4', () => {
  it('maps the four EPSG runs to zones, central meridians and false eastings', () => {
    expect(describeGaussKruger(4491)).toMatchObject({ widthDeg: 6, zone: 13, centralMeridianDeg: 75, prefixed: true, falseEastingM: 13_500_000 });
    expect(describeGaussKruger(4501)).toMatchObject({ widthDeg: 6, zone: 23, centralMeridianDeg: 135, prefixed: true });
    expect(describeGaussKruger(4502)).toMatchObject({ widthDeg: 6, centralMeridianDeg: 75, prefixed: false, falseEastingM: 500_000 });
    expect(describeGaussKruger(4512)).toMatchObject({ widthDeg: 6, centralMeridianDeg: 135, prefixed: false });
    expect(describeGaussKruger(4513)).toMatchObject({ widthDeg: 3, zone: 25, centralMeridianDeg: 75, prefixed: true, falseEastingM: 25_500_000 });
    expect(describeGaussKruger(4526)).toMatchObject({ widthDeg: 3, zone: 38, centralMeridianDeg: 114, prefixed: true, falseEastingM: 38_500_000 });
    expect(describeGaussKruger(4533)).toMatchObject({ widthDeg: 3, zone: 45, centralMeridianDeg: 135 });
    expect(describeGaussKruger(4534)).toMatchObject({ widthDeg: 3, centralMeridianDeg: 75, prefixed: false, falseEastingM: 500_000 });
    expect(describeGaussKruger(4547)).toMatchObject({ widthDeg: 3, centralMeridianDeg: 114, prefixed: false });
    expect(describeGaussKruger(4554)).toMatchObject({ widthDeg: 3, centralMeridianDeg: 135, prefixed: false });
    for (const outside of [4490, 4555, 32650, 4526.5]) expect(describeGaussKruger(outside)).toBeNull();
  });

  it('gives GRS80 tmerc definitions with scale 1, and null outside 4490–4554', () => {
    expect(gaussKrugerProj4(4526)).toBe(
      '+proj=tmerc +lat_0=0 +lon_0=114 +k=1 +x_0=38500000 +y_0=0 +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs',
    );
    expect(gaussKrugerProj4(4547)).toContain('+lon_0=114 +k=1 +x_0=500000 ');
    expect(gaussKrugerProj4(4490)).toContain('+proj=longlat +ellps=GRS80 +towgs84=0,0,0');
    expect(gaussKrugerProj4(4326)).toBeNull();
    expect(gaussKrugerProj4(4555)).toBeNull();
  });

  it('treats EPSG:4490 as WGS 84', () => {
    const [lon, lat] = toWgs84(4490, 114.79, 24.91);
    expect(lon).toBeCloseTo(114.79, 12);
    expect(lat).toBeCloseTo(24.91, 12);
  });

  it('refuses codes it does not define with an input error', () => {
    expect(() => toWgs84(2435, 0, 0)).toThrow(expect.objectContaining({ code: 'CRS.UNSUPPORTED', kind: 'input' }));
  });
});

describe('zone helpers', () => {
  it('reads the 3° zone from an 8-digit prefixed easting, null without a prefix', () => {
    expect(zoneFromPrefixedEasting(38_579_810.21)).toBe(38);
    expect(zoneFromPrefixedEasting(39_363_665.11)).toBe(39);
    expect(zoneFromPrefixedEasting(579_810.21)).toBeNull();
    expect(zoneFromPrefixedEasting(20_276_702.086)).toBeNull(); // a 6° zone number, not a 3° one
    expect(zoneFromPrefixedEasting(Number.NaN)).toBeNull();
    expect(zoneFromPrefixedEasting(138_579_810)).toBeNull();
  });

  it('maps prefixed eastings of either zone width to their EPSG code', () => {
    expect(epsgFromPrefixedEasting(38_579_810.21)).toBe(4526);
    expect(epsgFromPrefixedEasting(20_276_702.086)).toBe(4498);
    expect(epsgFromPrefixedEasting(579_810.21)).toBeNull();
    expect(epsgFromPrefixedEasting(12_000_000)).toBeNull();
  });

  it('finds 3° codes by zone and by central meridian', () => {
    expect(gk3EpsgForZone(25)).toBe(4513);
    expect(gk3EpsgForZone(38)).toBe(4526);
    expect(gk3EpsgForZone(45)).toBe(4533);
    expect(gk3EpsgForZone(24)).toBeNull();
    expect(gk3EpsgForZone(46)).toBeNull();
    expect(gk3EpsgForCentralMeridian(75)).toBe(4534);
    expect(gk3EpsgForCentralMeridian(114)).toBe(4547);
    expect(gk3EpsgForCentralMeridian(135)).toBe(4554);
    expect(gk3EpsgForCentralMeridian(115)).toBeNull();
    expect(gk3EpsgForCentralMeridian(138)).toBeNull();
  });
});

describe.skipIf(!existsSync(VECTORS))('gk-test-vectors.csv (PROJ via GDAL 3.6.2)', () => {
  const rows = existsSync(VECTORS)
    ? readFileSync(VECTORS, 'utf8').trim().split(/\r?\n/).slice(1).map((line) => {
        const [point, lon, lat, kind, epsg, crsName, northing, easting] = line.split(',');
        return { point, lon: Number(lon), lat: Number(lat), kind, epsg: Number(epsg), crsName, northing: Number(northing), easting: Number(easting) };
      })
    : [];

  it('has the 50 rows the SOURCE.md describes', () => {
    expect(rows).toHaveLength(50);
  });

  for (const row of rows) {
    it(`${row.point} in EPSG:${row.epsg} (${row.kind}): both directions, ≤ 1 mm and ≤ 1e-8°`, () => {
      if (row.kind === 'utm_wgs84') {
        // Not CGCS2000: goes through the generic CRS table the layer importer uses.
        const converter = converterFor(resolveCrs(`EPSG:${row.epsg}`)!);
        const [lon, lat] = converter.forward([row.easting, row.northing]);
        const [e, n] = converter.inverse([row.lon, row.lat]);
        expect(Math.abs(lon! - row.lon)).toBeLessThanOrEqual(1e-8);
        expect(Math.abs(lat! - row.lat)).toBeLessThanOrEqual(1e-8);
        expect(Math.abs(e! - row.easting)).toBeLessThanOrEqual(0.001);
        expect(Math.abs(n! - row.northing)).toBeLessThanOrEqual(0.001);
        return;
      }
      const zone = describeGaussKruger(row.epsg)!;
      expect(zone).not.toBeNull();
      // The vector's own CRS name agrees with the code table.
      if (zone.prefixed) expect(row.crsName).toContain(`zone ${zone.zone}`);
      else expect(row.crsName).toContain(`CM ${zone.centralMeridianDeg}E`);
      const [e, n] = fromWgs84(row.epsg, row.lon, row.lat);
      expect(Math.abs(e - row.easting)).toBeLessThanOrEqual(0.001);
      expect(Math.abs(n - row.northing)).toBeLessThanOrEqual(0.001);
      const [lon, lat] = toWgs84(row.epsg, row.easting, row.northing);
      expect(Math.abs(lon - row.lon)).toBeLessThanOrEqual(1e-8);
      expect(Math.abs(lat - row.lat)).toBeLessThanOrEqual(1e-8);
      if (row.kind === 'gk3_zone_prefix') {
        expect(gk3EpsgForZone(zoneFromPrefixedEasting(row.easting)!)).toBe(row.epsg);
      }
      if (row.kind === 'gk3_no_prefix') {
        expect(zoneFromPrefixedEasting(row.easting)).toBeNull();
        expect(gk3EpsgForCentralMeridian(zone.centralMeridianDeg)).toBe(row.epsg);
      }
    });
  }
});
