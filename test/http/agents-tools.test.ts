/**
 * Tool definitions through the API: the agent routes validate them with the tool schemas, the
 * served OpenAPI document describes each tool type, and a refused definition is named the same
 * way whether the route's schema or validateToolDefinitions finds the problem.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KairoError } from '../../src/errors.js';
import { validateToolDefinitions } from '../../src/agents/tools/validate.js';
import { call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { fetchOpenApi, operationsOf, type JsonSchema } from '../support/openapi.js';

const objectSchema = { type: 'object', properties: { q: { type: 'string' } } };
const http = (extra: Record<string, unknown> = {}) => ({ type: 'http', name: 'lookup', url: 'https://api.example.com/lookup', parameters: objectSchema, ...extra });
const mcp = (extra: Record<string, unknown> = {}) => ({ type: 'mcp', server_label: 'crm', server_url: 'https://mcp.example.com/mcp', allowed_tools: ['find_lead'], ...extra });

let server: TestServer;
let ws: TestWorkspace;
beforeAll(async () => {
  server = await startTestServer('sqlite');
  ws = await server.workspace('pro');
});
afterAll(async () => {
  await server?.close();
});

/** What validateToolDefinitions says of `tools`, as an error body would. */
function directly(tools: unknown[]): { code: string; param: string | undefined } {
  try {
    validateToolDefinitions(tools);
  } catch (error) {
    if (error instanceof KairoError) return { code: error.code, param: error.param };
    throw error;
  }
  throw new Error('expected the definitions to be refused');
}

describe('agent tools over HTTP', () => {
  it('are described by type in the OpenAPI document of agent create and update', async () => {
    const ops = operationsOf(await fetchOpenApi(server.url));
    for (const name of ['POST /v1/agents', 'PATCH /v1/agents/{id}']) {
      const tool: JsonSchema = ops.find((op) => op.name === name)!.bodySchema!.properties.tools.items;
      // The document writes a const as a one-value enum.
      const typeOf = (branch: JsonSchema): string => branch.if.properties.type.const ?? branch.if.properties.type.enum[0];
      const byType = Object.fromEntries(tool.allOf.map((branch: JsonSchema) => [typeOf(branch), branch.then]));
      expect(Object.keys(byType)).toEqual(['context_search', 'http', 'function', 'mcp', 'agent']);
      expect(byType.http).toMatchObject({ additionalProperties: false, required: ['type', 'name', 'url', 'parameters'] });
      expect(byType.http.properties.method.enum).toEqual(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
      expect(byType.mcp.properties.allowed_tools).toMatchObject({ type: 'array', minItems: 1 });
      expect(byType.agent.properties.agent_id.pattern).toBe('^agent_[0-9a-z]{26}$');
      for (const schema of Object.values<JsonSchema>(byType)) expect(schema.description).toEqual(expect.any(String));
    }
  });

  it('of every type are accepted, with header values write-only', async () => {
    const helper = await call(server.url, 'POST', '/v1/agents', { key: ws.testKey, body: { name: 'Helper' } });
    const tools = [
      { type: 'context_search', top_k: 3 },
      http({ method: 'GET', headers: { Authorization: 'Bearer x' }, timeout_ms: 5000, requires_approval: true }),
      { type: 'function', name: 'confirm', description: 'Ask the client', parameters: { type: 'object' } },
      mcp({ headers: { 'X-Api-Key': 'k' } }),
      { type: 'agent', agent_id: helper.body.id },
    ];
    const res = await call(server.url, 'POST', '/v1/agents', { key: ws.testKey, body: { name: 'Tooled', tools } });
    expect(res.status).toBe(201);
    expect(res.body.tools).toHaveLength(5);
    expect(res.body.tools[1]).toMatchObject({ type: 'http', headers: { Authorization: '[redacted]' } });
    expect(res.body.tools[3]).toMatchObject({ type: 'mcp', headers: { 'X-Api-Key': '[redacted]' } });
  });

  it.each([
    [[{ type: 'shell' }]],
    [[{}]],
    [['nope']],
    [[http({ name: 'has space' })]],
    [[http({ extra: 1 })]],
    [[http({ parameters: undefined })]],
    [[http({ parameters: { type: 'string' } })]],
    [[http({ url: 'ftp://example.com/x' })]],
    [[http({ url: 'https://user:pw@example.com/x' })]],
    [[http({ method: 'get' })]],
    [[http({ timeout_ms: 60_001 })]],
    [[http({ headers: { 'Webhook-Signature': 'v1,forged' } })]],
    [[http({ headers: { 'X-A': 'line\r\nbreak' } })]],
    [[http({ headers: { 'X-A': 'a', 'x-a': 'b' } })]],
    [[http({ requires_approval: 'yes' })]],
    [[mcp({ allowed_tools: [] })]],
    [[mcp({ allowed_tools: ['ok', 'bad.name'] })]],
    [[mcp({ allowed_tools: ['a', 'a'] })]],
    [[mcp({ allowed_tools: ['y'.repeat(62)] })]],
    [[mcp({ server_label: 'a__b' })]],
    [[{ type: 'context_search', top_k: 0 }]],
    [[{ type: 'context_search', sources: ['crm', ''] }]],
    [[{ type: 'agent', agent_id: 'run_01h455vb4pex5vsknk084sn02q' }]],
    [[http(), http()]],
    [[{ type: 'context_search' }, http(), http({ name: 'other', parameters: { type: 'array' } })]],
  ])('refuses %j naming the field as validateToolDefinitions does', async (tools) => {
    const expected = directly(tools);
    for (const [method, path] of [['POST', '/v1/agents'], ['PATCH', `/v1/agents/${(await call(server.url, 'POST', '/v1/agents', { key: ws.testKey, body: { name: 'x' } })).body.id}`]]) {
      const res = await call(server.url, method!, path!, { key: ws.testKey, body: { name: 'x', tools } });
      expect(res.status, res.text).toBe(400);
      expect(res.body.error, res.text).toMatchObject({ type: 'invalid_request_error', code: expected.code, param: expected.param });
    }
  });
});
