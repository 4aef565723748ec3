/**
 * Storage conformance for webhooks: every operation of WebhookEndpointRepo and WebhookDeliveryRepo
 * (src/store/webhook-port.ts), and the work a store runs inside transactions that write events,
 * on every backend in `storeBackends`, with real rows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { idMadeAt } from '../../src/ids.js';
import { recordEvents } from '../../src/events/events.js';
import type { Scope, Store, WebhookDelivery, WebhookEndpoint } from '../../src/store/port.js';
import { storeBackends } from '../support/services.js';
import { T0, workspace, storeWithTwoScopes } from '../support/store-fixtures.js';

function endpoint(scope: Scope, at: number, overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    id: idMadeAt('we', at), scope, url: 'https://example.com/hook', description: null, enabledEvents: ['api_key.*'], status: 'enabled',
    secret: 'whsec_a', previousSecret: null, previousSecretExpiresAt: null, failingSince: null, createdAt: at, updatedAt: at, ...overrides,
  };
}

function delivery(of: WebhookEndpoint, eventId: string, attempt: number, at: number): WebhookDelivery {
  return {
    id: idMadeAt('whdel', at), endpointId: of.id, scope: of.scope, eventId, eventType: 'api_key.created', attempt, status: 'pending',
    responseStatus: null, latencyMs: null, error: null, createdAt: at, nextAttemptAt: at, seriesStartedAt: at, retried: true,
  };
}

describe.each(storeBackends)('webhook store conformance: $name', (backend) => {
  let store: Store;
  let scope: Scope;
  let other: Scope;
  const opened = storeWithTwoScopes(backend);
  beforeAll(() => ({ store, scope, other } = opened));

  it('stores, lists, updates and deletes endpoints within their workspace and mode', async () => {
    const first = endpoint(scope, T0);
    const second = endpoint(scope, T0 + 1, { status: 'disabled', description: 'off', enabledEvents: ['*'] });
    const foreign = endpoint(other, T0 + 2);
    for (const e of [first, second, foreign]) await store.webhookEndpoints.insert(e);

    expect(await store.webhookEndpoints.get(scope, first.id)).toEqual(first);
    expect(await store.webhookEndpoints.get(other, first.id)).toBeUndefined();
    expect(await store.webhookEndpoints.get({ ...scope, livemode: true }, first.id)).toBeUndefined();
    expect(await store.webhookEndpoints.getById(foreign.id)).toEqual(foreign);
    const page = await store.webhookEndpoints.list(scope, { limit: 1 });
    expect(page).toEqual({ data: [second], hasMore: true });
    expect((await store.webhookEndpoints.list(scope, { limit: 10, after: second.id })).data).toEqual([first]);
    expect(await store.webhookEndpoints.listEnabled(scope)).toEqual([first]);

    const changed = await store.webhookEndpoints.update(scope, first.id, {
      secret: 'whsec_b', previousSecret: 'whsec_a', previousSecretExpiresAt: T0 + 2 ** 40, failingSince: T0 + 5, description: 'd', updatedAt: T0 + 9,
    });
    expect(changed).toEqual({ ...first, secret: 'whsec_b', previousSecret: 'whsec_a', previousSecretExpiresAt: T0 + 2 ** 40, failingSince: T0 + 5, description: 'd', updatedAt: T0 + 9 });
    expect(await store.webhookEndpoints.update(other, first.id, { status: 'disabled', updatedAt: T0 })).toBeUndefined();
    expect((await store.webhookEndpoints.update(scope, first.id, { failingSince: null, description: null, updatedAt: T0 + 10 }))).toMatchObject({ failingSince: null, description: null });

    await store.webhookDeliveries.insert([delivery(second, 'evt_x', 1, T0)]);
    expect(await store.webhookEndpoints.delete(other, second.id)).toBe(false);
    expect(await store.webhookEndpoints.delete(scope, second.id)).toBe(true);
    expect(await store.webhookEndpoints.get(scope, second.id)).toBeUndefined();
    expect((await store.webhookDeliveries.list(scope, second.id, {}, { limit: 10 })).data).toEqual([]);
  });

  it('records attempts once, lists them newest first per endpoint and event, and purges old ones', async () => {
    const target = endpoint(scope, T0 + 100);
    await store.webhookEndpoints.insert(target);
    const attempts = [delivery(target, 'evt_a', 1, T0 + 100), delivery(target, 'evt_b', 1, T0 + 101), delivery(target, 'evt_a', 2, T0 + 102)];
    await store.webhookDeliveries.insert(attempts);
    expect(await store.webhookDeliveries.getById(attempts[0]!.id)).toEqual(attempts[0]);
    expect(await store.webhookDeliveries.lastAttempt(target.id, 'evt_a')).toBe(2);
    expect(await store.webhookDeliveries.lastAttempt(target.id, 'evt_none')).toBe(0);

    const outcome = { status: 'failed' as const, responseStatus: 500, latencyMs: 12, error: 'HTTP 500', nextAttemptAt: T0 + 2 ** 40 };
    expect(await store.webhookDeliveries.finish(attempts[0]!.id, outcome)).toBe(true);
    expect(await store.webhookDeliveries.finish(attempts[0]!.id, { ...outcome, status: 'succeeded' })).toBe(false);
    expect(await store.webhookDeliveries.getById(attempts[0]!.id)).toEqual({ ...attempts[0], ...outcome });

    const listed = await store.webhookDeliveries.list(scope, target.id, {}, { limit: 10 });
    expect(listed.data.map((d) => d.id)).toEqual([attempts[2]!.id, attempts[1]!.id, attempts[0]!.id]);
    expect((await store.webhookDeliveries.list(scope, target.id, { eventId: 'evt_a' }, { limit: 10 })).data.map((d) => d.attempt)).toEqual([2, 1]);
    expect((await store.webhookDeliveries.list(other, target.id, {}, { limit: 10 })).data).toEqual([]);

    expect(await store.webhookDeliveries.purge(T0 + 101, 10)).toBeGreaterThanOrEqual(1);
    expect(await store.webhookDeliveries.getById(attempts[0]!.id)).toBeUndefined();
    expect(await store.webhookDeliveries.getById(attempts[1]!.id)).toBeDefined();
  });

  it('claims due attempts for one batch at a time: held from other claims until the claim ends, taken back by the same claimant', async () => {
    const target = endpoint(scope, T0 + 300);
    await store.webhookEndpoints.insert(target);
    const later = { ...delivery(target, 'evt_later', 1, T0 + 300), nextAttemptAt: T0 + 5_000 };
    const first = delivery(target, 'evt_first', 1, T0 + 301);
    const second = delivery(target, 'evt_second', 1, T0 + 302);
    const done = delivery(target, 'evt_done', 1, T0 + 303);
    await store.webhookDeliveries.insert([later, second, first, done]);
    await store.webhookDeliveries.finish(done.id, { status: 'succeeded', responseStatus: 204, latencyMs: 1, error: null, nextAttemptAt: null });
    const ids = (rows: WebhookDelivery[]) => rows.map((d) => d.id);
    const claim = (by: string, now: number, limit = 10) => store.webhookDeliveries.claimDue(target.id, { by, now, until: now + 1_000, limit });

    expect(await store.webhookDeliveries.dueEndpoints(T0 + 400, T0 + 400, 100)).toContain(target.id);
    expect(ids(await claim('job_a', T0 + 400, 1))).toEqual([first.id]);
    expect(ids(await claim('job_a', T0 + 400))).toEqual([first.id, second.id]);
    expect(await claim('job_b', T0 + 400)).toEqual([]);
    expect(await store.webhookDeliveries.dueEndpoints(T0 + 400, T0 + 400, 100)).not.toContain(target.id);

    expect(ids(await claim('job_b', T0 + 5_000))).toEqual([first.id, second.id, later.id]);
    await store.webhookDeliveries.finish(first.id, { status: 'succeeded', responseStatus: 204, latencyMs: 1, error: null, nextAttemptAt: null });
    expect(ids(await claim('job_c', T0 + 7_000))).toEqual([second.id, later.id]);
    expect(await store.webhookDeliveries.claimDue('we_none', { by: 'job_c', now: T0 + 7_000, until: T0 + 8_000, limit: 10 })).toEqual([]);
  });

  it('reads events of any workspace by id, leaving out those not kept', async () => {
    const [written] = await store.transaction((tx) => recordEvents(tx, other, [{ type: 'api_key.created', object: { id: 'key_x', object: 'api_key' } }], T0 + 400));
    expect((await store.events.getMany([written!.id, 'evt_missing'])).map((e) => e.id)).toEqual([written!.id]);
    expect(await store.events.getMany([])).toEqual([]);
  });

  it('runs the work added for written events inside their transaction, which rolls back with them', async () => {
    const seen: string[] = [];
    const target = endpoint(scope, T0 + 200);
    await store.webhookEndpoints.insert(target);
    store.onEventsWritten(async (tx, events) => {
      await tx.webhookDeliveries.insert(events.map((e, i) => delivery(target, e.id, 1, T0 + 200 + i)));
      seen.push(...events.map((e) => e.type));
    });
    await store.transaction((tx) => recordEvents(tx, scope, [{ type: 'api_key.created', object: { id: 'key_kept' } }], T0 + 200));
    await expect(store.transaction(async (tx) => {
      await recordEvents(tx, scope, [{ type: 'api_key.revoked', object: { id: 'key_lost' } }], T0 + 201);
      throw new Error('rolled back');
    })).rejects.toThrow('rolled back');
    expect(seen).toEqual(['api_key.created', 'api_key.revoked']);
    const kept = (await store.webhookDeliveries.list(scope, target.id, {}, { limit: 10 })).data;
    expect(kept).toHaveLength(1);
    expect((await store.events.get(scope, kept[0]!.eventId))?.objectId).toBe('key_kept');
  });
});
