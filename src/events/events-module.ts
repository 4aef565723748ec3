import type { AreaModule, AreaRunning, BackgroundErrors } from '../area-module.js';
import type { Queue } from '../queue/port.js';
import type { Store } from '../store/port.js';
import { EventService } from './events.js';

export const EVENTS_PURGE_JOB = 'events.purge';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** Events deleted per statement, so a purge never holds the database for long. */
const PURGE_BATCH = 5_000;
/** A purge stops after this many batches and goes on at the next hour. */
const PURGE_MAX_BATCHES = 100;

/** Deletes events older than the retention, in batches; returns how many. */
export async function purgeEvents(store: Store, retentionDays: number, now: number): Promise<number> {
  let deleted = 0;
  for (let batch = 0, last = PURGE_BATCH; last === PURGE_BATCH && batch < PURGE_MAX_BATCHES; batch++) {
    last = await store.events.purge(now - retentionDays * DAY_MS, PURGE_BATCH);
    deleted += last;
  }
  return deleted;
}

/** The events area: reading events, and purging them after their retention. */
export class EventsModule implements AreaModule {
  readonly events: EventService;

  constructor(private readonly deps: { store: Store; queue: Queue; retentionDays: number; now?: () => number }) {
    this.events = new EventService(deps.store);
  }

  registerJobs(queue: Queue): void {
    queue.register(EVENTS_PURGE_JOB, async () => ({ deleted: await purgeEvents(this.deps.store, this.deps.retentionDays, (this.deps.now ?? Date.now)()) }));
  }

  /** Enqueues the purge every hour; the job id names the hour, so several processes run it once. */
  start(onError: BackgroundErrors): AreaRunning {
    const now = this.deps.now ?? Date.now;
    const report = onError('event purge not enqueued');
    const enqueue = () => {
      const hour = Math.floor(now() / HOUR_MS);
      this.deps.queue.enqueue(EVENTS_PURGE_JOB, {}, { jobId: `events_purge_${hour}`, maxAttempts: 3 }).catch(report);
    };
    enqueue();
    const timer = setInterval(enqueue, HOUR_MS / 4);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
}
