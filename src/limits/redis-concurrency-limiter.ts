import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { assertLease } from './memory-concurrency-limiter.js';
import type { ConcurrencyLimiter } from './port.js';
import { DEFAULT_LIMITS_PREFIX, LUA_NOW, resolveRedis, releaseRedis, type RedisConnection } from './redis-connection.js';
import { requireConnected } from '../redis/connected.js';

/** Options for {@link RedisConcurrencyLimiter}. */
export interface RedisConcurrencyLimiterOptions {
  redis: RedisConnection;
  /** Prepended to every key; default `kairo:limits:`. Slots live under `<prefix>cc:<key>`. */
  prefix?: string;
}

/**
 * Lua shared by acquire and renew: the key lives as long as its longest lease, so a workspace
 * whose holders all crashed leaves nothing behind.
 */
const LUA_EXPIRE_WITH_LAST_LEASE = `
local function expireWithLastLease()
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(tonumber(last[2]) - now)))
  end
end
`;

/** KEYS[1] zset slot id → lease expiry (ms); ARGV now|'', cap, leaseMs, slotId. Returns 1 when taken. */
const ACQUIRE_LUA = `${LUA_NOW}${LUA_EXPIRE_WITH_LAST_LEASE}
local cap = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', num(now))
if redis.call('ZCARD', KEYS[1]) >= cap then return 0 end
redis.call('ZADD', KEYS[1], num(now + lease), ARGV[4])
expireWithLastLease()
return 1
`;

/** KEYS[1] zset; ARGV now|'', leaseMs, slotId. Returns 0 when the slot had expired or was released. */
const RENEW_LUA = `${LUA_NOW}${LUA_EXPIRE_WITH_LAST_LEASE}
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', num(now))
if not redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', num(now + lease), ARGV[3])
expireWithLastLease()
return 1
`;

/** KEYS[1] zset; ARGV now|''. Slots whose lease ends after now. */
const COUNT_LUA = `${LUA_NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. num(now), '+inf')
`;

interface WithSlotCommands {
  kairoSlotAcquire(key: string, now: string, cap: number, leaseMs: number, slotId: string): Promise<number>;
  kairoSlotRenew(key: string, now: string, leaseMs: number, slotId: string): Promise<number>;
  kairoSlotCount(key: string, now: string): Promise<number>;
}

/**
 * Run slots shared by every KAIRO process: per key a sorted set of slot id → lease expiry. Each
 * acquire and renew is one Lua script (drop expired, check, write), so parallel acquires from
 * any number of processes never hold more than `cap` slots. Same semantics as
 * {@link MemoryConcurrencyLimiter}; times come from the Redis clock unless the caller passes
 * `now` (see LUA_NOW).
 */
export class RedisConcurrencyLimiter implements ConcurrencyLimiter {
  private readonly redis: Redis & WithSlotCommands;
  private readonly owned: boolean;
  private readonly prefix: string;

  constructor(options: RedisConcurrencyLimiterOptions) {
    const { redis, owned } = resolveRedis(options.redis);
    redis.defineCommand('kairoSlotAcquire', { numberOfKeys: 1, lua: ACQUIRE_LUA });
    redis.defineCommand('kairoSlotRenew', { numberOfKeys: 1, lua: RENEW_LUA });
    redis.defineCommand('kairoSlotCount', { numberOfKeys: 1, lua: COUNT_LUA });
    this.redis = redis as Redis & WithSlotCommands;
    this.owned = owned;
    this.prefix = `${options.prefix ?? DEFAULT_LIMITS_PREFIX}cc:`;
  }

  async acquire(key: string, cap: number, leaseMs: number, now?: number): Promise<string | null> {
    assertLease(leaseMs);
    requireConnected(this.redis);
    const slotId = randomUUID();
    const taken = await this.redis.kairoSlotAcquire(this.prefix + key, nowArg(now), cap, leaseMs, slotId);
    return taken === 1 ? slotId : null;
  }

  async renew(key: string, slotId: string, leaseMs: number, now?: number): Promise<boolean> {
    assertLease(leaseMs);
    return (await this.redis.kairoSlotRenew(this.prefix + key, nowArg(now), leaseMs, slotId)) === 1;
  }

  async release(key: string, slotId: string): Promise<void> {
    await this.redis.zrem(this.prefix + key, slotId);
  }

  count(key: string, now?: number): Promise<number> {
    return this.redis.kairoSlotCount(this.prefix + key, nowArg(now));
  }

  close(): Promise<void> {
    return releaseRedis(this.redis, this.owned);
  }
}

function nowArg(now: number | undefined): string {
  return now === undefined ? '' : String(now);
}
