import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { KairoError } from '../../errors.js';
import type { Scope, Store } from '../../store/port.js';
import { IDEMPOTENCY_TTL_MS } from '../../platform/maintenance.js';

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: { scope: Scope; key: string } | null;
    /**
     * For a response streamed as server-sent events, which the stored-response hook never sees
     * whole: stores `body` (JSON, status 200) as what a retry with the same key gets, or, with
     * null, gives the key up so that a retry runs again.
     */
    recordStreamedResponse(body: string | null): Promise<void>;
  }
}

/** How long a claim stays locked if its request never finishes (the process died). */
const LOCK_MS = 5 * 60 * 1000;
/** How long a concurrent duplicate waits for the first request before it gets a 409. */
const WAIT_FOR_FIRST_MS = 3_000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** Response headers replayed with the stored body. */
const REPLAYED_HEADERS = ['location'];

/** JSON with sorted object keys, so that the same body always hashes the same. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value as object)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

function requestHash(request: FastifyRequest): string {
  const path = request.url.split('?')[0];
  return createHash('sha256').update(`${request.method} ${path}\n${canonicalJson(request.body ?? null)}`).digest('hex');
}

function replay(reply: FastifyReply, status: number, body: string, headers: Record<string, string> | null): FastifyReply {
  if (headers) reply.headers(headers);
  return reply.code(status).header('Idempotent-Replayed', 'true').type('application/json').send(body);
}

/**
 * `Idempotency-Key` on any POST (docs/api.md): the first request with a key runs and its
 * response is stored; a retry with the same key and body within 24 h gets that response again
 * with `Idempotent-Replayed: true`; the same key with a different body is refused; a concurrent
 * duplicate waits briefly for the first, then gets 409 — it never runs twice. Responses with a
 * 5xx status are not stored, so the client can retry them.
 */
export function registerIdempotency(app: FastifyInstance, deps: { store: Store; now?: () => number }): void {
  const now = deps.now ?? Date.now;
  app.decorateRequest('idempotency', null);
  app.decorateRequest('recordStreamedResponse', async function recordStreamedResponse(this: FastifyRequest, body: string | null) {
    const claim = this.idempotency;
    if (!claim) return;
    this.idempotency = null;
    if (body === null) await deps.store.idempotency.release(claim.scope, claim.key);
    else await deps.store.idempotency.complete(claim.scope, claim.key, 200, body, {});
  });

  // Attached to POST routes only, so reads pay nothing. preHandler runs after authentication and
  // validation: a request rejected there is not stored.
  const preHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.auth) return;
    const header = request.headers['idempotency-key'];
    if (header === undefined) return;
    if (typeof header !== 'string' || !KEY_PATTERN.test(header)) throw new KairoError('idempotency_key_invalid', { param: 'Idempotency-Key' });

    const scope = request.auth.scope;
    const hash = requestHash(request);
    const deadline = now() + WAIT_FOR_FIRST_MS;
    for (;;) {
      const at = now();
      const result = await deps.store.idempotency.claim({
        scope, key: header, requestHash: hash, state: 'in_progress', responseStatus: null, responseBody: null,
        responseHeaders: null, createdAt: at, lockedUntil: at + LOCK_MS,
      });
      if (result.claimed) {
        request.idempotency = { scope, key: header };
        return;
      }
      const existing = result.existing;
      if (existing.createdAt < at - IDEMPOTENCY_TTL_MS) {
        // Expired but not yet purged: forget it and claim afresh.
        await deps.store.idempotency.purge(at - IDEMPOTENCY_TTL_MS);
        continue;
      }
      if (existing.requestHash !== hash) {
        throw new KairoError('idempotency_key_reused', {
          message: 'This Idempotency-Key was already used with a different request (method, path or body). Use a new key.',
          param: 'Idempotency-Key',
        });
      }
      if (existing.state === 'completed') {
        return replay(reply, existing.responseStatus!, existing.responseBody ?? '', existing.responseHeaders);
      }
      if (now() >= deadline) throw new KairoError('idempotency_key_in_use', { param: 'Idempotency-Key' });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const onSend = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const claim = request.idempotency;
    if (!claim) return payload;
    request.idempotency = null;
    if (reply.statusCode >= 500) {
      await deps.store.idempotency.release(claim.scope, claim.key);
      return payload;
    }
    const headers: Record<string, string> = {};
    for (const name of REPLAYED_HEADERS) {
      const value = reply.getHeader(name);
      if (typeof value === 'string') headers[name] = value;
    }
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    await deps.store.idempotency.complete(claim.scope, claim.key, reply.statusCode, body, headers);
    return payload;
  };

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes('POST')) return;
    route.preHandler = [...toArray(route.preHandler), preHandler];
    route.onSend = [...toArray(route.onSend), onSend];
  });
}

function toArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}
