/**
 * The webhook sender thread: signs and posts deliveries under the outbound address policy,
 * answers the receiver's status or a FetchError, stops a delivery whose signal aborts, and starts
 * a new thread after one stopped with deliveries in flight (which fail, so their batch runs again).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchError } from '../../src/net/fetch-types.js';
import { generateWebhookSecret } from '../../src/webhooks/signing.js';
import { ThreadedSender, type Delivery } from '../../src/webhooks/threaded-sender.js';

describe('ThreadedSender', () => {
  const secret = generateWebhookSecret();
  const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        if (request.url === '/slow') return; // never answers
        received.push({ headers: request.headers, body });
        response.writeHead(request.url === '/fail' ? 503 : 204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const delivery = (path: string, overrides: Partial<Delivery> = {}): Delivery => ({
    url: `${base}${path}`, secrets: [secret], messageId: 'evt_test', at: Date.now(), body: JSON.stringify({ id: 'evt_test', type: 'ping' }),
    timeoutMs: 5_000, maxBytes: 1024, ...overrides,
  });

  it('posts signed deliveries and answers the status or a FetchError', async () => {
    const sender = new ThreadedSender(['127.0.0.0/8']);
    try {
      expect(await sender.send(delivery('/ok'), new AbortController().signal)).toEqual({ status: 204 });
      const last = received.at(-1)!;
      const verified = new Webhook(secret.slice('whsec_'.length)).verify(last.body, last.headers as Record<string, string>);
      expect(verified).toEqual({ id: 'evt_test', type: 'ping' });
      expect(last.headers['user-agent']).toBe('KAIRO-Webhooks/1');

      const failed = await sender.send(delivery('/fail'), new AbortController().signal).catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(FetchError);
      expect(failed).toMatchObject({ code: 'bad_status', status: 503 });
    } finally {
      await sender.close();
    }
  });

  it('refuses loopback addresses unless the operator allows them', async () => {
    const sender = new ThreadedSender([]);
    try {
      const refused = await sender.send(delivery('/ok'), new AbortController().signal).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(FetchError);
      expect(refused).toMatchObject({ code: 'address_blocked' });
    } finally {
      await sender.close();
    }
  });

  it('stops a delivery whose signal aborts, and starts again after its thread stopped', async () => {
    const sender = new ThreadedSender(['127.0.0.0/8']);
    try {
      const controller = new AbortController();
      const aborted = sender.send(delivery('/slow'), controller.signal).catch((error: unknown) => error);
      setTimeout(() => controller.abort(new Error('job stopping')), 100);
      expect(await aborted).toMatchObject({ message: 'job stopping' });

      const inFlight = sender.send(delivery('/slow'), new AbortController().signal).catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await sender.close();
      const lost = await inFlight;
      expect(lost).toBeInstanceOf(Error);
      expect(lost).not.toBeInstanceOf(FetchError);

      expect(await sender.send(delivery('/ok'), new AbortController().signal)).toEqual({ status: 204 });
    } finally {
      await sender.close();
    }
  });
});
