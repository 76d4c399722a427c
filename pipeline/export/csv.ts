/**
 * Bulk CSV export for Excel and GIS: UTF-8 with a byte-order mark (without it Excel on a Chinese
 * Windows reads UTF-8 as GBK and garbles every name), CRLF line ends, RFC 4180 quoting. One row per
 * alert: the attribute table (columns.ts), the centroid also in CGCS2000 Gauss-Krüger (the 3° zone
 * of the alert's own centroid, zone number prefixed to the easting), and the geometry as WKT in
 * WGS 84. GDAL reads it with `-oo GEOM_POSSIBLE_NAMES=wkt`.
 */
import type { ExportAlert } from '../store/alert-query.js';
import { COLUMNS, type ColumnValue } from './columns.js';
import { gkZoneForLongitude, projectToGk, toWkt } from './geometry.js';

export const CSV_BOM = '\uFEFF';

export const CSV_EXTRA_COLUMNS = ['gk_epsg', 'gk_zone', 'gk_easting_m', 'gk_northing_m', 'wkt'] as const;

/**
 * Text that starts like a formula (= + - @) is made inert with a leading apostrophe: Excel would
 * otherwise run it ("CSV injection"), and layer attributes come from files orewatch did not write.
 */
function inert(value: ColumnValue): ColumnValue {
  return typeof value === 'string' && /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

function field(value: ColumnValue): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function gkColumns(a: ExportAlert): ColumnValue[] {
  const zone = gkZoneForLongitude(a.centroid[0]);
  if (zone === null) return [null, null, null, null];
  const [e, n] = projectToGk(zone, a.centroid[0], a.centroid[1]);
  return [`EPSG:${zone.epsg}`, zone.zone, Math.round(e * 1000) / 1000, Math.round(n * 1000) / 1000];
}

/** The CSV text, BOM first. */
export function buildCsv(alerts: ExportAlert[]): string {
  const header = [...COLUMNS.map((c) => c.key), ...CSV_EXTRA_COLUMNS];
  const rows = alerts.map((a) => [...COLUMNS.map((c) => (c.type === 'text' ? inert(c.value(a)) : c.value(a))), ...gkColumns(a), toWkt(a.geometry)]
    .map(field).join(','));
  return `${CSV_BOM}${[header.join(','), ...rows].join('\r\n')}\r\n`;
}
