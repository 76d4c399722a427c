/**
 * Writing and reading alerts: one transaction per scan that records the scan, opens new alerts,
 * updates the ones a site matches (last seen, observation count, confidence), records licensed
 * activity per permit, and appends to the audit log. Matching a site to an existing alert is by
 * overlap, so the same scan twice leaves one alert per site and a later scan confirms it.
 */
import { createHash } from 'node:crypto';
import { areaOutsideHa } from '../../geodata/area.js';
import { bboxOf } from '../rules.js';
import type { AlertStatus, AreaGeometry, Category, ChangeSite, Classification, Confidence, RuleSettings, TraceStep } from '../types.js';
import type { Queryable } from './database.js';

/** Share of the smaller of two sites that must overlap for them to be the same site. */
export const SAME_SITE_OVERLAP = 0.25;

export interface LayerRef {
  kind: string;
  name: string;
  version: number;
  sha256: string;
  layerId: number;
}

export interface ScanRecord {
  scanId: string;
  scanKey: string;
  beforeUri: string;
  afterUri: string;
  beforeSha256: string | null;
  afterSha256: string | null;
  beforeDate: string;
  afterDate: string;
  detector: string;
  detectorVersion: string;
  rules: RuleSettings & { version: string };
  layers: LayerRef[];
  startedAt: string;
  stats: Record<string, unknown>;
}

export type AlertClassification = Extract<Classification, { outcome: 'alert' }>;

export interface ScanFinding {
  site: ChangeSite;
  classification: Classification;
  county: { code: string; name: string } | null;
}

export interface AlertRow {
  alert_id: string;
  category: Category;
  flags: Category[];
  status: AlertStatus;
  confidence: Confidence;
  score: number;
  area_ha: number;
  area_outside_ha: number | null;
  permit_id: string | null;
  county_code: string | null;
  county_name: string | null;
  change_kind: string;
  geometry: AreaGeometry;
  centroid: [number, number];
  first_seen: string;
  last_seen: string;
  observation_count: number;
  rule_trace: TraceStep[];
  summary: string;
  rules: ScanRecord['rules'];
  detector: string;
  detector_version: string;
  last_scan_id: string;
}

export interface SaveScanResult {
  alerts: AlertRow[];
  opened: number;
  updated: number;
  licensed: number;
}

/** Deterministic alert id from the site's geometry at first detection. */
export function alertIdFor(geometry: AreaGeometry): string {
  const rounded = JSON.stringify(geometry, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v * 1e6) / 1e6 : v));
  return `OW-${createHash('sha256').update(rounded).digest('hex').slice(0, 12).toUpperCase()}`;
}

function overlapHa(a: AreaGeometry, aHa: number, b: AreaGeometry): number {
  return Math.max(0, aHa - areaOutsideHa(a, b));
}

interface StoredAlert {
  alert_id: string;
  geometry: AreaGeometry;
  area_ha: number;
  status: AlertStatus;
  first_seen: string;
  last_seen: string;
}

async function findSameSite(tx: Queryable, site: ChangeSite): Promise<StoredAlert | null> {
  const [minLon, minLat, maxLon, maxLat] = bboxOf(site.geometry);
  const { rows } = await tx.query<StoredAlert>(
    `SELECT alert_id, geometry, area_ha, status, first_seen::text AS first_seen, last_seen::text AS last_seen
       FROM alerts WHERE min_lon <= $3 AND max_lon >= $1 AND min_lat <= $4 AND max_lat >= $2
      ORDER BY alert_id`,
    [minLon, minLat, maxLon, maxLat],
  );
  let best: StoredAlert | null = null;
  let bestShare = 0;
  for (const row of rows) {
    const share = overlapHa(site.geometry, site.areaHa, row.geometry) / Math.min(site.areaHa, row.area_ha);
    if (share >= SAME_SITE_OVERLAP && share > bestShare) {
      best = row;
      bestShare = share;
    }
  }
  return best;
}

/**
 * Key of the advisory lock that serialises alert writing across processes and machines: two
 * workers finishing scans of the same area (or the same scan twice) match sites against each
 * other's alerts instead of racing to open two alerts for one site. Held to the end of the
 * transaction. Alert writing is short (milliseconds per site), so one lock costs little.
 */
export const ALERTS_LOCK_KEY = 0x6f72_6577; // "orew"

/** Takes the alert-writing lock for the rest of the transaction. */
export async function lockAlerts(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [ALERTS_LOCK_KEY]);
}

/**
 * Records a scan and its findings; call it inside the scan's transaction. The scan row may exist
 * already (server mode records it when the scan is queued); it is then completed. `sceneKey` identifies the later scene
 * (its SHA-256 or URI): a site seen again on a different later scene is a new observation.
 */
export async function saveScan(tx: Queryable, scan: ScanRecord, findings: ScanFinding[], sceneKey: string): Promise<SaveScanResult> {
  {
    await lockAlerts(tx);
    await tx.query(
      `INSERT INTO scans (scan_id, scan_key, before_uri, after_uri, before_sha256, after_sha256, before_date, after_date,
         detector, detector_version, rules, layers, stats, started_at, finished_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14, now())
       ON CONFLICT (scan_id) DO UPDATE SET stats = EXCLUDED.stats, layers = EXCLUDED.layers, finished_at = now(),
         status = 'done', error = NULL, updated_at = now()`,
      [scan.scanId, scan.scanKey, scan.beforeUri, scan.afterUri, scan.beforeSha256, scan.afterSha256, scan.beforeDate,
        scan.afterDate, scan.detector, scan.detectorVersion, JSON.stringify(scan.rules), JSON.stringify(scan.layers),
        JSON.stringify(scan.stats), scan.startedAt],
    );
    const touched: string[] = [];
    let opened = 0, updated = 0, licensed = 0;
    for (const finding of findings) {
      const { site, classification } = finding;
      if (classification.outcome === 'licensed') {
        licensed++;
        await tx.query(
          `INSERT INTO licensed_activity (scan_id, site_key, permit_id, observed_on, area_ha, score, geometry, summary)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
          [scan.scanId, alertIdFor(site.geometry), classification.permitId, scan.afterDate, site.areaHa, site.score,
            JSON.stringify(site.geometry), classification.summary],
        );
        continue;
      }
      if (classification.outcome !== 'alert') continue;
      const existing = await findSameSite(tx, site);
      const alertId = existing?.alert_id ?? alertIdFor(site.geometry);
      if (touched.includes(alertId)) continue; // two sites of one scan matching one alert: keep the first
      touched.push(alertId);
      if (existing) {
        updated++;
        await updateAlert(tx, existing, finding, classification, scan, sceneKey);
      } else {
        opened++;
        await insertAlert(tx, alertId, finding, classification, scan, sceneKey);
      }
    }
    await tx.query(
      `INSERT INTO audit_log (actor, action, scan_id, details) VALUES ('orewatch', 'scan', $1, $2)`,
      [scan.scanId, JSON.stringify({ opened, updated, licensed, before: scan.beforeUri, after: scan.afterUri })],
    );
    const alerts = touched.length === 0 ? [] : (await tx.query<AlertRow>(`${ALERT_SELECT} WHERE alert_id = ANY($1) ORDER BY alert_id`, [touched])).rows;
    return { alerts, opened, updated, licensed };
  }
}

async function insertAlert(tx: Queryable, alertId: string, finding: ScanFinding, c: AlertClassification, scan: ScanRecord, sceneKey: string): Promise<void> {
  const { site, county } = finding;
  const [minLon, minLat, maxLon, maxLat] = bboxOf(site.geometry);
  await tx.query(
    `INSERT INTO alerts (alert_id, category, flags, status, confidence, score, area_ha, area_outside_ha, permit_id,
       county_code, county_name, change_kind, geometry, centroid_lon, centroid_lat, min_lon, min_lat, max_lon, max_lat,
       first_seen, last_seen, observation_count, rule_trace, summary, rules, detector, detector_version, last_scan_id)
     VALUES ($1,$2,$3,'new','provisional',$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$18,1,$19,$20,$21,$22,$23,$24)`,
    [alertId, c.category, JSON.stringify(c.flags), site.score, site.areaHa, c.areaOutsidePermitHa, c.permitId,
      county?.code ?? null, county?.name ?? null, site.changeKind, JSON.stringify(site.geometry), site.centroid[0], site.centroid[1],
      minLon, minLat, maxLon, maxLat, scan.afterDate, JSON.stringify(c.trace), c.summary, JSON.stringify(scan.rules),
      scan.detector, scan.detectorVersion, scan.scanId],
  );
  await insertObservation(tx, alertId, finding, c, scan, sceneKey);
  await tx.query(`INSERT INTO audit_log (actor, action, alert_id, scan_id, details) VALUES ('orewatch', 'alert_opened', $1, $2, $3)`,
    [alertId, scan.scanId, JSON.stringify({ category: c.category, area_ha: site.areaHa })]);
}

async function insertObservation(tx: Queryable, alertId: string, finding: ScanFinding, c: AlertClassification, scan: ScanRecord, sceneKey: string): Promise<boolean> {
  const { rows } = await tx.query(
    `INSERT INTO observations (alert_id, scene_key, scan_id, observed_on, area_ha, score, category, geometry)
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
     ON CONFLICT (alert_id, scene_key) DO UPDATE SET scan_id = EXCLUDED.scan_id, area_ha = EXCLUDED.area_ha,
       score = EXCLUDED.score, category = EXCLUDED.category, geometry = EXCLUDED.geometry
     RETURNING (xmax = 0) AS inserted`,
    [alertId, sceneKey, scan.scanId, scan.afterDate, finding.site.areaHa, finding.site.score, c.category, JSON.stringify(finding.site.geometry)],
  );
  return (rows[0] as { inserted: boolean }).inserted;
}

async function updateAlert(tx: Queryable, existing: StoredAlert, finding: ScanFinding, c: AlertClassification, scan: ScanRecord, sceneKey: string): Promise<void> {
  const { site, county } = finding;
  const newObservation = await insertObservation(tx, existing.alert_id, finding, c, scan, sceneKey);
  const { rows } = await tx.query<{ n: number; first: string; last: string }>(
    `SELECT count(*)::int AS n, min(observed_on)::text AS first, max(observed_on)::text AS last FROM observations WHERE alert_id = $1`,
    [existing.alert_id],
  );
  const { n, first, last } = rows[0];
  // The latest observation defines the current footprint; an older pair rescanned later does not.
  const isLatest = scan.afterDate >= existing.last_seen;
  const reopen = existing.status === 'closed' && newObservation;
  const [minLon, minLat, maxLon, maxLat] = bboxOf(site.geometry);
  await tx.query(
    `UPDATE alerts SET observation_count = $2, first_seen = $3, last_seen = $4,
        confidence = CASE WHEN $2 > 1 THEN 'confirmed' ELSE confidence END,
        status = CASE WHEN $5 THEN 'new' ELSE status END,
        last_scan_id = $6, updated_at = now()
        ${isLatest ? `, category = $7, flags = $8, score = $9, area_ha = $10, area_outside_ha = $11, permit_id = $12,
          county_code = $13, county_name = $14, change_kind = $15, geometry = $16, centroid_lon = $17, centroid_lat = $18,
          min_lon = $19, min_lat = $20, max_lon = $21, max_lat = $22, rule_trace = $23, summary = $24, rules = $25,
          detector = $26, detector_version = $27` : ''}
      WHERE alert_id = $1`,
    [existing.alert_id, n, first, last, reopen, scan.scanId,
      ...(isLatest ? [c.category, JSON.stringify(c.flags), site.score, site.areaHa, c.areaOutsidePermitHa, c.permitId,
        county?.code ?? null, county?.name ?? null, site.changeKind, JSON.stringify(site.geometry), site.centroid[0], site.centroid[1],
        minLon, minLat, maxLon, maxLat, JSON.stringify(c.trace), c.summary, JSON.stringify(scan.rules), scan.detector, scan.detectorVersion] : [])],
  );
  if (newObservation || reopen) {
    await tx.query(`INSERT INTO audit_log (actor, action, alert_id, scan_id, details) VALUES ('orewatch', $2, $1, $3, $4)`,
      [existing.alert_id, reopen ? 'alert_reopened' : 'alert_observed', scan.scanId, JSON.stringify({ observation_count: n, area_ha: site.areaHa })]);
  }
}

export const ALERT_SELECT = `SELECT alert_id, category, flags, status, confidence, score, area_ha, area_outside_ha, permit_id,
  county_code, county_name, change_kind, geometry, ARRAY[centroid_lon, centroid_lat] AS centroid,
  first_seen::text AS first_seen, last_seen::text AS last_seen, observation_count, rule_trace, summary, rules,
  detector, detector_version, last_scan_id FROM alerts`;

export async function listAlerts(db: Queryable): Promise<AlertRow[]> {
  return (await db.query<AlertRow>(`${ALERT_SELECT} ORDER BY alert_id`)).rows;
}
