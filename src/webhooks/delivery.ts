import { eventView } from '../events/events.js';
import { typeMatches } from '../events/event-types.js';
import { FetchError } from '../net/fetch-types.js';
import type { JobContext, Queue } from '../queue/port.js';
import type { Scope, Store, StoredEvent, Transaction, WebhookDelivery, WebhookEndpoint } from '../store/port.js';
import { pendingAttempt, queueAttempts, WEBHOOK_DELIVERY_JOB, type DeliveryBatchJob } from './attempts.js';
import { recordOutcomes, type AttemptOutcome } from './outcomes.js';
import type { RetrySchedule } from './retry-schedule.js';
import { signingSecrets } from './signing.js';
import type { DeliverySender } from './threaded-sender.js';

/** Attempts claimed, sent and recorded together. */
const BATCH_SIZE = 100;
/** Requests in flight to one endpoint within a batch. */
const IN_FLIGHT = 16;
/** Batches one job sends before it hands the rest to a new job. */
const MAX_BATCHES_PER_JOB = 20;
/** A receiver has this long to answer with a 2xx. */
const DELIVERY_TIMEOUT_MS = 10_000;
/** How long a claim holds: a whole batch against receivers that answer only at the timeout. */
const CLAIM_MS = Math.ceil(BATCH_SIZE / IN_FLIGHT) * DELIVERY_TIMEOUT_MS + 30_000;
/** What is read of a receiver's answer (the answer itself is not kept). */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const MAX_ERROR_LENGTH = 200;

/** Runs `task` over `items` with at most `limit` at a time; results in the items' order. */
async function inParallel<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Delivers events to webhook endpoints: queues them as they are written, and sends them in batches per endpoint. */
export class WebhookDeliverer {
  constructor(
    private readonly deps: {
      store: Store;
      queue: Queue;
      sender: DeliverySender;
      schedules: { live: RetrySchedule; test: RetrySchedule };
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Each open transaction's enabled endpoints per scope: a run writes its events in several inserts. */
  private readonly endpointsInTx = new WeakMap<Transaction, Map<string, Promise<WebhookEndpoint[]>>>();

  /** Queues the first attempt of each event to each enabled endpoint of its workspace and mode that wants it (in the events' transaction). */
  readonly eventsWritten = async (tx: Transaction, events: StoredEvent[]): Promise<void> => {
    const byScope = new Map<string, { scope: Scope; events: StoredEvent[] }>();
    for (const event of events) {
      const key = `${event.scope.workspaceId}:${event.scope.livemode}`;
      const group = byScope.get(key) ?? byScope.set(key, { scope: event.scope, events: [] }).get(key)!;
      group.events.push(event);
    }
    const now = this.now();
    const attempts: WebhookDelivery[] = [];
    let known = this.endpointsInTx.get(tx);
    if (!known) this.endpointsInTx.set(tx, (known = new Map()));
    for (const [key, { scope, events: scoped }] of byScope) {
      let listed = known.get(key);
      if (!listed) known.set(key, (listed = tx.webhookEndpoints.listEnabled(scope)));
      const endpoints = await listed;
      for (const event of scoped) {
        for (const endpoint of endpoints) {
          if (typeMatches(event.type, endpoint.enabledEvents)) attempts.push(pendingAttempt(endpoint, event, { attempt: 1, dueAt: now, now, seriesStartedAt: now, retried: true }));
        }
      }
    }
    await queueAttempts(tx, this.deps.queue, attempts, now);
  };

  /**
   * Sends an endpoint's due attempts, a batch at a time: claims them (so that no other job sends
   * them meanwhile), posts each event signed, and records every outcome of the batch, with the
   * retries they call for, in one transaction. A crash before that commits leaves the attempts
   * pending and claimed by this job, which runs again and takes them back: the receiver may get an
   * event twice, with the same `webhook-id`.
   */
  async deliver(job: JobContext<DeliveryBatchJob>): Promise<{ sent: number }> {
    const { store } = this.deps;
    let sent = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_JOB; batch++) {
      const endpoint = await store.webhookEndpoints.getById(job.payload.endpointId);
      if (!endpoint) return { sent };
      const now = this.now();
      const claimed = await store.webhookDeliveries.claimDue(endpoint.id, { by: job.id, now, until: now + CLAIM_MS, limit: BATCH_SIZE });
      if (claimed.length === 0) return { sent };
      await this.sendBatch(endpoint, claimed, job.signal);
      sent += claimed.length;
      // A batch that was not full took every attempt due: those queued since have their own window's job.
      if (claimed.length < BATCH_SIZE) return { sent };
    }
    const now = this.now();
    await this.deps.queue.enqueue(WEBHOOK_DELIVERY_JOB, job.payload, { jobId: `whb_${job.payload.endpointId}_next_${now}` });
    return { sent };
  }

  private async sendBatch(endpoint: WebhookEndpoint, attempts: WebhookDelivery[], signal: AbortSignal): Promise<void> {
    const events = new Map((await this.deps.store.events.getMany([...new Set(attempts.map((a) => a.eventId))])).map((e) => [e.id, e]));
    let interrupted: unknown;
    const outcomes = await inParallel(attempts, IN_FLIGHT, async (delivery): Promise<AttemptOutcome | undefined> => {
      if (interrupted !== undefined) return undefined;
      try {
        return await this.attempt(endpoint, delivery, events.get(delivery.eventId), signal);
      } catch (failure) {
        interrupted = failure;
        return undefined;
      }
    });
    const made = outcomes.filter((o): o is AttemptOutcome => o !== undefined);
    const schedule = endpoint.scope.livemode ? this.deps.schedules.live : this.deps.schedules.test;
    await this.deps.store.transaction((tx) => recordOutcomes(tx, this.deps.queue, endpoint.id, made, schedule));
    // Anything but the receiver's fault (shutting down, the job's lease lost) runs the job again.
    if (interrupted !== undefined) throw interrupted;
  }

  private async attempt(endpoint: WebhookEndpoint, delivery: WebhookDelivery, event: StoredEvent | undefined, signal: AbortSignal): Promise<AttemptOutcome> {
    if (endpoint.status !== 'enabled' || !event) {
      return { delivery, sent: false, error: !event ? 'The event is no longer kept.' : 'The endpoint is disabled.' };
    }
    const body = JSON.stringify(eventView(event));
    const started = this.now();
    let responseStatus: number | null = null;
    let error: string | null = null;
    try {
      const response = await this.deps.sender.send({
        url: endpoint.url, secrets: signingSecrets(endpoint, started), messageId: event.id, at: started, body,
        timeoutMs: DELIVERY_TIMEOUT_MS, maxBytes: MAX_RESPONSE_BYTES,
      }, signal);
      responseStatus = response.status;
    } catch (failure) {
      if (!(failure instanceof FetchError)) throw failure;
      responseStatus = failure.status ?? null;
      error = failure.message.length > MAX_ERROR_LENGTH ? `${failure.message.slice(0, MAX_ERROR_LENGTH - 1)}…` : failure.message;
    }
    const finished = this.now();
    return { delivery, sent: true, responseStatus, error, started, finished };
  }
}
