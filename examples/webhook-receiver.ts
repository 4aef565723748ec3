/**
 * Webhooks: receive a run's events as they happen, and check that KAIRO sent them.
 *
 * 1. Starts an HTTP receiver on 127.0.0.1 (a free port) and registers it as a webhook endpoint
 *    for every `agent.run.*` event.
 * 2. Runs an agent, and verifies each delivery's Standard Webhooks signature with the
 *    endpoint's secret before trusting it; prints each event it receives.
 * 3. Once the run's `agent.run.completed` has arrived, deletes the endpoint and stops.
 *
 * KAIRO refuses to call loopback and private addresses unless its operator allows them, so the
 * server must be started with this receiver's address allowed (see examples/README.md):
 *   KAIRO_OUTBOUND_ALLOW_CIDRS=127.0.0.1/32 npm start
 * Then:
 *   KAIRO_API_KEY=sk_test_… npx tsx examples/webhook-receiver.ts
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { ConnectionError, InvalidRequestError, Kairo, KairoError } from 'kairo/client';

const baseUrl = process.env.KAIRO_URL ?? 'http://127.0.0.1:8080';
const apiKey = process.env.KAIRO_API_KEY ?? '';
if (!apiKey.startsWith('sk_test_')) fail('Set KAIRO_API_KEY to a test key (sk_test_…): the server prints one on its first start.');

interface KairoEvent {
  id: string;
  type: string;
  created_at: string;
  data: { object: { id: string; status?: string } };
}

const kairo = new Kairo({ baseUrl, apiKey });

try {
  await main();
} catch (error) {
  fail(describeError(error));
}

async function main() {
  console.log(`Using KAIRO at ${baseUrl}`);

  // The secret is known once the endpoint exists; deliveries cannot come before that.
  let verifier: Webhook | undefined;
  const handled = new Set<string>();
  const received: KairoEvent[] = [];
  let onEvent = () => {};

  const receiver = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      // Verify the raw body as it arrived, before parsing it.
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(request.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
      };
      let event: KairoEvent;
      try {
        if (!verifier) throw new Error('no secret yet');
        event = verifier.verify(rawBody, headers) as KairoEvent;
      } catch (error) {
        console.log(`  ✗ rejected a delivery (${headers['webhook-id'] || 'no webhook-id'}): ${error instanceof Error ? error.message : error}`);
        response.writeHead(400).end();
        return;
      }
      response.writeHead(204).end();
      // Deliveries are at least once: a repeat has the same webhook-id, the event's id.
      if (handled.has(event.id)) return;
      handled.add(event.id);
      received.push(event);
      console.log(`  ← ${event.type} for ${event.data.object.id} (event ${event.id}, signature verified)`);
      onEvent();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/kairo-events`;
  console.log(`Receiver listening on ${receiverUrl}`);

  let endpointId: string | undefined;
  try {
    const endpoint = await createEndpoint(receiverUrl);
    endpointId = endpoint.id;
    if (!endpoint.secret) throw new Error('The new endpoint came without its secret.');
    verifier = new Webhook(endpoint.secret);
    console.log(`Registered webhook endpoint ${endpoint.id} for ${endpoint.enabled_events.join(', ')} (its secret is shown only in this response).`);

    const agent = await kairo.post('/v1/agents', { body: { name: 'Webhook demo', instructions: 'Answer in one sentence.' } });
    console.log(`\nRunning agent "${agent.name}" (${agent.id}); events received:`);
    const run = await kairo.post('/v1/agents/{id}/runs', { params: { path: { id: agent.id } }, body: { input: 'Say hello to the webhook.' } });

    const isFinal = (event: KairoEvent) => event.data.object.id === run.id && /^agent\.run\.(completed|failed|cancelled)$/.test(event.type);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`No final event for run ${run.id} arrived within 20 s.`)), 20_000);
      onEvent = () => {
        if (!received.some(isFinal)) return;
        clearTimeout(timer);
        resolve();
      };
      onEvent();
    });
    const ofRun = received.filter((event) => event.data.object.id === run.id).sort((a, b) => a.created_at.localeCompare(b.created_at));
    console.log(`\nRun ${run.id} ${run.status}; received ${ofRun.length} verified events for it: ${ofRun.map((event) => event.type).join(', ')}`);
  } finally {
    if (endpointId) {
      await kairo.delete('/v1/webhook_endpoints/{id}', { params: { path: { id: endpointId } } });
      console.log(`Deleted webhook endpoint ${endpointId}.`);
    }
    receiver.closeAllConnections();
    receiver.close();
  }
}

async function createEndpoint(url: string) {
  try {
    return await kairo.post('/v1/webhook_endpoints', { body: { url, enabled_events: ['agent.run.*'], description: 'examples/webhook-receiver.ts' } });
  } catch (error) {
    if (error instanceof InvalidRequestError && error.param === 'url') {
      throw new Error(`KAIRO refused the receiver's address ${url}: ${error.message}\nStart the server with KAIRO_OUTBOUND_ALLOW_CIDRS=127.0.0.1/32 so that it may call this receiver.`);
    }
    throw error;
  }
}

function describeError(error: unknown): string {
  if (error instanceof ConnectionError) return `Could not reach KAIRO at ${baseUrl}: ${error.message} Is the server running? See examples/README.md.`;
  if (error instanceof KairoError) return `KAIRO answered ${error.status} ${error.code ?? ''}: ${error.message} (request ${error.requestId ?? 'unknown'})`;
  return error instanceof Error ? error.message : String(error);
}

function fail(message: string): never {
  console.error(`Failed: ${message}`);
  process.exit(1);
}
