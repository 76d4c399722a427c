/**
 * One SQL connection interface over the two stores orewatch runs on: PGlite (PostgreSQL compiled
 * to WebAssembly, in `--data-dir`, the embedded default) and PostgreSQL through `pg` when
 * `DATABASE_URL` is set. Both speak the same SQL; the schema lives in migrations.ts.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OrewatchError } from '../../errors/index.js';

export interface QueryResult<R> {
  rows: R[];
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
}

export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Where the data lives, for messages: the data dir or the connection's host/db. */
  readonly location: string;
  /** Run `fn` in one transaction: everything or nothing is written. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Embedded store directory (PGlite). Ignored when `databaseUrl` is given. */
  dataDir?: string;
  /** PostgreSQL connection string; takes precedence over the data dir. */
  databaseUrl?: string;
  /** PostgreSQL schema to use (created if missing); tests use one schema each. */
  schema?: string;
  /** PostgreSQL pool size (default 4). */
  poolSize?: number;
  /** Limit for opening a connection, in ms (default 10 000). */
  connectTimeoutMs?: number;
  /** Limit for one statement, in ms (default 120 000). */
  statementTimeoutMs?: number;
}

/** SQLSTATE classes and socket errors that mean "the server is briefly gone", not "the query is wrong". */
const TRANSIENT_SQLSTATE = /^(08|53|57P0[1-3]|40001|40P01)/;
const TRANSIENT_MESSAGE = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|Connection terminated|connection timeout|timeout exceeded when trying to connect|terminating connection|the database system is (starting up|shutting down)|Client has encountered a connection error|Connection ended unexpectedly/i;

/** True when a database error is worth retrying (server restarting, network cut, deadlock, serialization). */
export function isTransientDatabaseError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_SQLSTATE.test(code)) return true;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code) && TRANSIENT_MESSAGE.test(code)) return true;
  return TRANSIENT_MESSAGE.test(error.message);
}

/** Wraps a driver error: transient ones become OrewatchError(kind transient) so jobs retry them. */
function wrapDatabaseError(error: unknown, location: string): unknown {
  if (error instanceof OrewatchError || !isTransientDatabaseError(error)) return error;
  return new OrewatchError('STORE.UNAVAILABLE', `PostgreSQL at ${location} is unavailable: ${(error as Error).message}`, { kind: 'transient', cause: error });
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Opens the store the options name: PostgreSQL when a URL is given, else PGlite in the data dir. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new OrewatchError('STORE.BAD_SCHEMA', `Expected a lower-case SQL identifier for schema but received "${options.schema}"`, { kind: 'config' });
  }
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options);
  return openPglite(resolve(options.dataDir ?? '.orewatch'));
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<Database> {
  const { default: pg } = await import('pg');
  const schema = options.schema;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 4,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    // Server-side limit, and a client-side one for a server that stops answering mid-statement.
    statement_timeout: options.statementTimeoutMs ?? 120_000,
    query_timeout: (options.statementTimeoutMs ?? 120_000) + 5_000,
    idle_in_transaction_session_timeout: 300_000,
    idleTimeoutMillis: 30_000,
    // Each connection sees only its schema, so tests (and tenants) never mix tables.
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client's error (server restart, network cut) must not crash the process: the pool
  // drops the client, and the next query reconnects or fails visibly.
  pool.on('error', () => undefined);
  let location = url.replace(/\/\/[^@/]*@/, '//');
  try {
    if (schema) {
      await ifNotExistsRacing(() => pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`));
      location += ` (schema ${schema})`;
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new OrewatchError('STORE.UNREACHABLE', `Cannot connect to PostgreSQL at ${location}: ${(error as Error).message}`, { kind: 'transient', cause: error });
  }
  return {
    kind: 'postgres',
    location,
    async query<R>(sql: string, params?: unknown[]) {
      try {
        const result = await pool.query(sql, params);
        return { rows: result.rows as R[] };
      } catch (error) {
        throw wrapDatabaseError(error, location);
      }
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      let client: import('pg').PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw wrapDatabaseError(error, location);
      }
      // A client that errors while checked out must not crash the process either.
      const onError = () => undefined;
      client.on('error', onError);
      let broken = false;
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          async query<R>(sql: string, params?: unknown[]) {
            const result = await client.query(sql, params);
            return { rows: result.rows as R[] };
          },
        };
        const value = await fn(tx);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => { broken = true; });
        if (isTransientDatabaseError(error)) broken = true;
        throw wrapDatabaseError(error, location);
      } finally {
        client.off('error', onError);
        // A broken connection goes, it does not return to the pool.
        client.release(broken ? true : undefined);
      }
    },
    async close() {
      await pool.end();
    },
  };
}

/**
 * PGlite belongs to one process at a time. A lock file with the owner's pid guards the data dir;
 * a second process gets a clear message instead of corrupting the store. A lock left by a dead
 * process is taken over.
 */
function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const lockPath = join(dir, 'orewatch.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
      if (Number.isFinite(owner) && owner !== process.pid && isAlive(owner)) {
        throw new OrewatchError('STORE.LOCKED',
          `The data dir ${dir} is in use by another orewatch process (pid ${owner}); the embedded store serves one process at a time — wait for it, or use server mode (DATABASE_URL) for concurrent use`,
          { kind: 'input', file: dir });
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new OrewatchError('STORE.LOCKED', `Cannot lock the data dir ${dir}`, { kind: 'input', file: dir });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function openPglite(dir: string): Promise<Database> {
  const unlock = lockDataDir(dir);
  let db: import('@electric-sql/pglite').PGlite;
  try {
    const { PGlite } = await import('@electric-sql/pglite');
    db = await PGlite.create(join(dir, 'pgdata'));
  } catch (error) {
    unlock();
    throw new OrewatchError('STORE.OPEN', `Cannot open the embedded store in ${dir}: ${(error as Error).message}`, { kind: 'input', file: dir, cause: error });
  }
  const run = async <R>(q: Queryable | typeof db, sql: string, params?: unknown[]) => {
    const result = await q.query<R>(sql, params);
    return { rows: result.rows };
  };
  return {
    kind: 'pglite',
    location: dir,
    query: <R>(sql: string, params?: unknown[]) => run<R>(db, sql, params),
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return db.transaction((tx) => fn({ query: <R>(sql: string, params?: unknown[]) => run<R>(tx as unknown as Queryable, sql, params) }));
    },
    async close() {
      try {
        await db.close();
      } finally {
        unlock();
      }
    },
  };
}

/**
 * Runs a CREATE … IF NOT EXISTS that another process may run at the same moment: PostgreSQL's
 * IF NOT EXISTS is not atomic against a concurrent creation and then fails with a unique
 * violation on its catalogue (23505) or "already exists" (42P06/42P07); the object exists then.
 */
export async function ifNotExistsRacing<T>(create: () => Promise<T>): Promise<T | null> {
  try {
    return await create();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '23505' || code === '42P06' || code === '42P07') return null;
    throw error;
  }
}
