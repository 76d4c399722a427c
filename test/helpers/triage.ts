/**
 * A triage store for tests: the generated 512 px pair (seed 201, ~9 alerts) scanned by the built
 * CLI with a jurisdictions layer of our own — province 360000 江西省, city 360700 赣州市 and two
 * counties splitting the scene at 115.11° E (360728 定南县 west, 360729 全南县 east) plus a county
 * of another province with no alerts — and one user per role.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openDatabase, type Database } from '../../pipeline/store/database.js';
import { createUser } from '../../api/users.js';
import { orewatch } from './cli.js';
import { scanArgs, scenario } from './server-mode.js';

export const SPLIT_LON = 115.11;
export const PASSWORD = 'correct horse battery';

function box(w: number, s: number, e: number, n: number) {
  return { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] };
}

export function writeJurisdictions(path: string): void {
  const f = (code: string, name: string, geometry: object) => ({ type: 'Feature', properties: { code, name }, geometry });
  writeFileSync(path, JSON.stringify({
    type: 'FeatureCollection',
    features: [
      f('360000', '江西省', box(114.5, 24.5, 116.5, 25.5)),
      f('360700', '赣州市', box(114.8, 24.7, 115.8, 25.3)),
      f('360728', '定南县', box(114.9, 24.8, SPLIT_LON, 25.2)),
      f('360729', '全南县', box(SPLIT_LON, 24.8, 115.5, 25.2)),
      f('440222', '始兴县', box(113.8, 24.8, 114.3, 25.2)),
    ],
  }));
}

export const USERS = [
  { username: 'admin', role: 'admin', jurisdictions: [] },
  { username: 'analyst', role: 'analyst', jurisdictions: [] },
  { username: 'east-analyst', role: 'analyst', jurisdictions: ['360729'] },
  { username: 'supervisor', role: 'supervisor', jurisdictions: [] },
  { username: 'dingnan', role: 'county', jurisdictions: ['360728'] },
  { username: 'quannan', role: 'county', jurisdictions: ['360729'] },
  { username: 'jiangxi', role: 'province', jurisdictions: ['360000'] },
  { username: 'guangdong', role: 'province', jurisdictions: ['440000'] },
] as const;

export interface StoreEnv {
  dataDir?: string;
  DATABASE_URL?: string;
  OREWATCH_DB_SCHEMA?: string;
}

/** Scans the pair into the store `env` names (CLI), then adds the users (in process). */
export async function seedTriageStore(dir: string, env: StoreEnv, users = USERS): Promise<void> {
  const s = await scenario(512, 201);
  const jurisdictions = join(dir, 'jurisdictions.geojson');
  writeJurisdictions(jurisdictions);
  const dataDirArgs = env.dataDir ? ['--data-dir', env.dataDir] : [];
  const cliEnv = env.DATABASE_URL ? { DATABASE_URL: env.DATABASE_URL, OREWATCH_DB_SCHEMA: env.OREWATCH_DB_SCHEMA } : {};
  const scan = await orewatch([...scanArgs(s, ['--jurisdictions', jurisdictions]), ...dataDirArgs], cliEnv);
  if (scan.status !== 0) throw new Error(`scan failed: ${scan.stderr}`);
  const db = await openStore(env);
  try {
    for (const u of users) await createUser(db, { ...u, jurisdictions: [...u.jurisdictions], password: PASSWORD, language: 'zh-CN' });
  } finally {
    await db.close();
  }
}

export function openStore(env: StoreEnv): Promise<Database> {
  return openDatabase(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL, schema: env.OREWATCH_DB_SCHEMA } : { dataDir: env.dataDir });
}

export interface InjectResponse {
  statusCode: number;
  body: string;
  json<T = any>(): T;
  headers: Record<string, unknown>;
  rawPayload: Buffer;
}

/** A logged-in API client over fastify's inject (no socket): keeps the cookie and CSRF token. */
export class ApiClient {
  cookie = '';
  csrf = '';
  constructor(readonly app: FastifyInstance) {}

  async login(username: string, password = PASSWORD): Promise<InjectResponse> {
    const res = await this.app.inject({ method: 'POST', url: '/api/session', payload: { username, password } }) as unknown as InjectResponse;
    if (res.statusCode === 200) {
      const set = String((res.headers['set-cookie'] as string | string[] | undefined) ?? '');
      this.cookie = set.split(';')[0];
      this.csrf = res.json().csrf_token;
    }
    return res;
  }

  get(url: string): Promise<InjectResponse> {
    return this.app.inject({ method: 'GET', url, headers: { cookie: this.cookie } }) as unknown as Promise<InjectResponse>;
  }

  send(method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<InjectResponse> {
    return this.app.inject({ method, url, payload: payload as object, headers: { cookie: this.cookie, 'x-csrf-token': this.csrf, ...headers } }) as unknown as Promise<InjectResponse>;
  }
}
