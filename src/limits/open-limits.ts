import type { Redis } from 'ioredis';
import type { ConcurrencyLimiter, RateLimiter } from './port.js';
import { MemoryConcurrencyLimiter } from './memory-concurrency-limiter.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';
import { RedisConcurrencyLimiter } from './redis-concurrency-limiter.js';
import { RedisRateLimiter } from './redis-rate-limiter.js';
import { releaseRedis, resolveRedis } from './redis-connection.js';

/** Options for {@link openLimits}. */
export interface OpenLimitsOptions {
  /** Cluster mode: share limits through this Redis. Absent: in-process limits (embedded mode). */
  redisUrl?: string;
  /** Prefix for every Redis key; default `kairo:limits:`. Ignored in memory. */
  prefix?: string;
  /** Called with the Redis client once it is opened, e.g. to follow Redis's health. */
  watch?: (client: Redis) => void;
}

/** The limiters a process uses, and how to let go of them. */
export interface Limits {
  rateLimiter: RateLimiter;
  concurrency: ConcurrencyLimiter;
  close(): Promise<void>;
}

/**
 * Redis-backed limiters on one shared connection when a Redis URL is configured, so every API
 * process draws from the same buckets and slots; else in-process limiters, which are exact only
 * while a single process serves the API (embedded mode).
 */
export function openLimits(options: OpenLimitsOptions = {}): Limits {
  if (!options.redisUrl) {
    const rateLimiter = new MemoryRateLimiter();
    const concurrency = new MemoryConcurrencyLimiter();
    return {
      rateLimiter,
      concurrency,
      async close() {
        await Promise.all([rateLimiter.close(), concurrency.close()]);
      },
    };
  }
  const { redis, owned } = resolveRedis(options.redisUrl);
  options.watch?.(redis);
  const rateLimiter = new RedisRateLimiter({ redis, prefix: options.prefix });
  const concurrency = new RedisConcurrencyLimiter({ redis, prefix: options.prefix });
  return {
    rateLimiter,
    concurrency,
    // The limiters borrow the connection, so closing them leaves it open; it is closed here once.
    async close() {
      await Promise.all([rateLimiter.close(), concurrency.close()]);
      await releaseRedis(redis, owned);
    },
  };
}
