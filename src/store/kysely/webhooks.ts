import type { ExpressionBuilder, Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type {
  DeliveryClaim, Page, PageRequest, Scope, WebhookDelivery, WebhookDeliveryOutcome, WebhookDeliveryRepo, WebhookDeliveryStatus, WebhookEndpoint,
  WebhookEndpointChanges, WebhookEndpointRepo, WebhookEndpointStatus,
} from '../port.js';
import { mode, num, scopeOf } from './column-values.js';
import { paginate } from './pagination.js';
import { BulkInsert } from './bulk-insert.js';
import { preparedQuery } from './prepared-query.js';

type EndpointRow = Database['webhook_endpoints'];
type DeliveryRow = Database['webhook_deliveries'];

const toEndpoint = (row: EndpointRow): WebhookEndpoint => ({
  id: row.id,
  scope: scopeOf(row),
  url: row.url,
  description: row.description,
  enabledEvents: JSON.parse(row.enabled_events) as string[],
  status: row.status as WebhookEndpointStatus,
  secret: row.secret,
  previousSecret: row.previous_secret,
  previousSecretExpiresAt: num(row.previous_secret_expires_at),
  failingSince: num(row.failing_since),
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

const toDelivery = (row: DeliveryRow): WebhookDelivery => ({
  id: row.id,
  endpointId: row.endpoint_id,
  scope: scopeOf(row),
  eventId: row.event_id,
  eventType: row.event_type,
  attempt: Number(row.attempt),
  status: row.status as WebhookDeliveryStatus,
  responseStatus: num(row.response_status),
  latencyMs: num(row.latency_ms),
  error: row.error,
  createdAt: Number(row.created_at),
  nextAttemptAt: num(row.next_attempt_at),
  seriesStartedAt: Number(row.series_started_at ?? row.created_at),
  retried: row.retried === null || Number(row.retried) === 1,
});

/** Read in every transaction that writes events (each event is matched against them). */
const enabledEndpoints = preparedQuery((db, p: { workspaceId: string; livemode: number; status: string }) =>
  db.selectFrom('webhook_endpoints').selectAll().where('workspace_id', '=', p.workspaceId).where('livemode', '=', p.livemode).where('status', '=', p.status).orderBy('id'));

const endpointById = preparedQuery((db, p: { id: string }) => db.selectFrom('webhook_endpoints').selectAll().where('id', '=', p.id));

const DELIVERY_COLUMNS = [
  'id', 'endpoint_id', 'workspace_id', 'livemode', 'event_id', 'event_type', 'attempt', 'status', 'response_status', 'latency_ms',
  'error', 'created_at', 'next_attempt_at', 'series_started_at', 'retried', 'claimed_by', 'claimed_until',
] as const satisfies ReadonlyArray<keyof DeliveryRow>;

/** The statements of every delivery: its attempt queued with its event, claimed by a batch, and its outcome. */
const deliveryStatements = {
  insert: new BulkInsert('webhook_deliveries', DELIVERY_COLUMNS),
  claimDue: preparedQuery((db, p: { endpointId: string; now: number; by: string; until: number; limit: number }) => {
    const free = (eb: ExpressionBuilder<Database, 'webhook_deliveries'>) =>
      eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', p.now), eb('claimed_by', '=', p.by)]);
    const due = db.selectFrom('webhook_deliveries').select('id')
      .where('status', '=', 'pending').where('endpoint_id', '=', p.endpointId).where('next_attempt_at', '<=', p.now).where(free)
      .orderBy('next_attempt_at').limit(p.limit);
    // The conditions are checked again on the row itself, so two claims racing on PostgreSQL cannot both take it.
    return db.updateTable('webhook_deliveries').set({ claimed_by: p.by, claimed_until: p.until })
      .where('id', 'in', due).where('status', '=', 'pending').where(free)
      .returningAll();
  }),
  finish: preparedQuery((db, p: { id: string; status: string; responseStatus: number | null; latencyMs: number | null; error: string | null; nextAttemptAt: number | null }) =>
    db.updateTable('webhook_deliveries')
      .set({ status: p.status, response_status: p.responseStatus, latency_ms: p.latencyMs, error: p.error, next_attempt_at: p.nextAttemptAt })
      .where('id', '=', p.id).where('status', '=', 'pending')),
};

export class KyselyWebhookEndpointRepo implements WebhookEndpointRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(e: WebhookEndpoint) {
    await this.db.insertInto('webhook_endpoints').values({
      id: e.id, workspace_id: e.scope.workspaceId, livemode: mode(e.scope.livemode), url: e.url, description: e.description,
      enabled_events: JSON.stringify(e.enabledEvents), status: e.status, secret: e.secret, previous_secret: e.previousSecret,
      previous_secret_expires_at: e.previousSecretExpiresAt, failing_since: e.failingSince, created_at: e.createdAt, updated_at: e.updatedAt,
    }).execute();
  }

  async get(scope: Scope, id: string) {
    const row = await this.scoped(scope).where('id', '=', id).executeTakeFirst();
    return row ? toEndpoint(row) : undefined;
  }

  async getById(id: string) {
    const row = await endpointById.first(this.db, { id });
    return row ? toEndpoint(row) : undefined;
  }

  async list(scope: Scope, page: PageRequest): Promise<Page<WebhookEndpoint>> {
    const result = await paginate(this.scoped(scope), page);
    return { data: result.data.map(toEndpoint), hasMore: result.hasMore };
  }

  async listEnabled(scope: Scope) {
    const rows = await enabledEndpoints.rows(this.db, { workspaceId: scope.workspaceId, livemode: mode(scope.livemode), status: 'enabled' });
    return rows.map(toEndpoint);
  }

  async update(scope: Scope, id: string, changes: WebhookEndpointChanges) {
    const values: Partial<EndpointRow> = { updated_at: changes.updatedAt };
    if (changes.url !== undefined) values.url = changes.url;
    if (changes.description !== undefined) values.description = changes.description;
    if (changes.enabledEvents !== undefined) values.enabled_events = JSON.stringify(changes.enabledEvents);
    if (changes.status !== undefined) values.status = changes.status;
    if (changes.secret !== undefined) values.secret = changes.secret;
    if (changes.previousSecret !== undefined) values.previous_secret = changes.previousSecret;
    if (changes.previousSecretExpiresAt !== undefined) values.previous_secret_expires_at = changes.previousSecretExpiresAt;
    if (changes.failingSince !== undefined) values.failing_since = changes.failingSince;
    const result = await this.db.updateTable('webhook_endpoints').set(values)
      .where('id', '=', id).where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 0 ? undefined : this.get(scope, id);
  }

  async delete(scope: Scope, id: string) {
    const result = await this.db.deleteFrom('webhook_endpoints')
      .where('id', '=', id).where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode))
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) return false;
    await this.db.deleteFrom('webhook_deliveries').where('endpoint_id', '=', id).execute();
    return true;
  }

  private scoped(scope: Scope) {
    return this.db.selectFrom('webhook_endpoints').selectAll().where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode));
  }
}

export class KyselyWebhookDeliveryRepo implements WebhookDeliveryRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(deliveries: WebhookDelivery[]) {
    await deliveryStatements.insert.run(this.db, deliveries.map((d) => ({
      id: d.id, endpoint_id: d.endpointId, workspace_id: d.scope.workspaceId, livemode: mode(d.scope.livemode), event_id: d.eventId,
      event_type: d.eventType, attempt: d.attempt, status: d.status, response_status: d.responseStatus, latency_ms: d.latencyMs,
      error: d.error, created_at: d.createdAt, next_attempt_at: d.nextAttemptAt, series_started_at: d.seriesStartedAt, retried: d.retried ? 1 : 0,
      claimed_by: null, claimed_until: null,
    })));
  }

  async claimDue(endpointId: string, claim: DeliveryClaim) {
    const rows = await deliveryStatements.claimDue.rows(this.db, { endpointId, now: claim.now, by: claim.by, until: claim.until, limit: claim.limit });
    return rows.map(toDelivery).sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0));
  }

  async dueEndpoints(before: number, now: number, limit: number) {
    const rows = await this.db.selectFrom('webhook_deliveries').select('endpoint_id').distinct()
      .where('status', '=', 'pending').where('next_attempt_at', '<', before)
      .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<=', now)]))
      .limit(limit).execute();
    return rows.map((row) => row.endpoint_id);
  }

  async getById(id: string) {
    const row = await this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toDelivery(row) : undefined;
  }

  async finish(id: string, outcome: WebhookDeliveryOutcome) {
    return (await deliveryStatements.finish.affectedRows(this.db, { id, ...outcome })) > 0;
  }

  async lastAttempt(endpointId: string, eventId: string) {
    const row = await this.db.selectFrom('webhook_deliveries').select((eb) => eb.fn.max('attempt').as('attempt'))
      .where('endpoint_id', '=', endpointId).where('event_id', '=', eventId).executeTakeFirst();
    return Number(row?.attempt ?? 0);
  }

  async list(scope: Scope, endpointId: string, filter: { eventId?: string | undefined }, page: PageRequest): Promise<Page<WebhookDelivery>> {
    let query = this.db.selectFrom('webhook_deliveries').selectAll()
      .where('endpoint_id', '=', endpointId).where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode));
    if (filter.eventId !== undefined) query = query.where('event_id', '=', filter.eventId);
    const result = await paginate(query, page);
    return { data: result.data.map(toDelivery), hasMore: result.hasMore };
  }

  async purge(before: number, limit: number) {
    const old = this.db.selectFrom('webhook_deliveries').select('id').where('created_at', '<', before).orderBy('created_at').limit(limit);
    const result = await this.db.deleteFrom('webhook_deliveries').where('id', 'in', old).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
