import type { Redis } from 'ioredis';
import { TOKEN_UNITS, assertPolicy } from './bucket-math.js';
import type { BucketPolicy, RateLimitDecision, RateLimiter } from './port.js';
import { DEFAULT_LIMITS_PREFIX, LUA_NOW, resolveRedis, releaseRedis, type RedisConnection } from './redis-connection.js';
import { pingRedis, requireConnected } from '../redis/connected.js';

/** Options for {@link RedisRateLimiter}. */
export interface RedisRateLimiterOptions {
  redis: RedisConnection;
  /** Prepended to every key; default `kairo:limits:`. Buckets live under `<prefix>rl:<key>`. */
  prefix?: string;
}

/**
 * KEYS[1] bucket hash {l = level in units, t = ms}; ARGV now|'', capacity, refillPerMinute,
 * take (1 consume, 0 peek). Returns {allowed, remaining, resetSeconds, retryAfterSeconds}: the
 * same arithmetic as the in-memory limiter (bucket-math.ts), in units of 1/60000 token so a
 * refill of r tokens per minute is r units per ms. An absent key is a full bucket, so the hash
 * expires exactly when it would have refilled, and a refusal writes nothing.
 */
const RATE_LIMIT_LUA = `${LUA_NOW}
local unit = ${TOKEN_UNITS}
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local take = ARGV[4] == '1'
local full = capacity * unit
local level = full
local at = now
local state = redis.call('HMGET', KEYS[1], 'l', 't')
if state[1] and state[2] then
  level = tonumber(state[1])
  at = tonumber(state[2])
  if now > at then
    level = level + (now - at) * rate
    at = now
  end
  if level > full then level = full end
end
local function untilFull(l)
  if l >= full then return 0 end
  return math.ceil((full - l) / (rate * 1000))
end
if level < unit then
  local retry = math.ceil((unit - level) / (rate * 1000))
  if retry < 1 then retry = 1 end
  return {0, 0, untilFull(level), retry}
end
if take then
  level = level - unit
  redis.call('HSET', KEYS[1], 'l', num(level), 't', num(at))
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((full - level) / rate)))
end
return {1, math.floor(level / unit), untilFull(level), 0}
`;

type RateLimitReply = [number, number, number, number];

interface WithRateLimitCommand {
  kairoRateLimit(key: string, now: string, capacity: number, refillPerMinute: number, take: 0 | 1): Promise<RateLimitReply>;
}

/**
 * Token buckets shared by every KAIRO process through Redis: each call is one Lua script, so the
 * read-refill-take-write is atomic and parallel requests from any number of processes never
 * admit more than the bucket holds. Same semantics as {@link MemoryRateLimiter}.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis & WithRateLimitCommand;
  private readonly owned: boolean;
  private readonly prefix: string;

  constructor(options: RedisRateLimiterOptions) {
    const { redis, owned } = resolveRedis(options.redis);
    // defineCommand runs EVALSHA and falls back to EVAL after a NOSCRIPT (e.g. a Redis restart).
    redis.defineCommand('kairoRateLimit', { numberOfKeys: 1, lua: RATE_LIMIT_LUA });
    this.redis = redis as Redis & WithRateLimitCommand;
    this.owned = owned;
    this.prefix = `${options.prefix ?? DEFAULT_LIMITS_PREFIX}rl:`;
  }

  consume(key: string, policy: BucketPolicy, now?: number): Promise<RateLimitDecision> {
    return this.run(key, policy, now, 1);
  }

  peek(key: string, policy: BucketPolicy, now?: number): Promise<RateLimitDecision> {
    return this.run(key, policy, now, 0);
  }

  ping(): Promise<void> {
    return pingRedis(this.redis);
  }

  close(): Promise<void> {
    return releaseRedis(this.redis, this.owned);
  }

  private async run(key: string, policy: BucketPolicy, now: number | undefined, take: 0 | 1): Promise<RateLimitDecision> {
    assertPolicy(policy);
    requireConnected(this.redis);
    const [allowed, remaining, resetSeconds, retryAfterSeconds] = await this.redis.kairoRateLimit(
      this.prefix + key,
      now === undefined ? '' : String(now),
      policy.capacity,
      policy.refillPerMinute,
      take,
    );
    return { allowed: allowed === 1, limit: policy.capacity, remaining, resetSeconds, retryAfterSeconds };
  }
}
