// The webhook sender's thread (started by ThreadedSender): signs each delivery and posts it through
// a safe fetcher of its own, under the same outbound address policy, and answers with the
// receiver's status or the fetch error.
import { parentPort, workerData } from 'node:worker_threads';
import { FetchError } from '../net/fetch-types.js';
import { createSafeFetcher } from '../net/safe-fetch.js';
import { signedHeaders } from './signing.js';
import type { SenderReply, SenderRequest } from './threaded-sender.js';

const port = parentPort!;
const fetcher = createSafeFetcher({ allowCidrs: (workerData as { allowCidrs: string[] }).allowCidrs });
const inFlight = new Map<number, AbortController>();
const reply = (message: SenderReply) => port.postMessage(message);

async function send(request: Extract<SenderRequest, { type: 'send' }>): Promise<void> {
  const controller = new AbortController();
  inFlight.set(request.id, controller);
  try {
    const headers = {
      ...signedHeaders(request.secrets, request.messageId, request.at, request.body),
      'content-type': 'application/json',
      'user-agent': 'KAIRO-Webhooks/1',
    };
    const response = await fetcher.fetch(request.url, {
      method: 'POST', headers, body: request.body, timeoutMs: request.timeoutMs, maxBytes: request.maxBytes, signal: controller.signal,
    });
    reply({ id: request.id, status: response.status });
  } catch (failure) {
    if (failure instanceof FetchError) reply({ id: request.id, fetchError: { code: failure.code, message: failure.message, status: failure.status } });
    else reply({ id: request.id, error: failure instanceof Error ? failure.message : String(failure) });
  } finally {
    inFlight.delete(request.id);
  }
}

port.on('message', (request: SenderRequest) => {
  if (request.type === 'abort') inFlight.get(request.id)?.abort(new Error('aborted'));
  else void send(request);
});
