import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RunEvent } from '../store/port.js';

/**
 * The headers an event stream starts with: its type, no caching, the request id, and those of the
 * headers set so far that `forward` names (the reply is hijacked, so they are copied over).
 */
export function eventStreamHead(request: FastifyRequest, reply: FastifyReply, forward = /^(x-ratelimit|kairo-budget)-/i): Record<string, string> {
  return {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-request-id': request.id,
    ...Object.fromEntries(Object.entries(reply.getHeaders()).filter(([k]) => forward.test(k)).map(([k, v]) => [k, String(v)])),
  };
}

/**
 * Answers with a run's events as server-sent events: `id` is the event's sequence number (what a
 * client sends back as `Last-Event-ID`), `event` its type. The reply is hijacked, so the
 * rate-limit and budget headers set earlier are copied over; `events` gets a signal that aborts when the
 * client goes away, and `finish` runs once the stream ends (a hijacked reply skips onSend, so an
 * idempotent request stores its response there).
 */
export async function sendEventStream(
  request: FastifyRequest,
  reply: FastifyReply,
  events: (signal: AbortSignal) => AsyncIterable<RunEvent>,
  finish: () => Promise<unknown>,
): Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, eventStreamHead(request, reply));
  const closed = new AbortController();
  raw.on('close', () => closed.abort());
  const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), 15_000);
  try {
    for await (const event of events(closed.signal)) {
      raw.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify({ ...event.data, sequence: event.seq })}\n\n`);
    }
  } finally {
    clearInterval(heartbeat);
    await finish();
    raw.end();
  }
}
