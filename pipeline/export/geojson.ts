/**
 * Bulk GeoJSON export (RFC 7946): a FeatureCollection in WGS 84 longitude/latitude, outer rings
 * counter-clockwise, no `crs` member. Each Feature carries the scan contract's properties
 * (alerts-geojson.ts), the flat attribute table (columns.ts) and the alert's evidence: permit,
 * observations with scene SHA-256, triage history, detector thresholds.
 */
import type { Feature, FeatureCollection } from 'geojson';
import { alertToFeature } from '../alerts-geojson.js';
import type { ExportAlert } from '../store/alert-query.js';
import type { AreaGeometry } from '../types.js';
import { columnValues } from './columns.js';
import { bboxOfAll, rfc7946 } from './geometry.js';

export function alertToExportFeature(a: ExportAlert): Feature<AreaGeometry> {
  const base = alertToFeature(a);
  const { permit, observations, history, scan } = a;
  return {
    type: 'Feature',
    id: a.alert_id,
    geometry: rfc7946(a.geometry),
    properties: {
      ...columnValues(a),
      ...base.properties,
      permit: permit && { ...permit, geometry: undefined },
      observations,
      history,
      scan: scan && {
        scan_id: scan.scan_id, before_uri: scan.before_uri, after_uri: scan.after_uri, before_sha256: scan.before_sha256,
        after_sha256: scan.after_sha256, before_date: scan.before_date, after_date: scan.after_date, detector: scan.detector,
        detector_version: scan.detector_version, detector_thresholds: scan.detector_thresholds, rules: scan.rules, layers: scan.layers,
      },
    },
  };
}

/** The FeatureCollection as UTF-8 JSON text (one feature per line, so diffs stay readable). */
export function buildGeoJson(alerts: ExportAlert[]): string {
  const bbox = bboxOfAll(alerts.map((a) => a.geometry));
  const fc: FeatureCollection<AreaGeometry> = { type: 'FeatureCollection', ...(bbox ? { bbox } : {}), features: [] };
  const head = JSON.stringify(fc).replace(/"features":\[\]\}$/, '"features":[');
  const features = alerts.map((a) => JSON.stringify(alertToExportFeature(a)));
  return `${head}\n${features.join(',\n')}${features.length ? '\n' : ''}]}\n`;
}
