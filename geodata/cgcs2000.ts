/**
 * CGCS2000 (China Geodetic Coordinate System 2000) and its Gauss-Krüger projections, the systems
 * Chinese mining and exploration permits are issued in.
 *
 * EPSG numbers the 128 projected systems in four runs of equal structure:
 *   4491–4501  6° zones 13–23, zone number prefixed to the easting (false easting zone·10⁶ + 500 000)
 *   4502–4512  6° zones by central meridian 75°E … 135°E, false easting 500 000
 *   4513–4533  3° zones 25–45, zone number prefixed to the easting
 *   4534–4554  3° zones by central meridian 75°E … 135°E, false easting 500 000
 * All are transverse Mercator on GRS80 with scale 1 and no false northing. CGCS2000 geographic
 * (EPSG:4490) is treated as WGS 84 (they differ by centimetres; see DESIGN "Coordinates"), so the
 * definitions carry `+towgs84=0,0,0` and transforming to EPSG:4326 is only the projection.
 */
import proj4, { type Converter } from 'proj4';
import { inputError } from '../errors/index.js';

export const CGCS2000_EPSG = 4490;

/** What an EPSG code in the CGCS2000 Gauss-Krüger range means. */
export interface GaussKrugerZone {
  epsg: number;
  /** Zone width in degrees of longitude. */
  widthDeg: 3 | 6;
  /** Zone number (3° zone n has central meridian 3n; 6° zone n has 6n − 3). */
  zone: number;
  centralMeridianDeg: number;
  /** True when the zone number is prefixed to the easting. */
  prefixed: boolean;
  falseEastingM: number;
}

/** Zone, central meridian and false easting of a CGCS2000 GK EPSG code, or null outside 4491–4554. */
export function describeGaussKruger(epsg: number): GaussKrugerZone | null {
  if (!Number.isInteger(epsg)) return null;
  if (epsg >= 4491 && epsg <= 4501) {
    const zone = epsg - 4491 + 13;
    return { epsg, widthDeg: 6, zone, centralMeridianDeg: zone * 6 - 3, prefixed: true, falseEastingM: zone * 1e6 + 500000 };
  }
  if (epsg >= 4502 && epsg <= 4512) {
    const zone = epsg - 4502 + 13;
    return { epsg, widthDeg: 6, zone, centralMeridianDeg: zone * 6 - 3, prefixed: false, falseEastingM: 500000 };
  }
  if (epsg >= 4513 && epsg <= 4533) {
    const zone = epsg - 4513 + 25;
    return { epsg, widthDeg: 3, zone, centralMeridianDeg: zone * 3, prefixed: true, falseEastingM: zone * 1e6 + 500000 };
  }
  if (epsg >= 4534 && epsg <= 4554) {
    const zone = epsg - 4534 + 25;
    return { epsg, widthDeg: 3, zone, centralMeridianDeg: zone * 3, prefixed: false, falseEastingM: 500000 };
  }
  return null;
}

/**
 * proj4 definition of EPSG:4490 or of a CGCS2000 Gauss-Krüger system (EPSG:4491–4554), or null for
 * any other code.
 */
export function gaussKrugerProj4(epsg: number): string | null {
  if (epsg === CGCS2000_EPSG) return '+proj=longlat +ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +no_defs';
  const gk = describeGaussKruger(epsg);
  if (gk === null) return null;
  return (
    `+proj=tmerc +lat_0=0 +lon_0=${gk.centralMeridianDeg} +k=1 +x_0=${gk.falseEastingM} +y_0=0 ` +
    '+ellps=GRS80 +towgs84=0,0,0,0,0,0,0 +units=m +no_defs'
  );
}

/**
 * The 3° zone number carried by a prefixed easting (metres), or null when the easting has no
 * prefix. A prefixed 3° easting has eight digits before the decimal point and starts with a zone
 * number 25–45 (China spans 3° zones 25–45), e.g. 38 579 810.21 → 38.
 */
export function zoneFromPrefixedEasting(eastingM: number): number | null {
  if (!Number.isFinite(eastingM) || eastingM < 1e7 || eastingM >= 1e8) return null;
  const zone = Math.floor(eastingM / 1e6);
  return zone >= 25 && zone <= 45 ? zone : null;
}

/**
 * The CGCS2000 GK EPSG code implied by a prefixed easting (metres): 3° zones 25–45 → 4513–4533,
 * 6° zones 13–23 → 4491–4501 (the two ranges do not overlap), or null when there is no prefix.
 */
export function epsgFromPrefixedEasting(eastingM: number): number | null {
  const zone3 = zoneFromPrefixedEasting(eastingM);
  if (zone3 !== null) return gk3EpsgForZone(zone3);
  if (!Number.isFinite(eastingM) || eastingM < 1e7 || eastingM >= 1e8) return null;
  const zone6 = Math.floor(eastingM / 1e6);
  return zone6 >= 13 && zone6 <= 23 ? 4491 + zone6 - 13 : null;
}

/** EPSG code of the prefixed 3° GK zone `zone` (25–45 → 4513–4533), or null. */
export function gk3EpsgForZone(zone: number): number | null {
  return Number.isInteger(zone) && zone >= 25 && zone <= 45 ? 4513 + zone - 25 : null;
}

/** EPSG code of the unprefixed 3° GK zone with central meridian `cmDeg` (75–135°E by 3 → 4534–4554), or null. */
export function gk3EpsgForCentralMeridian(cmDeg: number): number | null {
  return Number.isInteger(cmDeg) && cmDeg % 3 === 0 && cmDeg >= 75 && cmDeg <= 135 ? 4534 + cmDeg / 3 - 25 : null;
}

// proj4 parses a definition on every call; the converters are cached per code.
const converters = new Map<number, Converter>();

function converterFor(epsg: number): Converter {
  let converter = converters.get(epsg);
  if (converter === undefined) {
    const definition = gaussKrugerProj4(epsg);
    if (definition === null) {
      throw inputError('CRS.UNSUPPORTED', `EPSG:${epsg} is not CGCS2000 or a CGCS2000 Gauss-Krüger system (EPSG:4490–4554)`);
    }
    converter = proj4(definition, 'WGS84');
    converters.set(epsg, converter);
  }
  return converter;
}

/**
 * Converts a CGCS2000 GK position to WGS 84 longitude/latitude in degrees. Easting and northing in
 * metres (for EPSG:4490 pass longitude, latitude). Throws an input error for codes outside 4490–4554.
 */
export function toWgs84(epsg: number, eastingM: number, northingM: number): [number, number] {
  const [lon, lat] = converterFor(epsg).forward([eastingM, northingM]);
  return [lon as number, lat as number];
}

/** Inverse of {@link toWgs84}: WGS 84 degrees → [easting, northing] in metres in EPSG `epsg`. */
export function fromWgs84(epsg: number, lonDeg: number, latDeg: number): [number, number] {
  const [easting, northing] = converterFor(epsg).inverse([lonDeg, latDeg]);
  return [easting as number, northing as number];
}
