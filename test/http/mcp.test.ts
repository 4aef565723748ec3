/**
 * /v1/mcp through the real server in test mode (the simulator answers deterministically), driven
 * by the official MCP SDK client and the official inspector CLI.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, TextContent } from '@modelcontextprotocol/sdk/types.js';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { repoRoot } from '../support/cli.js';
import { waitFor } from '../support/site.js';

const run = promisify(execFile);

describe.each(backends)('MCP server (/v1/mcp) on %s', (backend) => {
  let server: TestServer;
  let ws: TestWorkspace;
  let agentId: string;
  let refunderId: string;
  let workflowId: string;
  let sourceId: string;
  let documentId: string;
  const clients: Client[] = [];

  const post = (urlPath: string, body: unknown, key = ws.testKey) => call(server.url, 'POST', urlPath, { key, body });

  async function connect(key: string): Promise<Client> {
    const client = new Client({ name: 'kairo-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/v1/mcp`), { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  const texts = (result: CallToolResult) => (result.content as TextContent[]).map((part) => part.text);
  const toolCall = (client: Client, name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>;

  async function keyWith(permissions: Record<string, string>): Promise<string> {
    const res = await post('/v1/api_keys', { name: 'mcp', permissions });
    expect(res.status, res.text).toBe(201);
    return res.body.secret;
  }

  beforeAll(async () => {
    server = await startTestServer(backend);
    ws = await server.workspace('pro');
    const agent = await post('/v1/agents', { name: 'Support Bot', description: 'Answers support questions.', model: 'auto' });
    expect(agent.status, agent.text).toBe(201);
    agentId = agent.body.id;
    const refunder = await post('/v1/agents', {
      name: 'Refunder',
      tools: [{
        type: 'function', name: 'refund', description: 'Refund an order', requires_approval: true,
        parameters: { type: 'object', properties: { order: { type: 'string' } }, required: ['order'] },
      }],
    });
    expect(refunder.status, refunder.text).toBe(201);
    refunderId = refunder.body.id;
    // Same sanitized name as the first agent: the newer one gets a suffix.
    expect((await post('/v1/agents', { name: 'Support  Bot!' })).status).toBe(201);
    const workflow = await post('/v1/workflows', {
      name: 'Add numbers',
      description: 'Adds two numbers.',
      input_schema: { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] },
      steps: [{ id: 'sum', type: 'transform', expression: "{ 'sum': input.a + input.b }" }],
    });
    expect(workflow.status, workflow.text).toBe(201);
    workflowId = workflow.body.id;
    const source = await post('/v1/context/sources', { name: 'handbook', description: 'The staff handbook.' });
    expect(source.status, source.text).toBe(201);
    sourceId = source.body.id;
    const ingested = await post(`/v1/context/sources/${sourceId}/documents`, { documents: [{ external_id: 'leave', title: 'Leave', text: 'Everyone gets 25 days of leave a year.' }] });
    expect(ingested.status, ingested.text).toBe(201);
    documentId = ingested.body.data[0].id;
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await server?.close();
  });

  it('lists the agents and workflows as tools, named after them', async () => {
    const client = await connect(ws.testKey);
    expect(client.getServerVersion()?.name).toBe('kairo');
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['Support_Bot', 'Refunder', 'Support_Bot_2', 'Add_numbers']);
    const bot = tools.find((tool) => tool.name === 'Support_Bot')!;
    expect(bot.description).toContain('Answers support questions.');
    expect(bot.inputSchema).toMatchObject({ type: 'object', required: ['message'], properties: { message: { type: 'string' }, thread_id: { type: 'string' } } });
    expect(bot._meta).toEqual({ 'kairo/agent_id': agentId });
    const workflow = tools.find((tool) => tool.name === 'Add_numbers')!;
    expect(workflow.inputSchema).toMatchObject({ type: 'object', required: ['a', 'b'] });
    expect(workflow.description).toContain('Adds two numbers.');
  });

  it('runs an agent through the normal run path and returns its answer with the run id', async () => {
    const client = await connect(ws.testKey);
    const result = await toolCall(client, 'Support_Bot', { message: 'hello there' });
    expect(result.isError).toBeFalsy();
    expect(texts(result)[0]).toBe('Simulated answer to "hello there".');
    const structured = result.structuredContent as Record<string, any>;
    expect(structured).toMatchObject({ agent_id: agentId, status: 'completed', output: 'Simulated answer to "hello there".' });
    expect(structured.run_id).toMatch(/^run_/);
    const runs = await call(server.url, 'GET', `/v1/agents/${agentId}/runs`, { key: ws.testKey });
    const stored = runs.body.data.find((r: { id: string }) => r.id === structured.run_id);
    expect(stored).toMatchObject({ status: 'completed', mode: 'wait', output: 'Simulated answer to "hello there".', thread_id: structured.thread_id });
    expect(stored.api_key_id).toMatch(/^key_/);

    // The thread id continues the conversation.
    const next = await toolCall(client, 'Support_Bot', { message: 'and again', thread_id: structured.thread_id });
    expect((next.structuredContent as Record<string, any>).thread_id).toBe(structured.thread_id);

    // The request log links the MCP request to the run it started.
    const runIdsOfMcpRequests = async () => {
      const requests = await call(server.url, 'GET', `/v1/requests?limit=100&route=${encodeURIComponent('/v1/mcp')}`, { key: ws.testKey });
      expect(requests.status, requests.text).toBe(200);
      return requests.body.data.map((r: { run_id: string | null }) => r.run_id) as Array<string | null>;
    };
    expect(await waitFor(runIdsOfMcpRequests, (ids) => ids.includes(structured.run_id))).toContain(structured.run_id);
  });

  it('reports invalid arguments, unknown threads and unknown tools', async () => {
    const client = await connect(ws.testKey);
    const empty = await toolCall(client, 'Support_Bot', { message: '' });
    expect(empty.isError).toBe(true);
    expect(texts(empty)[0]).toContain('message');
    const thread = await toolCall(client, 'Support_Bot', { message: 'hi', thread_id: 'thread_nope' });
    expect(thread.isError).toBe(true);
    expect(texts(thread)[0]).toContain('resource_missing');
    await expect(toolCall(client, 'No_such_tool', {})).rejects.toThrow(/Unknown tool/);
  });

  it('says when a run requires action, with its id', async () => {
    const client = await connect(ws.testKey);
    const result = await toolCall(client, 'Refunder', { message: 'call refund {"order": "A-1"}' });
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as Record<string, any>;
    expect(structured.status).toBe('requires_action');
    expect(structured.required_action).toBeTruthy();
    expect(texts(result)[0]).toContain(`runs/${structured.run_id}/tool_outputs`);
    const stored = await call(server.url, 'GET', `/v1/agents/${refunderId}/runs/${structured.run_id}`, { key: ws.testKey });
    expect(stored.body.status).toBe('requires_action');
  });

  it('runs a workflow with its input schema and returns its output', async () => {
    const client = await connect(ws.testKey);
    const result = await toolCall(client, 'Add_numbers', { a: 2, b: 3 });
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as Record<string, any>;
    expect(structured).toMatchObject({ workflow_id: workflowId, status: 'completed', output: { sum: 5 } });
    expect(JSON.parse(texts(result)[0]!)).toEqual({ sum: 5 });
    const stored = await call(server.url, 'GET', `/v1/workflows/${workflowId}/runs/${structured.run_id}`, { key: ws.testKey });
    expect(stored.body.status).toBe('completed');

    const invalid = await toolCall(client, 'Add_numbers', { a: 'two' });
    expect(invalid.isError).toBe(true);
    expect(texts(invalid)[0]).toMatch(/parameter_invalid|parameter_missing/);
  });

  it('answers with the run id and status when a workflow run waits for an approval', async () => {
    const approval = await post('/v1/workflows', { name: 'Needs approval', steps: [{ id: 'review', type: 'approval', prompt: 'Go?' }] });
    expect(approval.status, approval.text).toBe(201);
    const client = await connect(ws.testKey);
    const { tools } = await client.listTools();
    expect(tools.find((tool) => tool.name === 'Needs_approval')!.inputSchema).toEqual({ type: 'object' });

    const waiting = await toolCall(client, 'Needs_approval', {});
    expect(waiting.isError).toBeFalsy();
    const structured = waiting.structuredContent as Record<string, any>;
    expect(structured).toMatchObject({ workflow_id: approval.body.id, status: 'waiting' });
    expect(texts(waiting)[0]).toContain(`/v1/workflows/${approval.body.id}/runs/${structured.run_id}`);
  });

  it('exposes context sources as resources and their documents through a template', async () => {
    const client = await connect(ws.testKey);
    const { resources } = await client.listResources();
    expect(resources).toEqual([{ uri: `kairo://context/sources/${sourceId}`, name: 'handbook', title: 'handbook', description: 'The staff handbook.', mimeType: 'application/json' }]);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((template) => template.uriTemplate)).toEqual([
      'kairo://context/sources/{source_id}', 'kairo://context/sources/{source_id}/documents/{document_id}',
    ]);
    const source = await client.readResource({ uri: resources[0]!.uri });
    const body = JSON.parse((source.contents[0] as { text: string }).text);
    expect(body).toMatchObject({ object: 'context_source', id: sourceId, name: 'handbook', documents_has_more: false });
    expect(body.documents).toHaveLength(1);
    expect(body.documents[0]).toMatchObject({ id: documentId, title: 'Leave', uri: `kairo://context/sources/${sourceId}/documents/${documentId}` });
    const document = await client.readResource({ uri: body.documents[0].uri });
    expect(document.contents[0]).toMatchObject({ mimeType: 'text/plain', text: 'Everyone gets 25 days of leave a year.' });
    // By name, as the API takes a source.
    const byName = await client.readResource({ uri: 'kairo://context/sources/handbook' });
    expect(JSON.parse((byName.contents[0] as { text: string }).text).id).toBe(sourceId);
    await expect(client.readResource({ uri: 'kairo://context/sources/src_00000000000000000000000000' })).rejects.toThrow(/No such context source/);
    await expect(client.readResource({ uri: 'https://example.com/' })).rejects.toThrow(/No such resource/);
  });

  it('keeps live and test mode apart', async () => {
    const client = await connect(ws.liveKey);
    expect((await client.listTools()).tools).toEqual([]);
    expect((await client.listResources()).resources).toEqual([]);
  });

  it('applies the key\'s permissions: a read-only key lists but cannot run', async () => {
    const readOnly = await keyWith({ agents: 'read', workflows: 'read', context: 'read' });
    const client = await connect(readOnly);
    const everything = (await (await connect(ws.testKey)).listTools()).tools.map((tool) => tool.name);
    expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(everything);
    const denied = await toolCall(client, 'Support_Bot', { message: 'hello' });
    expect(denied.isError).toBe(true);
    expect(texts(denied)[0]).toBe('This API key cannot write agents: it needs the agents:write permission.');
    const deniedWorkflow = await toolCall(client, 'Add_numbers', { a: 1, b: 2 });
    expect(texts(deniedWorkflow)[0]).toContain('workflows:write');
    const runs = await call(server.url, 'GET', `/v1/agents/${agentId}/runs?limit=100`, { key: ws.testKey });
    expect(runs.body.data.some((r: { output: string }) => r.output === 'Simulated answer to "hello".')).toBe(false);

    // A key without an area does not see its tools or resources.
    const agentsOnly = await connect(await keyWith({ agents: 'write' }));
    expect((await agentsOnly.listTools()).tools.map((tool) => tool.name)).toEqual(['Support_Bot', 'Refunder', 'Support_Bot_2']);
    expect((await agentsOnly.listResources()).resources).toEqual([]);
    await expect(agentsOnly.readResource({ uri: `kairo://context/sources/${sourceId}` })).rejects.toThrow(/context:read/);
    expect((await toolCall(agentsOnly, 'Support_Bot', { message: 'allowed' })).isError).toBeFalsy();
  });

  it('refuses requests without a valid key, and GET and DELETE (a stateless server)', async () => {
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
    const missing = await call(server.url, 'POST', '/v1/mcp', { body });
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('missing_api_key');
    const invalid = await call(server.url, 'POST', '/v1/mcp', { body, key: 'sk_test_nope' });
    expect(invalid.status).toBe(401);
    await expect(connect('sk_test_nope')).rejects.toThrow();

    for (const method of ['GET', 'DELETE']) {
      const res = await call(server.url, method, '/v1/mcp', { key: ws.testKey });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect(res.body.error.code).toBe('method_not_allowed');
    }
    // A message that is not JSON-RPC is refused in the standard error shape.
    const notRpc = await call(server.url, 'POST', '/v1/mcp', { body: { jsonrpc: '2.0' }, key: ws.testKey });
    expect(notRpc.status).toBe(400);
    expect(notRpc.body.error.code).toBe('invalid_request');
    const oldProtocol = await call(server.url, 'POST', '/v1/mcp', { body, key: ws.testKey, headers: { 'mcp-protocol-version': '1999-01-01' } });
    expect(oldProtocol.status).toBe(400);
    expect(oldProtocol.body.error.code).toBe('invalid_request');
    expect(oldProtocol.body.error.message).toContain('protocol version');
    // A plain JSON request (no event-stream Accept) is answered in JSON, with the rate-limit headers.
    const plain = await call(server.url, 'POST', '/v1/mcp', { body, key: ws.testKey });
    expect(plain.status, plain.text).toBe(200);
    expect(plain.body.result.tools.map((tool: { name: string }) => tool.name)).toContain('Support_Bot');
    expect(plain.headers.get('x-ratelimit-limit')).toBeTruthy();
  });

  it('answers the official MCP inspector CLI', async () => {
    const cli = path.join(repoRoot, 'node_modules/.bin/mcp-inspector-cli');
    const { stdout } = await run(cli, [
      '--cli', `${server.url}/v1/mcp`, '--transport', 'http', '--method', 'tools/list', '--header', `Authorization: Bearer ${ws.testKey}`,
    // The CLI checks for `../package.json` relative to its working directory but imports it
    // relative to its own file: from a directory with a package.json above it, it reads its own.
    ], { timeout: 60_000, cwd: path.join(repoRoot, 'test') });
    const listed = JSON.parse(stdout) as { tools: Array<{ name: string }> };
    expect(listed.tools.map((tool) => tool.name)).toContain('Support_Bot');
  }, 90_000);
});
