/** A token bucket: holds at most `capacity` tokens, refilled continuously at `refillPerMinute`. */
export interface BucketPolicy {
  capacity: number;
  refillPerMinute: number;
}

/** The outcome of taking one token, with what the rate-limit headers report. */
export interface RateLimitDecision {
  allowed: boolean;
  /** The bucket capacity (the burst cap). */
  limit: number;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Seconds (rounded up) until the bucket is full again. */
  resetSeconds: number;
  /** When refused: seconds (rounded up) until one token is available. 0 when allowed. */
  retryAfterSeconds: number;
}

/**
 * Per-key token buckets. One atomic read-modify-write per call: in process memory, or one Lua
 * script in Redis so that every KAIRO process shares the bucket.
 */
export interface RateLimiter {
  consume(key: string, policy: BucketPolicy, now?: number): RateLimitDecision | Promise<RateLimitDecision>;
  /** The state without taking a token. */
  peek(key: string, policy: BucketPolicy, now?: number): RateLimitDecision | Promise<RateLimitDecision>;
  /** Throws when the limiter's store (Redis) cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Counts the runs a workspace has going at once. A slot is held under a lease: a holder that
 * crashes stops renewing and its slot comes back when the lease expires.
 */
export interface ConcurrencyLimiter {
  /** A slot id, or null when `cap` slots are already held. */
  acquire(key: string, cap: number, leaseMs: number, now?: number): Promise<string | null>;
  /** Extends a held slot's lease; false when it had already expired and was given up. */
  renew(key: string, slotId: string, leaseMs: number, now?: number): Promise<boolean>;
  release(key: string, slotId: string): Promise<void>;
  /** Slots currently held (leases not expired); synchronous when the limiter is in memory. */
  count(key: string, now?: number): number | Promise<number>;
  close(): Promise<void>;
}
