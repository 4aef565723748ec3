/**
 * McpToolset against a real MCP server (the SDK's, on 127.0.0.1) in session and stateless mode.
 * Loopback is reachable only because each test allows 127.0.0.0/8 explicitly.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedFetch } from '../../src/agents/tools/guarded-fetch.js';
import { createAddressPolicy } from '../../src/net/address-policy.js';
import { McpConnectionError, McpToolset, type McpConnectOptions } from '../../src/agents/tools/mcp-tool.js';
import { startMcpServer, type McpTestServer } from '../fixtures/mcp-server.js';

const LOOPBACK = ['127.0.0.0/8'];
const open: McpToolset[] = [];

async function connect(server: McpTestServer, extra: Partial<McpConnectOptions> = {}): Promise<McpToolset> {
  const toolset = await McpToolset.connect({
    serverUrl: server.url,
    serverLabel: 'calc',
    allowedTools: ['add', 'echo', 'fail', 'slow', 'big'],
    allowCidrs: LOOPBACK,
    ...extra,
  });
  open.push(toolset);
  return toolset;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((toolset) => toolset.close()));
});

describe.each(['session', 'stateless'] as const)('McpToolset (%s server)', (mode) => {
  let server: McpTestServer;
  beforeAll(async () => {
    server = await startMcpServer({ mode });
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => {
    server.calls.length = 0;
    server.requests.length = 0;
  });

  it('lists only allowed tools, prefixed with the server label', async () => {
    const toolset = await connect(server, { allowedTools: ['add', 'echo', 'not_on_server'] });
    const tools = toolset.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['calc__add', 'calc__echo']);
    expect(tools[0]).toEqual({
      name: 'calc__add',
      description: 'Add two numbers.',
      parameters: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'], additionalProperties: false },
    });
    expect(toolset.missingTools).toEqual(['not_on_server']);
    expect(tools.some((tool) => tool.name.includes('secret_admin'))).toBe(false);
  });

  it('calls tools and returns their output', async () => {
    const toolset = await connect(server, { headers: { Authorization: 'Bearer token-1' } });
    expect(await toolset.callTool('calc__add', { a: 2, b: 3 })).toMatchObject({ ok: true, output: { sum: 5 } });
    expect(await toolset.callTool('calc__echo', { text: 'hello' })).toMatchObject({ ok: true, output: 'hello' });
    expect(server.calls.map((call) => [call.tool, call.arguments])).toEqual([
      ['add', { a: 2, b: 3 }],
      ['echo', { text: 'hello' }],
    ]);
    expect(server.calls[0]!.headers.authorization).toBe('Bearer token-1');
    // No standalone GET stream is opened.
    expect(server.requests.filter((request) => request.method === 'GET')).toHaveLength(0);
  });

  it('turns isError into ok: false with the tool text', async () => {
    const toolset = await connect(server);
    const result = await toolset.callTool('calc__fail', { reason: 'nope' });
    expect(result).toMatchObject({ ok: false, error: 'failed: nope', output: { error: 'failed: nope', code: 'tool_error' } });
  });

  it('refuses a tool outside the allow-list without contacting the server', async () => {
    const toolset = await connect(server);
    const before = server.requests.length;
    for (const name of ['calc__secret_admin', 'secret_admin', 'other__add']) {
      const result = await toolset.callTool(name, {});
      expect(result).toMatchObject({ ok: false, output: { code: 'tool_not_allowed' } });
    }
    expect(server.requests.length).toBe(before);
    expect(server.calls).toHaveLength(0);
  });

  it('checks arguments against the tool schema before calling', async () => {
    const toolset = await connect(server);
    const result = await toolset.callTool('calc__add', { a: 1, b: 'two' });
    expect(result).toMatchObject({ ok: false, error: 'Invalid arguments: arguments.b must be number', output: { code: 'invalid_arguments' } });
    expect(server.calls).toHaveLength(0);
  });

  it('times a slow call out as a failed result', async () => {
    const toolset = await connect(server);
    const result = await toolset.callTool('calc__slow', { ms: 1500 }, { timeoutMs: 150 });
    expect(result).toMatchObject({ ok: false, output: { code: 'timeout' } });
  });

  it('fails a response over the size cap', async () => {
    const toolset = await connect(server, { maxResponseBytes: 64 * 1024 });
    expect(await toolset.callTool('calc__big', { chars: 1000 })).toMatchObject({ ok: true });
    const started = Date.now();
    const result = await toolset.callTool('calc__big', { chars: 200_000 });
    expect(result).toMatchObject({ ok: false, output: { code: 'too_large' } });
    // Fails at once, not at the request timeout, also when the answer comes as an SSE stream.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('rejects with the reason when the run aborts a call', async () => {
    const toolset = await connect(server);
    const controller = new AbortController();
    const reason = new Error('run cancelled');
    setTimeout(() => controller.abort(reason), 50);
    await expect(toolset.callTool('calc__slow', { ms: 1000 }, { signal: controller.signal })).rejects.toBe(reason);
  });

  it('closes: calls afterwards fail, and close is idempotent', async () => {
    const toolset = await connect(server);
    const closedBefore = server.sessionsClosed.length;
    await toolset.close();
    await toolset.close();
    expect(await toolset.callTool('calc__add', { a: 1, b: 1 })).toMatchObject({ ok: false, output: { code: 'connection_closed' } });
    // A session is ended on the server (DELETE); a stateless server has none to end.
    expect(server.sessionsClosed.length - closedBefore).toBe(mode === 'session' ? 1 : 0);
  });
});

describe('McpToolset connection policy', () => {
  let server: McpTestServer;
  beforeAll(async () => {
    server = await startMcpServer({ pageSize: 2 });
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => {
    server.requests.length = 0;
  });

  it('refuses a loopback server unless the operator allows it, without connecting', async () => {
    const attempt = connect(server, { allowCidrs: [] });
    await expect(attempt).rejects.toBeInstanceOf(McpConnectionError);
    await expect(attempt).rejects.toMatchObject({ code: 'address_blocked', message: expect.stringContaining("MCP server 'calc'"), retryable: false });
    const byName = connect(server, { allowCidrs: [], serverUrl: server.url.replace('127.0.0.1', 'localhost') });
    await expect(byName).rejects.toMatchObject({ code: 'address_blocked' });
    expect(server.requests).toHaveLength(0);
  });

  it('reads every page of the tool list', async () => {
    const toolset = await connect(server, { allowedTools: ['add', 'big'] });
    expect(toolset.listTools().map((tool) => tool.name)).toEqual(['calc__add', 'calc__big']);
  });

  it('reports a server that is not there as connect_failed', async () => {
    const gone = await startMcpServer();
    const url = gone.url;
    await gone.close();
    await expect(connect(server, { serverUrl: url })).rejects.toMatchObject({ code: 'connect_failed', retryable: true });
  });

  it('reports a wrong path as connect_failed with the status', async () => {
    await expect(connect(server, { serverUrl: server.url.replace('/mcp', '/elsewhere') })).rejects.toMatchObject({
      code: 'connect_failed',
      message: expect.stringContaining('HTTP 404'),
      retryable: false,
    });
  });

  it('fails connecting when a response is over the size cap', async () => {
    await expect(connect(server, { maxResponseBytes: 200 })).rejects.toMatchObject({ code: 'too_large', retryable: false });
  });

  it('refuses URLs it will never fetch', async () => {
    await expect(connect(server, { serverUrl: 'file:///etc/passwd' })).rejects.toMatchObject({ code: 'invalid_url' });
    await expect(connect(server, { serverUrl: 'http://u:p@127.0.0.1/mcp' })).rejects.toMatchObject({ code: 'invalid_url' });
  });

  it('times out connecting to a server that does not answer', async () => {
    const silent = http.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      await expect(connect(server, { serverUrl: `http://127.0.0.1:${port}/mcp`, timeoutMs: 200 })).rejects.toMatchObject({ code: 'timeout', retryable: true });
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('rejects with the reason when connecting is aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled');
    controller.abort(reason);
    await expect(connect(server, { signal: controller.signal })).rejects.toBe(reason);
  });
});

describe('createGuardedFetch (the MCP transport fetch)', () => {
  let server: McpTestServer;
  beforeAll(async () => {
    server = await startMcpServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('checks IP literals and resolved names against the policy on every connection', async () => {
    const guarded = createGuardedFetch({
      policy: createAddressPolicy(['127.0.0.1/32']),
      maxResponseBytes: 1024,
      resolve: async (hostname) => [{ address: hostname === 'inside.test' ? '10.0.0.1' : '127.0.0.1', family: 4 }],
    });
    try {
      const allowed = await guarded.fetch(`http://127.0.0.1:${server.port}/nowhere`);
      expect(allowed.status).toBe(404);
      const viaName = await guarded.fetch(`http://loopback.test:${server.port}/nowhere`);
      expect(viaName.status).toBe(404);
      await expect(guarded.fetch(`http://127.0.0.2:${server.port}/mcp`)).rejects.toThrow();
      await expect(guarded.fetch(`http://inside.test:${server.port}/mcp`)).rejects.toThrow();
      expect([...guarded.blockedHosts].sort()).toEqual(['127.0.0.2', 'inside.test']);
    } finally {
      await guarded.destroy();
    }
  });
});
