import type { Repos, Store } from '../store/port.js';
import { GROUPINGS, regroup } from './groupings.js';
import { DAY_MS, floorTo, HOUR_MS } from './rollup-writer.js';

/** Where derived rows end: every hour before it has its hour rows (and every day before its day floor, its day rows). */
export const COMPACTED_UNTIL_KEY = 'analytics.rollups_compacted_until';

/** An hour is derived once it has been over this long, so that runs finishing at its end are in. */
export const COMPACTION_GRACE_MS = 5 * 60_000;

const ALL_GROUPINGS = Object.keys(GROUPINGS);

/** The time before which hour (and whole-day) rows exist, read with `repos` (the store or a transaction). */
export async function compactedUntil(repos: Pick<Repos, 'meta' | 'rollups'>, now: number): Promise<number> {
  const stored = await repos.meta.get(COMPACTED_UNTIL_KEY);
  if (stored !== undefined) return Number(stored);
  const first = await repos.rollups.firstMinute();
  return floorTo(first ?? now, HOUR_MS);
}

/**
 * Derives hour rows from minute rows, and day rows from hour rows, for each grouping, one hour
 * at a time, each in one transaction that also moves the watermark. Deriving an hour again gives
 * the same rows (they are replaced, not added to), so two processes doing it, or a crash midway,
 * leave them right.
 */
export class RollupCompactor {
  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  /** The time before which hour (and whole-day) rows exist. */
  compactedUntil(): Promise<number> {
    return compactedUntil(this.store, this.now());
  }

  /** Derives up to `maxHours` hours that have ended; returns how many it did. */
  async compact(maxHours = 24): Promise<number> {
    const due = floorTo(this.now() - COMPACTION_GRACE_MS, HOUR_MS);
    let done = 0;
    for (let hour = await this.compactedUntil(); hour < due && done < maxHours; hour += HOUR_MS, done++) {
      await this.compactHour(hour);
    }
    return done;
  }

  private async compactHour(hour: number): Promise<void> {
    const next = hour + HOUR_MS;
    await this.store.transaction(async (tx) => {
      const minutes = await tx.rollups.rowsBetween('minute', hour, next, '*');
      await tx.rollups.replaceBetween('hour', hour, next, regroup(minutes, 'hour', hour, ALL_GROUPINGS));
      if (next % DAY_MS === 0) {
        const day = next - DAY_MS;
        const hours = await tx.rollups.rowsBetween('hour', day, next, '*');
        await tx.rollups.replaceBetween('day', day, next, regroup(hours, 'day', day, ALL_GROUPINGS));
      }
      await tx.meta.set(COMPACTED_UNTIL_KEY, String(next));
    });
  }
}
