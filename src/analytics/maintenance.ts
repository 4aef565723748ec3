import type { Config } from '../config.js';
import type { Queue } from '../queue/port.js';
import type { Store } from '../store/port.js';
import type { RollupCompactor } from './compaction.js';
import { DAY_MS, HOUR_MS, MINUTE_MS } from './rollup-writer.js';

export const ANALYTICS_COMPACT_JOB = 'analytics.compact';
export const ANALYTICS_PURGE_JOB = 'analytics.purge';

/** Rows deleted per statement, so a purge never holds the database for long. */
const PURGE_BATCH = 5_000;
/** A purge stops after this long and goes on at the next hour. */
const PURGE_BUDGET_MS = 5_000;

export type RetentionConfig = Pick<Config, 'traceRetentionDays' | 'requestLogRetentionDays' | 'rollupRetentionDays'>;

/**
 * Deletes what has outlived its retention, in small batches: spans, stored model responses, run event logs and minute
 * rollups after the trace retention (minute rollups never before they were derived into hours),
 * the request log after its own, hour and day rollups after theirs. Returns what it deleted.
 */
export async function purgeExpired(
  store: Store, compactor: RollupCompactor, retention: RetentionConfig, now: number, budgetMs = PURGE_BUDGET_MS,
): Promise<Record<string, number>> {
  const deadline = Date.now() + budgetMs;
  const traceCutoff = now - retention.traceRetentionDays * DAY_MS;
  const rollupCutoff = now - retention.rollupRetentionDays * DAY_MS;
  const deleted: Record<string, number> = {};
  const drain = async (name: string, batch: () => Promise<number>) => {
    let n = 0;
    for (let last = PURGE_BATCH; last >= PURGE_BATCH && Date.now() < deadline; ) {
      last = await batch();
      n += last;
    }
    deleted[name] = (deleted[name] ?? 0) + n;
  };
  await drain('spans', () => store.spans.purge(traceCutoff, PURGE_BATCH));
  await drain('model_responses', () => store.modelResponses.purge(traceCutoff, PURGE_BATCH));
  await drain('run_events', () => store.runEvents.purge(traceCutoff, PURGE_BATCH));
  await drain('workflow_run_events', () => store.workflowRunEvents.purge(traceCutoff, PURGE_BATCH));
  const minuteCutoff = Math.min(traceCutoff, await compactor.compactedUntil());
  await drain('minute_rollups', () => store.rollups.purge('minute', minuteCutoff, PURGE_BATCH));
  await drain('hour_rollups', () => store.rollups.purge('hour', rollupCutoff, PURGE_BATCH));
  await drain('day_rollups', () => store.rollups.purge('day', rollupCutoff, PURGE_BATCH));
  const requestCutoff = now - retention.requestLogRetentionDays * DAY_MS;
  for (let after: string | undefined; Date.now() < deadline; ) {
    const page = await store.workspaces.list({ limit: 100, ...(after ? { after } : {}) });
    for (const workspace of page.data) {
      for (const livemode of [true, false]) {
        await drain('request_log', () => store.requestLog.purge({ workspaceId: workspace.id, livemode }, requestCutoff, PURGE_BATCH));
      }
    }
    if (!page.hasMore) break;
    after = page.data.at(-1)!.id;
  }
  return deleted;
}

/** Registers the analytics maintenance jobs: deriving hour and day rollups, and purging. */
export function registerAnalyticsJobs(queue: Queue, store: Store, compactor: RollupCompactor, retention: RetentionConfig, now: () => number = Date.now): void {
  queue.register(ANALYTICS_COMPACT_JOB, async () => ({ hours: await compactor.compact() }));
  queue.register(ANALYTICS_PURGE_JOB, async () => purgeExpired(store, compactor, retention, now()));
}

/**
 * Enqueues the compaction every minute and the purge every hour. Job ids name the minute and the
 * hour, so with several processes sharing a database or Redis each runs once.
 */
export function scheduleAnalyticsMaintenance(queue: Queue, onError: (error: unknown) => void, now: () => number = Date.now): () => void {
  const enqueue = () => {
    const minute = Math.floor(now() / MINUTE_MS);
    const hour = Math.floor(now() / HOUR_MS);
    queue.enqueue(ANALYTICS_COMPACT_JOB, {}, { jobId: `analytics_compact_${minute}`, maxAttempts: 3 }).catch(onError);
    queue.enqueue(ANALYTICS_PURGE_JOB, {}, { jobId: `analytics_purge_${hour}`, maxAttempts: 3 }).catch(onError);
  };
  enqueue();
  const timer = setInterval(enqueue, MINUTE_MS / 4);
  timer.unref();
  return () => clearInterval(timer);
}
