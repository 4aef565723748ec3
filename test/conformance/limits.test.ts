import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryConcurrencyLimiter } from '../../src/limits/memory-concurrency-limiter.js';
import { MemoryRateLimiter } from '../../src/limits/memory-rate-limiter.js';
import { openLimits } from '../../src/limits/open-limits.js';
import type { BucketPolicy, ConcurrencyLimiter, RateLimiter } from '../../src/limits/port.js';
import { RedisConcurrencyLimiter } from '../../src/limits/redis-concurrency-limiter.js';
import { RedisRateLimiter } from '../../src/limits/redis-rate-limiter.js';
import { redisUrl, uniqueName } from '../support/services.js';

/**
 * Two handles on one shared state. In memory that is one instance (a process shares its own
 * map); on Redis two instances on two connections, standing in for two KAIRO processes.
 */
interface LimitsHandle {
  rate: [RateLimiter, RateLimiter];
  slots: [ConcurrencyLimiter, ConcurrencyLimiter];
  dispose(): Promise<void>;
}

async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

const backends: Array<{ name: 'memory' | 'redis'; open: () => Promise<LimitsHandle> }> = [
  {
    name: 'memory',
    async open() {
      const rate = new MemoryRateLimiter();
      const slots = new MemoryConcurrencyLimiter();
      return {
        rate: [rate, rate],
        slots: [slots, slots],
        async dispose() {
          await rate.close();
          await slots.close();
        },
      };
    },
  },
  {
    name: 'redis',
    async open() {
      const prefix = `${uniqueName('kairo_test')}:`;
      const rate: [RateLimiter, RateLimiter] = [
        new RedisRateLimiter({ redis: redisUrl, prefix }),
        new RedisRateLimiter({ redis: redisUrl, prefix }),
      ];
      const slots: [ConcurrencyLimiter, ConcurrencyLimiter] = [
        new RedisConcurrencyLimiter({ redis: redisUrl, prefix }),
        new RedisConcurrencyLimiter({ redis: redisUrl, prefix }),
      ];
      return {
        rate,
        slots,
        async dispose() {
          await Promise.all([...rate, ...slots].map((limiter) => limiter.close()));
          await deleteKeys(prefix);
        },
      };
    },
  },
];

/** The free plan: 100 requests/min (one token per 600 ms), burst 200. */
const free: BucketPolicy = { capacity: 200, refillPerMinute: 100 };
const T = Date.now();

describe.each(backends)('limits conformance: $name', (backend) => {
  let handle: LimitsHandle;
  let limiter: RateLimiter;
  let other: RateLimiter;
  let slots: ConcurrencyLimiter;
  let otherSlots: ConcurrencyLimiter;

  beforeEach(async () => {
    handle = await backend.open();
    [limiter, other] = handle.rate;
    [slots, otherSlots] = handle.slots;
  });

  afterEach(async () => {
    await handle.dispose();
  });

  async function consumeTimes(key: string, policy: BucketPolicy, times: number, now: number) {
    const decisions = [];
    for (let i = 0; i < times; i++) decisions.push(await limiter.consume(key, policy, now));
    return decisions;
  }

  describe('rate limiter', () => {
    it('starts full: the first request leaves capacity - 1', async () => {
      expect(await limiter.consume('ws_a', free, T)).toEqual({
        allowed: true,
        limit: 200,
        remaining: 199,
        resetSeconds: 1,
        retryAfterSeconds: 0,
      });
    });

    it('admits exactly the burst, then refuses with Retry-After >= 1 without taking tokens', async () => {
      const decisions = await consumeTimes('ws_a', free, 200, T);
      expect(decisions.every((d) => d.allowed)).toBe(true);
      expect(decisions.map((d) => d.remaining)).toEqual(Array.from({ length: 200 }, (_, i) => 199 - i));

      const refused = await limiter.consume('ws_a', free, T);
      expect(refused).toEqual({ allowed: false, limit: 200, remaining: 0, resetSeconds: 120, retryAfterSeconds: 1 });
      // A refusal takes nothing: one token's worth of time later, exactly one request gets through.
      expect((await limiter.consume('ws_a', free, T + 600)).allowed).toBe(true);
      expect((await limiter.consume('ws_a', free, T + 600)).allowed).toBe(false);
    });

    it('rounds Retry-After up to the next whole token', async () => {
      const slow: BucketPolicy = { capacity: 2, refillPerMinute: 10 }; // one token per 6 s
      await consumeTimes('ws_a', slow, 2, T);
      expect(await limiter.consume('ws_a', slow, T)).toMatchObject({ allowed: false, retryAfterSeconds: 6, resetSeconds: 12 });
      expect(await limiter.consume('ws_a', slow, T + 1000)).toMatchObject({ allowed: false, retryAfterSeconds: 5, resetSeconds: 11 });
      expect(await limiter.consume('ws_a', slow, T + 5999)).toMatchObject({ allowed: false, retryAfterSeconds: 1, resetSeconds: 7 });
      expect(await limiter.consume('ws_a', slow, T + 6000)).toMatchObject({ allowed: true, remaining: 0, resetSeconds: 12 });
    });

    it('refills continuously: 100/min gives one token per 600 ms', async () => {
      await consumeTimes('ws_a', free, 200, T);
      expect((await limiter.consume('ws_a', free, T + 599)).allowed).toBe(false);
      expect(await limiter.consume('ws_a', free, T + 600)).toMatchObject({ allowed: true, remaining: 0 });
      expect((await limiter.consume('ws_a', free, T + 600)).allowed).toBe(false);
      // 1200 ms more: two tokens; one request leaves one.
      expect(await limiter.consume('ws_a', free, T + 1800)).toMatchObject({ allowed: true, remaining: 1 });
      // Half a token does not show as a whole one.
      expect(await limiter.peek('ws_a', free, T + 2100)).toMatchObject({ allowed: true, remaining: 1 });
      expect(await limiter.peek('ws_a', free, T + 2400)).toMatchObject({ allowed: true, remaining: 2 });
    });

    it('never refills past capacity', async () => {
      await consumeTimes('ws_a', free, 50, T);
      const hourLater = T + 3_600_000;
      expect(await limiter.peek('ws_a', free, hourLater)).toEqual({
        allowed: true,
        limit: 200,
        remaining: 200,
        resetSeconds: 0,
        retryAfterSeconds: 0,
      });
      expect(await limiter.consume('ws_a', free, hourLater)).toMatchObject({ remaining: 199, resetSeconds: 1 });
    });

    it('reports resetSeconds as the whole seconds until the bucket is full again', async () => {
      expect((await limiter.peek('ws_a', free, T)).resetSeconds).toBe(0);
      expect((await limiter.consume('ws_a', free, T)).resetSeconds).toBe(1); // 600 ms missing
      expect((await limiter.peek('ws_a', free, T + 300)).resetSeconds).toBe(1); // 300 ms missing
      expect((await limiter.peek('ws_a', free, T + 600)).resetSeconds).toBe(0);
      const ten = await consumeTimes('ws_b', free, 10, T);
      expect(ten.at(-1)?.resetSeconds).toBe(6); // 6000 ms missing
      expect((await limiter.consume('ws_b', free, T)).resetSeconds).toBe(7); // 6600 ms missing
    });

    it('peek reports the state without taking a token', async () => {
      expect(await limiter.peek('ws_a', free, T)).toEqual({
        allowed: true,
        limit: 200,
        remaining: 200,
        resetSeconds: 0,
        retryAfterSeconds: 0,
      });
      expect((await limiter.peek('ws_a', free, T)).remaining).toBe(200);
      await limiter.consume('ws_a', free, T);
      expect((await limiter.peek('ws_a', free, T)).remaining).toBe(199);
      expect((await limiter.peek('ws_a', free, T)).remaining).toBe(199);

      const tiny: BucketPolicy = { capacity: 1, refillPerMinute: 1 };
      await limiter.consume('ws_b', tiny, T);
      expect(await limiter.peek('ws_b', tiny, T)).toEqual({
        allowed: false,
        limit: 1,
        remaining: 0,
        resetSeconds: 60,
        retryAfterSeconds: 60,
      });
    });

    it('keeps separate keys independent', async () => {
      await consumeTimes('ws_a', free, 200, T);
      expect((await limiter.consume('ws_a', free, T)).allowed).toBe(false);
      expect(await limiter.consume('ws_b', free, T)).toMatchObject({ allowed: true, remaining: 199 });
    });

    it('caps a bucket at a lowered capacity (plan downgrade)', async () => {
      await limiter.consume('ws_a', free, T);
      const smaller: BucketPolicy = { capacity: 50, refillPerMinute: 100 };
      expect(await limiter.peek('ws_a', smaller, T)).toMatchObject({ limit: 50, remaining: 50, resetSeconds: 0 });
      expect(await limiter.consume('ws_a', smaller, T)).toMatchObject({ limit: 50, remaining: 49 });
    });

    it('rejects a policy that cannot hold or regain a token', async () => {
      await expect(async () => limiter.consume('ws_a', { capacity: 0, refillPerMinute: 100 }, T)).rejects.toThrow(RangeError);
      await expect(async () => limiter.consume('ws_a', { capacity: 10, refillPerMinute: 0 }, T)).rejects.toThrow(RangeError);
    });

    it('works on its own clock when no time is passed', async () => {
      const policy: BucketPolicy = { capacity: 3, refillPerMinute: 1 };
      expect(await limiter.consume('ws_clock', policy)).toMatchObject({ allowed: true, remaining: 2 });
      expect(await other.consume('ws_clock', policy)).toMatchObject({ allowed: true, remaining: 1 });
      expect(await limiter.consume('ws_clock', policy)).toMatchObject({ allowed: true, remaining: 0 });
      const refused = await other.consume('ws_clock', policy);
      expect(refused.allowed).toBe(false);
      expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60);
    });

    it('shares one bucket between instances', async () => {
      await limiter.consume('ws_a', free, T);
      expect(await other.consume('ws_a', free, T)).toMatchObject({ remaining: 198 });
      expect((await limiter.peek('ws_a', free, T)).remaining).toBe(198);
    });

    it('never over-admits parallel requests from two instances', async () => {
      const decisions = await Promise.all(
        Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? limiter : other).consume('ws_a', free, T)),
      );
      expect(decisions.filter((d) => d.allowed)).toHaveLength(200);
      expect(decisions.filter((d) => d.allowed).map((d) => d.remaining).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 200 }, (_, i) => i),
      );

      // Same on the limiter's own clock (a refill of 1/min adds nothing within the test).
      const slow: BucketPolicy = { capacity: 200, refillPerMinute: 1 };
      const own = await Promise.all(
        Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? limiter : other).consume('ws_b', slow)),
      );
      expect(own.filter((d) => d.allowed)).toHaveLength(200);
    });
  });

  describe('concurrency limiter', () => {
    const lease = 30_000;

    it('enforces the cap and counts held slots', async () => {
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(await slots.acquire('ws_a', 5, lease, T));
      expect(ids.every((id) => typeof id === 'string')).toBe(true);
      expect(new Set(ids).size).toBe(5);
      expect(await slots.acquire('ws_a', 5, lease, T)).toBeNull();
      expect(await slots.count('ws_a', T)).toBe(5);
      expect(await slots.count('ws_b', T)).toBe(0);
      expect(await slots.acquire('ws_b', 5, lease, T)).not.toBeNull();
      expect(await slots.acquire('ws_c', 0, lease, T)).toBeNull();
    });

    it('frees a slot on release', async () => {
      const first = await slots.acquire('ws_a', 2, lease, T);
      await slots.acquire('ws_a', 2, lease, T);
      expect(await slots.acquire('ws_a', 2, lease, T)).toBeNull();
      await otherSlots.release('ws_a', first!);
      expect(await slots.count('ws_a', T)).toBe(1);
      expect(await slots.acquire('ws_a', 2, lease, T)).not.toBeNull();
      await slots.release('ws_a', 'no-such-slot');
      await slots.release('ws_none', 'no-such-slot');
      expect(await slots.count('ws_a', T)).toBe(2);
      expect(await slots.renew('ws_a', first!, lease, T)).toBe(false);
    });

    it('gives back the slot of a holder that stopped renewing once its lease expires', async () => {
      const crashed = await slots.acquire('ws_a', 1, lease, T);
      expect(crashed).not.toBeNull();
      expect(await slots.acquire('ws_a', 1, lease, T + lease - 1)).toBeNull();
      expect(await slots.count('ws_a', T + lease - 1)).toBe(1);
      expect(await slots.count('ws_a', T + lease)).toBe(0);
      const next = await otherSlots.acquire('ws_a', 1, lease, T + lease);
      expect(next).not.toBeNull();
      expect(await slots.count('ws_a', T + lease)).toBe(1);
      // The crashed holder coming back finds its slot gone.
      expect(await slots.renew('ws_a', crashed!, lease, T + lease)).toBe(false);
      expect(await slots.count('ws_a', T + lease)).toBe(1);
    });

    it('extends a lease on renew', async () => {
      const kept = await slots.acquire('ws_a', 2, lease, T);
      const dropped = await slots.acquire('ws_a', 2, lease, T);
      expect(await otherSlots.renew('ws_a', kept!, lease, T + 20_000)).toBe(true);
      expect(await slots.count('ws_a', T + lease)).toBe(1);
      expect(await slots.count('ws_a', T + 20_000 + lease - 1)).toBe(1);
      expect(await slots.count('ws_a', T + 20_000 + lease)).toBe(0);
      expect(await slots.renew('ws_a', dropped!, lease, T + lease)).toBe(false);
      expect(await slots.renew('ws_a', 'no-such-slot', lease, T)).toBe(false);
    });

    it('never exceeds the cap under parallel acquires from two instances', async () => {
      const ids = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? slots : otherSlots).acquire('ws_a', 5, lease, T)),
      );
      expect(ids.filter((id) => id !== null)).toHaveLength(5);
      expect(await slots.count('ws_a', T)).toBe(5);

      const own = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? slots : otherSlots).acquire('ws_b', 5, lease)),
      );
      expect(own.filter((id) => id !== null)).toHaveLength(5);
      expect(await otherSlots.count('ws_b')).toBe(5);
    });

    it('rejects a lease that is not a positive duration', async () => {
      await expect(slots.acquire('ws_a', 5, 0, T)).rejects.toThrow(RangeError);
    });
  });
});

describe('memory rate limiter', () => {
  it('decides synchronously', () => {
    const limiter = new MemoryRateLimiter();
    const decision = limiter.consume('ws_a', free, T);
    expect(decision).not.toBeInstanceOf(Promise);
    expect(decision.remaining).toBe(199);
  });

  it('forgets buckets that have refilled, so memory follows active keys', () => {
    const limiter = new MemoryRateLimiter({ sweepIntervalMs: 1000 });
    const perSecond: BucketPolicy = { capacity: 2, refillPerMinute: 60 };
    limiter.consume('ws_a', perSecond, T); // full again at T + 1000
    limiter.consume('ws_b', perSecond, T + 500); // full again at T + 1500
    expect(limiter.size).toBe(2);
    limiter.consume('ws_c', perSecond, T + 1000);
    expect(limiter.size).toBe(2);
    expect(limiter.peek('ws_a', perSecond, T + 1000)).toMatchObject({ remaining: 2, resetSeconds: 0 });
    limiter.consume('ws_c', perSecond, T + 10_000);
    expect(limiter.size).toBe(1);
  });
});

describe('openLimits', () => {
  it('opens in-process limiters without a Redis URL', async () => {
    const limits = openLimits();
    expect(limits.rateLimiter).toBeInstanceOf(MemoryRateLimiter);
    expect(limits.concurrency).toBeInstanceOf(MemoryConcurrencyLimiter);
    await limits.close();
  });

  it('opens Redis limiters on one connection with a Redis URL', async () => {
    const prefix = `${uniqueName('kairo_test')}:`;
    const limits = openLimits({ redisUrl, prefix });
    try {
      expect(limits.rateLimiter).toBeInstanceOf(RedisRateLimiter);
      expect(limits.concurrency).toBeInstanceOf(RedisConcurrencyLimiter);
      expect((await limits.rateLimiter.consume('ws_a', free, T)).remaining).toBe(199);
      const slot = await limits.concurrency.acquire('ws_a', 1, 30_000, T);
      expect(slot).not.toBeNull();
      expect(await limits.concurrency.count('ws_a', T)).toBe(1);
    } finally {
      await limits.close();
      await deleteKeys(prefix);
    }
  });
});
