import { describe, expect, it } from 'vitest';
import { KairoError } from '../../src/errors.js';
import { toolNamesOf, validateArguments, validateToolDefinitions } from '../../src/agents/tools/validate.js';
import { schemaProblem } from '../../src/agents/tools/json-schema.js';

const objectSchema = { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] };
const http = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'http',
  name: 'lookup',
  url: 'https://api.example.com/lookup',
  parameters: objectSchema,
  ...extra,
});
const mcp = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'mcp',
  server_label: 'crm',
  server_url: 'https://mcp.example.com/mcp',
  allowed_tools: ['find_lead'],
  ...extra,
});

function rejection(tools: unknown[]): { code: string; param: string | undefined; message: string } {
  try {
    validateToolDefinitions(tools);
  } catch (error) {
    expect(error).toBeInstanceOf(KairoError);
    const apiError = error as KairoError;
    return { code: apiError.code, param: apiError.param, message: apiError.message };
  }
  throw new Error('expected the definitions to be refused');
}

describe('validateToolDefinitions', () => {
  it('accepts every tool type and returns only known fields, typed', () => {
    const tools = validateToolDefinitions([
      { type: 'context_search', sources: ['crm'], top_k: 5 },
      http({ method: 'GET', headers: { Authorization: 'Bearer x' }, timeout_ms: 5000, requires_approval: true }),
      { type: 'function', name: 'confirm', description: 'Ask the client', parameters: { type: 'object' } },
      mcp({ allowed_tools: ['find_lead', 'update_lead'], headers: { 'X-Api-Key': 'k' } }),
      { type: 'agent', agent_id: 'agent_01h455vb4pex5vsknk084sn02q' },
    ]);
    expect(tools).toHaveLength(5);
    expect(tools[1]).toMatchObject({ type: 'http', method: 'GET', timeout_ms: 5000, requires_approval: true });
    expect(tools.flatMap(toolNamesOf)).toEqual([
      'context_search',
      'lookup',
      'confirm',
      'crm__find_lead',
      'crm__update_lead',
      'agent_084sn02q',
    ]);
  });

  it('accepts 2020-12 schemas and unknown keywords (non-strict)', () => {
    expect(() =>
      validateToolDefinitions([
        http({ parameters: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { a: { type: 'string', 'x-ui': 'wide' } } } }),
      ]),
    ).not.toThrow();
  });

  it.each([
    [[{ type: 'shell' }], 'parameter_invalid', 'tools[0].type'],
    [[{}], 'parameter_missing', 'tools[0].type'],
    [['nope'], 'parameter_invalid', 'tools[0]'],
    [[http({ name: 'has space' })], 'parameter_invalid', 'tools[0].name'],
    [[http({ name: 'x'.repeat(65) })], 'parameter_invalid', 'tools[0].name'],
    [[http({ extra: 1 })], 'parameter_unknown', 'tools[0].extra'],
    [[http({ parameters: undefined })], 'parameter_missing', 'tools[0].parameters'],
    [[http({ parameters: { type: 'string' } })], 'parameter_invalid', 'tools[0].parameters'],
    [[http({ parameters: { type: 'object', properties: { a: { type: 'strnig' } } } })], 'parameter_invalid', 'tools[0].parameters'],
    [[http({ parameters: { type: 'object', $schema: 'http://json-schema.org/draft-04/schema#' } })], 'parameter_invalid', 'tools[0].parameters'],
    [[http({ parameters: { type: 'object', properties: { a: { $ref: 'https://evil.example/schema.json' } } } })], 'parameter_invalid', 'tools[0].parameters'],
    [[http({ url: 'ftp://example.com/x' })], 'parameter_invalid', 'tools[0].url'],
    [[http({ url: 'https://user:pw@example.com/x' })], 'parameter_invalid', 'tools[0].url'],
    [[http({ url: '/relative' })], 'parameter_invalid', 'tools[0].url'],
    [[http({ method: 'get' })], 'parameter_invalid', 'tools[0].method'],
    [[http({ timeout_ms: 60_001 })], 'parameter_invalid', 'tools[0].timeout_ms'],
    [[http({ timeout_ms: 1.5 })], 'parameter_invalid', 'tools[0].timeout_ms'],
    [[http({ headers: { 'Webhook-Signature': 'v1,forged' } })], 'parameter_invalid', 'tools[0].headers.Webhook-Signature'],
    [[http({ headers: { 'X-A': 'line\r\nbreak' } })], 'parameter_invalid', 'tools[0].headers.X-A'],
    [[http({ headers: { 'X-A': 1 } })], 'parameter_invalid', 'tools[0].headers.X-A'],
    [[http({ requires_approval: 'yes' })], 'parameter_invalid', 'tools[0].requires_approval'],
    [[mcp({ allowed_tools: [] })], 'parameter_invalid', 'tools[0].allowed_tools'],
    [[mcp({ allowed_tools: undefined })], 'parameter_missing', 'tools[0].allowed_tools'],
    [[mcp({ allowed_tools: ['ok', 'bad.name'] })], 'parameter_invalid', 'tools[0].allowed_tools[1]'],
    [[mcp({ allowed_tools: ['a', 'a'] })], 'parameter_invalid', 'tools[0].allowed_tools[1]'],
    [[mcp({ allowed_tools: ['y'.repeat(62)] })], 'parameter_invalid', 'tools[0].allowed_tools[0]'],
    [[mcp({ server_label: 'a__b' })], 'parameter_invalid', 'tools[0].server_label'],
    [[mcp({ server_url: 'http://u:p@mcp.example.com' })], 'parameter_invalid', 'tools[0].server_url'],
    [[mcp({ headers: { 'Mcp-Session-Id': 'x' } })], 'parameter_invalid', 'tools[0].headers.Mcp-Session-Id'],
    [[{ type: 'context_search', top_k: 0 }], 'parameter_invalid', 'tools[0].top_k'],
    [[{ type: 'context_search', sources: ['crm', ''] }], 'parameter_invalid', 'tools[0].sources[1]'],
    [[{ type: 'agent', agent_id: 'run_01h455vb4pex5vsknk084sn02q' }], 'parameter_invalid', 'tools[0].agent_id'],
  ])('refuses %j with %s at %s', (tools, code, param) => {
    expect(rejection(tools)).toMatchObject({ code, param });
  });

  it('names the exact index of the bad definition', () => {
    const result = rejection([{ type: 'context_search' }, http(), http({ name: 'other', parameters: { type: 'array' } })]);
    expect(result).toMatchObject({ code: 'parameter_invalid', param: 'tools[2].parameters' });
    expect(result.message).toContain('"type": "object"');
  });

  it('uses the given param prefix', () => {
    expect(() => validateToolDefinitions([{ type: 'nope' }], 'agent.tools')).toThrow(expect.objectContaining({ param: 'agent.tools[0].type' }));
  });

  it('requires tool names to be unique, counting MCP names and defaults', () => {
    expect(rejection([http(), http()])).toMatchObject({ code: 'parameter_invalid', param: 'tools[1].name' });
    expect(rejection([{ type: 'context_search' }, { type: 'function', name: 'context_search', parameters: { type: 'object' } }])).toMatchObject({
      param: 'tools[1].name',
    });
    expect(rejection([http({ name: 'crm__find_lead' }), mcp()])).toMatchObject({ param: 'tools[1].allowed_tools[0]' });
    expect(rejection([mcp(), mcp({ server_url: 'https://other.example.com/mcp' })]).message).toContain("'crm__find_lead'");
    expect(rejection([{ type: 'agent', agent_id: 'agent_01h455vb4pex5vsknk084sn02q' }, { type: 'function', name: 'agent_084sn02q', parameters: { type: 'object' } }])).toMatchObject({
      param: 'tools[1].name',
    });
  });

  it('caps the number of tools an agent offers', () => {
    const many = Array.from({ length: 129 }, (_, i) => `t${i}`);
    expect(rejection([mcp({ allowed_tools: many })])).toMatchObject({ code: 'parameter_invalid', param: 'tools' });
  });
});

describe('validateArguments', () => {
  const schema = {
    type: 'object',
    properties: { a: { type: 'number' }, tags: { type: 'array', items: { type: 'string' } }, kind: { enum: ['x', 'y'] } },
    required: ['a'],
    additionalProperties: false,
  };

  it('accepts matching arguments', () => {
    expect(validateArguments(schema, { a: 1, tags: ['t'] })).toEqual({ ok: true });
  });

  it('gives a concise message naming the field', () => {
    expect(validateArguments(schema, { a: 'one' })).toEqual({ ok: false, error: 'arguments.a must be number' });
    expect(validateArguments(schema, {})).toEqual({ ok: false, error: "arguments must have required property 'a'" });
    expect(validateArguments(schema, { a: 1, b: 2 })).toEqual({ ok: false, error: "arguments must NOT have additional properties ('b')" });
    expect(validateArguments(schema, { a: 1, tags: ['t', 2] })).toEqual({ ok: false, error: 'arguments.tags[1] must be string' });
    expect(validateArguments(schema, { a: 1, kind: 'z' })).toEqual({ ok: false, error: 'arguments.kind must be equal to one of the allowed values: "x", "y"' });
    expect(validateArguments(schema, 'not an object').ok).toBe(false);
  });

  it('checks formats', () => {
    const withFormat = { type: 'object', properties: { email: { type: 'string', format: 'email' } } };
    expect(validateArguments(withFormat, { email: 'a@example.com' }).ok).toBe(true);
    expect(validateArguments(withFormat, { email: 'nope' })).toEqual({ ok: false, error: 'arguments.email must match format "email"' });
  });

  it('reports an unusable schema instead of throwing', () => {
    const result = validateArguments({ type: 'object', properties: { a: { type: 'nonsense' } } }, {});
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/schema is unusable/);
  });

  it('keeps schemas with the same $id from different agents apart', () => {
    const first = { $id: 'https://example.com/args', type: 'object', properties: { a: { type: 'number' } }, required: ['a'] };
    const second = { $id: 'https://example.com/args', type: 'object', properties: { b: { type: 'string' } }, required: ['b'] };
    expect(schemaProblem(first)).toBeUndefined();
    expect(schemaProblem(second)).toBeUndefined();
    expect(validateArguments(first, { a: 1 }).ok).toBe(true);
    expect(validateArguments(second, { b: 'x' }).ok).toBe(true);
    expect(validateArguments(second, { a: 1 }).ok).toBe(false);
  });

  it('caches by content, so a schema loaded again is not recompiled', () => {
    const schemaText = JSON.stringify({ type: 'object', properties: { n: { type: 'integer' } } });
    const started = performance.now();
    for (let i = 0; i < 200; i++) expect(validateArguments(JSON.parse(schemaText), { n: i }).ok).toBe(true);
    // 200 compilations would take far longer than this; cached lookups take microseconds.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses oversized and deeply nested schemas', () => {
    const huge = { type: 'object', description: 'x'.repeat(40_000) };
    expect(schemaProblem(huge)).toMatch(/at most/);
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 40; i++) deep = { type: 'object', properties: { a: deep } };
    expect(schemaProblem(deep)).toMatch(/nested/);
  });
});
