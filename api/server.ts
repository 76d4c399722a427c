/**
 * The triage HTTP server (fastify): the JSON API under /api and the web app beside it, both from
 * one process and one store. Security in one place:
 * - sessions: a random token in an HttpOnly, SameSite=Strict cookie; only its hash is stored;
 * - CSRF: every state-changing request carries the session's CSRF token in `X-CSRF-Token`, and a
 *   cross-site `Origin` is refused outright (login included, which also takes JSON only);
 * - login attempts are rate-limited per client address;
 * - every alert read or write goes through the caller's scope: an alert outside it answers 404,
 *   byte for byte what an alert that does not exist answers;
 * - inputs are checked by strict zod schemas: unknown fields are refused, not ignored.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import { z } from 'zod';
import { GIS_FORMATS, type GisFormat } from '../pipeline/export/index.js';
import { queryAlerts } from '../pipeline/store/alert-query.js';
import type { Database } from '../pipeline/store/database.js';
import { writeAlertsPdf } from '../workers/export/pdf-report.js';
import { alertImage, alertMap } from './alert-map.js';
import { decisionsFor, TRANSITIONS } from './decisions.js';
import { dummyHash, verifyPassword } from './passwords.js';
import {
  ALERT_ID, alertListQuery, assignmentBody, decisionBody, describeIssues, exportQuery, IMAGE_NAMES, loginBody, preferencesBody, reportQuery,
} from './schemas.js';
import { scopeOf, type Principal } from './scope.js';
import {
  alertDetail, assign, auditTrail, decide, findAlertInScope, listDivisions, listQueue, recentDecisions, summary,
} from './triage-store.js';
import { createSession, deleteSession, findSession, findUserForLogin } from './users.js';

export const SESSION_COOKIE = 'ow_session';

export interface TriageServerOptions {
  db: Database;
  /** Login attempts allowed per client address and window (default 10 per minute). */
  loginRateLimit?: { max: number; windowMs: number };
  /** Mark the cookie Secure (behind HTTPS). Default false: the app is often served on a LAN over HTTP. */
  secureCookies?: boolean;
  /** Fastify's logger (pino); default off. */
  logger?: boolean | { level: string };
  /** Folder with index.html and app.css, and folder with the compiled app scripts (defaults: the package's). */
  webRoot?: string;
  webScripts?: string;
  /** Trust X-Forwarded-For (behind a reverse proxy), so the rate limit keys on the real client. */
  trustProxy?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    sessionHash?: string;
    csrfToken?: string;
  }
}

/** The package root, found from this module whether it runs from api/ (tests) or dist/api/ (the CLI). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'web'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the orewatch package root (web/ beside package.json)');
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

const NOT_FOUND = () => new HttpError(404, 'NOT_FOUND', 'alert not found');

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw new HttpError(400, 'BAD_REQUEST', describeIssues(result.error));
  return result.data;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A browser's Origin must be this server; requests without one (curl, tests) pass on the token alone. */
function originAllowed(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

function publicUser(p: Principal) {
  return { username: p.username, role: p.role, jurisdictions: p.codes, language: p.language, preferences: p.preferences, decisions: decisionsFor(p.role) };
}

export async function createTriageServer(options: TriageServerOptions): Promise<FastifyInstance> {
  const { db } = options;
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 64 * 1024, trustProxy: options.trustProxy ?? false });
  await app.register(cookie);
  await app.register(rateLimit, { global: false });
  const root = packageRoot();
  const webRoot = options.webRoot ?? join(root, 'web');
  const webScripts = options.webScripts ?? join(root, 'dist', 'web');

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Content-Security-Policy', "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    if (request.url.startsWith('/api/')) reply.header('Cache-Control', 'no-store');
    return payload;
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof HttpError) return reply.code(error.status).send({ error: { code: error.code, message: error.message, ...error.extra } });
    const e = error as { statusCode?: number; code?: string; message?: string };
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ error: { code: e.statusCode === 429 ? 'RATE_LIMITED' : 'BAD_REQUEST', message: e.message ?? 'bad request' } });
    }
    request.log.error(error);
    return reply.code(500).send({ error: { code: 'INTERNAL', message: 'internal error' } });
  });
  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/api/')) return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } });
    return reply.code(404).type('text/plain').send('not found');
  });

  // Authentication and CSRF for everything under /api but the login itself and the health check.
  app.addHook('preHandler', async (request) => {
    if (!request.url.startsWith('/api/')) return;
    const path = request.url.split('?')[0];
    const changing = !['GET', 'HEAD', 'OPTIONS'].includes(request.method);
    if (changing && !originAllowed(request)) throw new HttpError(403, 'CSRF', 'cross-site request refused');
    if (path === '/api/health' || (path === '/api/session' && request.method === 'POST')) return;
    const token = request.cookies[SESSION_COOKIE];
    const session = token ? await findSession(db, token) : null;
    if (!session) throw new HttpError(401, 'AUTH.REQUIRED', 'log in first');
    if (changing) {
      const header = request.headers['x-csrf-token'];
      if (typeof header !== 'string' || !sameToken(header, session.csrfToken)) throw new HttpError(403, 'CSRF', 'missing or wrong X-CSRF-Token');
    }
    request.principal = session.principal;
    request.sessionHash = session.tokenSha256;
    request.csrfToken = session.csrfToken;
  });

  const me = (request: FastifyRequest): Principal => request.principal as Principal;
  const alertParam = (request: FastifyRequest): string => {
    const id = (request.params as { id?: string }).id ?? '';
    if (!ALERT_ID.test(id)) throw NOT_FOUND();
    return id;
  };
  const scopedAlert = async (request: FastifyRequest) => {
    const alert = await findAlertInScope(db, me(request), alertParam(request));
    if (!alert) throw NOT_FOUND();
    return alert;
  };

  app.get('/api/health', async () => ({ ok: true }));

  app.post('/api/session', {
    config: { rateLimit: { max: options.loginRateLimit?.max ?? 10, timeWindow: options.loginRateLimit?.windowMs ?? 60_000 } },
  }, async (request, reply) => {
    // JSON only: an HTML form cannot send it cross-site without a CORS preflight this server refuses.
    if (!/^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '')) throw new HttpError(415, 'BAD_REQUEST', 'send JSON');
    const body = parse(loginBody, request.body);
    const found = await findUserForLogin(db, body.username);
    // Unknown users cost one hash too, so timing does not tell which usernames exist.
    const ok = await verifyPassword(body.password, found?.passwordHash ?? await dummyHash());
    if (!found || !ok) throw new HttpError(401, 'AUTH.FAILED', 'wrong username or password');
    const session = await createSession(db, found.principal.userId);
    reply.setCookie(SESSION_COOKIE, session.token, {
      httpOnly: true, sameSite: 'strict', path: '/', secure: options.secureCookies ?? false, maxAge: session.maxAgeS,
    });
    await db.query(`INSERT INTO audit_log (actor, action, details) VALUES ($1, 'login', '{}'::jsonb)`, [found.principal.username]);
    return { user: publicUser(found.principal), csrf_token: session.csrfToken };
  });

  app.get('/api/session', async (request) => ({ user: publicUser(me(request)), csrf_token: request.csrfToken }));

  app.delete('/api/session', async (request, reply) => {
    await deleteSession(db, request.sessionHash as string);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { ok: true };
  });

  app.put('/api/session/preferences', async (request) => {
    const body = parse(preferencesBody, request.body);
    const { language, ...prefs } = body;
    const { rows } = await db.query<{ language: 'zh-CN' | 'en'; preferences: Record<string, unknown> }>(
      `UPDATE users SET language = COALESCE($2, language), preferences = preferences || $3::jsonb WHERE user_id = $1 RETURNING language, preferences`,
      [me(request).userId, language ?? null, JSON.stringify(prefs)]);
    return { language: rows[0].language, preferences: rows[0].preferences };
  });

  app.get('/api/alerts', async (request) => listQueue(db, me(request), parse(alertListQuery, request.query)));

  app.get('/api/alerts/:id', async (request) => {
    const item = await scopedAlert(request);
    const { evidence, decisions } = await alertDetail(db, item.alert_id);
    if (!evidence) throw NOT_FOUND();
    const base = `/api/alerts/${item.alert_id}`;
    const role = me(request).role;
    return {
      ...item,
      change_kind: evidence.change_kind,
      rule_trace: evidence.rule_trace,
      rules: evidence.rules,
      detector: evidence.detector,
      detector_version: evidence.detector_version,
      permit: evidence.permit,
      observations: evidence.observations,
      scan: evidence.scan && {
        scan_id: evidence.scan.scan_id, before_date: evidence.scan.before_date, after_date: evidence.scan.after_date,
        detector: evidence.scan.detector, detector_version: evidence.scan.detector_version, rules: evidence.scan.rules,
      },
      decisions,
      allowed_decisions: TRANSITIONS[role].filter((t) => t.from.includes(item.status)).map((t) => t.to),
      links: {
        self: base, audit: `${base}/audit`, map: `${base}/map`,
        images: Object.fromEntries(IMAGE_NAMES.map((n) => [n, `${base}/images/${n}.png`])),
      },
    };
  });

  app.get('/api/alerts/:id/audit', async (request) => {
    const item = await scopedAlert(request);
    return { items: await auditTrail(db, item.alert_id) };
  });

  app.get('/api/alerts/:id/map', async (request) => alertMap(db, await scopedAlert(request)));

  app.get('/api/alerts/:id/images/:name', async (request, reply) => {
    const item = await scopedAlert(request);
    const name = (request.params as { name: string }).name.replace(/\.png$/, '');
    if (!(IMAGE_NAMES as readonly string[]).includes(name)) throw new HttpError(404, 'NOT_FOUND', 'no such image');
    const png = await alertImage(db, item, name as (typeof IMAGE_NAMES)[number]);
    if (!png) throw new HttpError(404, 'NO_IMAGERY', 'the scenes of this alert cannot be read');
    reply.header('Cache-Control', 'private, max-age=300');
    return reply.type('image/png').send(png);
  });

  app.post('/api/alerts/:id/decisions', async (request, reply) => {
    const id = alertParam(request);
    const body = parse(decisionBody, request.body);
    const result = await decide(db, me(request), id, body);
    if (!result.ok) {
      if (result.status === 404) throw NOT_FOUND();
      throw new HttpError(result.status, result.code, result.message, result.current ? { current: result.current } : {});
    }
    reply.code(result.replayed ? 200 : 201);
    return { decision: result.decision, status: result.status, replayed: result.replayed };
  });

  app.post('/api/alerts/:id/assignment', async (request) => {
    const id = alertParam(request);
    const body = parse(assignmentBody, request.body);
    const result = await assign(db, me(request), id, body);
    if (!result.ok) {
      if (result.status === 404) throw NOT_FOUND();
      throw new HttpError(result.status, result.code, result.message);
    }
    const { ok: _ok, ...rest } = result;
    return rest;
  });

  // Evidence downloads (issue 6): the caller's scope applies exactly as to the queue. Each answer
  // carries its SHA-256 (X-Content-SHA256) so a saved copy can be checked against what was served.
  const download = (reply: FastifyReply, bytes: Uint8Array, type: string, name: string) => reply
    .header('Content-Disposition', `attachment; filename="${name}"`)
    .header('X-Content-SHA256', createHash('sha256').update(bytes).digest('hex'))
    .header('Cache-Control', 'no-store')
    .type(type).send(Buffer.from(bytes));

  app.get('/api/alerts/:id/report.pdf', async (request, reply) => {
    const item = await scopedAlert(request);
    const { lang } = parse(reportQuery, request.query);
    const out = join(tmpdir(), `orewatch-report-${randomUUID()}.pdf`);
    try {
      await writeAlertsPdf({ db, alertIds: [item.alert_id], lang: lang ?? 'zh', out });
      return download(reply, readFileSync(out), 'application/pdf', `${item.alert_id}.pdf`);
    } finally {
      rmSync(out, { force: true });
    }
  });

  app.get('/api/export', async (request, reply) => {
    const { format, lang, ...filters } = parse(exportQuery, request.query);
    // Every alert of the caller's scope that the queue's filters select, page by page.
    const ids: string[] = [];
    for (let offset = 0; ; offset += 500) {
      const page = await listQueue(db, me(request), { ...filters, limit: 500, offset });
      ids.push(...page.items.map((a) => a.alert_id));
      if (page.items.length < 500 || ids.length >= page.total) break;
    }
    const alerts = ids.length === 0 ? [] : await queryAlerts(db, { alertIds: ids });
    const built = GIS_FORMATS[format as GisFormat].build(alerts, { baseName: 'orewatch-alerts', lang: lang ?? 'zh', title: 'orewatch', crs: { kind: 'wgs84' } });
    const ext = format === 'shp' ? 'zip' : format;
    return download(reply, built.bytes, built.mediaType, `orewatch-alerts.${ext}`);
  });

  app.get('/api/divisions', async (request) => ({ items: await listDivisions(db, scopeOf(me(request))) }));
  app.get('/api/decisions/recent', async (request) => ({ items: await recentDecisions(db, me(request)) }));
  app.get('/api/summary', async (request) => summary(db, me(request)));

  // The web app: one page, its stylesheet and its compiled scripts, all from this origin.
  await app.register(fastifyStatic, { root: webRoot, prefix: '/assets/', index: false, wildcard: true, decorateReply: true, allowedPath: (p) => /^\/[a-z0-9-]+\.(css|svg)$/.test(p) });
  await app.register(fastifyStatic, { root: webScripts, prefix: '/app/', index: false, decorateReply: false, allowedPath: (p) => /^\/[a-z0-9-]+\.js$/.test(p) });
  const indexHtml = readFileSync(join(webRoot, 'index.html'));
  const page = async (_request: FastifyRequest, reply: FastifyReply) => reply.header('Cache-Control', 'no-cache').type('text/html; charset=utf-8').send(indexHtml);
  app.get('/', page);
  app.get('/login', page);
  return app;
}
