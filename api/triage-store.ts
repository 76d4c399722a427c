/**
 * The SQL behind the triage API: the queue (filtered, scoped, sorted by priority, paged), one alert
 * with its evidence, decisions with idempotency keys and conflict checks, routing, the audit
 * trail, and the divisions a user may route to. Every statement is parameterised; every read of an
 * alert goes through the caller's scope, so an alert outside it is indistinguishable from none.
 */
import type { Database, Queryable } from '../pipeline/store/database.js';
import { queryAlerts, type ExportAlert } from '../pipeline/store/alert-query.js';
import { divisionLevel } from '../pipeline/rules.js';
import type { AlertStatus, AreaGeometry, Category } from '../pipeline/types.js';
import { checkDecision, type PseudoReason } from './decisions.js';
import type { AlertListQuery, DecisionBody } from './schemas.js';
import { divisionPrefix, scopeCovers, scopeOf, scopeSql, type Principal, type Scope } from './scope.js';

export interface QueueItem {
  alert_id: string;
  category: Category;
  flags: Category[];
  status: AlertStatus;
  confidence: string;
  score: number;
  priority: number;
  area_ha: number;
  area_outside_ha: number | null;
  permit_id: string | null;
  county_code: string | null;
  county_name: string | null;
  assignee: string | null;
  first_seen: string;
  last_seen: string;
  observation_count: number;
  summary: string;
  geometry: AreaGeometry;
  centroid: [number, number];
  bbox: [number, number, number, number];
}

const ITEM_COLUMNS = `alert_id, category, flags, status, confidence, score, priority, area_ha, area_outside_ha, permit_id,
  scope_code AS county_code, COALESCE(assigned_county_name, county_name) AS county_name, assignee,
  first_seen::text AS first_seen, last_seen::text AS last_seen, observation_count, summary, geometry,
  centroid_lon, centroid_lat, min_lon, min_lat, max_lon, max_lat`;

type ItemRow = Omit<QueueItem, 'centroid' | 'bbox'> & Record<'centroid_lon' | 'centroid_lat' | 'min_lon' | 'min_lat' | 'max_lon' | 'max_lat', number>;

function toItem(r: ItemRow): QueueItem {
  const { centroid_lon, centroid_lat, min_lon, min_lat, max_lon, max_lat, ...rest } = r;
  return { ...rest, score: Number(rest.score), priority: Math.round(Number(rest.priority) * 1000) / 1000, area_ha: Number(rest.area_ha),
    centroid: [Number(centroid_lon), Number(centroid_lat)], bbox: [Number(min_lon), Number(min_lat), Number(max_lon), Number(max_lat)] };
}

const SORT_SQL: Record<NonNullable<AlertListQuery['sort']>, string> = {
  priority: 'priority', area: 'area_ha', last_seen: 'last_seen', first_seen: 'first_seen', score: 'score',
};

/** Builds the WHERE clause of the queue: the caller's scope AND every filter given. */
export function queueWhere(scope: Scope, q: AlertListQuery): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const conditions = [scopeSql(scope, param)];
  // One value is an equality, so the planner can walk the (status, priority) index in order.
  const oneOf = (column: string, values: string[]) => (values.length === 1 ? `${column} = ${param(values[0])}` : `${column} = ANY(${param(values)}::text[])`);
  if (q.category) conditions.push(oneOf('category', q.category));
  if (q.status) conditions.push(oneOf('status', q.status));
  if (q.confidence) conditions.push(oneOf('confidence', q.confidence));
  if (q.jurisdiction) conditions.push(`scope_code LIKE ${param(`${divisionPrefix(q.jurisdiction)}%`)}`);
  if (q.from) conditions.push(`last_seen >= ${param(q.from)}::date`);
  if (q.to) conditions.push(`last_seen <= ${param(q.to)}::date`);
  if (q.bbox) {
    const [w, s, e, n] = q.bbox;
    conditions.push(`min_lon <= ${param(e)} AND max_lon >= ${param(w)} AND min_lat <= ${param(n)} AND max_lat >= ${param(s)}`);
  }
  if (q.min_area_ha !== undefined) conditions.push(`area_ha >= ${param(q.min_area_ha)}`);
  if (q.q) {
    // The schema allows letters, digits and '-' only, so LIKE sees no wildcard but the trailing '%'.
    const p = param(`${q.q.toUpperCase()}%`);
    conditions.push(`(alert_id LIKE ${p} OR upper(permit_id) LIKE ${p})`);
  }
  return { where: conditions.join(' AND '), params };
}

/** One page of the queue and the count of everything the filters select. */
export async function listQueue(db: Queryable, user: Principal, q: AlertListQuery): Promise<{ items: QueueItem[]; total: number }> {
  const { where, params } = queueWhere(scopeOf(user), q);
  const sort = SORT_SQL[q.sort ?? 'priority'];
  const order = q.order ?? 'desc';
  const limit = q.limit ?? 50, offset = q.offset ?? 0;
  const [page, count] = await Promise.all([
    db.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM alerts WHERE ${where}
      ORDER BY ${sort} ${order}${sort === 'area_ha' ? '' : ', area_ha DESC'}, alert_id LIMIT ${limit} OFFSET ${offset}`, params),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM alerts WHERE ${where}`, params),
  ]);
  return { items: page.rows.map(toItem), total: count.rows[0].n };
}

/** The alert if it exists and lies in the caller's scope; null either way otherwise. */
export async function findAlertInScope(db: Queryable, user: Principal, alertId: string): Promise<QueueItem | null> {
  const params: unknown[] = [alertId];
  const where = scopeSql(scopeOf(user), (v) => { params.push(v); return `$${params.length}`; });
  const { rows } = await db.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM alerts WHERE alert_id = $1 AND ${where}`, params);
  return rows[0] ? toItem(rows[0]) : null;
}

export interface DecisionRecord {
  decision_id: string;
  alert_id: string;
  actor: string;
  from_status: AlertStatus;
  to_status: AlertStatus;
  reason: PseudoReason | null;
  note: string | null;
  undo_of: string | null;
  at: string;
}

const DECISION_SELECT = `SELECT d.decision_id::text AS decision_id, d.alert_id, u.username AS actor, d.from_status, d.to_status, d.reason, d.note,
  d.undo_of::text AS undo_of, to_char(d.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
  FROM decisions d JOIN users u ON u.user_id = d.user_id`;

/** Everything the detail panel shows: evidence (permit, observations, scan), history and what the user may decide. */
export async function alertDetail(db: Queryable, alertId: string): Promise<{ evidence: ExportAlert | null; decisions: DecisionRecord[] }> {
  const [evidence] = await queryAlerts(db, { alertIds: [alertId] });
  const decisions = (await db.query<DecisionRecord>(`${DECISION_SELECT} WHERE d.alert_id = $1 ORDER BY d.at DESC, d.decision_id`, [alertId])).rows;
  return { evidence: evidence ?? null, decisions };
}

export type DecideResult =
  | { ok: true; replayed: boolean; decision: DecisionRecord; status: AlertStatus }
  | { ok: false; status: 403 | 404 | 409 | 422; code: string; message: string; current?: { status: AlertStatus; by: string | null; at: string | null } };

/**
 * Stores one decision (or the undo of one) in a transaction that locks the alert row: a second
 * decision on the same alert waits and then sees the first. A `decision_id` already stored is
 * answered with the stored decision and changes nothing.
 */
export async function decide(db: Database, user: Principal, alertId: string, body: DecisionBody): Promise<DecideResult> {
  return db.transaction(async (tx): Promise<DecideResult> => {
    const params: unknown[] = [alertId];
    const where = scopeSql(scopeOf(user), (v) => { params.push(v); return `$${params.length}`; });
    const locked = await tx.query<{ status: AlertStatus }>(`SELECT status FROM alerts WHERE alert_id = $1 AND ${where} FOR UPDATE`, params);
    if (locked.rows.length === 0) return { ok: false, status: 404, code: 'NOT_FOUND', message: 'alert not found' };
    const current = locked.rows[0].status;
    const replay = await tx.query<DecisionRecord>(`${DECISION_SELECT} WHERE d.decision_id = $1`, [body.decision_id]);
    if (replay.rows.length > 0) {
      const stored = replay.rows[0];
      if (stored.alert_id !== alertId || stored.actor !== user.username) {
        return { ok: false, status: 409, code: 'DECISION.ID_REUSED', message: 'this decision_id belongs to another decision' };
      }
      return { ok: true, replayed: true, decision: stored, status: current };
    }
    const latest = (await tx.query<DecisionRecord>(`${DECISION_SELECT} WHERE d.alert_id = $1 ORDER BY d.at DESC, d.decision_id DESC LIMIT 1`, [alertId])).rows[0];
    const conflict = () => ({ status: current, by: latest?.actor ?? null, at: latest?.at ?? null });
    let to: AlertStatus;
    let undoOf: string | null = null;
    if (body.undo_of !== undefined) {
      const target = (await tx.query<DecisionRecord>(`${DECISION_SELECT} WHERE d.decision_id = $1 AND d.alert_id = $2`, [body.undo_of, alertId])).rows[0];
      if (!target) return { ok: false, status: 422, code: 'UNDO.UNKNOWN', message: 'undo_of names no decision of this alert' };
      if (target.actor !== user.username && user.role !== 'supervisor' && user.role !== 'admin') {
        return { ok: false, status: 403, code: 'UNDO.NOT_YOURS', message: 'only its author, a supervisor or an admin can undo a decision' };
      }
      if (latest?.decision_id !== target.decision_id || current !== target.to_status) {
        return { ok: false, status: 409, code: 'UNDO.CONFLICT', message: 'the alert changed after that decision; decide again instead', current: conflict() };
      }
      to = target.from_status;
      undoOf = target.decision_id;
    } else {
      to = body.status as AlertStatus;
      if (body.expected_status !== undefined && body.expected_status !== current) {
        return { ok: false, status: 409, code: 'DECISION.CONFLICT', message: `the alert is ${current} now, not ${body.expected_status}`, current: conflict() };
      }
      const check = checkDecision(user.role, current, to, body.reason, body.note);
      if (!check.ok) return { ...check, ...(check.status === 409 ? { current: conflict() } : {}) };
    }
    const note = body.note === undefined || body.note === '' ? null : body.note;
    await tx.query(`INSERT INTO decisions (decision_id, alert_id, user_id, from_status, to_status, reason, note, undo_of) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
      [body.decision_id, alertId, user.userId, current, to, body.reason ?? null, note, undoOf]);
    await tx.query(`UPDATE alerts SET status = $2, updated_at = now() WHERE alert_id = $1`, [alertId, to]);
    await tx.query(`INSERT INTO audit_log (actor, action, alert_id, details) VALUES ($1, $2, $3, $4)`,
      [user.username, undoOf ? 'undo' : 'decision', alertId,
        JSON.stringify({ decision_id: body.decision_id, from: current, to, reason: body.reason ?? null, note, undo_of: undoOf, role: user.role })]);
    const decision = (await tx.query<DecisionRecord>(`${DECISION_SELECT} WHERE d.decision_id = $1`, [body.decision_id])).rows[0];
    return { ok: true, replayed: false, decision, status: to };
  });
}

export interface Division {
  code: string;
  name: string;
  level: 'province' | 'city' | 'county';
}

/** Divisions of the latest imported jurisdictions layers that lie in the scope, by code. */
export async function listDivisions(db: Queryable, scope: Scope): Promise<Division[]> {
  const { rows } = await db.query<{ code: string; name: string }>(
    `SELECT DISTINCT ON (f.properties->>'code') f.properties->>'code' AS code, f.properties->>'name' AS name
       FROM layer_features f JOIN (SELECT DISTINCT ON (name) layer_id FROM layers WHERE kind = 'jurisdictions' ORDER BY name, version DESC) l
         ON l.layer_id = f.layer_id
      ORDER BY f.properties->>'code', f.layer_id DESC`);
  return rows
    .filter((r) => /^\d{6}$/.test(r.code) && scopeCovers(scope, r.code))
    .map((r) => ({ code: r.code, name: r.name, level: divisionLevel(r.code) }));
}

export type AssignResult = { ok: true; county_code: string | null; county_name: string | null; assignee: string | null } | { ok: false; status: 403 | 404 | 422; code: string; message: string };

/**
 * Routes an alert to another county of the caller's scope and/or names who works on it. Changing
 * a routing or assignee that a person set before needs a note (UX.md §3).
 */
export async function assign(db: Database, user: Principal, alertId: string, body: { county_code?: string; assignee?: string | null; note?: string }): Promise<AssignResult> {
  if (user.role === 'county') return { ok: false, status: 403, code: 'ASSIGN.NOT_ALLOWED', message: 'county users do not route alerts' };
  const scope = scopeOf(user);
  let countyName: string | null = null;
  if (body.county_code !== undefined) {
    if (divisionLevel(body.county_code) !== 'county' || !scopeCovers(scope, body.county_code)) {
      return { ok: false, status: 422, code: 'ASSIGN.BAD_COUNTY', message: 'county_code names no county of your jurisdiction' };
    }
    const known = (await listDivisions(db, scope)).find((d) => d.code === body.county_code);
    if (!known) return { ok: false, status: 422, code: 'ASSIGN.BAD_COUNTY', message: 'county_code names no county of your jurisdiction' };
    countyName = known.name;
  }
  if (body.assignee) {
    const { rows } = await db.query('SELECT 1 FROM users WHERE username = $1 AND disabled_at IS NULL', [body.assignee]);
    if (rows.length === 0) return { ok: false, status: 422, code: 'ASSIGN.BAD_USER', message: 'assignee names no user' };
  }
  return db.transaction(async (tx): Promise<AssignResult> => {
    const params: unknown[] = [alertId];
    const where = scopeSql(scope, (v) => { params.push(v); return `$${params.length}`; });
    const { rows } = await tx.query<{ assigned_county_code: string | null; assignee: string | null; scope_code: string | null }>(
      `SELECT assigned_county_code, assignee, scope_code FROM alerts WHERE alert_id = $1 AND ${where} FOR UPDATE`, params);
    if (rows.length === 0) return { ok: false, status: 404, code: 'NOT_FOUND', message: 'alert not found' };
    const before = rows[0];
    const rerouting = body.county_code !== undefined && before.assigned_county_code !== null && before.assigned_county_code !== body.county_code;
    const reassigning = body.assignee !== undefined && before.assignee !== null && before.assignee !== body.assignee;
    if ((rerouting || reassigning) && !body.note) return { ok: false, status: 422, code: 'ASSIGN.NOTE_REQUIRED', message: 'changing a routing or assignee a person set needs a note' };
    const sets: string[] = [];
    const values: unknown[] = [alertId];
    if (body.county_code !== undefined) {
      values.push(body.county_code, countyName);
      sets.push(`assigned_county_code = $${values.length - 1}`, `assigned_county_name = $${values.length}`);
    }
    if (body.assignee !== undefined) {
      values.push(body.assignee);
      sets.push(`assignee = $${values.length}`);
    }
    const updated = await tx.query<{ scope_code: string | null; county_name: string | null; assignee: string | null }>(
      `UPDATE alerts SET ${sets.join(', ')}, updated_at = now() WHERE alert_id = $1
       RETURNING scope_code, COALESCE(assigned_county_name, county_name) AS county_name, assignee`, values);
    const after = updated.rows[0];
    await tx.query(`INSERT INTO audit_log (actor, action, alert_id, details) VALUES ($1, 'assignment', $2, $3)`,
      [user.username, alertId, JSON.stringify({ from_county: before.scope_code, to_county: after.scope_code, from_assignee: before.assignee, to_assignee: after.assignee, note: body.note || null })]);
    return { ok: true, county_code: after.scope_code, county_name: after.county_name, assignee: after.assignee };
  });
}

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  details: Record<string, unknown>;
}

/** The alert's audit trail, newest first. */
export async function auditTrail(db: Queryable, alertId: string): Promise<AuditEntry[]> {
  const { rows } = await db.query<AuditEntry>(
    `SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, actor, action, details
       FROM audit_log WHERE alert_id = $1 ORDER BY at DESC, audit_id DESC`, [alertId]);
  return rows;
}

/** The caller's last 20 decisions on alerts still in their scope (UX.md "最近处理"). */
export async function recentDecisions(db: Queryable, user: Principal): Promise<DecisionRecord[]> {
  const params: unknown[] = [user.userId];
  const where = scopeSql(scopeOf(user), (v) => { params.push(v); return `$${params.length}`; }, 'a.scope_code');
  const { rows } = await db.query<DecisionRecord>(
    `${DECISION_SELECT} JOIN alerts a ON a.alert_id = d.alert_id WHERE d.user_id = $1 AND ${where} ORDER BY d.at DESC LIMIT 20`, params);
  return rows;
}

/** Top-bar counts: decisions the caller made today (Asia/Shanghai) and new alerts left in scope. */
export async function summary(db: Queryable, user: Principal): Promise<{ done_today: number; left: number }> {
  const params: unknown[] = [];
  const where = scopeSql(scopeOf(user), (v) => { params.push(v); return `$${params.length}`; });
  const [done, left] = await Promise.all([
    // Decisions that stand: undo entries, and decisions undone, do not count.
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM decisions d WHERE d.user_id = $1 AND d.undo_of IS NULL
      AND NOT EXISTS (SELECT 1 FROM decisions u WHERE u.undo_of = d.decision_id)
      AND (d.at AT TIME ZONE 'Asia/Shanghai')::date = (now() AT TIME ZONE 'Asia/Shanghai')::date`, [user.userId]),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM alerts WHERE status = 'new' AND ${where}`, params),
  ]);
  return { done_today: done.rows[0].n, left: left.rows[0].n };
}
