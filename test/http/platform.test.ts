import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';

function expectErrorShape(response: { status: number; headers: Headers; body: any }, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.body?.error?.code).toBe(code);
  expect(typeof response.body.error.type).toBe('string');
  expect(typeof response.body.error.message).toBe('string');
  expect(response.body.error.request_id).toBe(response.headers.get('x-request-id'));
}

describe.each(backends)('platform API on %s', (backend) => {
  let server: TestServer;
  let ws: TestWorkspace;

  beforeAll(async () => {
    server = await startTestServer(backend);
    ws = await server.workspace('pro');
  });
  afterAll(async () => server?.close());

  it('serves status publicly with checks and uptime', async () => {
    const res = await call(server.url, 'GET', '/v1/status');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: 'status', status: 'operational', checks: { database: { status: 'ok' }, queue: { status: 'ok' }, limits: { status: 'ok' } } });
    expect(res.body.uptime.window_days).toBe(30);
    expect(res.body.uptime.percent).toBeGreaterThan(0);
    expect(res.body.uptime.percent).toBeLessThanOrEqual(100);
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-z]{26}$/);
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
  });

  it('refuses missing, malformed, unknown and revoked keys with 401', async () => {
    expectErrorShape(await call(server.url, 'GET', '/v1/workspace'), 401, 'missing_api_key');
    expectErrorShape(await call(server.url, 'GET', '/v1/workspace', { headers: { authorization: 'Basic abc' } }), 401, 'missing_api_key');
    expectErrorShape(await call(server.url, 'GET', '/v1/workspace', { key: 'sk_live_nope' }), 401, 'invalid_api_key');
    // Right shape, wrong checksum.
    expectErrorShape(await call(server.url, 'GET', '/v1/workspace', { key: `${ws.liveKey.slice(0, -1)}${ws.liveKey.endsWith('a') ? 'b' : 'a'}` }), 401, 'invalid_api_key');

    const created = await call(server.url, 'POST', '/v1/api_keys', { key: ws.liveKey, body: { name: 'to revoke' } });
    expect(created.status).toBe(201);
    expect((await call(server.url, 'GET', '/v1/workspace', { key: created.body.secret })).status).toBe(200);
    const revoked = await call(server.url, 'DELETE', `/v1/api_keys/${created.body.id}`, { key: ws.liveKey });
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    expectErrorShape(await call(server.url, 'GET', '/v1/workspace', { key: created.body.secret }), 401, 'api_key_revoked');
  });

  it('describes the workspace with plan limits and rate-limit headers', async () => {
    const res = await call(server.url, 'GET', '/v1/workspace', { key: ws.testKey });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      object: 'workspace',
      id: ws.id,
      plan: 'pro',
      livemode: false,
      limits: { requests_per_minute: 1000, burst: 2000, concurrent_runs: 25 },
      usage: { concurrent_runs: 0 },
    });
    expect(res.headers.get('x-ratelimit-limit')).toBe('2000');
    const remaining = Number(res.headers.get('x-ratelimit-remaining'));
    expect(remaining).toBeLessThan(2000);
    const next = await call(server.url, 'GET', '/v1/workspace', { key: ws.liveKey });
    expect(Number(next.headers.get('x-ratelimit-remaining'))).toBeLessThan(remaining + 1);
  });

  it('creates keys whose secret is shown once, lists them per mode, and paginates', async () => {
    const other = await server.workspace('pro');
    const names = ['k1', 'k2', 'k3'];
    const ids: string[] = [];
    for (const name of names) {
      const res = await call(server.url, 'POST', '/v1/api_keys', { key: other.testKey, body: { name } });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ object: 'api_key', name, livemode: false, status: 'active', revoked_at: null });
      expect(res.body.secret).toMatch(/^sk_test_[0-9A-Za-z]{36}$/);
      expect(res.body.last4).toBe(res.body.secret.slice(-4));
      ids.push(res.body.id);
    }
    const fetched = await call(server.url, 'GET', `/v1/api_keys/${ids[0]}`, { key: other.testKey });
    expect(fetched.status).toBe(200);
    expect(fetched.body.secret).toBeUndefined();

    // The test-mode list holds the bootstrap test key plus the three new ones; live keys are invisible.
    const all = await call(server.url, 'GET', '/v1/api_keys?limit=100', { key: other.testKey });
    expect(all.body.data).toHaveLength(4);
    expect(all.body.data.every((k: any) => k.livemode === false && k.secret === undefined)).toBe(true);
    expect(all.body.data.slice(0, 3).map((k: any) => k.id)).toEqual([...ids].reverse());

    const first = await call(server.url, 'GET', '/v1/api_keys?limit=2', { key: other.testKey });
    expect(first.body).toMatchObject({ object: 'list', has_more: true, first_id: ids[2], last_id: ids[1] });
    const second = await call(server.url, 'GET', `/v1/api_keys?limit=2&after=${first.body.last_id}`, { key: other.testKey });
    expect(second.body.data.map((k: any) => k.id)).toEqual([ids[0], all.body.data[3].id]);
    expect(second.body.has_more).toBe(false);
    const back = await call(server.url, 'GET', `/v1/api_keys?limit=2&before=${second.body.first_id}`, { key: other.testKey });
    expect(back.body.data.map((k: any) => k.id)).toEqual([ids[2], ids[1]]);

    const liveView = await call(server.url, 'GET', `/v1/api_keys/${ids[0]}`, { key: other.liveKey });
    expectErrorShape(liveView, 404, 'resource_missing');
  });

  it('validates bodies and queries strictly, naming the field', async () => {
    const unknown = await call(server.url, 'POST', '/v1/api_keys', { key: ws.liveKey, body: { name: 'x', nmae: 'typo' } });
    expectErrorShape(unknown, 400, 'parameter_unknown');
    expect(unknown.body.error.param).toBe('nmae');
    const wrongType = await call(server.url, 'POST', '/v1/api_keys', { key: ws.liveKey, body: { name: 42 } });
    expectErrorShape(wrongType, 400, 'parameter_invalid');
    expect(wrongType.body.error.param).toBe('name');
    expectErrorShape(await call(server.url, 'POST', '/v1/api_keys', { key: ws.liveKey, body: '{"name": ' }), 400, 'invalid_json');
    expectErrorShape(await call(server.url, 'POST', '/v1/api_keys', { key: ws.liveKey, body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type');
    expectErrorShape(await call(server.url, 'POST', '/v1/api_keys', { key: ws.liveKey, body: { name: 'x'.repeat(2 * 1024 * 1024) } }), 413, 'body_too_large');
    const badLimit = await call(server.url, 'GET', '/v1/api_keys?limit=0', { key: ws.liveKey });
    expectErrorShape(badLimit, 400, 'parameter_invalid');
    expect(badLimit.body.error.param).toBe('limit');
    expectErrorShape(await call(server.url, 'GET', '/v1/api_keys?colour=red', { key: ws.liveKey }), 400, 'parameter_unknown');
    expectErrorShape(await call(server.url, 'GET', '/v1/nothing-here', { key: ws.liveKey }), 404, 'route_not_found');
    expectErrorShape(await call(server.url, 'GET', '/v1/api_keys/not-an-id', { key: ws.liveKey }), 404, 'resource_missing');
    // Errors after authentication still carry the rate-limit headers.
    expect(badLimit.headers.get('x-ratelimit-remaining')).not.toBeNull();
  });

  it('replays idempotent POSTs and refuses a reused key with another body', async () => {
    const headers = { 'idempotency-key': `idem-${Date.now()}` };
    const first = await call(server.url, 'POST', '/v1/api_keys', { key: ws.liveKey, body: { name: 'once' }, headers });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await call(server.url, 'POST', '/v1/api_keys', { key: ws.liveKey, body: { name: 'once' }, headers });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const different = await call(server.url, 'POST', '/v1/api_keys', { key: ws.liveKey, body: { name: 'other' }, headers });
    expectErrorShape(different, 422, 'idempotency_key_reused');
    // The same key in the other mode is a different key space.
    const otherMode = await call(server.url, 'POST', '/v1/api_keys', { key: ws.testKey, body: { name: 'other' }, headers });
    expect(otherMode.status).toBe(201);
  });

  it('never runs concurrent duplicates twice', async () => {
    const dup = await server.workspace('pro');
    const headers = { 'idempotency-key': `race-${Date.now()}` };
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => call(server.url, 'POST', '/v1/api_keys', { key: dup.liveKey, body: { name: 'race' }, headers })),
    );
    for (const res of responses) expect([201, 409]).toContain(res.status);
    const created = new Set(responses.filter((r) => r.status === 201).map((r) => r.body.id));
    expect(created.size).toBe(1);
    const list = await call(server.url, 'GET', '/v1/api_keys?limit=100', { key: dup.liveKey });
    expect(list.body.data.filter((k: any) => k.name === 'race')).toHaveLength(1);
  });

  it('limits a free workspace to its burst, then answers 429 with Retry-After', async () => {
    const free = await server.workspace('free');
    const started = Date.now();
    let last = await call(server.url, 'GET', '/v1/workspace', { key: free.liveKey });
    expect(last.headers.get('x-ratelimit-limit')).toBe('200');
    expect(last.headers.get('x-ratelimit-remaining')).toBe('199');
    let allowed = 1;
    for (let i = 0; i < 220 && last.status === 200; i++) {
      last = await call(server.url, 'GET', '/v1/workspace', { key: i % 2 ? free.liveKey : free.testKey });
      if (last.status === 200) allowed++;
    }
    // 200 tokens, plus those refilled (100/min) while the loop ran.
    const refilled = Math.ceil(((Date.now() - started) / 60_000) * 100);
    expect(allowed).toBeGreaterThanOrEqual(200);
    expect(allowed).toBeLessThanOrEqual(200 + refilled);
    expectErrorShape(last, 429, 'rate_limited');
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(last.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(last.headers.get('x-ratelimit-reset'))).toBeGreaterThan(60);
    // Another workspace is unaffected.
    expect((await call(server.url, 'GET', '/v1/workspace', { key: ws.liveKey })).status).toBe(200);
  });

  it('reports unlimited plans in the headers', async () => {
    const enterprise = await server.workspace('enterprise');
    const res = await call(server.url, 'GET', '/v1/workspace', { key: enterprise.liveKey });
    expect(res.status).toBe(200);
    expect(res.body.limits).toEqual({ requests_per_minute: null, burst: null, concurrent_runs: null, storage_bytes: null, documents_per_source: null, concurrent_ingestion_jobs: null });
    expect(res.headers.get('x-ratelimit-limit')).toBe('unlimited');
  });

  it('publishes the OpenAPI 3.1 document and renders it at /docs', async () => {
    const doc = await call(server.url, 'GET', '/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/v1/status', '/v1/workspace', '/v1/api_keys', '/v1/api_keys/{id}']));
    expect(doc.body.paths['/v1/workspace'].get.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.body.paths['/v1/status'].get.security).toEqual([]);
    expect(doc.body.paths['/v1/api_keys'].post.operationId).toBe('api_keys.create');

    // The reference page loads Scalar's bundle and its set-up from KAIRO itself, and nothing else.
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self';");
    const html = await page.text();
    const scripts = [...html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]);
    expect(scripts).toEqual(['/docs/assets/scalar.js', '/docs/assets/reference.js']);
    expect(html).not.toMatch(/https?:\/\//);
    const setup = await fetch(`${server.url}/docs/assets/reference.js`);
    expect(setup.status).toBe(200);
    expect(await setup.text()).toContain('"url":"/v1/openapi.json","withDefaultFonts":false,"telemetry":false');
    const bundle = await fetch(`${server.url}/docs/assets/scalar.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await bundle.text()).toContain('createApiReference');
    expect((await fetch(`${server.url}/docs/static/index.html`)).status).toBe(404);
  });
});
