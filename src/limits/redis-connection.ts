import { Redis } from 'ioredis';

/** A Redis client to use, or a URL to open (and later close) a dedicated one. */
export type RedisConnection = Redis | string;

/** The default prefix for every limits key, so KAIRO can share a Redis with other tenants. */
export const DEFAULT_LIMITS_PREFIX = 'kairo:limits:';

/**
 * Longest wait for a limiter's reply. A lost connection already fails calls at once (see
 * requireConnected); this bounds the rest, e.g. a server that accepts connections but never answers.
 */
const COMMAND_TIMEOUT_MS = 5000;

/**
 * The client for `connection` and whether the caller of this function owns it. A limiter is on
 * the path of every request, so a Redis outage should fail a request quickly rather than queue
 * it behind ioredis's default 20 reconnect attempts.
 */
export function resolveRedis(connection: RedisConnection): { redis: Redis; owned: boolean } {
  if (typeof connection !== 'string') return { redis: connection, owned: false };
  const redis = new Redis(connection, { maxRetriesPerRequest: 2, commandTimeout: COMMAND_TIMEOUT_MS });
  // Connection errors reach callers as rejected calls; unhandled, ioredis would print each retry.
  redis.on('error', () => {});
  return { redis, owned: true };
}

/** Closes a client this module opened; a borrowed one is left to its owner. */
export async function releaseRedis(redis: Redis, owned: boolean): Promise<void> {
  if (!owned) return;
  try {
    await redis.quit();
  } catch {
    // Already closed or never connected: nothing left to release.
    redis.disconnect();
  }
}

/**
 * Lua: the time to use for a call. The caller's `now` when passed (tests, replays), else the
 * Redis server clock, read inside the script so that processes with skewed clocks still agree
 * on one timeline per bucket. Production callers never pass `now`, so one key only ever sees
 * Redis time. Redis 5+ replicates script effects, so TIME before a write is allowed.
 */
export const LUA_NOW = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(x) return string.format('%.17g', x) end
`;
