import type { FastifyInstance, onResponseHookHandler } from 'fastify';
import type { RequestAccounting } from '../../analytics/request-accounting.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The agent or workflow run this request created, for the request log. */
    createdRunId: string | null;
    /** The error code the request was answered with, for the request log. */
    errorCode: string | null;
  }
}

/** `/v1/agents/:id/runs` → `/v1/agents/{id}/runs`, as the OpenAPI document names routes. */
const routeTemplate = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * Records every authenticated request (each route that the auth plugin guards) once its response
 * has been sent: a callback-style onResponse hook that hands one record to the accounting buffer,
 * with the route's template worked out once, when the route is registered.
 */
export function registerRequestAccounting(app: FastifyInstance, accounting: RequestAccounting): void {
  app.decorateRequest('createdRunId', null);
  app.decorateRequest('errorCode', null);
  if (!accounting.enabled) return;

  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/') || route.config?.public) return;
    const template = routeTemplate(route.url);
    const record: onResponseHookHandler = (request, reply, done) => {
      const auth = request.auth;
      if (auth !== null) {
        const latency = reply.elapsedTime;
        const url = request.url;
        const query = url.indexOf('?');
        const idempotencyKey = request.headers['idempotency-key'];
        accounting.record({
          id: request.id, scope: auth.scope, createdAt: 0, apiKeyId: auth.key.id, method: request.method,
          route: template, path: query === -1 ? url : url.slice(0, query), status: reply.statusCode, latencyMs: Math.round(latency * 100) / 100,
          errorCode: request.errorCode, idempotencyKey: typeof idempotencyKey === 'string' ? idempotencyKey.slice(0, 255) : null, runId: request.createdRunId,
        });
      }
      done();
    };
    const existing = route.onResponse === undefined ? [] : Array.isArray(route.onResponse) ? route.onResponse : [route.onResponse];
    route.onResponse = [...existing, record];
  });
}
