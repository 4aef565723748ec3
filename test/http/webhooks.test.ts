import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { recordEvents } from '../../src/events/events.js';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { waitFor } from '../support/site.js';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../support/webhook-receiver.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Webhooks through the real server: events are posted to a loopback receiver, signed so that
 * `standardwebhooks` verifies them, filtered by type, retried on the test-mode schedule (compressed
 * 200 times: 25 ms, 75 ms, 300 ms, … within 3 s), redelivered on request, signed by both secrets
 * while a rotation overlaps, and never sent for a change that rolled back; an endpoint that only
 * fails is disabled with an event, and private addresses are refused without the allow-list.
 */
describe.each(backends)('webhooks (%s)', (backend) => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  let ws: TestWorkspace;
  const api = (method: string, path: string, body?: unknown, key = ws.testKey) => call(server.url, method, path, { key, body });
  let paths = 0;

  /** A fresh workspace with one endpoint at a path of its own. */
  async function endpoint(enabledEvents: string[] = ['*']) {
    ws = await server.workspace('pro');
    const path = `/hook-${++paths}`;
    const created = await api('POST', '/v1/webhook_endpoints', { url: receiver.url + path, enabled_events: enabledEvents, description: 'test' });
    expect(created.status).toBe(201);
    return { path, id: created.body.id as string, secret: created.body.secret as string };
  }
  const verify = (secret: string, delivery: ReceivedWebhook) => new Webhook(secret).verify(delivery.body, delivery.headers);
  const createKey = async () => (await api('POST', '/v1/api_keys', { name: 'hooked' })).body.id as string;
  const eventOf = async (objectId: string, type: string) => (await api('GET', `/v1/events?object_id=${objectId}&type=${type}`)).body.data[0];

  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    server = await startTestServer(backend, { outboundAllowCidrs: '127.0.0.0/8', webhookRetrySpeedup: 200 });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('delivers an event as GET /v1/events shows it, signed, with its id as webhook-id; the secret is shown once', async () => {
    const hook = await endpoint();
    expect(hook.id).toMatch(/^we_[0-9a-z]{26}$/);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const read = await api('GET', `/v1/webhook_endpoints/${hook.id}`);
    expect(read.body).toMatchObject({ object: 'webhook_endpoint', url: receiver.url + hook.path, enabled_events: ['*'], status: 'enabled', livemode: false, description: 'test' });
    expect(read.body).not.toHaveProperty('secret');
    expect((await api('GET', '/v1/webhook_endpoints')).body.data.map((e: any) => e.id)).toEqual([hook.id]);

    const keyId = await createKey();
    const [delivery] = (await waitFor(async () => receiver.received(hook.path), (r) => r.length > 0));
    const event = await eventOf(keyId, 'api_key.created');
    expect(JSON.parse(delivery!.body)).toEqual(event);
    expect(verify(hook.secret, delivery!)).toEqual(event);
    expect(delivery!.headers).toMatchObject({ 'webhook-id': event.id, 'content-type': 'application/json', 'user-agent': 'KAIRO-Webhooks/1' });
    expect(Math.abs(Number(delivery!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);

    const attempts = await waitFor(() => api('GET', `/v1/webhook_endpoints/${hook.id}/deliveries`), (r) => r.body.data[0]?.status === 'succeeded');
    expect(attempts.body.data).toHaveLength(1);
    expect(attempts.body.data[0]).toMatchObject({
      object: 'webhook_delivery', event_id: event.id, event_type: 'api_key.created', attempt: 1, status: 'succeeded', response_status: 200, error: null, next_attempt_at: null,
    });
    expect(attempts.body.data[0].id).toMatch(/^whdel_/);
    expect(attempts.body.data[0].latency_ms).toBeGreaterThanOrEqual(0);
  });

  it('delivers only the types an endpoint enables, wildcards included, and refuses unknown types', async () => {
    const revokedOnly = await endpoint(['api_key.revoked']);
    const path2 = `/hook-${++paths}`;
    const contextOnly = await api('POST', '/v1/webhook_endpoints', { url: receiver.url + path2, enabled_events: ['context.*'] });
    const path3 = `/hook-${++paths}`;
    const keys = await api('POST', '/v1/webhook_endpoints', { url: receiver.url + path3, enabled_events: ['api_key.*'] });
    expect([contextOnly.status, keys.status]).toEqual([201, 201]);
    const keyId = await createKey();
    await api('DELETE', `/v1/api_keys/${keyId}`);
    await waitFor(async () => receiver.received(path3), (r) => r.length === 2);
    await waitFor(async () => receiver.received(revokedOnly.path), (r) => r.length === 1);
    await sleep(200);
    expect(receiver.received(revokedOnly.path).map((d) => JSON.parse(d.body).type)).toEqual(['api_key.revoked']);
    expect(new Set(receiver.received(path3).map((d) => JSON.parse(d.body).type))).toEqual(new Set(['api_key.created', 'api_key.revoked']));
    expect(receiver.received(path2)).toEqual([]);

    for (const enabled of [['api_key.deleted'], ['nothing.*'], [], ['api_key.created,api_key.revoked']]) {
      const refused = await api('POST', '/v1/webhook_endpoints', { url: receiver.url, enabled_events: enabled });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ type: 'invalid_request_error', param: 'enabled_events' });
    }
  });

  it('retries a failed delivery on its own schedule with the same webhook-id, then never again, and lists each attempt', async () => {
    const hook = await endpoint(['api_key.created']);
    receiver.answer(hook.path, (n) => (n === 0 ? 500 : 200));
    const keyId = await createKey();
    const event = await eventOf(keyId, 'api_key.created');
    await waitFor(async () => receiver.received(hook.path), (r) => r.length === 2);
    await sleep(1_000);
    const received = receiver.received(hook.path);
    expect(received).toHaveLength(2);
    expect(received.map((d) => d.headers['webhook-id'])).toEqual([event.id, event.id]);
    for (const delivery of received) expect(verify(hook.secret, delivery)).toEqual(event);

    const attempts = (await api('GET', `/v1/webhook_endpoints/${hook.id}/deliveries?event_id=${event.id}`)).body.data;
    expect(attempts.map((a: any) => [a.attempt, a.status, a.response_status])).toEqual([[2, 'succeeded', 200], [1, 'failed', 500]]);
    expect(attempts[1].error).toContain('500');
    expect(Date.parse(attempts[1].next_attempt_at)).toBeGreaterThan(Date.parse(attempts[1].created_at));
    expect(attempts[0].next_attempt_at).toBeNull();
    expect((await api('GET', `/v1/webhook_endpoints/${hook.id}/deliveries?limit=1`)).body).toMatchObject({ has_more: true, data: [{ attempt: 2 }] });
  });

  it('redelivers an event on request to the endpoints that want it, or to the one named', async () => {
    const hook = await endpoint(['api_key.created']);
    const other = await api('POST', '/v1/webhook_endpoints', { url: `${receiver.url}/elsewhere`, enabled_events: ['context.*'] });
    const keyId = await createKey();
    const event = await eventOf(keyId, 'api_key.created');
    await waitFor(async () => receiver.received(hook.path), (r) => r.length === 1);

    const again = await api('POST', `/v1/events/${event.id}/redeliver`, { endpoint_id: hook.id });
    expect(again.status).toBe(202);
    expect(again.body.data).toMatchObject([{ endpoint_id: hook.id, event_id: event.id, attempt: 2, status: 'pending' }]);
    const all = await api('POST', `/v1/events/${event.id}/redeliver`);
    expect(all.body.data.map((d: any) => [d.endpoint_id, d.attempt])).toEqual([[hook.id, 3]]);
    const received = await waitFor(async () => receiver.received(hook.path), (r) => r.length === 3);
    expect(received.map((d) => d.headers['webhook-id'])).toEqual([event.id, event.id, event.id]);

    const refused = await api('POST', `/v1/events/${event.id}/redeliver`, { endpoint_id: other.body.id });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'parameter_invalid', param: 'endpoint_id' });
    const unknown = await api('POST', `/v1/events/${event.id}/redeliver`, { endpoint_id: 'we_nope' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatchObject({ code: 'resource_missing', param: 'endpoint_id' });
    expect((await api('POST', '/v1/events/evt_nope/redeliver')).status).toBe(404);
  });

  it('signs with both secrets while a rotation overlaps, and with the new one only once the old expired', async () => {
    const hook = await endpoint(['api_key.created']);
    const rotated = await api('POST', `/v1/webhook_endpoints/${hook.id}/rotate_secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(hook.secret);
    await createKey();
    const [during] = await waitFor(async () => receiver.received(hook.path), (r) => r.length === 1);
    expect(during!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verify(hook.secret, during!)).toBeTruthy();
    expect(verify(rotated.body.secret, during!)).toBeTruthy();

    const expired = await api('POST', `/v1/webhook_endpoints/${hook.id}/rotate_secret`, { expire_previous_in_seconds: 0 });
    await createKey();
    const after = (await waitFor(async () => receiver.received(hook.path), (r) => r.length === 2))[1]!;
    expect(after.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(verify(expired.body.secret, after)).toBeTruthy();
    expect(() => verify(rotated.body.secret, after)).toThrow();
    expect(() => verify(hook.secret, after)).toThrow();
  });

  it('refuses URLs that are not http(s) or reach private addresses, and PATCHes an endpoint', async () => {
    const hook = await endpoint();
    for (const url of ['ftp://example.com/hook', 'http://10.0.0.1/hook', 'http://192.168.1.20/hook', 'http://169.254.169.254/latest', 'http://[::1]:8080/hook', 'http://user:pw@93.184.215.14/']) {
      const refused = await api('POST', '/v1/webhook_endpoints', { url, enabled_events: ['*'] });
      expect(refused.status, url).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'parameter_invalid', param: 'url' });
      expect((await api('PATCH', `/v1/webhook_endpoints/${hook.id}`, { url })).status).toBe(400);
    }
    const patched = await api('PATCH', `/v1/webhook_endpoints/${hook.id}`, { enabled_events: ['api_key.revoked'], description: null });
    expect(patched.body).toMatchObject({ enabled_events: ['api_key.revoked'], description: null, status: 'enabled' });
    expect(patched.body).not.toHaveProperty('secret');
    const deleted = await api('DELETE', `/v1/webhook_endpoints/${hook.id}`);
    expect(deleted.body).toEqual({ object: 'webhook_endpoint', id: hook.id, deleted: true });
    expect((await api('GET', `/v1/webhook_endpoints/${hook.id}`)).status).toBe(404);
    expect((await api('GET', `/v1/webhook_endpoints/${hook.id}/deliveries`)).status).toBe(404);

    if (backend !== 'sqlite') return;
    const strict = await startTestServer('sqlite');
    try {
      const own = await strict.workspace('pro');
      const refused = await call(strict.url, 'POST', '/v1/webhook_endpoints', { key: own.testKey, body: { url: `${receiver.url}/hook`, enabled_events: ['*'] } });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'parameter_invalid', param: 'url' });
      expect((await call(strict.url, 'POST', '/v1/webhook_endpoints', { key: own.testKey, body: { url: 'https://93.184.215.14/hook', enabled_events: ['*'] } })).status).toBe(201);
    } finally {
      await strict.close();
    }
  });

  it('sends nothing to a disabled endpoint, nor for a change that rolled back', async () => {
    const hook = await endpoint();
    const disabled = await api('PATCH', `/v1/webhook_endpoints/${hook.id}`, { status: 'disabled' });
    expect(disabled.body.status).toBe('disabled');
    await createKey();
    await sleep(300);
    expect(receiver.received(hook.path)).toEqual([]);
    await api('PATCH', `/v1/webhook_endpoints/${hook.id}`, { status: 'enabled' });

    const scope = { workspaceId: ws.id, livemode: false };
    const object = { id: 'key_rolledback', object: 'api_key' };
    await expect(server.kairo.store.transaction(async (tx) => {
      await recordEvents(tx, scope, [{ type: 'api_key.created', object }]);
      throw new Error('the change fails');
    })).rejects.toThrow('the change fails');
    await server.kairo.store.transaction((tx) => recordEvents(tx, scope, [{ type: 'api_key.revoked', object: { id: 'key_committed' } }]));
    const received = await waitFor(async () => receiver.received(hook.path), (r) => r.length > 0);
    await sleep(200);
    expect(received.map((d) => JSON.parse(d.body).data.object.id)).toEqual(['key_committed']);
  });

  it('disables an endpoint whose deliveries all failed for the window, with a webhook_endpoint.disabled event', async () => {
    const hook = await endpoint(['api_key.created']);
    receiver.answer(hook.path, () => 503);
    const watcher = `/hook-${++paths}`;
    await api('POST', '/v1/webhook_endpoints', { url: receiver.url + watcher, enabled_events: ['webhook_endpoint.disabled'] });
    await createKey();
    const read = await waitFor(() => api('GET', `/v1/webhook_endpoints/${hook.id}`), (r) => r.body.status === 'disabled', 20_000, 100);
    expect(read.body.status).toBe('disabled');
    const events = (await api('GET', `/v1/events?type=webhook_endpoint.disabled&object_id=${hook.id}`)).body.data;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ data: { object: { id: hook.id, object: 'webhook_endpoint', status: 'disabled' }, previous_attributes: { status: 'enabled' } } });
    expect(JSON.stringify(events[0])).not.toContain(hook.secret);
    const [notice] = await waitFor(async () => receiver.received(watcher), (r) => r.length === 1);
    expect(JSON.parse(notice!.body).id).toBe(events[0].id);

    const attempts = (await api('GET', `/v1/webhook_endpoints/${hook.id}/deliveries?limit=100`)).body.data;
    expect(attempts.length).toBeGreaterThanOrEqual(5);
    expect(attempts.every((a: any) => a.status === 'failed' && a.response_status === 503)).toBe(true);
    expect(attempts[0].next_attempt_at).toBeNull();
    const count = receiver.received(hook.path).length;
    await sleep(500);
    expect(receiver.received(hook.path)).toHaveLength(count);
  });
});
