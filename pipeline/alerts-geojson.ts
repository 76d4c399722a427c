/**
 * Alerts as the public GeoJSON of DESIGN.md's `--out`: a FeatureCollection in EPSG:4326, one
 * Feature per alert with the contract's properties and the rule trace.
 */
import type { Feature, FeatureCollection } from 'geojson';
import type { AlertRow } from './store/alert-store.js';
import type { AreaGeometry } from './types.js';

export function alertToFeature(a: AlertRow): Feature<AreaGeometry> {
  return {
    type: 'Feature',
    id: a.alert_id,
    geometry: a.geometry,
    properties: {
      alert_id: a.alert_id,
      category: a.category,
      flags: a.flags,
      area_ha: Math.round(a.area_ha * 10_000) / 10_000,
      area_outside_permit_ha: a.area_outside_ha === null ? null : Math.round(a.area_outside_ha * 10_000) / 10_000,
      score: a.score,
      confidence: a.confidence,
      permit_id: a.permit_id,
      county_code: a.county_code,
      county_name: a.county_name,
      change_kind: a.change_kind,
      centroid: a.centroid,
      first_seen: a.first_seen,
      last_seen: a.last_seen,
      observation_count: a.observation_count,
      status: a.status,
      summary: a.summary,
      rule_trace: a.rule_trace,
      rules: a.rules,
      detector: a.detector,
      detector_version: a.detector_version,
      scan_id: a.last_scan_id,
    },
  };
}

export function alertsToGeoJson(alerts: AlertRow[]): FeatureCollection<AreaGeometry> {
  return { type: 'FeatureCollection', features: alerts.map(alertToFeature) };
}
