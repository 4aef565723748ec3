import type { BucketPolicy } from './port.js';

/**
 * One token in bucket units. Levels are kept in tokens × 60 000 so that a refill of
 * `refillPerMinute` tokens per minute is exactly `refillPerMinute` units per millisecond: with
 * integer policies every level stays an integer and no float drift creeps into the headers
 * (100/min × 600 ms would otherwise give 1.0000000000000002 tokens).
 */
export const TOKEN_UNITS = 60_000;

/** Throws unless the policy describes a bucket that holds and regains at least one token. */
export function assertPolicy(policy: BucketPolicy): void {
  const { capacity, refillPerMinute } = policy;
  if (!(capacity >= 1) || !Number.isFinite(capacity)) {
    throw new RangeError(`bucket capacity must be a finite number >= 1, got ${capacity}`);
  }
  if (!(refillPerMinute > 0) || !Number.isFinite(refillPerMinute)) {
    throw new RangeError(`bucket refillPerMinute must be a finite number > 0, got ${refillPerMinute}`);
  }
}

/** Whole seconds, rounded up, until the bucket (at `level` units) is full again; 0 when full. */
export function secondsUntilFull(level: number, fullUnits: number, refillPerMinute: number): number {
  return level >= fullUnits ? 0 : Math.ceil((fullUnits - level) / (refillPerMinute * 1000));
}

/** Whole seconds, rounded up, until one token is available; at least 1 (only asked when refused). */
export function secondsUntilToken(level: number, refillPerMinute: number): number {
  return Math.max(1, Math.ceil((TOKEN_UNITS - level) / (refillPerMinute * 1000)));
}
