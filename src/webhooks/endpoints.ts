import { KairoError } from '../errors.js';
import { isId, newId } from '../ids.js';
import { parseEventTypes, typeMatches } from '../events/event-types.js';
import type { AddressPolicy } from '../net/address-policy.js';
import type { ResolveHost } from '../net/checked-lookup.js';
import type { Queue } from '../queue/port.js';
import type { Page, PageRequest, Scope, Store, WebhookDelivery, WebhookEndpoint, WebhookEndpointChanges, WebhookEndpointStatus } from '../store/port.js';
import { pendingAttempt, queueAttempts } from './attempts.js';
import { checkEndpointUrl } from './endpoint-url.js';
import { generateWebhookSecret } from './signing.js';

/** How long the previous secret keeps signing after a rotation, unless the request says otherwise. */
const DEFAULT_SECRET_OVERLAP_SECONDS = 24 * 60 * 60;

export interface NewWebhookEndpoint {
  url: string;
  enabledEvents: string[];
  description?: string | null | undefined;
}

export interface WebhookEndpointUpdate {
  url?: string | undefined;
  enabledEvents?: string[] | undefined;
  description?: string | null | undefined;
  status?: WebhookEndpointStatus | undefined;
}

/** An endpoint as just made or rotated: the only times its secret is shown. */
export interface EndpointWithSecret {
  endpoint: WebhookEndpoint;
  secret: string;
}

/** A workspace's webhook endpoints as the API manages them, their delivery attempts, and redelivery. */
export class WebhookEndpointService {
  constructor(
    private readonly deps: { store: Store; queue: Queue; policy: AddressPolicy; resolve: ResolveHost; now?: () => number },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async create(scope: Scope, input: NewWebhookEndpoint): Promise<EndpointWithSecret> {
    const url = await checkEndpointUrl(input.url, this.deps.policy, this.deps.resolve);
    const now = this.now();
    const endpoint: WebhookEndpoint = {
      id: newId('we'), scope, url, description: input.description ?? null, enabledEvents: checkEnabledEvents(input.enabledEvents),
      status: 'enabled', secret: generateWebhookSecret(), previousSecret: null, previousSecretExpiresAt: null, failingSince: null,
      createdAt: now, updatedAt: now,
    };
    await this.deps.store.webhookEndpoints.insert(endpoint);
    return { endpoint, secret: endpoint.secret };
  }

  list(scope: Scope, page: PageRequest): Promise<Page<WebhookEndpoint>> {
    return this.deps.store.webhookEndpoints.list(scope, page);
  }

  async get(scope: Scope, id: string, param = 'id'): Promise<WebhookEndpoint> {
    const endpoint = isId('we', id) ? await this.deps.store.webhookEndpoints.get(scope, id) : undefined;
    if (!endpoint) throw new KairoError('resource_missing', { param, message: `No such webhook endpoint: '${id}'.` });
    return endpoint;
  }

  /** Re-enabling an endpoint starts its failure window afresh. */
  async update(scope: Scope, id: string, input: WebhookEndpointUpdate): Promise<WebhookEndpoint> {
    await this.get(scope, id);
    const changes: WebhookEndpointChanges = { updatedAt: this.now() };
    if (input.url !== undefined) changes.url = await checkEndpointUrl(input.url, this.deps.policy, this.deps.resolve);
    if (input.enabledEvents !== undefined) changes.enabledEvents = checkEnabledEvents(input.enabledEvents);
    if (input.description !== undefined) changes.description = input.description;
    if (input.status !== undefined) {
      changes.status = input.status;
      if (input.status === 'enabled') changes.failingSince = null;
    }
    return this.updated(scope, id, changes);
  }

  async delete(scope: Scope, id: string): Promise<WebhookEndpoint> {
    const endpoint = await this.get(scope, id);
    if (!(await this.deps.store.webhookEndpoints.delete(scope, id))) throw missing(id);
    return endpoint;
  }

  /** A new secret; the previous one keeps signing (beside it) for `expirePreviousInSeconds` (0: stops now). */
  async rotateSecret(scope: Scope, id: string, expirePreviousInSeconds = DEFAULT_SECRET_OVERLAP_SECONDS): Promise<EndpointWithSecret> {
    const current = await this.get(scope, id);
    const now = this.now();
    const secret = generateWebhookSecret();
    const overlap = expirePreviousInSeconds > 0;
    const endpoint = await this.updated(scope, id, {
      secret,
      previousSecret: overlap ? current.secret : null,
      previousSecretExpiresAt: overlap ? now + expirePreviousInSeconds * 1000 : null,
      updatedAt: now,
    });
    return { endpoint, secret };
  }

  async deliveries(scope: Scope, id: string, filter: { eventId?: string | undefined }, page: PageRequest): Promise<Page<WebhookDelivery>> {
    await this.get(scope, id);
    return this.deps.store.webhookDeliveries.list(scope, id, filter, page);
  }

  /**
   * Queues one more attempt of an event to every enabled endpoint that wants it, or to the one
   * named (which must be enabled and want it). Such an attempt is not retried.
   */
  async redeliver(scope: Scope, eventId: string, endpointId?: string): Promise<WebhookDelivery[]> {
    const event = isId('evt', eventId) ? await this.deps.store.events.get(scope, eventId) : undefined;
    if (!event) throw new KairoError('resource_missing', { param: 'id', message: `No such event: '${eventId}'.` });
    let endpoints: WebhookEndpoint[];
    if (endpointId !== undefined) {
      const endpoint = await this.get(scope, endpointId, 'endpoint_id');
      if (endpoint.status !== 'enabled') throw new KairoError('parameter_invalid', { param: 'endpoint_id', message: `Webhook endpoint ${endpointId} is disabled; enable it first.` });
      if (!typeMatches(event.type, endpoint.enabledEvents)) {
        throw new KairoError('parameter_invalid', { param: 'endpoint_id', message: `Webhook endpoint ${endpointId} does not receive ${event.type} events.` });
      }
      endpoints = [endpoint];
    } else {
      endpoints = (await this.deps.store.webhookEndpoints.listEnabled(scope)).filter((e) => typeMatches(event.type, e.enabledEvents));
    }
    const now = this.now();
    return this.deps.store.transaction(async (tx) => {
      const queued: WebhookDelivery[] = [];
      for (const endpoint of endpoints) {
        const attempt = (await tx.webhookDeliveries.lastAttempt(endpoint.id, event.id)) + 1;
        queued.push(pendingAttempt(endpoint, event, { attempt, dueAt: now, now, seriesStartedAt: now, retried: false }));
      }
      await queueAttempts(tx, this.deps.queue, queued, now);
      return queued;
    });
  }

  private async updated(scope: Scope, id: string, changes: WebhookEndpointChanges): Promise<WebhookEndpoint> {
    const endpoint = await this.deps.store.webhookEndpoints.update(scope, id, changes);
    if (!endpoint) throw missing(id);
    return endpoint;
  }
}

const missing = (id: string) => new KairoError('resource_missing', { param: 'id', message: `No such webhook endpoint: '${id}'.` });

/** The types and wildcards an endpoint receives, each checked against the catalogue, without repeats. */
function checkEnabledEvents(names: string[]): string[] {
  if (names.length === 0) throw new KairoError('parameter_invalid', { param: 'enabled_events', message: 'enabled_events names no event type; use ["*"] for every type.' });
  for (const name of names) {
    if (name.includes(',') || name.trim() !== name) {
      throw new KairoError('parameter_invalid', { param: 'enabled_events', message: `"${name}" is not one event type; list each type as its own item.` });
    }
    parseEventTypes(name, 'enabled_events');
  }
  return [...new Set(names)];
}
