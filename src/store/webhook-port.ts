/** The storage port of webhooks: the endpoints a workspace registered, and each delivery attempt to them. */
import type { Page, PageRequest, Scope } from './platform-port.js';

export type WebhookEndpointStatus = 'enabled' | 'disabled';

export interface WebhookEndpoint {
  id: string;
  scope: Scope;
  url: string;
  description: string | null;
  /** Event types and wildcards (`*`, `agent.run.*`). */
  enabledEvents: string[];
  status: WebhookEndpointStatus;
  /** Signs deliveries (`whsec_…`); shown to the customer only when made. */
  secret: string;
  /** The secret before the last rotation, which also signs until `previousSecretExpiresAt`. */
  previousSecret: string | null;
  previousSecretExpiresAt: number | null;
  /** Since when every delivery attempt has failed; null while the last one succeeded. */
  failingSince: number | null;
  createdAt: number;
  updatedAt: number;
}

/** The fields a change may set (absent: unchanged). */
export type WebhookEndpointChanges = Partial<Pick<WebhookEndpoint,
  'url' | 'description' | 'enabledEvents' | 'status' | 'secret' | 'previousSecret' | 'previousSecretExpiresAt' | 'failingSince'>> & { updatedAt: number };

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** One attempt to deliver an event to an endpoint: pending until it is made. */
export interface WebhookDelivery {
  id: string;
  endpointId: string;
  scope: Scope;
  eventId: string;
  eventType: string;
  /** 1 for the first attempt of an event to an endpoint; retries and redeliveries count on. */
  attempt: number;
  status: WebhookDeliveryStatus;
  responseStatus: number | null;
  latencyMs: number | null;
  error: string | null;
  createdAt: number;
  /** When this attempt is due (pending), or when the retry after it is (failed); else null. */
  nextAttemptAt: number | null;
  /** When the first attempt of its series was due: retries stop once the window has passed since. */
  seriesStartedAt: number;
  /** False for a redelivery asked for by the API, which is not retried. */
  retried: boolean;
}

/** A batch job's hold on the attempts it sends: others leave them until `until`; the same job (run again) takes them back. */
export interface DeliveryClaim {
  by: string;
  now: number;
  until: number;
  limit: number;
}

/** What an attempt ended with. */
export type WebhookDeliveryOutcome = Pick<WebhookDelivery, 'status' | 'responseStatus' | 'latencyMs' | 'error' | 'nextAttemptAt'>;

export interface WebhookEndpointRepo {
  insert(endpoint: WebhookEndpoint): Promise<void>;
  get(scope: Scope, id: string): Promise<WebhookEndpoint | undefined>;
  /** Any workspace's endpoint (for background delivery). */
  getById(id: string): Promise<WebhookEndpoint | undefined>;
  /** Newest first. */
  list(scope: Scope, page: PageRequest): Promise<Page<WebhookEndpoint>>;
  /** The enabled endpoints of a workspace and mode (one indexed query: read with every event). */
  listEnabled(scope: Scope): Promise<WebhookEndpoint[]>;
  /** Returns the endpoint after the change; undefined when there is none in the scope. */
  update(scope: Scope, id: string, changes: WebhookEndpointChanges): Promise<WebhookEndpoint | undefined>;
  /** Deletes the endpoint and its deliveries; false when there was none. */
  delete(scope: Scope, id: string): Promise<boolean>;
}

export interface WebhookDeliveryRepo {
  insert(deliveries: WebhookDelivery[]): Promise<void>;
  getById(id: string): Promise<WebhookDelivery | undefined>;
  /** Records an attempt's outcome, only while it is pending; false when it was not (made already). */
  finish(id: string, outcome: WebhookDeliveryOutcome): Promise<boolean>;
  /** Claims up to `limit` of an endpoint's pending attempts that are due and not held by another claim, oldest due first. */
  claimDue(endpointId: string, claim: DeliveryClaim): Promise<WebhookDelivery[]>;
  /** Endpoints with pending attempts due before `before` that no claim holds at `now` (a batch job missed them). */
  dueEndpoints(before: number, now: number, limit: number): Promise<string[]>;
  /** The highest attempt number of an event to an endpoint (0 for none). */
  lastAttempt(endpointId: string, eventId: string): Promise<number>;
  /** An endpoint's attempts, newest first. */
  list(scope: Scope, endpointId: string, filter: { eventId?: string | undefined }, page: PageRequest): Promise<Page<WebhookDelivery>>;
  /** Deletes up to `limit` attempts created before `before`; returns how many. */
  purge(before: number, limit: number): Promise<number>;
}
