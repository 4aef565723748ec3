import type { FastifyReply, FastifyRequest } from 'fastify';
import { eventStreamHead } from './sse.js';

/** A server-sent event stream in OpenAI's format, open on a hijacked reply. */
export interface OpenAiEventStream {
  /** Writes one event: `data: <json>`, after `event: <name>` when named. */
  send(data: unknown, event?: string): void;
  /** Writes Chat Completions' closing `data: [DONE]`. */
  done(): void;
  end(): void;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

/**
 * Starts answering with server-sent events. The reply is hijacked, so the headers set so far
 * that a client reads (rate limits, budgets, the run's id) are copied over.
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply): OpenAiEventStream {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, eventStreamHead(request, reply, /^(x-ratelimit-|kairo-budget-|kairo-run-id$)/i));
  const closed = new AbortController();
  raw.on('close', () => closed.abort());
  const write = (text: string) => {
    if (!raw.writableEnded && !raw.destroyed) raw.write(text);
  };
  const heartbeat = setInterval(() => write(': keep-alive\n\n'), 15_000);
  return {
    send: (data, event) => write(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`),
    done: () => write('data: [DONE]\n\n'),
    end: () => {
      clearInterval(heartbeat);
      if (!raw.writableEnded) raw.end();
    },
    signal: closed.signal,
  };
}
