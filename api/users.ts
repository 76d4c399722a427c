/**
 * Users and sessions in the store. A session is a random 256-bit token in an HttpOnly cookie; the
 * store keeps only its SHA-256, with the CSRF token the browser must echo in a header.
 */
import { createHash, randomBytes } from 'node:crypto';
import { inputError } from '../errors/index.js';
import type { Queryable } from '../pipeline/store/database.js';
import { hashPassword } from './passwords.js';
import { ROLES, type Principal, type Role } from './scope.js';

export const USERNAME = /^[A-Za-z0-9._-]{1,64}$/;
export const MIN_PASSWORD_LENGTH = 8;
/** Sessions last one working day. */
export const SESSION_HOURS = 12;

/**
 * Checks a new user's role against its jurisdictions: a county user names one county code, a
 * province user one province code (`xx0000`), analysts and supervisors any codes (none: every
 * alert), admins none.
 */
export function checkUserSpec(spec: { username: string; role: string; jurisdictions: string[] }): Role {
  if (!USERNAME.test(spec.username)) throw inputError('USER.BAD_USERNAME', `Expected 1–64 letters, digits, dots, dashes or underscores for --username but received "${spec.username}"`);
  if (!(ROLES as readonly string[]).includes(spec.role)) throw inputError('USER.BAD_ROLE', `Expected one of ${ROLES.join(', ')} for --role but received "${spec.role}"`);
  const role = spec.role as Role;
  for (const code of spec.jurisdictions) {
    if (!/^\d{6}$/.test(code)) throw inputError('USER.BAD_JURISDICTION', `Expected a 6-digit administrative division code for --jurisdiction but received "${code}"`);
  }
  const n = spec.jurisdictions.length;
  if (role === 'county' && (n !== 1 || spec.jurisdictions[0].endsWith('00'))) {
    throw inputError('USER.BAD_JURISDICTION', `A county user needs one county code for --jurisdiction (6 digits, not ending in 00, e.g. 360728) but received "${spec.jurisdictions.join(',')}"`);
  }
  if (role === 'province' && (n !== 1 || !spec.jurisdictions[0].endsWith('0000'))) {
    throw inputError('USER.BAD_JURISDICTION', `A province user needs one province code for --jurisdiction (ending in 0000, e.g. 360000) but received "${spec.jurisdictions.join(',')}"`);
  }
  if (role === 'admin' && n > 0) throw inputError('USER.BAD_JURISDICTION', 'An admin covers every jurisdiction; give no --jurisdiction');
  return role;
}

export async function createUser(db: Queryable & { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> },
  spec: { username: string; role: string; jurisdictions: string[]; password: string; language?: 'zh-CN' | 'en' }): Promise<{ userId: number }> {
  const role = checkUserSpec(spec);
  if ([...spec.password].length < MIN_PASSWORD_LENGTH) throw inputError('USER.WEAK_PASSWORD', `The password needs at least ${MIN_PASSWORD_LENGTH} characters`);
  const hash = await hashPassword(spec.password);
  return db.transaction(async (tx) => {
    const existing = await tx.query('SELECT 1 FROM users WHERE username = $1', [spec.username]);
    if (existing.rows.length > 0) throw inputError('USER.EXISTS', `A user named "${spec.username}" exists already`);
    const { rows } = await tx.query<{ user_id: string }>(
      'INSERT INTO users (username, password_hash, role, language) VALUES ($1,$2,$3,$4) RETURNING user_id',
      [spec.username, hash, role, spec.language ?? 'zh-CN']);
    const userId = Number(rows[0].user_id);
    for (const code of [...new Set(spec.jurisdictions)]) await tx.query('INSERT INTO user_jurisdictions (user_id, code) VALUES ($1,$2)', [userId, code]);
    await tx.query(`INSERT INTO audit_log (actor, action, details) VALUES ('orewatch', 'user_added', $1)`,
      [JSON.stringify({ username: spec.username, role, jurisdictions: spec.jurisdictions })]);
    return { userId };
  });
}

interface UserRow {
  user_id: string;
  username: string;
  password_hash: string;
  role: Role;
  language: 'zh-CN' | 'en';
  preferences: Record<string, unknown>;
  codes: string[] | null;
}

const USER_SELECT = `SELECT u.user_id, u.username, u.password_hash, u.role, u.language, u.preferences,
  (SELECT array_agg(code ORDER BY code) FROM user_jurisdictions j WHERE j.user_id = u.user_id) AS codes FROM users u`;

function toPrincipal(row: UserRow): Principal {
  return { userId: Number(row.user_id), username: row.username, role: row.role, codes: row.codes ?? [], language: row.language, preferences: row.preferences ?? {} };
}

export async function findUserForLogin(db: Queryable, username: string): Promise<{ principal: Principal; passwordHash: string } | null> {
  const { rows } = await db.query<UserRow>(`${USER_SELECT} WHERE u.username = $1 AND u.disabled_at IS NULL`, [username]);
  return rows[0] ? { principal: toPrincipal(rows[0]), passwordHash: rows[0].password_hash } : null;
}

export function tokenSha256(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function createSession(db: Queryable, userId: number): Promise<{ token: string; csrfToken: string; maxAgeS: number }> {
  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  await db.query(`INSERT INTO sessions (token_sha256, user_id, csrf_token, expires_at) VALUES ($1,$2,$3, now() + make_interval(hours => $4))`,
    [tokenSha256(token), userId, csrfToken, SESSION_HOURS]);
  // Expired sessions are swept as new ones are made.
  await db.query('DELETE FROM sessions WHERE expires_at < now()');
  return { token, csrfToken, maxAgeS: SESSION_HOURS * 3600 };
}

export async function findSession(db: Queryable, token: string): Promise<{ principal: Principal; csrfToken: string; tokenSha256: string } | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const hash = tokenSha256(token);
  const { rows } = await db.query<UserRow & { csrf_token: string }>(
    `${USER_SELECT.replace(' FROM users u', ', s.csrf_token FROM users u')} JOIN sessions s ON s.user_id = u.user_id
      WHERE s.token_sha256 = $1 AND s.expires_at > now() AND u.disabled_at IS NULL`,
    [hash]);
  return rows[0] ? { principal: toPrincipal(rows[0]), csrfToken: rows[0].csrf_token, tokenSha256: hash } : null;
}

export async function deleteSession(db: Queryable, hash: string): Promise<void> {
  await db.query('DELETE FROM sessions WHERE token_sha256 = $1', [hash]);
}
