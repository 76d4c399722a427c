/**
 * The bulk GIS formats of map-evidence export, as a registry: each format is one pure builder from
 * alerts (with their evidence) to bytes. A new format adds a file and an entry; nothing else
 * changes. The PDF report is not here: it renders images and lives with the workers.
 */
import type { ExportAlert } from '../store/alert-query.js';
import { buildCsv } from './csv.js';
import { buildGeoJson } from './geojson.js';
import { bboxOfAll, gkZone, gkZoneForLongitude } from './geometry.js';
import { buildKml } from './kml.js';
import type { Lang } from './labels.js';
import { buildShapefile, type ExportCrs } from './shapefile.js';

export type { ExportCrs } from './shapefile.js';
export { MANIFEST_SUFFIX } from './manifest.js';

export const EXPORT_FORMATS = ['pdf', 'geojson', 'kml', 'shp', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export type GisFormat = Exclude<ExportFormat, 'pdf'>;

export interface GisExportOptions {
  /** Layer / member name without extension. */
  baseName: string;
  lang: Lang;
  /** Document title (KML). */
  title: string;
  crs: ExportCrs;
}

export interface BuiltExport {
  bytes: Uint8Array;
  mediaType: string;
  /** Members of an archive. */
  members?: { name: string; bytes: Uint8Array }[];
}

interface GisFormatSpec {
  mediaType: string;
  /** The file extension `--out` must have, when the format insists (the Shapefile is a .zip). */
  requiredExtension?: string;
  /** Whether coordinates may be CGCS2000 Gauss-Krüger instead of WGS 84. */
  gaussKruger: boolean;
  build(alerts: ExportAlert[], options: GisExportOptions): BuiltExport;
}

const utf8 = new TextEncoder();

export const GIS_FORMATS: Record<GisFormat, GisFormatSpec> = {
  geojson: {
    mediaType: 'application/geo+json', gaussKruger: false,
    build: (alerts) => ({ bytes: utf8.encode(buildGeoJson(alerts)), mediaType: 'application/geo+json' }),
  },
  kml: {
    mediaType: 'application/vnd.google-earth.kml+xml', gaussKruger: false,
    build: (alerts, o) => ({ bytes: utf8.encode(buildKml(alerts, { lang: o.lang, title: o.title })), mediaType: 'application/vnd.google-earth.kml+xml' }),
  },
  csv: {
    mediaType: 'text/csv; charset=utf-8', gaussKruger: false,
    build: (alerts) => ({ bytes: utf8.encode(buildCsv(alerts)), mediaType: 'text/csv; charset=utf-8' }),
  },
  shp: {
    mediaType: 'application/zip', requiredExtension: '.zip', gaussKruger: true,
    build: (alerts, o) => {
      const { zip, members } = buildShapefile(alerts, { baseName: o.baseName, crs: o.crs });
      return { bytes: zip, mediaType: 'application/zip', members };
    },
  },
};

/**
 * The CGCS2000 3° Gauss-Krüger zone for the alerts: the given zone, or the zone whose central
 * meridian is nearest the middle of the alerts' longitudes. Null when there are no alerts to choose
 * from or the middle lies outside China's zones 25–45 (73.5°E–136.5°E).
 */
export function gaussKrugerCrsFor(alerts: ExportAlert[], zone?: number): ExportCrs | null {
  if (zone !== undefined) {
    const z = gkZone(zone);
    return z && { kind: 'cgcs2000-gk', zone: z };
  }
  const bbox = bboxOfAll(alerts.map((a) => a.geometry));
  const z = bbox && gkZoneForLongitude((bbox[0] + bbox[2]) / 2);
  return z ? { kind: 'cgcs2000-gk', zone: z } : null;
}

/** The manifest's description of a CRS. */
export function describeCrs(crs: ExportCrs): { epsg: number; name: string; zone?: number; central_meridian_deg?: number } {
  if (crs.kind === 'wgs84') return { epsg: 4326, name: 'WGS 84' };
  const z = crs.zone;
  return {
    epsg: z.epsg, name: `CGCS2000 / 3-degree Gauss-Kruger zone ${z.zone} (central meridian ${z.centralMeridianDeg}°E, zone number prefixed to the easting)`,
    zone: z.zone, central_meridian_deg: z.centralMeridianDeg,
  };
}
