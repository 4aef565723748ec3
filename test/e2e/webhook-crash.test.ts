import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/server.js';
import { tempDir } from '../support/services.js';
import { waitFor } from '../support/site.js';
import { freePort, killAllCli, spawnCli, type CliProcess } from '../support/cli.js';

/**
 * Webhook delivery is at least once: a server killed (-9) while a receiver is answering a
 * delivery delivers the event again after the restart, with the same webhook-id, and records it.
 */
describe('webhooks survive kill -9 during a delivery', { timeout: 60_000 }, () => {
  let dir: string;
  let port: number;
  let receiver: http.Server;
  let receiverUrl: string;
  const received: Array<{ id: string; body: string }> = [];
  let holdFirst = true;

  const start = async (): Promise<CliProcess> => {
    // A short job lease: the interrupted delivery is taken up again two seconds after the restart.
    const proc = spawnCli(['serve', '--data', dir, '--port', String(port), '--log-level', 'warn', '--job-lease', '2000', '--outbound-allow-cidrs', '127.0.0.0/8']);
    await proc.waitFor(/listening on (\S+)/);
    return proc;
  };

  beforeAll(async () => {
    dir = tempDir('kairo-webhook-crash-');
    port = await freePort();
    receiver = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ id: String(request.headers['webhook-id']), body });
        // The first delivery is never answered: the server is killed while waiting for it.
        if (holdFirst) {
          holdFirst = false;
          return;
        }
        response.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await killAllCli();
    receiver?.closeAllConnections();
    receiver?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers the event again after the restart, with the same webhook-id', async () => {
    const base = `http://127.0.0.1:${port}`;
    let server = await start();
    const key = (await server.waitFor(/^ {2}test key: (sk_test_\S+)$/m))[1]!;
    const hook = await call(base, 'POST', '/v1/webhook_endpoints', { key, body: { url: `${receiverUrl}/hook`, enabled_events: ['api_key.created'] } });
    expect(hook.status).toBe(201);
    const created = await call(base, 'POST', '/v1/api_keys', { key, body: { name: 'crash' } });
    expect(created.status).toBe(201);
    await waitFor(async () => received.length, (n) => n === 1);
    await server.kill9();

    server = await start();
    await waitFor(async () => received.length, (n) => n >= 2, 20_000);
    expect(received[1]!.id).toBe(received[0]!.id);
    expect(received[1]!.body).toBe(received[0]!.body);
    expect(JSON.parse(received[1]!.body)).toMatchObject({ type: 'api_key.created', data: { object: { id: created.body.id } } });
    const attempts = await waitFor(
      () => call(base, 'GET', `/v1/webhook_endpoints/${hook.body.id}/deliveries`, { key }),
      (r) => r.body.data[0]?.status === 'succeeded',
    );
    expect(attempts.body.data.map((a: any) => [a.attempt, a.status, a.event_id])).toEqual([[1, 'succeeded', received[0]!.id]]);
    await server.kill9();
  });
});
