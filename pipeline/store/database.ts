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
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Opens the store the options name: PostgreSQL when a URL is given, else PGlite in the data dir. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new OrewatchError('STORE.BAD_SCHEMA', `Expected a lower-case SQL identifier for schema but received "${options.schema}"`, { kind: 'config' });
  }
  if (options.databaseUrl) return openPostgres(options.databaseUrl, options.schema);
  return openPglite(resolve(options.dataDir ?? '.orewatch'));
}

async function openPostgres(url: string, schema: string | undefined): Promise<Database> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    // Each connection sees only its schema, so tests (and tenants) never mix tables.
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  pool.on('error', () => { /* idle client lost: the next query reconnects or fails visibly */ });
  let location = url.replace(/\/\/[^@/]*@/, '//');
  try {
    if (schema) {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
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
      const result = await pool.query(sql, params);
      return { rows: result.rows as R[] };
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
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
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
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
