/**
 * Coordinate reference systems: building a `Crs` from an EPSG code or from GeoTIFF GeoKeys, and
 * point transforms between two of them (proj4js).
 *
 * The systems orewatch meets every day are defined here so that they never depend on a
 * third-party table: WGS 84 and CGCS2000 geographic, WGS 84 / UTM, Web Mercator and the 84
 * CGCS2000 Gauss-Krüger systems (EPSG:4491–4554) that Chinese mining permits are issued in.
 * Everything else goes through `geotiff-geokeys-to-proj4`.
 *
 * Axis order is always x = easting / longitude, y = northing / latitude, as in GeoTIFF model
 * space and GeoJSON, whatever the EPSG axis order says. CGCS2000 is treated as WGS 84 (they differ
 * by centimetres, see DESIGN.md): no datum shift is ever applied between them.
 */
import proj4 from 'proj4';
import { CGCS2000_EPSG, gaussKrugerProj4 } from './cgcs2000.js';
import geokeysToProj4, { type GeoKeys } from 'geotiff-geokeys-to-proj4';
import { inputError } from '../errors/index.js';
import type { Crs } from './types.js';

/** WGS 84 longitude/latitude in degrees (EPSG:4326), x = longitude. */
export const WGS84: Crs = Object.freeze({
  code: 'EPSG:4326',
  proj4: '+proj=longlat +datum=WGS84 +no_defs',
  geographic: true,
});

/**
 * A point transform between two CRSs. Coordinates are [x, y] in each CRS's units (degrees for
 * geographic systems, x = longitude; metres otherwise). Points that cannot be transformed come
 * back as [NaN, NaN].
 */
export interface CrsTransform {
  forward(x: number, y: number): [number, number];
  inverse(x: number, y: number): [number, number];
}


/**
 * Proj4 definition for one of the codes orewatch defines itself, or null: WGS 84, Web Mercator,
 * WGS 84 UTM, and CGCS2000 with its Gauss-Krüger zones (from cgcs2000.ts, treated as WGS 84).
 * The one table of built-in systems; the reference-layer import uses it too.
 */
export function knownCrsDefinition(epsg: number): { proj4: string; geographic: boolean } | null {
  if (epsg === 4326) return { proj4: WGS84.proj4, geographic: true };
  if (epsg === 3857) {
    return {
      proj4: '+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +no_defs',
      geographic: false,
    };
  }
  if ((epsg >= 32601 && epsg <= 32660) || (epsg >= 32701 && epsg <= 32760)) {
    const zone = epsg % 100;
    const south = epsg >= 32701 ? ' +south' : '';
    return { proj4: `+proj=utm +zone=${zone}${south} +datum=WGS84 +units=m +no_defs`, geographic: false };
  }
  const cgcs = gaussKrugerProj4(epsg);
  return cgcs === null ? null : { proj4: cgcs, geographic: epsg === CGCS2000_EPSG };
}

function parseEpsg(code: string): number | null {
  const match = /^\s*EPSG\s*:\s*(\d{4,5})\s*$/i.exec(code);
  return match ? Number(match[1]) : null;
}

/**
 * The definitions from geotiff-geokeys-to-proj4 carry EPSG axis order (`+axis=ne` for latitude-
 * first systems); GeoTIFF model space is always easting/longitude first, so the axis flag is
 * dropped.
 */
function stripAxis(definition: string): string {
  return definition.replace(/\s*\+axis=\w+/g, '').replace(/\s+/g, ' ').trim();
}

/**
 * The CRS for an EPSG code written "EPSG:NNNN" (case-insensitive). Codes orewatch defines itself
 * (4326, 4490, 3857, 326NN, 327NN, 4491–4554) are always available; others are looked up in
 * geotiff-geokeys-to-proj4's EPSG tables.
 * @throws OrewatchError CRS.UNSUPPORTED naming the code when it is malformed or unknown.
 */
export function crsFromCode(code: string): Crs {
  const epsg = parseEpsg(code);
  if (epsg === null) {
    throw inputError('CRS.UNSUPPORTED', `Expected a CRS code like "EPSG:4326" but received "${code}"`);
  }
  const builtIn = knownCrsDefinition(epsg);
  if (builtIn) return { code: `EPSG:${epsg}`, ...builtIn };
  // Not ours: ask the GeoKeys library, first as a projected then as a geographic system.
  for (const keys of [{ ProjectedCSTypeGeoKey: epsg }, { GeographicTypeGeoKey: epsg }]) {
    const result = geokeysToProj4.toProj4(keys as unknown as GeoKeys);
    if (Object.keys(result.errors).length === 0) {
      return { code: `EPSG:${epsg}`, proj4: repairStereographic(stripAxis(result.proj4), null), geographic: result.isGCS };
    }
  }
  throw inputError('CRS.UNSUPPORTED', `CRS EPSG:${epsg} is not supported (unknown EPSG code)`);
}

/** GeoKey values as geotiff.js `image.getGeoKeys()` returns them. */
export type GeoKeyValues = Record<string, unknown>;

const USER_DEFINED = 32767;

function numericKey(keys: GeoKeyValues, name: string): number | null {
  const value = keys[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * The CRS described by a GeoTIFF's GeoKeys (geotiff.js `image.getGeoKeys()`). EPSG-coded systems
 * that orewatch defines itself take that definition; user-defined ones are converted by
 * geotiff-geokeys-to-proj4 and get `code: null`.
 * @param file named in error messages.
 * @throws OrewatchError CRS.UNSUPPORTED when the keys describe a system proj4 cannot handle
 *   (geocentric, unknown EPSG code, unsupported projection or units).
 */
export function crsFromGeoKeys(geoKeys: GeoKeyValues, file?: string): Crs {
  const where = file ? ` in ${file}` : '';
  const modelType = numericKey(geoKeys, 'GTModelTypeGeoKey');
  if (modelType === 3) {
    throw inputError('CRS.UNSUPPORTED', `Geocentric CRS (GTModelTypeGeoKey=3)${where} is not supported`, file);
  }
  const projected = numericKey(geoKeys, 'ProjectedCSTypeGeoKey');
  const geographicCode = numericKey(geoKeys, 'GeographicTypeGeoKey');
  // A projected code wins over a geographic one (the geographic key then names its base CRS).
  const code = modelType !== 2 && projected !== null ? projected : geographicCode;
  if (code !== null && code > 0 && code !== USER_DEFINED) {
    const builtIn = knownCrsDefinition(code);
    if (builtIn) return { code: `EPSG:${code}`, ...builtIn };
  }
  const result = geokeysToProj4.toProj4(geoKeys as unknown as GeoKeys);
  // Both keys set is normal for a projected CRS (the geographic key names its base): the library
  // flags it but still builds the projection.
  const errors = Object.entries(result.errors).filter(([key]) => !(key === 'bothGCSAndPCSAreSet' && modelType !== 2 && !result.isGCS));
  if (errors.length > 0) {
    const detail = errors.map(([key, value]) => `${key}=${String(value)}`).join(', ');
    throw inputError('CRS.UNSUPPORTED', `CRS${where} is not supported (${detail})`, file);
  }
  if (result.shouldConvertCoordinates && !/\+to_meter=/.test(result.proj4)) {
    // Coordinates in a unit the proj4 string does not state: refuse rather than misplace them.
    throw inputError('CRS.UNSUPPORTED', `CRS${where} uses coordinate units (${result.coordinatesUnits}) that are not supported`, file);
  }
  return {
    code: code !== null && code > 0 && code !== USER_DEFINED ? `EPSG:${code}` : null,
    proj4: repairStereographic(stripAxis(result.proj4), geoKeys),
    geographic: result.isGCS,
  };
}

/**
 * Repairs two ways geotiff-geokeys-to-proj4 (2024.04.13) gets polar stereographic systems wrong:
 * - EPSG definitions such as 3031 come as `+proj=stere +lat_ts=-71` without `+lat_0`, which
 *   proj4js reads as an oblique projection centred on the equator; the pole is added.
 * - A user-defined CT_PolarStereographic (15) is rendered as an oblique stereographic centred on
 *   ProjNatOriginLatGeoKey. GDAL reads that key as the latitude of true scale of a polar
 *   projection (variant B) when it is not ±90°; the projection part is rebuilt that way.
 */
function repairStereographic(definition: string, geoKeys: GeoKeyValues | null): string {
  if (!/\+proj=stere\b/.test(definition)) return definition;
  if (geoKeys && numericKey(geoKeys, 'ProjCoordTransGeoKey') === 15) {
    const latitude = numericKey(geoKeys, 'ProjNatOriginLatGeoKey') ?? numericKey(geoKeys, 'ProjCenterLatGeoKey');
    if (latitude !== null && Math.abs(latitude) !== 90) {
      const longitude = numericKey(geoKeys, 'ProjStraightVertPoleLongGeoKey') ?? numericKey(geoKeys, 'ProjNatOriginLongGeoKey') ?? 0;
      const kept = definition.split(/\s+/).filter((token) => !/^\+(proj|lat_0|lat_ts|lon_0|k|k_0)=/.test(token));
      const pole = latitude < 0 ? -90 : 90;
      return [`+proj=stere +lat_0=${pole} +lat_ts=${latitude} +lon_0=${longitude}`, ...kept].join(' ').trim();
    }
  }
  const trueScale = /\+lat_ts=(-?[\d.]+)/.exec(definition);
  if (trueScale && !/\+lat_0=/.test(definition)) {
    const pole = Number(trueScale[1]) < 0 ? -90 : 90;
    return definition.replace('+proj=stere', `+proj=stere +lat_0=${pole}`);
  }
  return definition;
}

/**
 * The WGS 84 / UTM zone CRS (EPSG:326NN north, 327NN south) for a point, by the regular 6-degree
 * zone grid (the Norway/Svalbard exceptions are not applied).
 * @param lon longitude in degrees, -180..180
 * @param lat latitude in degrees; ≥ 0 gives the northern zone
 */
export function utmCrsFor(lon: number, lat: number): Crs {
  if (!Number.isFinite(lon) || !Number.isFinite(lat)) {
    throw inputError('CRS.UNSUPPORTED', `Expected a finite longitude/latitude for utmCrsFor but received ${lon}, ${lat}`);
  }
  const normalized = ((((lon + 180) % 360) + 360) % 360) - 180;
  const zone = Math.min(60, Math.max(1, Math.floor((normalized + 180) / 6) + 1));
  const epsg = (lat >= 0 ? 32600 : 32700) + zone;
  return crsFromCode(`EPSG:${epsg}`);
}

function sameCrs(a: Crs, b: Crs): boolean {
  if (a.code !== null && a.code === b.code) return true;
  return a.proj4.trim() === b.proj4.trim();
}

const identity: CrsTransform = {
  forward: (x, y) => [x, y],
  inverse: (x, y) => [x, y],
};

function finitePair(point: number[]): [number, number] {
  const x = point[0];
  const y = point[1];
  return x !== undefined && y !== undefined && Number.isFinite(x) && Number.isFinite(y) ? [x, y] : [NaN, NaN];
}

/**
 * A transform from `from` to `to` (forward) and back (inverse), built once and reused.
 * Same CRS on both sides gives the identity without going through proj4.
 */
export function createTransform(from: Crs, to: Crs): CrsTransform {
  if (sameCrs(from, to)) return identity;
  const converter = proj4(from.proj4, to.proj4);
  return {
    forward(x, y) {
      try {
        return finitePair(converter.forward([x, y]));
      } catch {
        return [NaN, NaN];
      }
    },
    inverse(x, y) {
      try {
        return finitePair(converter.inverse([x, y]));
      } catch {
        return [NaN, NaN];
      }
    },
  };
}
