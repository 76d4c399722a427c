/**
 * Proves the private-server harness (test/helpers/servers.ts) that fault tests rely on: private
 * Redis instances keep data across restarts and kills only when persistent, flushAll empties them,
 * the eviction policy is applied; a private PostgreSQL cluster refuses connections while stopped and
 * keeps its data across stop/start; cleanup removes the temporary directories (twice is fine); and
 * nothing runs on the shared servers' ports (5432, 6379).
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, serversAvailable, startPostgres, startRedis, type PrivatePostgres, type PrivateRedis } from './helpers/servers.js';

const available = serversAvailable();
const SHARED_PORTS = [5432, 6379];

function redisClient(server: PrivateRedis): Redis {
  const client = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  client.on('error', () => undefined);
  return client;
}

async function get(server: PrivateRedis, key: string): Promise<string | null> {
  const client = redisClient(server);
  try {
    await client.connect();
    return await client.get(key);
  } finally {
    client.disconnect();
  }
}

async function set(server: PrivateRedis, key: string, value: string): Promise<void> {
  const client = redisClient(server);
  try {
    await client.connect();
    await client.set(key, value);
  } finally {
    client.disconnect();
  }
}

const started: Array<PrivateRedis | PrivatePostgres> = [];
afterAll(async () => {
  await Promise.all(started.map((server) => server.cleanup()));
});

describe('freePort', () => {
  it('gives a port that is not one of the shared servers', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(SHARED_PORTS).not.toContain(port);
  });
});

describe.skipIf(!available.redis)('private Redis', () => {
  it('persistent: a key survives a restart and a SIGKILL; flushAll empties it', async () => {
    const redis = await startRedis({ appendonly: true });
    started.push(redis);
    expect(SHARED_PORTS).not.toContain(redis.port);
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);

    await set(redis, 'k', 'v1');
    await redis.restart();
    expect(await get(redis, 'k')).toBe('v1');

    await set(redis, 'k', 'v2');
    await redis.kill();
    await expect(get(redis, 'k')).rejects.toThrow();
    await redis.start();
    expect(await get(redis, 'k')).toBe('v2'); // appendfsync always: nothing lost on SIGKILL

    await redis.flushAll();
    expect(await get(redis, 'k')).toBeNull();

    const dir = redis.dir;
    expect(existsSync(dir)).toBe(true);
    await redis.cleanup();
    expect(existsSync(dir)).toBe(false);
    await redis.cleanup(); // twice is fine
    await expect(get(redis, 'k')).rejects.toThrow();
  });

  it('non-persistent: data is gone after a restart; maxmemory-policy is applied', async () => {
    const redis = await startRedis({ maxmemoryPolicy: 'allkeys-lru' });
    started.push(redis);
    const plain = await startRedis();
    started.push(plain);
    expect(redis.port).not.toBe(plain.port);

    await set(redis, 'k', 'v');
    await redis.restart(50);
    expect(await get(redis, 'k')).toBeNull();

    const policy = async (server: PrivateRedis): Promise<unknown> => {
      const client = redisClient(server);
      try {
        await client.connect();
        return await client.config('GET', 'maxmemory-policy');
      } finally {
        client.disconnect();
      }
    };
    expect(await policy(redis)).toEqual(['maxmemory-policy', 'allkeys-lru']);
    expect(await policy(plain)).toEqual(['maxmemory-policy', 'noeviction']);

    const dirs = [redis.dir, plain.dir];
    await Promise.all([redis.cleanup(), plain.cleanup()]);
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
  });
});

describe.skipIf(!available.postgres)('private PostgreSQL', () => {
  it('refuses connections while stopped and keeps its data across stop/start', async () => {
    const postgres = await startPostgres();
    started.push(postgres);
    expect(SHARED_PORTS).not.toContain(postgres.port);
    expect(postgres.url).toBe(`postgres://postgres@127.0.0.1:${postgres.port}/test`);

    const client = new pg.Client({ connectionString: postgres.url });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('CREATE TABLE t (id int PRIMARY KEY, note text)');
    await client.query("INSERT INTO t VALUES (1, 'kept')");

    await postgres.stop();
    await expect(client.query('SELECT 1')).rejects.toThrow();
    await client.end().catch(() => undefined);
    const refused = new pg.Client({ connectionString: postgres.url, connectionTimeoutMillis: 2000 });
    refused.on('error', () => undefined);
    await expect(refused.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    await postgres.start();
    const again = new pg.Client({ connectionString: postgres.url });
    again.on('error', () => undefined);
    await again.connect();
    try {
      const { rows } = await again.query<{ note: string }>('SELECT note FROM t WHERE id = 1');
      expect(rows).toEqual([{ note: 'kept' }]);
      const { rows: port } = await again.query<{ port: string }>("SELECT current_setting('port') AS port");
      expect(Number(port[0]?.port)).toBe(postgres.port);
    } finally {
      await again.end();
    }

    const dir = postgres.dir;
    expect(existsSync(dir)).toBe(true);
    await postgres.cleanup();
    expect(existsSync(dir)).toBe(false);
    await postgres.cleanup(); // twice is fine
  });
});
