import { newId } from '../ids.js';
import type { Queue } from '../queue/port.js';
import type { StoredEvent, Transaction, WebhookDelivery, WebhookEndpoint } from '../store/port.js';

export const WEBHOOK_DELIVERY_JOB = 'webhooks.deliver';

/** A batch job: sends the due attempts of one endpoint. */
export interface DeliveryBatchJob {
  endpointId: string;
}

/**
 * Attempts falling due in the same window share one batch job, which runs when the window ends:
 * under load an endpoint gets one job (one claim, one transaction of outcomes) per window instead
 * of one per event, at the price of up to a window's wait.
 */
const BATCH_WINDOW_MS = 50;

/**
 * Makes sure a batch job will look at an endpoint once an attempt's due time has passed. The job
 * is deterministic per endpoint and window, so the attempts of a window queue one job between
 * them; once this process has seen that job committed, later attempts of the window skip the
 * enqueue (a run every few milliseconds would otherwise write the same job row dozens of times).
 */
class BatchScheduler {
  /** Window jobs committed by this process, by job id, with their window. */
  private readonly committed = new Map<string, number>();

  constructor(private readonly queue: Queue) {}

  /**
   * In `tx`: the job of the attempt's window, unless already committed. A transaction that
   * commits after its window's job has already looked queues one more job after the commit;
   * should even that fail, the sweep finds the attempt.
   */
  async schedule(tx: Transaction, endpointId: string, dueAt: number, now: number): Promise<void> {
    const window = Math.floor(dueAt / BATCH_WINDOW_MS) + 1;
    const runAt = window * BATCH_WINDOW_MS;
    const jobId = batchJobId(endpointId, window);
    if (!this.committed.has(jobId)) {
      await this.queue.enqueue(WEBHOOK_DELIVERY_JOB, { endpointId } satisfies DeliveryBatchJob, { tx, jobId, delayMs: Math.max(0, runAt - now) });
      tx.afterCommit(() => this.remember(jobId, window));
    }
    tx.afterCommit(async () => {
      const committedAt = Date.now();
      if (committedAt < runAt) return;
      const late = Math.floor(committedAt / BATCH_WINDOW_MS) + 1;
      await this.queue.enqueue(WEBHOOK_DELIVERY_JOB, { endpointId } satisfies DeliveryBatchJob, { jobId: batchJobId(endpointId, late), delayMs: late * BATCH_WINDOW_MS - committedAt }).catch(() => {});
    });
  }

  private remember(jobId: string, window: number): void {
    this.committed.set(jobId, window);
    if (this.committed.size < 1_000) return;
    for (const [id, w] of this.committed) if (w < window - 1) this.committed.delete(id);
  }
}

/** One scheduler per queue, so that every path queueing attempts shares what it has committed. */
const schedulers = new WeakMap<Queue, BatchScheduler>();
const schedulerOf = (queue: Queue): BatchScheduler => schedulers.get(queue) ?? schedulers.set(queue, new BatchScheduler(queue)).get(queue)!;

const batchJobId = (endpointId: string, window: number) => `whb_${endpointId}_${window}`;

/** A pending attempt of an event to an endpoint, due at `dueAt`. */
export function pendingAttempt(
  endpoint: WebhookEndpoint, event: Pick<StoredEvent, 'id' | 'type'>, input: { attempt: number; dueAt: number; now: number; seriesStartedAt: number; retried: boolean },
): WebhookDelivery {
  return {
    id: newId('whdel'), endpointId: endpoint.id, scope: endpoint.scope, eventId: event.id, eventType: event.type, attempt: input.attempt,
    status: 'pending', responseStatus: null, latencyMs: null, error: null, createdAt: input.now, nextAttemptAt: input.dueAt,
    seriesStartedAt: input.seriesStartedAt, retried: input.retried,
  };
}

/** Queues attempts (rows written in `tx`) and the batch jobs that will send them. */
export async function queueAttempts(tx: Transaction, queue: Queue, attempts: WebhookDelivery[], now: number): Promise<void> {
  const scheduler = schedulerOf(queue);
  if (attempts.length === 0) return;
  await tx.webhookDeliveries.insert(attempts);
  const windows = new Map<string, WebhookDelivery>();
  for (const attempt of attempts) windows.set(`${attempt.endpointId}\u0000${Math.floor(attempt.nextAttemptAt! / BATCH_WINDOW_MS)}`, attempt);
  for (const attempt of windows.values()) await scheduler.schedule(tx, attempt.endpointId, attempt.nextAttemptAt!, now);
}
