import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { spawnCli } from '../support/cli.js';
import { tempDir } from '../support/services.js';

/** Whether the official Standard Webhooks library accepts a received call with `secret`. */
function verifies(secret: string, request: { headers: http.IncomingHttpHeaders; body: string }): boolean {
  try {
    new Webhook(secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * The secret that signs http tool calls, through the real server: readable by the workspace's
 * keys (one per mode), rotatable with an overlap in which both secrets sign, and verifiable with
 * the official library.
 */
describe('the http tool signing secret', () => {
  let server: TestServer;
  let ws: TestWorkspace;
  let receiver: http.Server;
  let receiverUrl: string;
  const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  const post = (path: string, body: unknown, key = ws.testKey) => call(server.url, 'POST', path, { key, body });
  const get = (path: string, key = ws.testKey) => call(server.url, 'GET', path, { key });

  /** Runs the agent's http tool once and returns the call the receiver got. */
  async function toolCall(agentId: string): Promise<{ headers: http.IncomingHttpHeaders; body: string }> {
    const before = received.length;
    const run = await post(`/v1/agents/${agentId}/runs`, { input: 'call forecast {"city":"Oslo"}' });
    expect(run.body.status).toBe('completed');
    expect(received).toHaveLength(before + 1);
    return received.at(-1)!;
  }

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ summary: 'sunny' }));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    server = await startTestServer('sqlite', { outboundAllowCidrs: '127.0.0.0/8' });
    ws = await server.workspace('pro');
  });
  afterAll(async () => {
    await server?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it('is one secret per mode, and verifies the calls it signs', async () => {
    const test = await get('/v1/tool_signing_secret');
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ object: 'tool_signing_secret', livemode: false, previous_secret_expires_at: null });
    expect(test.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect((await get('/v1/tool_signing_secret')).body.secret).toBe(test.body.secret);
    const live = await get('/v1/tool_signing_secret', ws.liveKey);
    expect(live.body.livemode).toBe(true);
    expect(live.body.secret).not.toBe(test.body.secret);

    const agent = (await post('/v1/agents', {
      name: 'Forecaster',
      tools: [{ type: 'http', name: 'forecast', url: `${receiverUrl}/forecast`, parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
    })).body;
    const signed = await toolCall(agent.id);
    expect(verifies(test.body.secret, signed)).toBe(true);
    expect(verifies(live.body.secret, signed)).toBe(false);
  });

  it('rotates with an overlap in which both secrets sign, and without one', async () => {
    const agent = (await post('/v1/agents', {
      name: 'Rotating',
      tools: [{ type: 'http', name: 'forecast', url: `${receiverUrl}/forecast`, parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
    })).body;
    const old = (await get('/v1/tool_signing_secret')).body.secret;
    const rotated = await post('/v1/tool_signing_secret/rotate', { overlap_seconds: 3600 });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(old);
    expect(Date.parse(rotated.body.previous_secret_expires_at) - Date.now()).toBeGreaterThan(3_500_000);
    expect((await get('/v1/tool_signing_secret')).body).toEqual(rotated.body);
    const during = await toolCall(agent.id);
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifies(rotated.body.secret, during)).toBe(true);
    expect(verifies(old, during)).toBe(true);

    const again = await post('/v1/tool_signing_secret/rotate', { overlap_seconds: 0 });
    expect(again.body.previous_secret_expires_at).toBeNull();
    const after = await toolCall(agent.id);
    expect(verifies(again.body.secret, after)).toBe(true);
    expect(verifies(rotated.body.secret, after)).toBe(false);

    const bad = await post('/v1/tool_signing_secret/rotate', { overlap_seconds: 8 * 24 * 3600 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('overlap_seconds');
  });

  it('is shown and rotated by the CLI too', async () => {
    const dir = tempDir('kairo-tool-secret-');
    try {
      const run = async (args: string[]) => {
        const proc = spawnCli([...args, '--data', dir]);
        const { code } = await proc.exited();
        expect(code, proc.stderr()).toBe(0);
        return proc.stdout().trim();
      };
      const workspace = await run(['workspaces', 'create', '--name', 'cli']);
      const shown = await run(['tool-secret', 'show', '--workspace', workspace, '--mode', 'test']);
      expect(shown).toMatch(/^whsec_/);
      expect(await run(['tool-secret', 'show', '--workspace', workspace, '--mode', 'test'])).toBe(shown);
      const rotated = await run(['tool-secret', 'rotate', '--workspace', workspace, '--mode', 'test', '--overlap-seconds', '0']);
      expect(rotated).toMatch(/^whsec_/);
      expect(rotated).not.toBe(shown);
      expect(await run(['tool-secret', 'show', '--workspace', workspace, '--mode', 'test'])).toBe(rotated);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
