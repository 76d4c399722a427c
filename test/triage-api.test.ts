/**
 * The triage HTTP API per role, on both stores: sessions and CSRF, the login rate limit, scoping
 * (a county user asking for another county's alert by id, guessing ids, filtering by another
 * jurisdiction — the answer is always the answer for an alert that does not exist), strict
 * decision bodies (extra fields such as role or jurisdiction are refused), injection attempts in
 * every filter, and the decision flow with idempotency, conflicts, undo and the audit trail.
 * Nothing may leak, and nothing may change: each refusal is followed by a look at the store.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTriageServer } from '../api/server.js';
import type { Database } from '../pipeline/store/database.js';
import { ROOT } from './helpers/cli.js';
import { postgresAvailable, TEST_DATABASE_URL } from './helpers/databases.js';
import { ApiClient, openStore, SPLIT_LON, seedTriageStore, type StoreEnv } from './helpers/triage.js';

const pgUp = await postgresAvailable();

interface Item { alert_id: string; county_code: string | null; status: string; category: string; geometry: { type: string }; centroid: [number, number]; priority: number }

const STORES = [
  { kind: 'pglite' as const, skip: false },
  { kind: 'postgres' as const, skip: !pgUp },
];

describe.each(STORES)('triage API on $kind', ({ kind, skip }) => {
  let dir: string;
  let env: StoreEnv;
  let db: Database;
  let app: FastifyInstance;
  let all: Item[];
  const west = () => all.filter((a) => a.county_code === '360728');
  const east = () => all.filter((a) => a.county_code === '360729');

  /** What the store holds that a refusal must leave alone. */
  const snapshot = async () => ({
    alerts: (await db.query(`SELECT alert_id, status, scope_code, assignee FROM alerts ORDER BY alert_id`)).rows,
    decisions: (await db.query(`SELECT count(*)::int AS n FROM decisions`)).rows[0],
    audit: (await db.query(`SELECT count(*)::int AS n FROM audit_log WHERE action <> 'login'`)).rows[0],
    users: (await db.query(`SELECT username, role, (SELECT string_agg(code, ',') FROM user_jurisdictions j WHERE j.user_id = u.user_id) AS codes FROM users u ORDER BY username`)).rows,
  });

  const client = async (username: string) => {
    const c = new ApiClient(app);
    const res = await c.login(username);
    expect(res.statusCode, res.body).toBe(200);
    return c;
  };

  beforeAll(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'orewatch-triage-'));
    env = kind === 'pglite' ? { dataDir: join(dir, 'store') }
      : { DATABASE_URL: TEST_DATABASE_URL, OREWATCH_DB_SCHEMA: `triage_${process.pid}_${Math.random().toString(36).slice(2, 7)}` };
    await seedTriageStore(dir, env);
    db = await openStore(env);
    app = await createTriageServer({ db, loginRateLimit: { max: 50, windowMs: 60_000 } });
    const admin = await client('admin');
    all = (await admin.get('/api/alerts?limit=500')).json().items;
  }, 180_000);

  afterAll(async () => {
    if (skip) return;
    await app?.close();
    if (env.OREWATCH_DB_SCHEMA) await db.query(`DROP SCHEMA IF EXISTS ${env.OREWATCH_DB_SCHEMA} CASCADE`);
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(skip)('routes every alert of the scene to one of the two counties (the most specific division, not the province around it)', () => {
    expect(all.length).toBeGreaterThanOrEqual(6);
    for (const a of all) {
      expect(a.county_code, a.alert_id).toBe(a.centroid[0] < SPLIT_LON ? '360728' : '360729');
      expect(a.geometry.type).toMatch(/Polygon/);
    }
    expect(west().length).toBeGreaterThan(0);
    expect(east().length).toBeGreaterThan(0);
    // Priority desc by default.
    const p = all.map((a) => a.priority);
    expect(p).toEqual([...p].sort((x, y) => y - x));
  });

  it.skipIf(skip)('logs in with an HttpOnly SameSite cookie, refuses wrong passwords alike, logs out', async () => {
    const c = new ApiClient(app);
    const wrong = await c.login('dingnan', 'not the password');
    const unknown = await c.login('nobody', 'not the password');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(unknown.body).toBe(wrong.body);
    expect((await app.inject({ method: 'GET', url: '/api/alerts' })).statusCode).toBe(401);
    const ok = await c.login('dingnan');
    const cookie = String(ok.headers['set-cookie']);
    expect(cookie).toMatch(/^ow_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(ok.json().user).toMatchObject({ username: 'dingnan', role: 'county', jurisdictions: ['360728'] });
    expect(ok.body).not.toMatch(/password|scrypt/);
    expect((await c.get('/api/alerts')).statusCode).toBe(200);
    // Logging out needs the CSRF token too.
    expect((await c.send('DELETE', '/api/session', undefined, { 'x-csrf-token': 'x' })).statusCode).toBe(403);
    expect((await c.send('DELETE', '/api/session')).statusCode).toBe(200);
    expect((await c.get('/api/alerts')).statusCode).toBe(401);
    // A form post (not JSON) cannot log in.
    const form = await app.inject({ method: 'POST', url: '/api/session', payload: 'username=dingnan&password=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.statusCode).toBe(415);
  });

  it.skipIf(skip)('downloads evidence within the caller\'s scope only: the PDF report and the GIS export of the queue', async () => {
    const { createHash } = await import('node:crypto');
    const c = await client('dingnan');
    const own = west()[0], other = east()[0];
    const pdf = await c.get(`/api/alerts/${own.alert_id}/report.pdf?lang=zh`);
    expect(pdf.statusCode).toBe(200);
    expect(String(pdf.headers['content-type'])).toMatch(/application\/pdf/);
    expect(pdf.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.headers['x-content-sha256']).toBe(createHash('sha256').update(pdf.rawPayload).digest('hex'));
    const foreign = await c.get(`/api/alerts/${other.alert_id}/report.pdf`);
    const missing = await c.get('/api/alerts/OW-000000000000/report.pdf');
    expect(foreign.statusCode).toBe(404);
    expect(foreign.body).toBe(missing.body);
    expect((await c.get(`/api/alerts/${own.alert_id}/report.pdf?lang=fr`)).statusCode).toBe(400);
    const geo = await c.get('/api/export?format=geojson&status=new,triaged,suspected_illegal,pseudo_change,licensed,needs_field_check');
    expect(geo.statusCode).toBe(200);
    const ids = (JSON.parse(geo.body) as { features: { properties: { alert_id: string; county_code: string } }[] }).features.map((f) => f.properties);
    expect(ids.length).toBeGreaterThan(0);
    for (const p of ids) expect(p.county_code).toBe('360728');
    // Asking for the other county's alerts by jurisdiction gets nothing of them.
    const sneaky = await c.get('/api/export?format=csv&jurisdiction=360729');
    expect([200, 404]).toContain(sneaky.statusCode);
    if (sneaky.statusCode === 200) for (const a of east()) expect(sneaky.body).not.toContain(a.alert_id);
    const shp = await c.get('/api/export?format=shp');
    expect(shp.statusCode).toBe(200);
    expect(shp.rawPayload.subarray(0, 2).toString()).toBe('PK');
    expect((await c.get('/api/export?format=exe')).statusCode).toBe(400);
    expect((await c.get('/api/export?format=kml&role=admin')).statusCode).toBe(400);
  }, 60_000);

  it.skipIf(skip || kind === 'pglite')('exports from the CLI as a user, within their jurisdiction (orewatch export --as-user)', async () => {
    const { orewatch } = await import('./helpers/cli.js');
    const out = join(dir, 'as-dingnan.geojson');
    const r = await orewatch(['export', '--format', 'geojson', '--as-user', 'dingnan', '--out', out], { DATABASE_URL: env.DATABASE_URL, OREWATCH_DB_SCHEMA: env.OREWATCH_DB_SCHEMA });
    expect(r.status, r.stderr).toBe(0);
    const { readFileSync } = await import('node:fs');
    const props = (JSON.parse(readFileSync(out, 'utf8')) as { features: { properties: { county_code: string } }[] }).features.map((f) => f.properties);
    expect(props.length).toBe(west().length);
    for (const p of props) expect(p.county_code).toBe('360728');
    expect(JSON.parse(readFileSync(`${out}.manifest.json`, 'utf8')).query.as_user).toBe('dingnan');
    const foreign = await orewatch(['export', '--format', 'pdf', '--as-user', 'dingnan', '--alert', east()[0].alert_id, '--out', join(dir, 'x.pdf')], { DATABASE_URL: env.DATABASE_URL, OREWATCH_DB_SCHEMA: env.OREWATCH_DB_SCHEMA });
    expect(foreign.status).toBe(2);
    expect(foreign.stderr).toMatch(/no alert/);
    const nobody = await orewatch(['export', '--format', 'csv', '--as-user', 'nobody', '--out', join(dir, 'y.csv')], { DATABASE_URL: env.DATABASE_URL, OREWATCH_DB_SCHEMA: env.OREWATCH_DB_SCHEMA });
    expect(nobody.status).toBe(2);
    expect(nobody.stderr).toMatch(/--as-user: no user "nobody"/);
  }, 60_000);

  it.skipIf(skip)('rate-limits login attempts per client address', async () => {
    const limited = await createTriageServer({ db, loginRateLimit: { max: 3, windowMs: 60_000 } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await limited.inject({ method: 'POST', url: '/api/session', payload: { username: 'dingnan', password: `guess-${i}` } });
        codes.push(res.statusCode);
      }
      expect(codes).toEqual([401, 401, 401, 429, 429]);
      // Even the right password waits out the window.
      const right = await limited.inject({ method: 'POST', url: '/api/session', payload: { username: 'dingnan', password: 'correct horse battery' } });
      expect(right.statusCode).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it.skipIf(skip)('scopes the queue per role: county, province, analysts with and without an assignment, admin', async () => {
    const ids = async (user: string, query = '') => {
      const res = await (await client(user)).get(`/api/alerts?limit=500${query}`);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<{ items: Item[]; total: number }>();
      expect(body.total).toBe(body.items.length);
      return body.items.map((a) => a.alert_id).sort();
    };
    const sorted = (items: Item[]) => items.map((a) => a.alert_id).sort();
    expect(await ids('dingnan')).toEqual(sorted(west()));
    expect(await ids('quannan')).toEqual(sorted(east()));
    expect(await ids('east-analyst')).toEqual(sorted(east()));
    expect(await ids('jiangxi')).toEqual(sorted(all));
    expect(await ids('analyst')).toEqual(sorted(all));
    expect(await ids('supervisor')).toEqual(sorted(all));
    expect(await ids('guangdong')).toEqual([]);
    // Filtering by another jurisdiction narrows, never widens.
    expect(await ids('dingnan', '&jurisdiction=360729')).toEqual([]);
    expect(await ids('dingnan', '&jurisdiction=360000')).toEqual(sorted(west()));
    expect(await ids('dingnan', '&jurisdiction=360700')).toEqual(sorted(west()));
    expect(await ids('guangdong', '&jurisdiction=360728')).toEqual([]);
    expect(await ids('jiangxi', '&jurisdiction=360729')).toEqual(sorted(east()));
    // Other filters combine with the scope.
    const cat = west()[0].category;
    expect(await ids('dingnan', `&category=${cat}`)).toEqual(sorted(west().filter((a) => a.category === cat)));
    expect(await ids('dingnan', '&status=new&confidence=provisional&from=2026-01-01&to=2026-12-31')).toEqual(sorted(west()));
    expect(await ids('dingnan', '&to=2025-12-31')).toEqual([]);
    expect(await ids('admin', `&bbox=${SPLIT_LON},24,116,26`)).toEqual(sorted(east()));
    const divisions = (await (await client('dingnan')).get('/api/divisions')).json().items.map((d: { code: string }) => d.code);
    expect(divisions).toEqual(['360728']);
    const provinceDivisions = (await (await client('jiangxi')).get('/api/divisions')).json().items.map((d: { code: string }) => d.code);
    expect(provinceDivisions).toEqual(['360000', '360700', '360728', '360729']);
  });

  it.skipIf(skip)("answers another county's alert exactly like one that does not exist, on every endpoint", async () => {
    const dingnan = await client('dingnan');
    const foreign = east()[0].alert_id;
    const own = west()[0].alert_id;
    const before = await snapshot();
    expect((await dingnan.get(`/api/alerts/${own}`)).statusCode).toBe(200);
    const guesses = ['OW-000000000000', 'OW-FFFFFFFFFFFF', `${foreign.slice(0, -1)}0`, 'ow-' + foreign.slice(3).toLowerCase(), 'OW-%25', "OW-' OR '1'='1", '..%2F..%2Fetc%2Fpasswd'];
    const missing = await dingnan.get('/api/alerts/OW-000000000000');
    expect(missing.statusCode).toBe(404);
    const paths = (id: string) => [`/api/alerts/${id}`, `/api/alerts/${id}/audit`, `/api/alerts/${id}/map`, `/api/alerts/${id}/images/true-after.png`];
    for (const id of [foreign, ...guesses]) {
      for (const path of paths(id)) {
        const res = await dingnan.get(path);
        expect(res.statusCode, path).toBe(404);
        expect(res.body, path).toBe(missing.body);
      }
      const decision = await dingnan.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), status: 'needs_field_check' });
      expect(decision.statusCode, id).toBe(404);
      expect(decision.body).toBe(missing.body);
      const assignment = await (await client('guangdong')).send('POST', `/api/alerts/${foreign}/assignment`, { county_code: '440222', note: 'mine now' });
      expect(assignment.statusCode).toBe(404);
      expect(assignment.body).toBe(missing.body);
    }
    expect(await snapshot()).toEqual(before);
  });

  it.skipIf(skip)('refuses extra fields in a decision (role, jurisdiction, county, user) and decisions outside the role', async () => {
    const dingnan = await client('dingnan');
    const own = west()[0].alert_id;
    const before = await snapshot();
    const extras: Record<string, unknown>[] = [{ role: 'admin' }, { jurisdiction: '360729' }, { county_code: '360729' }, { user_id: 1 }, { actor: 'admin' }, { alert_id: east()[0].alert_id }, { at: '2020-01-01' }, JSON.parse('{"__proto__": {"status": "closed"}}') as Record<string, unknown>];
    for (const extra of extras) {
      const res = await dingnan.send('POST', `/api/alerts/${own}/decisions`, { decision_id: randomUUID(), status: 'needs_field_check', ...extra });
      expect(res.statusCode, JSON.stringify(extra)).toBe(400);
    }
    // A county user may not triage (suspected_illegal is the analysts' call) nor close.
    for (const status of ['suspected_illegal', 'pseudo_change', 'licensed', 'closed', 'new']) {
      const res = await dingnan.send('POST', `/api/alerts/${own}/decisions`, { decision_id: randomUUID(), status, reason: status === 'pseudo_change' ? 'cloud' : undefined, note: 'document 12' });
      expect([403, 409], `${status}: ${res.body}`).toContain(res.statusCode);
    }
    // Statuses outside the list, and bodies that are not objects.
    for (const payload of [{ decision_id: randomUUID(), status: 'approved' }, { decision_id: 'not-a-uuid', status: 'needs_field_check' }, [{ status: 'x' }], 'status=closed']) {
      const res = await dingnan.send('POST', `/api/alerts/${own}/decisions`, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
    }
    // Preferences are strict too: no role through the back door.
    expect((await dingnan.send('PUT', '/api/session/preferences', { language: 'en', role: 'admin' })).statusCode).toBe(400);
    expect(await snapshot()).toEqual(before);
    expect((await dingnan.get('/api/session')).json().user.role).toBe('county');
  });

  it.skipIf(skip)('refuses injection attempts in every filter, and they change nothing', async () => {
    const dingnan = await client('dingnan');
    const before = await snapshot();
    const attempts: Record<string, string[]> = {
      category: ["unlicensed' OR '1'='1", "unlicensed);DROP TABLE alerts;--", 'unlicensed,%'],
      status: ["new' OR 1=1--", 'new;DELETE FROM alerts'],
      confidence: ["provisional' OR 'x'='x"],
      jurisdiction: ["360728' OR '1'='1", '36%', '3607__', '360729 OR 1=1', '360728)--'],
      from: ["2020-01-01' OR '1'='1", '2026-13-45', '2026-02-30'],
      to: ["2030-01-01'); DROP TABLE alerts;--"],
      bbox: ['0,0,180,90) OR (1=1', '-180,-90,180,90,1', 'NaN,0,1,1', '1e999,0,1,1'],
      min_area_ha: ['0 OR 1=1', '-1', 'Infinity'],
      q: ["OW-' OR '1'='1", '%', '_', 'OW-%', "'; DROP TABLE alerts; --"],
      sort: ['priority; DROP TABLE alerts', 'county_code', '(SELECT 1)'],
      order: ['desc; DROP TABLE alerts', 'asc,alert_id'],
      limit: ['1; DROP TABLE alerts', '-1', '100000', '1e3'],
      offset: ['0 UNION SELECT * FROM users', '-5'],
      scope_code: ['360729'],
      county_code: ['360729'],
      role: ['admin'],
    };
    for (const [key, values] of Object.entries(attempts)) {
      for (const value of values) {
        const res = await dingnan.get(`/api/alerts?${key}=${encodeURIComponent(value)}`);
        expect(res.statusCode, `${key}=${value}: ${res.body}`).toBe(400);
        expect(res.body).not.toMatch(/OW-[0-9A-F]{12}/);
      }
    }
    // Repeated keys and arrays: each value is checked.
    expect((await dingnan.get(`/api/alerts?status=new&status=${encodeURIComponent("x' OR 1=1")}`)).statusCode).toBe(400);
    expect((await dingnan.get('/api/alerts?jurisdiction=360728&jurisdiction=360729')).statusCode).toBe(400);
    expect(await snapshot()).toEqual(before);
    const ids = (await dingnan.get('/api/alerts?limit=500')).json().items.map((a: Item) => a.alert_id).sort();
    expect(ids).toEqual(west().map((a) => a.alert_id).sort());
  });

  it.skipIf(skip)('refuses state changes without the CSRF token or from another origin', async () => {
    const analyst = await client('analyst');
    const id = all[0].alert_id;
    const before = await snapshot();
    const body = { decision_id: randomUUID(), status: 'suspected_illegal' };
    expect((await analyst.send('POST', `/api/alerts/${id}/decisions`, body, { 'x-csrf-token': '' })).statusCode).toBe(403);
    expect((await analyst.send('POST', `/api/alerts/${id}/decisions`, body, { 'x-csrf-token': analyst.csrf.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) })).statusCode).toBe(403);
    expect((await analyst.send('POST', `/api/alerts/${id}/decisions`, body, { origin: 'https://evil.example' })).statusCode).toBe(403);
    const crossLogin = await app.inject({ method: 'POST', url: '/api/session', payload: { username: 'analyst', password: 'correct horse battery' }, headers: { origin: 'https://evil.example' } });
    expect(crossLogin.statusCode).toBe(403);
    // Another user's CSRF token does not fit this session.
    const other = await client('supervisor');
    expect((await analyst.send('POST', `/api/alerts/${id}/decisions`, body, { 'x-csrf-token': other.csrf })).statusCode).toBe(403);
    expect(await snapshot()).toEqual(before);
  });

  it.skipIf(skip)('stores a decision once per decision_id, audits it, undoes it, and reports conflicts', async () => {
    const analyst = await client('analyst');
    const supervisor = await client('supervisor');
    const id = all[1].alert_id;
    const detail = (await analyst.get(`/api/alerts/${id}`)).json();
    expect(detail).toMatchObject({ alert_id: id, status: 'new', rule_trace: expect.any(Array), observations: [expect.objectContaining({ before_date: '2025-01-25', after_date: '2026-04-26' })] });
    expect(detail.allowed_decisions).toEqual(expect.arrayContaining(['suspected_illegal', 'pseudo_change', 'licensed', 'needs_field_check']));
    expect(detail.links.images['true-before']).toBe(`/api/alerts/${id}/images/true-before.png`);

    const decisionId = randomUUID();
    const first = await analyst.send('POST', `/api/alerts/${id}/decisions`, { decision_id: decisionId, status: 'suspected_illegal', expected_status: 'new' });
    expect(first.statusCode, first.body).toBe(201);
    const replay = await analyst.send('POST', `/api/alerts/${id}/decisions`, { decision_id: decisionId, status: 'suspected_illegal', expected_status: 'new' });
    expect(replay.statusCode).toBe(200);
    expect(replay.json().replayed).toBe(true);
    expect((await db.query(`SELECT count(*)::int AS n FROM decisions WHERE alert_id = $1`, [id])).rows[0]).toEqual({ n: 1 });
    // Someone else deciding on what they saw as new: conflict, naming who decided.
    const late = await supervisor.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), status: 'pseudo_change', reason: 'cloud', expected_status: 'new' });
    expect(late.statusCode).toBe(409);
    expect(late.json().error.current).toMatchObject({ status: 'suspected_illegal', by: 'analyst' });
    // Only the author (or a supervisor) undoes, and only the latest decision.
    const quannan = await client(east().some((a) => a.alert_id === id) ? 'quannan' : 'dingnan');
    expect((await quannan.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), undo_of: decisionId })).statusCode).toBe(403);
    const undo = await analyst.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), undo_of: decisionId });
    expect(undo.statusCode, undo.body).toBe(201);
    expect(undo.json().status).toBe('new');
    expect((await analyst.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), undo_of: decisionId })).statusCode).toBe(409);
    const audit = (await analyst.get(`/api/alerts/${id}/audit`)).json().items;
    expect(audit.slice(0, 2).map((e: { action: string }) => e.action)).toEqual(['undo', 'decision']);
    expect(audit[1]).toMatchObject({ actor: 'analyst', details: { decision_id: decisionId, from: 'new', to: 'suspected_illegal' } });
    expect(audit.at(-1).action).toBe('alert_opened');

    // Required reasons and notes.
    const post = (body: object) => analyst.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), ...body });
    expect((await post({ status: 'pseudo_change' })).statusCode).toBe(422);
    expect((await post({ status: 'pseudo_change', reason: 'other', note: 'abc' })).statusCode).toBe(422);
    expect((await post({ status: 'licensed' })).statusCode).toBe(422);
    expect((await post({ status: 'licensed', note: '   ' })).statusCode).toBe(422);
    expect((await post({ status: 'suspected_illegal', reason: 'cloud' })).statusCode).toBe(422);
    expect((await post({ status: 'pseudo_change', reason: 'weather' })).statusCode).toBe(400);
    const pseudo = await post({ status: 'pseudo_change', reason: 'cloud' });
    expect(pseudo.statusCode).toBe(201);
    expect(pseudo.json().decision).toMatchObject({ reason: 'cloud', to_status: 'pseudo_change', actor: 'analyst' });
    const recent = (await analyst.get('/api/decisions/recent')).json().items;
    expect(recent[0]).toMatchObject({ alert_id: id, to_status: 'pseudo_change' });
  });

  it.skipIf(skip)('routes an alert to another county of the scope; the old county loses it, the new one sees it', async () => {
    const analyst = await client('analyst');
    const dingnan = await client('dingnan');
    const quannan = await client('quannan');
    const id = west().at(-1)!.alert_id;
    expect((await quannan.get(`/api/alerts/${id}`)).statusCode).toBe(404);
    expect((await dingnan.send('POST', `/api/alerts/${id}/assignment`, { county_code: '360729' })).statusCode).toBe(403);
    // Only counties that exist, and only inside the caller's scope (the province may not route to Guangdong).
    expect((await analyst.send('POST', `/api/alerts/${id}/assignment`, { county_code: '360799' })).statusCode).toBe(422);
    expect((await (await client('jiangxi')).send('POST', `/api/alerts/${id}/assignment`, { county_code: '440222' })).statusCode).toBe(422);
    expect((await analyst.send('POST', `/api/alerts/${id}/assignment`, { county_code: '360700' })).statusCode).toBe(422);
    expect((await analyst.send('POST', `/api/alerts/${id}/assignment`, { county_code: '360729', role: 'admin' })).statusCode).toBe(400);
    const routed = await analyst.send('POST', `/api/alerts/${id}/assignment`, { county_code: '360729', assignee: 'quannan' });
    expect(routed.statusCode, routed.body).toBe(200);
    expect(routed.json()).toEqual({ county_code: '360729', county_name: '全南县', assignee: 'quannan' });
    expect((await quannan.get(`/api/alerts/${id}`)).statusCode).toBe(200);
    expect((await dingnan.get(`/api/alerts/${id}`)).statusCode).toBe(404);
    // Changing a person's routing needs a note.
    expect((await analyst.send('POST', `/api/alerts/${id}/assignment`, { county_code: '360728' })).statusCode).toBe(422);
    const back = await analyst.send('POST', `/api/alerts/${id}/assignment`, { county_code: '360728', assignee: null, note: 'routed by mistake' });
    expect(back.statusCode).toBe(200);
    expect((await dingnan.get(`/api/alerts/${id}`)).statusCode).toBe(200);
    const audit = (await analyst.get(`/api/alerts/${id}/audit`)).json().items;
    expect(audit[0]).toMatchObject({ action: 'assignment', actor: 'analyst', details: { from_county: '360729', to_county: '360728', note: 'routed by mistake' } });
  });

  it.skipIf(skip)('lets the county record field results on its own alerts only, in flow order', async () => {
    const analyst = await client('analyst');
    const dingnan = await client('dingnan');
    const jiangxi = await client('jiangxi');
    const id = west()[0].alert_id;
    expect((await analyst.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), status: 'suspected_illegal' })).statusCode).toBe(201);
    expect((await dingnan.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), status: 'field_verified_illegal' })).statusCode).toBe(422);
    expect((await dingnan.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), status: 'field_verified_illegal', note: '2026-05-02 现场核查 张三' })).statusCode).toBe(201);
    expect((await dingnan.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), status: 'closed', note: 'done' })).statusCode).toBe(403);
    expect((await dingnan.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), status: 'rectification', note: '责令整改' })).statusCode).toBe(201);
    expect((await jiangxi.send('POST', `/api/alerts/${id}/decisions`, { decision_id: randomUUID(), status: 'closed', note: '整改到位，销号' })).statusCode).toBe(201);
    const detail = (await dingnan.get(`/api/alerts/${id}`)).json();
    expect(detail.status).toBe('closed');
    expect(detail.decisions.map((d: { to_status: string }) => d.to_status)).toEqual(['closed', 'rectification', 'field_verified_illegal', 'suspected_illegal']);
  });

  it.skipIf(skip)('serves the map of an alert from its own scenes: PNG chips and outlines in their pixel space', async () => {
    const analyst = await client('analyst');
    const withPermit = all.find((a) => a.category === 'out_of_bounds') ?? all[0];
    const map = (await analyst.get(`/api/alerts/${withPermit.alert_id}/map`)).json();
    expect(map).toMatchObject({ available: true, before_date: '2025-01-25', after_date: '2026-04-26' });
    const outline = map.overlays.find((o: { kind: string }) => o.kind === 'alert');
    const xs = outline.rings.flat().map((p: number[]) => p[0]);
    expect(Math.min(...xs)).toBeGreaterThan(0);
    expect(Math.max(...xs)).toBeLessThan(map.width);
    expect(map.overlays.some((o: { kind: string }) => o.kind === 'jurisdictions')).toBe(true);
    if (withPermit.category === 'out_of_bounds') expect(map.overlays.some((o: { kind: string }) => o.kind === 'permits')).toBe(true);
    for (const name of ['true-after', 'false-before', 'map-true-before', 'map-false-after']) {
      const png = await analyst.get(`/api/alerts/${withPermit.alert_id}/images/${name}.png`);
      expect(png.statusCode, name).toBe(200);
      expect(png.headers['content-type']).toBe('image/png');
      expect(png.body.slice(1, 4)).toBe('PNG');
    }
    // The map window is wider than the alert: about 2 km of context around it.
    expect(map.width).toBeGreaterThan(3 * (Math.max(...xs) - Math.min(...xs)));
    expect((await analyst.get(`/api/alerts/${withPermit.alert_id}/images/secret.png`)).statusCode).toBe(404);
  });
});

describe('orewatch user add', () => {
  const run = (args: string[], stdin: string) => new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [resolve(ROOT, 'bin', 'orewatch.mjs'), 'user', 'add', ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: '' } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => done({ status, stdout, stderr }));
    child.stdin.end(stdin);
  });

  it('creates users with a salted scrypt hash and refuses bad roles, jurisdictions, weak or missing passwords', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orewatch-users-'));
    try {
      const dd = ['--data-dir', dir];
      const ok = await run(['--username', 'wang', '--role', 'county', '--jurisdiction', '360728', '--password-stdin', ...dd], 'a long passphrase\n');
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/added user wang \(county, 360728\)/);
      const twin = await run(['--username', 'li', '--role', 'analyst', '--password-stdin', ...dd], 'a long passphrase\n');
      expect(twin.status, twin.stderr).toBe(0);
      expect((await run(['--username', 'wang', '--role', 'county', '--jurisdiction', '360728', '--password-stdin', ...dd], 'another passphrase')).stderr).toMatch(/exists already/);
      const refusals = [
        [['--username', 'x', '--role', 'root', '--password-stdin'], /--role/],
        [['--username', 'x', '--role', 'county', '--password-stdin'], /county code/],
        [['--username', 'x', '--role', 'county', '--jurisdiction', '360700', '--password-stdin'], /county code/],
        [['--username', 'x', '--role', 'province', '--jurisdiction', '360728', '--password-stdin'], /province code/],
        [['--username', 'x', '--role', 'analyst', '--jurisdiction', "36' OR 1=1", '--password-stdin'], /6-digit/],
        [['--username', "x'; DROP TABLE users;--", '--role', 'analyst', '--password-stdin'], /--username/],
        [['--username', 'x', '--role', 'analyst', '--password-stdin'], /at least 8/, 'short'],
        [['--username', 'x', '--role', 'analyst'], /--password-stdin/],
      ] as const;
      for (const [args, message, stdin] of refusals) {
        const res = await run([...args, ...dd], stdin ?? 'a long passphrase');
        expect(res.status, args.join(' ')).toBe(2);
        expect(res.stderr).toMatch(message);
      }
      const db = await openStore({ dataDir: dir });
      try {
        const { rows } = await db.query<{ username: string; password_hash: string }>('SELECT username, password_hash FROM users ORDER BY username');
        expect(rows.map((r) => r.username)).toEqual(['li', 'wang']);
        for (const r of rows) expect(r.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
        // Same password, different salts.
        expect(rows[0].password_hash).not.toBe(rows[1].password_hash);
      } finally {
        await db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
