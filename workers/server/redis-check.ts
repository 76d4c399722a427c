/**
 * Start-up checks of the Redis a worker is pointed at. BullMQ keeps queue state in Redis keys; a
 * Redis that evicts keys under memory pressure silently loses jobs, so workers refuse to start
 * unless `maxmemory-policy` is `noeviction`.
 */
import { Redis } from 'ioredis';
import { OrewatchError } from '../../errors/index.js';
import { redisOptions } from './queues.js';

/** Reads `maxmemory_policy` from INFO (works where CONFIG is disabled, as on managed Redis). */
export async function redisEvictionPolicy(url: string): Promise<string> {
  const redis = new Redis({ ...redisOptions(url), maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const info = await redis.info('memory');
    const match = /^maxmemory_policy:(\S+)/m.exec(info);
    return match ? match[1] : 'unknown';
  } catch (error) {
    throw new OrewatchError('REDIS.UNREACHABLE', `Cannot reach Redis at ${url.replace(/\/\/[^@/]*@/, '//')}: ${(error as Error).message}`, { kind: 'transient', cause: error });
  } finally {
    redis.disconnect();
  }
}

export async function assertNoEviction(url: string): Promise<void> {
  const policy = await redisEvictionPolicy(url);
  if (policy !== 'noeviction') {
    throw new OrewatchError('REDIS.EVICTION_POLICY',
      `Redis at ${url.replace(/\/\/[^@/]*@/, '//')} has maxmemory-policy "${policy}"; orewatch needs "noeviction" (an evicting Redis drops queued jobs). ` +
      'Set it with `redis-cli CONFIG SET maxmemory-policy noeviction` and in redis.conf.', { kind: 'config' });
  }
}
