/**
 * Restricted API keys: permissions per area checked on every operation of the served OpenAPI
 * document (routes added later are covered without touching this file), no escalation through
 * key creation, and a rate limit of the key's own beside its workspace's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { permissionAreas, requiredPermission, type Permission } from '../../src/platform/permissions.js';
import { backends, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { fetchOpenApi, fillPath, operationsOf, placeholderParams, sampleValid, type Operation } from '../support/openapi.js';
import { checkInvariants, closeWireAgent, expectError, send, type WireResponse } from '../support/wire.js';

const TIMEOUT = 60_000;
const allRead = Object.fromEntries(permissionAreas.map((area) => [area, 'read']));

/** What an operation of the document needs, by its route template. */
function permissionOf(op: Operation): Permission | 'open' | undefined {
  return requiredPermission(op.method, op.path.replace(/\{([^}]+)\}/g, ':$1'));
}

function expectDenied(res: WireResponse, permission: Permission): void {
  checkInvariants(res, { rateLimited: true });
  expectError(res, 'permission_denied');
  expect(res.status, res.request).toBe(403);
  expect(res.body.error.type).toBe('permission_error');
  // KAIRO's shape leaves param out; OpenAI's, on the OpenAI-compatible routes, has it null.
  expect(res.body.error.param ?? undefined).toBeUndefined();
  expect(res.body.error.message, res.request).toContain(`${permission.area}:${permission.access}`);
}

describe.each(backends)('restricted API keys on %s', (backend) => {
  let server: TestServer;
  let ent: TestWorkspace;
  let ops: Operation[];

  const call = (method: string, path: string, key: string, body?: unknown) => send(server.url, { method, path, key, body });

  /** Creates a key with `creator` and returns the response (201 with the key, or the refusal). */
  const createKey = (creator: string, body: Record<string, unknown>) => call('POST', '/v1/api_keys', creator, body);

  async function keyWith(creator: string, body: Record<string, unknown>): Promise<string> {
    const res = await createKey(creator, body);
    expect(res.status, res.text).toBe(201);
    return res.body.secret;
  }

  /** Calls an operation with placeholder ids and, when it takes one, a valid body. */
  function callOp(op: Operation, key: string): Promise<WireResponse> {
    const body = op.method === 'GET' ? undefined : op.bodySchema ? sampleValid(op.bodySchema) ?? {} : undefined;
    return call(op.method, fillPath(op.path, placeholderParams(op)), key, body);
  }

  beforeAll(async () => {
    server = await startTestServer(backend);
    ent = await server.workspace('enterprise');
    ops = operationsOf(await fetchOpenApi(server.url)).filter((op) => op.secured);
  });

  afterAll(async () => {
    closeWireAgent();
    await server?.close();
  });

  it('shows each key\'s type, permissions and rate limit; missing areas are none', async () => {
    const created = await createKey(ent.testKey, { name: 'reporting', permissions: { analytics: 'read', agents: 'write' }, rate_limit_per_minute: 30 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      object: 'api_key',
      type: 'restricted',
      rate_limit_per_minute: 30,
      permissions: { agents: 'write', workflows: 'none', context: 'none', analytics: 'read', events: 'none', webhooks: 'none', budgets: 'none', api_keys: 'none' },
    });
    const fetched = await call('GET', `/v1/api_keys/${created.body.id}`, ent.testKey);
    expect(fetched.body).toEqual({ ...created.body, secret: undefined, last_used_at: fetched.body.last_used_at });

    const standard = await createKey(ent.testKey, { name: 'standard', permissions: null });
    expect(standard.body).toMatchObject({ type: 'standard', permissions: null, rate_limit_per_minute: null });
  });

  it('every operation with an all-read key: writes answer 403 naming the permission, reads are let through', async () => {
    const readKey = await keyWith(ent.testKey, { permissions: allRead });
    let writes = 0;
    for (const op of ops) {
      const permission = permissionOf(op);
      expect(permission, `${op.name} has no permission`).toBeDefined();
      const res = await callOp(op, readKey);
      checkInvariants(res, { rateLimited: true });
      if (permission !== 'open' && permission!.access === 'write') {
        expect(op.method, op.name).not.toBe('GET');
        expectDenied(res, permission!);
        writes++;
      } else {
        expect(res.status, `${op.name}: ${res.text}`).not.toBe(403);
      }
    }
    expect(writes).toBeGreaterThan(10);
    // The one POST that only reads.
    const query = await call('POST', '/v1/context/query', readKey, { query: 'anything' });
    expect(query.status, query.text).not.toBe(403);
  }, TIMEOUT);

  it('every operation with an all-none key: 403 except the open routes', async () => {
    const noneKey = await keyWith(ent.testKey, { permissions: {} });
    let open = 0;
    for (const op of ops) {
      const permission = permissionOf(op);
      const res = await callOp(op, noneKey);
      if (permission === 'open') {
        open++;
        checkInvariants(res, { rateLimited: true });
        expect(res.status, `${op.name}: ${res.text}`).toBeLessThan(300);
      } else {
        expectDenied(res, permission!);
      }
    }
    expect(open).toBeGreaterThanOrEqual(2); // GET /v1/workspace, GET /v1/models
    const denied = await call('POST', '/v1/agents', noneKey, {});
    expect(denied.body.error.message).toBe('This API key cannot write agents: it needs the agents:write permission.');
  }, TIMEOUT);

  it('a read-only key lists every area and cannot create in any', async () => {
    const readKey = await keyWith(ent.testKey, { permissions: allRead });
    for (const path of ['/v1/agents', '/v1/workflows', '/v1/context/sources', '/v1/analytics/usage', '/v1/requests', '/v1/events', '/v1/api_keys']) {
      const res = await call('GET', path, readKey);
      expect(res.status, `${path}: ${res.text}`).toBe(200);
    }
    const cases: Array<[string, Permission]> = [
      ['/v1/agents', { area: 'agents', access: 'write' }],
      ['/v1/workflows', { area: 'workflows', access: 'write' }],
      ['/v1/context/sources', { area: 'context', access: 'write' }],
      ['/v1/api_keys', { area: 'api_keys', access: 'write' }],
    ];
    for (const [path, permission] of cases) expectDenied(await call('POST', path, readKey, { name: 'x' }), permission);
  });

  it('keys cannot grant more than their own permissions or a looser rate limit', async () => {
    // No api_keys:write: cannot create keys at all.
    const readKey = await keyWith(ent.testKey, { permissions: allRead });
    expectDenied(await createKey(readKey, { permissions: {} }), { area: 'api_keys', access: 'write' });

    const manager = await keyWith(ent.testKey, { permissions: { agents: 'read', api_keys: 'write' }, rate_limit_per_minute: 50 });
    for (const body of [
      { permissions: { agents: 'write' }, rate_limit_per_minute: 10 },
      { permissions: { events: 'read' }, rate_limit_per_minute: 10 },
      { rate_limit_per_minute: 10 }, // a standard key
      { permissions: null, rate_limit_per_minute: 10 },
      { permissions: { agents: 'read' } }, // no rate limit
      { permissions: { agents: 'read' }, rate_limit_per_minute: 51 },
    ]) {
      const res = await createKey(manager, body);
      checkInvariants(res, { rateLimited: true });
      expectError(res, 'permission_denied');
    }
    const lesser = await createKey(manager, { permissions: { agents: 'read' }, rate_limit_per_minute: 50 });
    expect(lesser.status, lesser.text).toBe(201);
    expect(lesser.body.permissions.agents).toBe('read');
    const same = await createKey(manager, { permissions: { agents: 'read', api_keys: 'write' }, rate_limit_per_minute: 5 });
    expect(same.status, same.text).toBe(201);
  });

  it('validates permissions and the rate limit, which must be within the plan', async () => {
    const free = await server.workspace('free');
    for (const [body, param] of [
      [{ rate_limit_per_minute: 101 }, 'rate_limit_per_minute'],
      [{ rate_limit_per_minute: 0 }, 'rate_limit_per_minute'],
      [{ rate_limit_per_minute: 2.5 }, 'rate_limit_per_minute'],
      [{ permissions: { agents: 'admin' } }, 'permissions.agents'],
      [{ permissions: { everything: 'read' } }, 'permissions.everything'],
      [{ permissions: 'read' }, 'permissions'],
    ] as const) {
      const res = await createKey(free.testKey, body);
      checkInvariants(res, { rateLimited: true });
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.param, res.text).toBe(param);
    }
    expect((await createKey(free.testKey, { rate_limit_per_minute: 100 })).status).toBe(201);
    // Enterprise has no per-minute limit to stay under.
    expect((await createKey(ent.testKey, { rate_limit_per_minute: 1_000_000 })).status).toBe(201);
  });

  it('a key limited to 3 requests a minute gets 429 on the 4th while another key of its workspace goes on', async () => {
    // The free plan's bucket refills a token every 0.6 s, so two calls in a row see it unchanged by time.
    const free = await server.workspace('free');
    const limited = await keyWith(free.testKey, { rate_limit_per_minute: 3 });
    for (let i = 0; i < 3; i++) {
      const res = await call('GET', '/v1/workspace', limited);
      expect(res.status, res.text).toBe(200);
      // The key's bucket has fewer tokens left than the workspace's, so the headers show it.
      expect(res.headers.get('x-ratelimit-limit')).toBe('3');
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(2 - i));
    }
    const before = await call('GET', '/v1/workspace', free.testKey);
    expect(before.headers.get('x-ratelimit-limit')).toBe('200');
    const refused = await call('GET', '/v1/workspace', limited);
    const after = await call('GET', '/v1/workspace', free.testKey);
    checkInvariants(refused, { rateLimited: true });
    expectError(refused, 'rate_limited');
    expect(refused.status).toBe(429);
    expect(refused.body.error.message).toContain('this API key, 3 requests per minute');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // The refused request took no token from the workspace: only the call after it did.
    expect(after.status).toBe(200);
    expect(Number(after.headers.get('x-ratelimit-remaining'))).toBe(Number(before.headers.get('x-ratelimit-remaining')) - 1);

    // On an unlimited plan the key's own bucket is the only one.
    const entLimited = await keyWith(ent.testKey, { rate_limit_per_minute: 2 });
    const first = await call('GET', '/v1/workspace', entLimited);
    expect(first.headers.get('x-ratelimit-limit')).toBe('2');
    expect(first.headers.get('x-ratelimit-remaining')).toBe('1');
  });
});
