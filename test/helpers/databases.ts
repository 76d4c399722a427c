/**
 * The two stores every store test runs against: PGlite in a temporary data dir, and the real
 * PostgreSQL of the machine (TEST_DATABASE_URL, default the local `test` database) in a schema of
 * its own that is dropped afterwards. PostgreSQL tests are skipped, saying so, when none answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type Database } from '../../pipeline/store/database.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TestStore {
  db: Database;
  /** Connection settings for a second connection (e.g. the CLI) to the same store. */
  env: { dataDir?: string; databaseUrl?: string; schema?: string };
  cleanup(): Promise<void>;
}

export async function openTestStore(kind: 'pglite' | 'postgres'): Promise<TestStore> {
  if (kind === 'pglite') {
    const dataDir = mkdtempSync(join(tmpdir(), 'orewatch-store-'));
    const db = await openDatabase({ dataDir });
    return { db, env: { dataDir }, cleanup: async () => { await db.close(); rmSync(dataDir, { recursive: true, force: true }); } };
  }
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const db = await openDatabase({ databaseUrl: TEST_DATABASE_URL, schema });
  return {
    db, env: { databaseUrl: TEST_DATABASE_URL, schema },
    cleanup: async () => {
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.close();
    },
  };
}
