import { randomUUID } from 'node:crypto';
import type { ConcurrencyLimiter } from './port.js';

/** Options for {@link MemoryConcurrencyLimiter}. */
export interface MemoryConcurrencyLimiterOptions {
  /** How often (ms) keys whose leases all expired are dropped. Default 60 s. */
  sweepIntervalMs?: number;
}

/**
 * In-process run slots for embedded mode: per key, a map of slot id → lease expiry (ms). A slot
 * counts while its expiry is after `now`; each call drops the key's expired slots first, so a
 * holder that died without releasing gives its slot back once the lease runs out.
 */
export class MemoryConcurrencyLimiter implements ConcurrencyLimiter {
  private readonly slots = new Map<string, Map<string, number>>();
  private readonly sweepIntervalMs: number;
  private nextSweepAt = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryConcurrencyLimiterOptions = {}) {
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  }

  async acquire(key: string, cap: number, leaseMs: number, now: number = Date.now()): Promise<string | null> {
    assertLease(leaseMs);
    if (now >= this.nextSweepAt) this.sweep(now);
    let held = this.slots.get(key);
    if (held !== undefined) dropExpired(held, now);
    if ((held?.size ?? 0) >= cap) return null;
    if (held === undefined) {
      held = new Map();
      this.slots.set(key, held);
    }
    const slotId = randomUUID();
    held.set(slotId, now + leaseMs);
    return slotId;
  }

  async renew(key: string, slotId: string, leaseMs: number, now: number = Date.now()): Promise<boolean> {
    assertLease(leaseMs);
    const held = this.slots.get(key);
    const expiresAt = held?.get(slotId);
    if (held === undefined || expiresAt === undefined) return false;
    if (expiresAt <= now) {
      held.delete(slotId);
      if (held.size === 0) this.slots.delete(key);
      return false;
    }
    held.set(slotId, now + leaseMs);
    return true;
  }

  async release(key: string, slotId: string): Promise<void> {
    const held = this.slots.get(key);
    if (held === undefined) return;
    held.delete(slotId);
    if (held.size === 0) this.slots.delete(key);
  }

  count(key: string, now: number = Date.now()): number {
    const held = this.slots.get(key);
    if (held === undefined) return 0;
    let live = 0;
    for (const expiresAt of held.values()) if (expiresAt > now) live++;
    return live;
  }

  async close(): Promise<void> {
    this.slots.clear();
  }

  private sweep(now: number): void {
    for (const [key, held] of this.slots) {
      dropExpired(held, now);
      if (held.size === 0) this.slots.delete(key);
    }
    this.nextSweepAt = now + this.sweepIntervalMs;
  }
}

function dropExpired(held: Map<string, number>, now: number): void {
  for (const [slotId, expiresAt] of held) if (expiresAt <= now) held.delete(slotId);
}

/** Throws unless `leaseMs` is a positive, finite duration. */
export function assertLease(leaseMs: number): void {
  if (!(leaseMs > 0) || !Number.isFinite(leaseMs)) {
    throw new RangeError(`leaseMs must be a finite number > 0, got ${leaseMs}`);
  }
}
