/**
 * Workflow steps in the HTTP API: the OpenAPI document describes each step type from the schema
 * the body is validated with, and a step the schema refuses is answered naming the step.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { fetchOpenApi, type OpenApiDoc } from '../support/openapi.js';

let server: TestServer;
let ws: TestWorkspace;
let doc: OpenApiDoc;

beforeAll(async () => {
  server = await startTestServer('sqlite');
  ws = await server.workspace('pro');
  doc = await fetchOpenApi(server.url);
});

afterAll(async () => {
  await server?.close();
});

const create = (body: Record<string, unknown>) => call(server.url, 'POST', '/v1/workflows', { key: ws.testKey, body: { name: 'steps', ...body } });

/** Every schema of the document that declares a step type (`properties.type.const`), by type. */
function stepTypeSchemas(): Map<string, Record<string, any>> {
  const found = new Map<string, Record<string, any>>();
  const visit = (node: unknown) => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const schema = node as Record<string, any>;
    const type = schema.properties?.type?.const ?? schema.properties?.type?.enum?.[0];
    if (typeof type === 'string' && schema.properties?.id && !found.has(type) && schema.additionalProperties === false) found.set(type, schema);
    Object.values(schema).forEach(visit);
  };
  visit(doc.components?.schemas ?? {});
  return found;
}

describe('workflow steps in the OpenAPI document', () => {
  it('describes every step type with its own fields', () => {
    const schemas = stepTypeSchemas();
    expect([...schemas.keys()].sort()).toEqual(['agent', 'approval', 'branch', 'delay', 'http', 'map', 'parallel', 'transform', 'workflow']);
    expect(Object.keys(schemas.get('http')!.properties)).toEqual(expect.arrayContaining(['method', 'url', 'headers', 'body', 'timeout_ms', 'retry']));
    expect(schemas.get('http')!.required).toEqual(['id', 'type', 'method', 'url']);
    expect(schemas.get('map')!.properties.concurrency).toBeDefined();
    expect(schemas.get('agent')!.required).toEqual(['id', 'type', 'agent', 'input']);
  });

  it('refers to the steps from the body of create and replace', () => {
    for (const [path, method] of [['/v1/workflows', 'post'], ['/v1/workflows/{id}', 'put']] as const) {
      const body = doc.paths[path]![method].requestBody.content['application/json'].schema;
      const steps = JSON.stringify(body.properties?.steps ?? body);
      expect(steps, `${method} ${path}`).toMatch(/#\/components\/schemas\/\w*Step/);
    }
  });
});

describe('steps the schema refuses', () => {
  it('name the step and the field', async () => {
    const missing = await create({ steps: [{ id: 'a', type: 'agent', input: 'input' }] });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'parameter_missing', param: 'steps[0].agent', message: "Step 'a': an agent step needs 'agent'." });

    const unknown = await create({ steps: [{ id: 'a', type: 'transform', expression: '1', url: 'https://x' }] });
    expect(unknown.body.error).toMatchObject({ code: 'parameter_unknown', param: 'steps[0].url', message: "Step 'a': unknown field 'url' for a transform step." });

    const nested = await create({ steps: [{ id: 'b', type: 'branch', cases: [{ when: 'true', steps: [{ id: 'c', type: 'http', method: 'GET', url: 'https://x', timeout_ms: 0 }] }] }] });
    expect(nested.body.error).toMatchObject({ code: 'parameter_invalid', param: 'steps[0].cases[0].steps[0].timeout_ms' });
    expect(nested.body.error.message).toMatch(/^Step 'c': 'timeout_ms' /);

    const header = await create({ steps: [{ id: 'h', type: 'http', method: 'GET', url: 'https://x', headers: { 'X-Key': 5 } }] });
    expect(header.body.error).toMatchObject({ code: 'parameter_invalid', param: 'steps[0].headers["X-Key"]' });

    const type = await create({ steps: [{ id: 't', type: 'teleport' }] });
    expect(type.body.error).toMatchObject({ code: 'parameter_invalid', param: 'steps[0].type', message: expect.stringContaining("Step 't'") });
  });

  it('are not created', async () => {
    await create({ steps: [{ id: 'a', type: 'delay', duration: 'soon' }] });
    const list = await call(server.url, 'GET', '/v1/workflows?limit=100', { key: ws.testKey });
    expect(list.body.data).toEqual([]);
  });
});

describe('steps the schema accepts', () => {
  it('take null for an optional field, stored as not set, and any case of http method', async () => {
    const res = await create({
      steps: [
        { id: 'a', type: 'transform', expression: '1', name: null, retry: { max_attempts: null, backoff_ms: 10 } },
        { id: 'b', type: 'branch', cases: [{ when: 'true', steps: [{ id: 'c', type: 'http', method: 'Post', url: 'https://x', headers: null }] }], default: null },
      ],
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.steps[0]).toEqual({ id: 'a', type: 'transform', expression: '1', retry: { backoff_ms: 10 } });
    expect(res.body.steps[1]).toEqual({ id: 'b', type: 'branch', cases: [{ when: 'true', steps: [{ id: 'c', type: 'http', method: 'POST', url: 'https://x' }] }] });
  });
});
