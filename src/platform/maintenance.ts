import type { Queue } from '../queue/port.js';
import type { Store } from '../store/port.js';

/** How long idempotent responses are replayed (docs/api.md). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;

/** How long finished jobs of the local queue are kept (for getJob and id deduplication), as BullMQ keeps them. */
export const FINISHED_JOB_TTL_MS = 7 * 24 * HOUR_MS;

export const PURGE_IDEMPOTENCY_JOB = 'platform.purge_idempotency';

/** Registers the platform's housekeeping job handlers on a queue (call before queue.start()). */
export function registerMaintenanceJobs(queue: Queue, store: Store): void {
  queue.register<{ before: number; jobsBefore?: number }>(PURGE_IDEMPOTENCY_JOB, async (job) => ({
    purged: await store.idempotency.purge(job.payload.before),
    jobsPurged: job.payload.jobsBefore === undefined ? 0 : await store.jobs.purgeFinished(job.payload.jobsBefore),
  }));
}

/**
 * Enqueues the hourly purge of expired idempotency records and of finished jobs kept past their
 * time. The job id names the hour, so with several processes sharing a database or Redis the
 * purge still runs once an hour.
 */
export function scheduleMaintenance(queue: Queue, onError: (error: unknown) => void, now: () => number = Date.now): () => void {
  const enqueue = () => {
    const hour = Math.floor(now() / HOUR_MS);
    queue
      .enqueue(
        PURGE_IDEMPOTENCY_JOB,
        { before: hour * HOUR_MS - IDEMPOTENCY_TTL_MS, jobsBefore: hour * HOUR_MS - FINISHED_JOB_TTL_MS },
        { jobId: `purge_idempotency_${hour}`, maxAttempts: 3 },
      )
      .catch(onError);
  };
  enqueue();
  const timer = setInterval(enqueue, HOUR_MS / 4);
  timer.unref();
  return () => clearInterval(timer);
}
