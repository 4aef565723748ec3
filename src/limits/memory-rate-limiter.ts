import { TOKEN_UNITS, assertPolicy, secondsUntilFull, secondsUntilToken } from './bucket-math.js';
import type { BucketPolicy, RateLimitDecision, RateLimiter } from './port.js';

interface Bucket {
  /** Tokens × TOKEN_UNITS as of `at`. */
  level: number;
  /** Milliseconds; the last time `level` was brought up to date. */
  at: number;
  /** Milliseconds; when the bucket is full again if left alone (then it can be forgotten). */
  fullAt: number;
}

/** Options for {@link MemoryRateLimiter}. */
export interface MemoryRateLimiterOptions {
  /** How often (ms, on the caller's clock) idle full buckets are dropped. Default 60 s. */
  sweepIntervalMs?: number;
}

/**
 * In-process token buckets for embedded mode. `consume` is synchronous and O(1): one Map lookup
 * and in-place arithmetic on the key's bucket. A bucket that is full again is indistinguishable
 * from one never created, so full buckets are dropped on an occasional sweep and memory follows
 * the number of recently active keys.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweepIntervalMs: number;
  private nextSweepAt = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  }

  /** Buckets currently held (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  consume(key: string, policy: BucketPolicy, now: number = Date.now()): RateLimitDecision {
    assertPolicy(policy);
    if (now >= this.nextSweepAt) this.sweep(now);
    const rate = policy.refillPerMinute;
    const full = policy.capacity * TOKEN_UNITS;
    let bucket = this.buckets.get(key);
    let level = bucket === undefined ? full : refilled(bucket, full, rate, now);
    if (level < TOKEN_UNITS) return refused(policy, level);
    level -= TOKEN_UNITS;
    // A clock that steps back must not hand out tokens twice, so `at` never moves backwards.
    const at = bucket === undefined ? now : Math.max(bucket.at, now);
    const fullAt = at + (full - level) / rate;
    if (bucket === undefined) {
      bucket = { level, at, fullAt };
      this.buckets.set(key, bucket);
    } else {
      bucket.level = level;
      bucket.at = at;
      bucket.fullAt = fullAt;
    }
    return {
      allowed: true,
      limit: policy.capacity,
      remaining: Math.floor(level / TOKEN_UNITS),
      resetSeconds: secondsUntilFull(level, full, rate),
      retryAfterSeconds: 0,
    };
  }

  peek(key: string, policy: BucketPolicy, now: number = Date.now()): RateLimitDecision {
    assertPolicy(policy);
    const rate = policy.refillPerMinute;
    const full = policy.capacity * TOKEN_UNITS;
    const bucket = this.buckets.get(key);
    const level = bucket === undefined ? full : refilled(bucket, full, rate, now);
    if (level < TOKEN_UNITS) return refused(policy, level);
    return {
      allowed: true,
      limit: policy.capacity,
      remaining: Math.floor(level / TOKEN_UNITS),
      resetSeconds: secondsUntilFull(level, full, rate),
      retryAfterSeconds: 0,
    };
  }

  /** In process memory: always reachable. */
  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.buckets.clear();
  }

  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.fullAt <= now) this.buckets.delete(key);
    }
    this.nextSweepAt = now + this.sweepIntervalMs;
  }
}

/** The bucket's level at `now`, capped at `full` (which also applies a lowered capacity). */
function refilled(bucket: Bucket, full: number, rate: number, now: number): number {
  const elapsed = now > bucket.at ? now - bucket.at : 0;
  const level = bucket.level + elapsed * rate;
  return level < full ? level : full;
}

function refused(policy: BucketPolicy, level: number): RateLimitDecision {
  return {
    allowed: false,
    limit: policy.capacity,
    remaining: 0,
    resetSeconds: secondsUntilFull(level, policy.capacity * TOKEN_UNITS, policy.refillPerMinute),
    retryAfterSeconds: secondsUntilToken(level, policy.refillPerMinute),
  };
}
