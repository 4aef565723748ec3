import { recordEvents } from '../events/events.js';
import type { Queue } from '../queue/port.js';
import type { Transaction, WebhookDelivery } from '../store/port.js';
import { pendingAttempt, queueAttempts } from './attempts.js';
import { nextAttemptAt, type RetrySchedule } from './retry-schedule.js';
import { webhookEndpointView } from './views.js';

/** What became of one attempt: posted (with the receiver's answer or the error), or not made at all. */
export type AttemptOutcome =
  | { delivery: WebhookDelivery; sent: true; responseStatus: number | null; error: string | null; started: number; finished: number }
  | { delivery: WebhookDelivery; sent: false; error: string };

/**
 * Records a batch's outcomes in `tx`: each attempt succeeded or failed (an attempt recorded
 * already is left as it is), the endpoint's failing streak, and for each failure the retry its
 * series still has. An endpoint whose attempts have all failed for its mode's whole window is
 * disabled, with a `webhook_endpoint.disabled` event, and retries no more.
 */
export async function recordOutcomes(tx: Transaction, queue: Queue, endpointId: string, outcomes: AttemptOutcome[], schedule: RetrySchedule): Promise<void> {
  if (outcomes.length === 0) return;
  const endpoint = await tx.webhookEndpoints.getById(endpointId);
  const posted = outcomes.filter((o) => o.sent);
  const failures = posted.filter((o) => o.error !== null);
  const succeeded = posted.length > failures.length;
  // A streak starts when its first failed attempt was due, as the retry schedule counts its
  // window: the attempt due at the window's end then always finds the window passed.
  const failingSince = succeeded || failures.length === 0 ? null : (endpoint?.failingSince ?? Math.min(...failures.map((o) => o.delivery.nextAttemptAt ?? o.started)));
  const lastFailure = Math.max(0, ...failures.map((o) => o.finished));
  const disable = endpoint?.status === 'enabled' && failingSince !== null && lastFailure - failingSince >= schedule.windowMs;
  const retrying = endpoint?.status === 'enabled' && !disable;

  const retries: WebhookDelivery[] = [];
  let now = 0;
  for (const outcome of outcomes) {
    const { delivery } = outcome;
    if (!outcome.sent) {
      await tx.webhookDeliveries.finish(delivery.id, { status: 'failed', responseStatus: null, latencyMs: null, error: outcome.error, nextAttemptAt: null });
      continue;
    }
    const latencyMs = Math.max(0, outcome.finished - outcome.started);
    now = Math.max(now, outcome.finished);
    if (outcome.error === null) {
      await tx.webhookDeliveries.finish(delivery.id, { status: 'succeeded', responseStatus: outcome.responseStatus, latencyMs, error: null, nextAttemptAt: null });
      continue;
    }
    const retryAt = retrying && delivery.retried ? nextAttemptAt(schedule, delivery.attempt, delivery.seriesStartedAt, outcome.finished) : undefined;
    const recorded = await tx.webhookDeliveries.finish(delivery.id, {
      status: 'failed', responseStatus: outcome.responseStatus, latencyMs, error: outcome.error, nextAttemptAt: retryAt ?? null,
    });
    if (recorded && retryAt !== undefined && endpoint) {
      const attempt = (await tx.webhookDeliveries.lastAttempt(endpoint.id, delivery.eventId)) + 1;
      retries.push(pendingAttempt(endpoint, { id: delivery.eventId, type: delivery.eventType }, {
        attempt, dueAt: retryAt, now: outcome.finished, seriesStartedAt: delivery.seriesStartedAt, retried: true,
      }));
    }
  }
  await queueAttempts(tx, queue, retries, now);

  if (!endpoint || posted.length === 0) return;
  if (disable) {
    const disabled = await tx.webhookEndpoints.update(endpoint.scope, endpoint.id, { status: 'disabled', failingSince, updatedAt: lastFailure });
    if (disabled) {
      await recordEvents(tx, endpoint.scope, [{ type: 'webhook_endpoint.disabled', object: webhookEndpointView(disabled), previousAttributes: { status: 'enabled' } }], lastFailure);
    }
  } else if (endpoint.failingSince !== failingSince) {
    await tx.webhookEndpoints.update(endpoint.scope, endpoint.id, { failingSince, updatedAt: endpoint.updatedAt });
  }
}
