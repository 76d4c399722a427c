/**
 * Selecting alerts for export, with everything evidence needs per alert: the permit involved (holder,
 * validity, from the permits layer the alert was judged against), the observations with the scenes
 * behind them (URIs and SHA-256), the triage history (audit log), and the last scan's detector,
 * version, thresholds and rules. One query per table for the whole set, parameterised SQL only.
 */
import type { AreaGeometry, AlertStatus, Category } from '../types.js';
import { ALERT_SELECT, type AlertRow, type LayerRef } from './alert-store.js';
import type { Queryable } from './database.js';

/** What selects the alerts of an export. Every field narrows the set; none given means every alert. */
export interface AlertFilters {
  /** Exact alert ids (`OW-…`). */
  alertIds?: string[];
  /**
   * Administrative division code, 6 digits: a county code matches that county, a city code
   * (`360700`) its counties, a province code (`360000`) every county of the province.
   */
  county?: string;
  /** First and last day (YYYY-MM-DD, inclusive) of the alert's `last_seen`. */
  from?: string;
  to?: string;
  category?: Category[];
  status?: AlertStatus[];
}

/** The permit an alert is about, as the permits layer recorded it. */
export interface AlertPermit {
  permit_id: string;
  holder: string;
  type: string;
  mineral: string;
  valid_from: string;
  valid_to: string;
  status: string;
  /** Name of the mine or block when the layer has one. */
  name: string | null;
  geometry: AreaGeometry;
  layer: { name: string; version: number; sha256: string };
}

/** One detection of the site, with the scene pair it was seen on. */
export interface AlertObservation {
  observed_on: string;
  scan_id: string;
  scene_key: string;
  area_ha: number;
  score: number;
  category: string;
  before_uri: string;
  after_uri: string;
  before_sha256: string | null;
  after_sha256: string | null;
  before_date: string;
  after_date: string;
}

/** One line of the audit trail: detection, triage decisions, assignments. */
export interface AlertHistoryEntry {
  /** ISO 8601 UTC. */
  at: string;
  actor: string;
  action: string;
  details: Record<string, unknown>;
}

/** The scan that last updated the alert: how it was made. */
export interface AlertScan {
  scan_id: string;
  before_uri: string;
  after_uri: string;
  before_sha256: string | null;
  after_sha256: string | null;
  before_date: string;
  after_date: string;
  detector: string;
  detector_version: string;
  /** The detector's thresholds as the scan recorded them, or null when it recorded none. */
  detector_thresholds: Record<string, unknown> | null;
  /** Band names the scan was given for files without band descriptions (`--bands`), else null. */
  bands: string[] | null;
  rules: Record<string, unknown>;
  layers: LayerRef[];
}

export interface ExportAlert extends AlertRow {
  permit: AlertPermit | null;
  observations: AlertObservation[];
  history: AlertHistoryEntry[];
  scan: AlertScan | null;
}

/**
 * The SQL condition and parameters for `filters`, over the `alerts` table. Values are checked by the
 * caller (the CLI names the flag); here they only become parameters.
 */
export function alertFilterSql(filters: AlertFilters): { where: string; params: unknown[] } {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filters.alertIds !== undefined) conditions.push(`alert_id = ANY(${param(filters.alertIds)}::text[])`);
  if (filters.county !== undefined) {
    conditions.push(`starts_with(county_code, ${param(divisionPrefix(filters.county))})`);
  }
  if (filters.from !== undefined) conditions.push(`last_seen >= ${param(filters.from)}::date`);
  if (filters.to !== undefined) conditions.push(`last_seen <= ${param(filters.to)}::date`);
  if (filters.category !== undefined) conditions.push(`category = ANY(${param(filters.category)}::text[])`);
  if (filters.status !== undefined) conditions.push(`status = ANY(${param(filters.status)}::text[])`);
  return { where: conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`, params };
}

/**
 * The prefix shared by the codes a division contains: `360000` (province) → `36`, `360700` (city)
 * → `3607`, `360728` (county) → `360728`.
 */
export function divisionPrefix(code: string): string {
  if (code.endsWith('0000')) return code.slice(0, 2);
  if (code.endsWith('00')) return code.slice(0, 4);
  return code;
}

/** Alerts matching `filters`, ordered by alert id, each with its permit, observations, history and scan. */
export async function queryAlerts(db: Queryable, filters: AlertFilters = {}): Promise<ExportAlert[]> {
  const { where, params } = alertFilterSql(filters);
  const alerts = (await db.query<AlertRow>(`${ALERT_SELECT}${where} ORDER BY alert_id`, params)).rows;
  if (alerts.length === 0) return [];
  const ids = alerts.map((a) => a.alert_id);
  const [observations, history, scans] = await Promise.all([
    loadObservations(db, ids), loadHistory(db, ids), loadScans(db, [...new Set(alerts.map((a) => a.last_scan_id))]),
  ]);
  const permits = await loadPermits(db, alerts, scans);
  return alerts.map((a) => ({
    ...a,
    centroid: [Number(a.centroid[0]), Number(a.centroid[1])],
    permit: permits.get(a.alert_id) ?? null,
    observations: observations.get(a.alert_id) ?? [],
    history: history.get(a.alert_id) ?? [],
    scan: scans.get(a.last_scan_id) ?? null,
  }));
}

function groupBy<T extends { alert_id: string }, U>(rows: T[], map: (row: T) => U): Map<string, U[]> {
  const groups = new Map<string, U[]>();
  for (const row of rows) {
    const list = groups.get(row.alert_id) ?? [];
    list.push(map(row));
    groups.set(row.alert_id, list);
  }
  return groups;
}

async function loadObservations(db: Queryable, ids: string[]): Promise<Map<string, AlertObservation[]>> {
  const { rows } = await db.query<AlertObservation & { alert_id: string }>(
    `SELECT o.alert_id, o.observed_on::text AS observed_on, o.scan_id, o.scene_key, o.area_ha, o.score, o.category,
            s.before_uri, s.after_uri, s.before_sha256, s.after_sha256,
            s.before_date::text AS before_date, s.after_date::text AS after_date
       FROM observations o JOIN scans s ON s.scan_id = o.scan_id
      WHERE o.alert_id = ANY($1::text[])
      ORDER BY o.alert_id, o.observed_on, o.scan_id`, [ids]);
  return groupBy(rows, ({ alert_id: _id, ...o }) => o);
}

async function loadHistory(db: Queryable, ids: string[]): Promise<Map<string, AlertHistoryEntry[]>> {
  const { rows } = await db.query<{ alert_id: string; at: Date | string; actor: string; action: string; details: Record<string, unknown> }>(
    `SELECT alert_id, at, actor, action, details FROM audit_log WHERE alert_id = ANY($1::text[]) ORDER BY alert_id, at, audit_id`, [ids]);
  return groupBy(rows, (r) => ({ at: new Date(r.at).toISOString(), actor: r.actor, action: r.action, details: r.details ?? {} }));
}

async function loadScans(db: Queryable, scanIds: string[]): Promise<Map<string, AlertScan>> {
  const { rows } = await db.query<Omit<AlertScan, 'detector_thresholds'> & { stats: { detector?: { thresholds?: Record<string, unknown> } } | null }>(
    `SELECT scan_id, before_uri, after_uri, before_sha256, after_sha256, before_date::text AS before_date,
            after_date::text AS after_date, detector, detector_version, rules, layers, stats, request->'bands' AS bands
       FROM scans WHERE scan_id = ANY($1::text[])`, [scanIds]);
  return new Map(rows.map(({ stats, ...s }) => [s.scan_id, { ...s, detector_thresholds: stats?.detector?.thresholds ?? null }]));
}

/**
 * The permit of each alert that names one: the feature of the permits layer version its last scan
 * was judged against; failing that (a layer since removed, or not recorded), the latest stored
 * version that has the permit.
 */
async function loadPermits(db: Queryable, alerts: AlertRow[], scans: Map<string, AlertScan>): Promise<Map<string, AlertPermit>> {
  const permitIds = [...new Set(alerts.map((a) => a.permit_id).filter((p): p is string => p !== null))];
  const found = new Map<string, AlertPermit>();
  if (permitIds.length === 0) return found;
  const { rows } = await db.query<{ layer_id: string | number; properties: Record<string, unknown>; geometry: AreaGeometry; name: string; version: number; sha256: string }>(
    `SELECT f.layer_id, f.properties, f.geometry, l.name, l.version, l.sha256
       FROM layer_features f JOIN layers l ON l.layer_id = f.layer_id
      WHERE l.kind = 'permits' AND f.properties->>'permit_id' = ANY($1::text[])
      ORDER BY f.layer_id DESC, f.feature_id`, [permitIds]);
  for (const alert of alerts) {
    if (alert.permit_id === null) continue;
    const used = new Set((scans.get(alert.last_scan_id)?.layers ?? []).filter((l) => l.kind === 'permits').map((l) => l.layerId));
    const candidates = rows.filter((r) => r.properties.permit_id === alert.permit_id);
    const row = candidates.find((r) => used.has(Number(r.layer_id))) ?? candidates[0];
    if (!row) continue;
    const p = row.properties;
    const text = (key: string) => (typeof p[key] === 'string' ? (p[key] as string) : p[key] === undefined || p[key] === null ? '' : String(p[key]));
    found.set(alert.alert_id, {
      permit_id: alert.permit_id, holder: text('holder'), type: text('type'), mineral: text('mineral'),
      valid_from: text('valid_from'), valid_to: text('valid_to'), status: text('status'),
      name: text('name') || null, geometry: row.geometry,
      layer: { name: row.name, version: row.version, sha256: row.sha256 },
    });
  }
  return found;
}
