import { newId } from '../ids.js';
import { eventView, recordEvents } from '../events/events.js';
import { typeMatches } from '../events/event-types.js';
import { FetchError, type SafeFetcher } from '../net/fetch-types.js';
import type { JobContext, Queue } from '../queue/port.js';
import type { Scope, Store, StoredEvent, Transaction, WebhookDelivery, WebhookEndpoint } from '../store/port.js';
import { nextAttemptAt, type RetrySchedule } from './retry-schedule.js';
import { signedHeaders, signingSecrets } from './signing.js';
import { webhookEndpointView } from './views.js';

export const WEBHOOK_DELIVERY_JOB = 'webhooks.deliver';

/** A delivery job: one attempt. A redelivery asked for by the API is not retried. */
export interface DeliveryJob {
  deliveryId: string;
  /** When the first attempt of this series was due: retries stop once the window has passed. */
  firstAttemptAt: number;
  retries: boolean;
}

/** A receiver has this long to answer with a 2xx. */
const DELIVERY_TIMEOUT_MS = 10_000;
/** What is read of a receiver's answer (the answer itself is not kept). */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const MAX_ERROR_LENGTH = 200;

/** Deterministic, so that queueing an attempt twice (a retried transaction, a crash) runs it once. */
const deliveryJobId = (eventId: string, endpointId: string, attempt: number) => `whd_${eventId}_${endpointId}_${attempt}`;

/** Queues one attempt of an event to an endpoint, as a pending delivery row and its job, in `tx`. */
export async function queueDelivery(
  tx: Transaction,
  queue: Queue,
  input: { endpoint: WebhookEndpoint; event: Pick<StoredEvent, 'id' | 'type'>; attempt: number; dueAt: number; now: number; firstAttemptAt: number; retries: boolean },
): Promise<WebhookDelivery> {
  const delivery: WebhookDelivery = {
    id: newId('whdel'), endpointId: input.endpoint.id, scope: input.endpoint.scope, eventId: input.event.id, eventType: input.event.type,
    attempt: input.attempt, status: 'pending', responseStatus: null, latencyMs: null, error: null, createdAt: input.now, nextAttemptAt: input.dueAt,
  };
  await tx.webhookDeliveries.insert([delivery]);
  const job: DeliveryJob = { deliveryId: delivery.id, firstAttemptAt: input.firstAttemptAt, retries: input.retries };
  const delayMs = input.dueAt - input.now;
  await queue.enqueue(WEBHOOK_DELIVERY_JOB, job, { tx, jobId: deliveryJobId(input.event.id, input.endpoint.id, input.attempt), ...(delayMs > 0 ? { delayMs } : {}) });
  return delivery;
}

/** Delivers events to webhook endpoints: queues them as they are written, and makes each attempt. */
export class WebhookDeliverer {
  constructor(
    private readonly deps: {
      store: Store;
      queue: Queue;
      fetcher: SafeFetcher;
      schedules: { live: RetrySchedule; test: RetrySchedule };
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Queues the first attempt of each event to each enabled endpoint of its workspace and mode that wants it (in the events' transaction). */
  readonly eventsWritten = async (tx: Transaction, events: StoredEvent[]): Promise<void> => {
    const byScope = new Map<string, { scope: Scope; events: StoredEvent[] }>();
    for (const event of events) {
      const key = `${event.scope.workspaceId}:${event.scope.livemode}`;
      const group = byScope.get(key) ?? byScope.set(key, { scope: event.scope, events: [] }).get(key)!;
      group.events.push(event);
    }
    const now = this.now();
    for (const { scope, events: scoped } of byScope.values()) {
      const endpoints = await tx.webhookEndpoints.listEnabled(scope);
      for (const event of scoped) {
        for (const endpoint of endpoints) {
          if (!typeMatches(event.type, endpoint.enabledEvents)) continue;
          await queueDelivery(tx, this.deps.queue, { endpoint, event, attempt: 1, dueAt: now, now, firstAttemptAt: now, retries: true });
        }
      }
    }
  };

  /**
   * Makes one attempt: posts the event, signed, and records the outcome with the retry it calls
   * for in one transaction. A crash before that commits leaves the attempt pending and its job
   * runs again: the receiver may get the event twice, with the same `webhook-id`.
   */
  async deliver(job: JobContext<DeliveryJob>): Promise<{ status: string }> {
    const { store } = this.deps;
    const delivery = await store.webhookDeliveries.getById(job.payload.deliveryId);
    if (!delivery || delivery.status !== 'pending') return { status: 'done already' };
    const endpoint = await store.webhookEndpoints.getById(delivery.endpointId);
    if (!endpoint) return { status: 'endpoint deleted' };
    const event = await store.events.get(delivery.scope, delivery.eventId);
    if (endpoint.status !== 'enabled' || !event) {
      const error = !event ? 'The event is no longer kept.' : 'The endpoint is disabled.';
      await store.webhookDeliveries.finish(delivery.id, { status: 'failed', responseStatus: null, latencyMs: null, error, nextAttemptAt: null });
      return { status: 'skipped' };
    }

    const body = JSON.stringify(eventView(event));
    const started = this.now();
    const headers = {
      ...signedHeaders(signingSecrets(endpoint, started), event.id, started, body),
      'content-type': 'application/json',
      'user-agent': 'KAIRO-Webhooks/1',
    };
    let responseStatus: number | null = null;
    let error: string | null = null;
    try {
      const response = await this.deps.fetcher.fetch(endpoint.url, { method: 'POST', headers, body, timeoutMs: DELIVERY_TIMEOUT_MS, maxBytes: MAX_RESPONSE_BYTES, signal: job.signal });
      responseStatus = response.status;
    } catch (failure) {
      // Anything but the receiver's fault (shutting down, the job's lease lost) runs the job again.
      if (!(failure instanceof FetchError)) throw failure;
      responseStatus = failure.status ?? null;
      error = failure.message.length > MAX_ERROR_LENGTH ? `${failure.message.slice(0, MAX_ERROR_LENGTH - 1)}…` : failure.message;
    }
    const finished = this.now();
    const latencyMs = Math.max(0, finished - started);
    await store.transaction((tx) => (error === null
      ? this.succeeded(tx, delivery, latencyMs, responseStatus)
      : this.failed(tx, delivery, job.payload, { responseStatus, latencyMs, error }, started, finished)));
    return { status: error === null ? 'succeeded' : 'failed' };
  }

  private async succeeded(tx: Transaction, delivery: WebhookDelivery, latencyMs: number, responseStatus: number | null): Promise<void> {
    const recorded = await tx.webhookDeliveries.finish(delivery.id, { status: 'succeeded', responseStatus, latencyMs, error: null, nextAttemptAt: null });
    if (!recorded) return;
    const endpoint = await tx.webhookEndpoints.getById(delivery.endpointId);
    if (endpoint && endpoint.failingSince !== null) await tx.webhookEndpoints.update(endpoint.scope, endpoint.id, { failingSince: null, updatedAt: endpoint.updatedAt });
  }

  /**
   * Records a failed attempt; disables the endpoint once all its deliveries have failed for its
   * mode's whole window (with a `webhook_endpoint.disabled` event), else queues the next retry.
   */
  private async failed(
    tx: Transaction, delivery: WebhookDelivery, job: DeliveryJob,
    outcome: { responseStatus: number | null; latencyMs: number; error: string }, started: number, finished: number,
  ): Promise<void> {
    const endpoint = await tx.webhookEndpoints.getById(delivery.endpointId);
    const schedule = delivery.scope.livemode ? this.deps.schedules.live : this.deps.schedules.test;
    const failingSince = endpoint?.failingSince ?? started;
    const disable = endpoint?.status === 'enabled' && finished - failingSince >= schedule.windowMs;
    const retryAt = endpoint?.status === 'enabled' && !disable && job.retries ? nextAttemptAt(schedule, delivery.attempt, job.firstAttemptAt, finished) : undefined;
    const recorded = await tx.webhookDeliveries.finish(delivery.id, { status: 'failed', ...outcome, nextAttemptAt: retryAt ?? null });
    if (!recorded || !endpoint) return;

    if (disable) {
      const disabled = await tx.webhookEndpoints.update(endpoint.scope, endpoint.id, { status: 'disabled', failingSince, updatedAt: finished });
      if (disabled) {
        await recordEvents(tx, endpoint.scope, [{ type: 'webhook_endpoint.disabled', object: webhookEndpointView(disabled), previousAttributes: { status: 'enabled' } }], finished);
      }
      return;
    }
    if (endpoint.failingSince === null) await tx.webhookEndpoints.update(endpoint.scope, endpoint.id, { failingSince, updatedAt: endpoint.updatedAt });
    if (retryAt !== undefined) {
      const attempt = (await tx.webhookDeliveries.lastAttempt(endpoint.id, delivery.eventId)) + 1;
      await queueDelivery(tx, this.deps.queue, {
        endpoint, event: { id: delivery.eventId, type: delivery.eventType }, attempt, dueAt: retryAt, now: finished, firstAttemptAt: job.firstAttemptAt, retries: true,
      });
    }
  }
}
