/**
 * Everything an evidence report says about one alert, read from the store in one place: the alert,
 * the scan that last saw it (scenes, their SHA-256, detector, thresholds, rules), the permit it
 * involves and the permits and closed sites around it (from the layer versions that scan used),
 * its observations and its audit trail.
 */
import type { PermitProperties } from '../../geodata/reference-layers/types.js';
import { inputError } from '../../errors/index.js';
import type { AreaGeometry } from '../types.js';
import { ALERT_SELECT, type AlertRow, type LayerRef } from './alert-store.js';
import type { Queryable } from './database.js';

export interface EvidenceScan {
  scan_id: string;
  before_uri: string;
  after_uri: string;
  before_sha256: string | null;
  after_sha256: string | null;
  before_date: string;
  after_date: string;
  detector: string;
  detector_version: string;
  rules: Record<string, unknown>;
  layers: LayerRef[];
  stats: { detector?: Record<string, unknown> } | null;
  request: { bands?: string[] | null } | null;
}

export interface AlertEvidence {
  alert: AlertRow;
  scan: EvidenceScan;
  permit: { properties: PermitProperties; geometry: AreaGeometry } | null;
  /** Permits and closed sites whose box meets `around` (for drawing on the images). */
  nearby: { kind: 'permits' | 'closed_sites'; id: string; geometry: AreaGeometry }[];
  observations: { observed_on: string; scan_id: string; area_ha: number; category: string }[];
  history: { at: string; actor: string; action: string; details: Record<string, unknown> }[];
}

export async function loadAlertEvidence(db: Queryable, alertId: string, around?: [number, number, number, number]): Promise<AlertEvidence> {
  const alert = (await db.query<AlertRow>(`${ALERT_SELECT} WHERE alert_id = $1`, [alertId])).rows[0];
  if (!alert) throw inputError('EXPORT.UNKNOWN_ALERT', `--alert: no alert "${alertId}" in the store`);
  const scan = (await db.query<EvidenceScan>(
    `SELECT scan_id, before_uri, after_uri, before_sha256, after_sha256, before_date::text AS before_date, after_date::text AS after_date,
            detector, detector_version, rules, layers, stats, request FROM scans WHERE scan_id = $1`, [alert.last_scan_id])).rows[0];
  const layerIds = (scan.layers ?? []).filter((l) => l.kind === 'permits' || l.kind === 'closed_sites').map((l) => l.layerId);
  const permitLayers = (scan.layers ?? []).filter((l) => l.kind === 'permits').map((l) => l.layerId);
  let permit: AlertEvidence['permit'] = null;
  if (alert.permit_id && permitLayers.length > 0) {
    const row = (await db.query<{ properties: PermitProperties; geometry: AreaGeometry }>(
      `SELECT properties, geometry FROM layer_features WHERE layer_id = ANY($1) AND properties->>'permit_id' = $2 ORDER BY layer_id DESC LIMIT 1`,
      [permitLayers, alert.permit_id])).rows[0];
    permit = row ?? null;
  }
  const [minLon, minLat, maxLon, maxLat] = around ?? [alert.centroid[0], alert.centroid[1], alert.centroid[0], alert.centroid[1]];
  const nearby = layerIds.length === 0 ? [] : (await db.query<{ layer_id: string; feature_id: string; geometry: AreaGeometry }>(
    `SELECT layer_id, feature_id, geometry FROM layer_features WHERE layer_id = ANY($1)
        AND min_lon <= $4 AND max_lon >= $2 AND min_lat <= $5 AND max_lat >= $3 ORDER BY layer_id, feature_id LIMIT 200`,
    [layerIds, minLon, minLat, maxLon, maxLat])).rows.map((r) => ({
    kind: permitLayers.includes(Number(r.layer_id)) ? 'permits' as const : 'closed_sites' as const, id: r.feature_id, geometry: r.geometry,
  }));
  const observations = (await db.query<AlertEvidence['observations'][number]>(
    `SELECT observed_on::text AS observed_on, scan_id, area_ha, category FROM observations WHERE alert_id = $1 ORDER BY observed_on`, [alertId])).rows;
  const history = (await db.query<{ at: string; actor: string; action: string; details: Record<string, unknown> }>(
    `SELECT to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS at, actor, action, details FROM audit_log WHERE alert_id = $1 ORDER BY audit_id`, [alertId])).rows;
  return { alert, scan, permit, nearby, observations, history };
}
