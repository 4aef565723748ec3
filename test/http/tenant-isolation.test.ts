/**
 * Tenant and mode isolation for every operation in the served OpenAPI document, on both backends:
 * an object made by workspace A with a live key is invisible to workspace B and to A's test key
 * (docs/api.md: test keys see only test-mode objects, live keys only live ones), on every method
 * of its path, and none of those calls change it.
 *
 * A new route with a path parameter fails this suite until `factories` says how to make an object
 * for it: add one entry per object type.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import {
  fetchOpenApi, fillPath, isListResponse, operationsOf, sampleValid, templateParams, type Operation,
} from '../support/openapi.js';
import { checkInvariants, closeWireAgent, expectError, expectStatus, send, type WireRequest, type WireResponse } from '../support/wire.js';
import { waitFor } from '../support/site.js';

type Api = (req: WireRequest) => Promise<WireResponse>;

interface ObjectFactory {
  /** The path template of one object; operations on it and below it use this factory. */
  path: string;
  /** Creates one object with `key` and returns the values of the path parameters of `path`. */
  create(api: Api, key: string): Promise<Record<string, string>>;
  /** The path template to GET the object back (default: `path`), e.g. the parent of an action-only path. */
  read?: string;
  /** Bodies for operations whose schema-valid sample would be refused for another reason, by `METHOD /template`. */
  bodies?: Record<string, unknown>;
}

/** How to create each object type that has routes with a path parameter. */
const factories: ObjectFactory[] = [
  {
    path: '/v1/events/{id}',
    async create(api, key) {
      const res = await api({ method: 'POST', path: '/v1/api_keys', key, body: { name: 'isolation probe' } });
      expectStatus(res, 201);
      const events = await api({ method: 'GET', path: `/v1/events?object_id=${res.body.id}`, key });
      expectStatus(events, 200);
      return { id: events.body.data[0].id };
    },
  },
  {
    path: '/v1/webhook_endpoints/{id}',
    async create(api, key) {
      // A public address literal: accepted without resolving a name; nothing is delivered to it here.
      const res = await api({ method: 'POST', path: '/v1/webhook_endpoints', key, body: { url: 'https://93.184.215.14/isolation-probe', enabled_events: ['context.source.refreshed'] } });
      expectStatus(res, 201);
      return { id: res.body.id };
    },
  },
  {
    path: '/v1/budgets/{id}',
    async create(api, key) {
      // For an agent that never runs, so that other objects' runs leave its usage as it was.
      const agent = await api({ method: 'POST', path: '/v1/agents', key, body: { name: 'isolation probe' } });
      expectStatus(agent, 201);
      const res = await api({ method: 'POST', path: '/v1/budgets', key, body: { scope: { type: 'agent', id: agent.body.id }, period: 'month', limit_usd: 1000 } });
      expectStatus(res, 201);
      return { id: res.body.id };
    },
  },
  {
    path: '/v1/api_keys/{id}',
    async create(api, key) {
      const res = await api({ method: 'POST', path: '/v1/api_keys', key, body: { name: 'isolation probe' } });
      expectStatus(res, 201);
      return { id: res.body.id };
    },
  },
  {
    path: '/v1/context/sources/{id}',
    async create(api, key) {
      const res = await api({ method: 'POST', path: '/v1/context/sources', key, body: { name: `probe-${Math.random().toString(36).slice(2)}` } });
      expectStatus(res, 201);
      return { id: res.body.id };
    },
  },
  {
    path: '/v1/context/sources/{id}/documents/{document_id}',
    async create(api, key) {
      const source = await api({ method: 'POST', path: '/v1/context/sources', key, body: { name: `probe-${Math.random().toString(36).slice(2)}` } });
      expectStatus(source, 201);
      const ingest = await api({ method: 'POST', path: `/v1/context/sources/${source.body.id}/documents`, key, body: { documents: [{ text: 'isolation probe' }] } });
      expectStatus(ingest, 201);
      return { id: source.body.id, document_id: ingest.body.data[0].id };
    },
  },
  {
    path: '/v1/agents/{id}',
    async create(api, key) {
      const res = await api({ method: 'POST', path: '/v1/agents', key, body: { name: 'isolation probe' } });
      expectStatus(res, 201);
      return { id: res.body.id };
    },
  },
  {
    path: '/v1/agents/{id}/runs/{run_id}',
    async create(api, key) {
      const agent = await api({ method: 'POST', path: '/v1/agents', key, body: { name: 'isolation probe' } });
      expectStatus(agent, 201);
      const run = await api({ method: 'POST', path: `/v1/agents/${agent.body.id}/runs`, key, body: { input: 'probe' } });
      expectStatus(run, 200);
      return { id: agent.body.id, run_id: run.body.id };
    },
  },
  {
    path: '/v1/responses/{id}',
    async create(api, key) {
      const agent = await api({ method: 'POST', path: '/v1/agents', key, body: { name: 'isolation probe' } });
      expectStatus(agent, 201);
      const response = await api({ method: 'POST', path: '/v1/responses', key, body: { model: agent.body.id, input: 'probe' } });
      expectStatus(response, 200);
      return { id: response.body.id };
    },
  },
  {
    path: '/v1/workflows/{id}',
    async create(api, key) {
      const res = await api({ method: 'POST', path: '/v1/workflows', key, body: { name: 'isolation probe', steps: [{ id: 'one', type: 'transform', expression: '1' }] } });
      expectStatus(res, 201);
      return { id: res.body.id };
    },
    bodies: { 'PUT /v1/workflows/{id}': { name: 'taken over', steps: [{ id: 'two', type: 'transform', expression: '2' }] } },
  },
  {
    path: '/v1/workflows/{id}/runs/{run_id}',
    async create(api, key) {
      // Waits in an approval step, so that cancel and resume would both change it.
      const workflow = await api({ method: 'POST', path: '/v1/workflows', key, body: { name: 'isolation probe', steps: [{ id: 'ok', type: 'approval' }] } });
      expectStatus(workflow, 201);
      const run = await api({ method: 'POST', path: `/v1/workflows/${workflow.body.id}/runs`, key, body: {} });
      expectStatus(run, 200);
      return { id: workflow.body.id, run_id: run.body.id };
    },
    bodies: { 'POST /v1/workflows/{id}/runs/{run_id}/resume': { data: { approved: true } } },
  },
  {
    path: '/v1/analytics/traces/{id}',
    async create(api, key) {
      const agent = await api({ method: 'POST', path: '/v1/agents', key, body: { name: 'isolation probe' } });
      expectStatus(agent, 201);
      const run = await api({ method: 'POST', path: `/v1/agents/${agent.body.id}/runs`, key, body: { input: 'probe' } });
      expectStatus(run, 200);
      return { id: run.body.id };
    },
  },
  {
    path: '/v1/requests/{id}',
    async create(api, key) {
      const res = await api({ method: 'GET', path: '/v1/workspace', key });
      expectStatus(res, 200);
      const id = res.headers.get('x-request-id')!;
      // The request log is written about a second after each request.
      const logged = await waitFor(() => api({ method: 'GET', path: `/v1/requests/${id}`, key }), (r) => r.status === 200);
      expectStatus(logged, 200);
      return { id };
    },
  },
  {
    path: '/v1/threads/{id}',
    read: '/v1/threads/{id}/messages',
    async create(api, key) {
      const agent = await api({ method: 'POST', path: '/v1/agents', key, body: { name: 'isolation probe' } });
      expectStatus(agent, 201);
      const run = await api({ method: 'POST', path: `/v1/agents/${agent.body.id}/runs`, key, body: { input: 'probe' } });
      expectStatus(run, 200);
      return { id: run.body.thread_id };
    },
  },
];

/** The factory for an operation: the longest factory path that the operation's path starts with and whose parameters it needs. */
function factoryFor(op: Operation): ObjectFactory | undefined {
  const needed = templateParams(op.path);
  return factories
    .filter((f) => (op.path === f.path || op.path.startsWith(`${f.path}/`)) && needed.every((p) => templateParams(f.path).includes(p)))
    .sort((a, b) => b.path.length - a.path.length)[0];
}

/** The object as its owner reads it, minus what reading it may change. */
function comparable(body: unknown): unknown {
  if (body === null || typeof body !== 'object') return body;
  const { last_used_at: _ignored, ...rest } = body as Record<string, unknown>;
  return rest;
}

interface Made {
  factory: ObjectFactory;
  mode: 'live' | 'test';
  params: Record<string, string>;
  /** The object as its owner read it right after creating it. */
  read: WireResponse;
}

describe.each(backends)('tenant isolation on %s', (backend) => {
  let server: TestServer;
  let a: TestWorkspace;
  let b: TestWorkspace;
  let ops: Operation[];
  const api: Api = (req) => send(server.url, req);
  /** One object of every type, made by A in each mode (once, by the first test that needs them). */
  let making: Promise<Made[]> | undefined;
  const objects = () => (making ??= makeObjects());
  const ownerKey = (mode: 'live' | 'test') => (mode === 'live' ? a.liveKey : a.testKey);
  /** Who must not see an object of A's in that mode. */
  const intrudersOf = (mode: 'live' | 'test'): Record<string, string> =>
    mode === 'live'
      ? { 'B live': b.liveKey, 'B test': b.testKey, 'A test': a.testKey }
      : { 'B test': b.testKey, 'B live': b.liveKey, 'A live': a.liveKey };

  beforeAll(async () => {
    server = await startTestServer(backend);
    a = await server.workspace('enterprise');
    b = await server.workspace('enterprise');
    ops = operationsOf(await fetchOpenApi(server.url));
  });

  async function makeObjects(): Promise<Made[]> {
    const made: Made[] = [];
    for (const factory of factories) {
      for (const mode of ['live', 'test'] as const) {
        const params = await factory.create(api, ownerKey(mode));
        const read = await api({ method: 'GET', path: fillPath(factory.read ?? factory.path, params), key: ownerKey(mode) });
        expectStatus(read, 200);
        made.push({ factory, mode, params, read });
      }
    }
    return made;
  }

  afterAll(async () => {
    closeWireAgent();
    await server?.close();
  });

  it('has an object factory for every operation with a path parameter', () => {
    const withParams = ops.filter((op) => op.pathParams.length > 0);
    expect(withParams.length).toBeGreaterThan(0);
    const missing = withParams.filter((op) => !factoryFor(op)).map((op) => op.name);
    expect(missing, 'add an entry to `factories` in test/http/tenant-isolation.test.ts for these').toEqual([]);
    for (const f of factories) {
      const read = f.read ?? f.path;
      expect(ops.some((op) => op.method === 'GET' && op.path === read), `GET ${read} to read the object back`).toBe(true);
    }
  });

  it('refuses every operation on A\'s objects to workspace B and to the other mode, changing nothing', async () => {
    let checked = 0;
    for (const { factory, mode, params, read } of await objects()) {
      for (const op of ops.filter((o) => factoryFor(o) === factory)) {
        const path = fillPath(op.path, params);
        const body = factory.bodies?.[op.name] ?? (op.bodySchema ? sampleValid(op.bodySchema) : undefined);
        for (const [who, key] of Object.entries(intrudersOf(mode))) {
          const res = await api({ method: op.method, path, key, body });
          try {
            checkInvariants(res, { rateLimited: true });
            expectError(res, 'resource_missing');
          } catch (error) {
            throw new Error(`${op.name} on A's ${mode} object as ${who}: ${(error as Error).message}`);
          }
          checked++;
        }
      }
      const readPath = fillPath(factory.read ?? factory.path, params);
      const after = await api({ method: 'GET', path: readPath, key: ownerKey(mode) });
      expectStatus(after, 200);
      expect(comparable(after.body), `A's ${mode} object at ${readPath} changed`).toEqual(comparable(read.body));
    }
    expect(checked).toBeGreaterThan(0);
    // A's keys still work: nothing B did revoked or broke them.
    for (const mode of ['live', 'test'] as const) expectStatus(await api({ method: 'GET', path: '/v1/workspace', key: ownerKey(mode) }), 200);
  });

  it('never lists A\'s objects to workspace B or to the other mode', async () => {
    const lists = ops.filter((op) => op.method === 'GET' && op.secured && op.pathParams.length === 0 && isListResponse(op.successSchema));
    expect(lists.length).toBeGreaterThan(0);
    const cursors = (op: Operation) => op.queryParams.map((p) => p.name).filter((n) => n === 'after' || n === 'before');
    const pageSize = (op: Operation) => (op.queryParams.some((p) => p.name === 'limit') ? 'limit=100' : '');

    const made = await objects();
    for (const mode of ['live', 'test'] as const) {
      const mine = made.filter((m) => m.mode === mode).flatMap((m) => Object.values(m.params));
      expect(mine.length).toBeGreaterThan(0);
      for (const op of lists) {
        const queries = [pageSize(op), ...cursors(op).flatMap((c) => mine.map((id) => [pageSize(op), `${c}=${id}`].filter(Boolean).join('&')))];
        for (const [who, key] of Object.entries(intrudersOf(mode))) {
          for (const query of queries) {
            // Walk every page: A's objects must be on none of them.
            let path = `${op.path}${query ? `?${query}` : ''}`;
            for (let page = 0; page < 50; page++) {
              const res = await api({ method: 'GET', path, key });
              checkInvariants(res, { rateLimited: true });
              if (res.status !== 200) break;
              // The request log lists the caller's own requests, whose paths may name the ids of A's it
              // just tried: there only the entries themselves count.
              const shown = op.path === '/v1/requests' ? JSON.stringify((res.body.data as Array<{ id: string }>).map((r) => r.id)) : res.text;
              for (const id of mine) expect(shown, `${op.name}?${query} as ${who} shows A's ${mode} object ${id}`).not.toContain(id);
              if (!res.body.has_more || !res.body.last_id || !cursors(op).includes('after')) break;
              path = `${op.path}?${[pageSize(op), `after=${res.body.last_id}`].filter(Boolean).join('&')}`;
            }
          }
        }
      }

      // Control: the owner does see them in the collection they belong to.
      for (const { factory, params } of made.filter((m) => m.mode === mode)) {
        const read = factory.read ?? factory.path;
        const collection = read.replace(/\/\{[^}]+\}$/, '');
        const list = lists.find((op) => op.path === collection);
        if (!list) continue;
        // Walk the pages: a busy collection (the request log) may hold the object further down.
        const ids: string[] = [];
        for (let path = `${collection}?${pageSize(list)}`, page = 0; page < 50; page++) {
          const res = await api({ method: 'GET', path, key: ownerKey(mode) });
          expectStatus(res, 200);
          ids.push(...(res.body.data as Array<{ id: string }>).map((item) => item.id));
          if (!res.body.has_more || !cursors(list).includes('after')) break;
          path = `${collection}?${[pageSize(list), `after=${res.body.last_id}`].filter(Boolean).join('&')}`;
        }
        expect(ids, `${collection} as A ${mode} lists A's object`).toContain(params[templateParams(read).at(-1)!]);
      }
    }
  });
});
