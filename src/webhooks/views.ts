import type { WebhookDelivery, WebhookEndpoint } from '../store/port.js';
import { toNullableTimestamp, toTimestamp } from '../timestamps.js';

/** An endpoint as the API shows it; the secret only when it was just made (create, rotate). */
export function webhookEndpointView(endpoint: WebhookEndpoint, secret?: string) {
  return {
    id: endpoint.id,
    object: 'webhook_endpoint' as const,
    url: endpoint.url,
    enabled_events: endpoint.enabledEvents,
    description: endpoint.description,
    status: endpoint.status,
    livemode: endpoint.scope.livemode,
    created_at: toTimestamp(endpoint.createdAt),
    updated_at: toTimestamp(endpoint.updatedAt),
    ...(secret !== undefined ? { secret } : {}),
  };
}

export function webhookDeliveryView(delivery: WebhookDelivery) {
  return {
    id: delivery.id,
    object: 'webhook_delivery' as const,
    endpoint_id: delivery.endpointId,
    event_id: delivery.eventId,
    event_type: delivery.eventType,
    attempt: delivery.attempt,
    status: delivery.status,
    response_status: delivery.responseStatus,
    latency_ms: delivery.latencyMs,
    error: delivery.error,
    created_at: toTimestamp(delivery.createdAt),
    next_attempt_at: toNullableTimestamp(delivery.nextAttemptAt),
  };
}
