import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../errors.js';
import type { AuthContext, Authenticator } from '../../platform/authenticate.js';
import type { RateLimiter } from '../../limits/port.js';
import { plans } from '../../platform/plans.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
  }
  interface FastifyContextConfig {
    /** Routes marked public skip authentication and rate limiting. */
    public?: boolean;
  }
}

/** The caller of an authenticated route (the auth hook guarantees it is set). */
export function authOf(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new ApiError('missing_api_key');
  return request.auth;
}

/**
 * Authenticates every non-public `/v1` route, then takes one token from the workspace's bucket and
 * sets the rate-limit headers, so that they are on every authenticated response, errors included.
 */
export function registerAuth(app: FastifyInstance, deps: { authenticator: Authenticator; rateLimiter: RateLimiter }): void {
  app.decorateRequest('auth', null);

  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route === undefined || !route.startsWith('/v1/') || request.routeOptions.config.public) return;
    const auth = await deps.authenticator.authenticate(request.headers.authorization);
    request.auth = auth;

    const limits = plans[auth.workspace.plan];
    if (limits.burst === null || limits.requestsPerMinute === null) {
      reply.header('X-RateLimit-Limit', 'unlimited').header('X-RateLimit-Remaining', 'unlimited').header('X-RateLimit-Reset', '0');
      return;
    }
    let decision = deps.rateLimiter.consume(auth.workspace.id, { capacity: limits.burst, refillPerMinute: limits.requestsPerMinute });
    if (decision instanceof Promise) {
      // A limiter that cannot be reached (Redis down) refuses rather than letting traffic through unmetered.
      decision = await decision.catch((error: unknown) => {
        request.log.error({ err: error }, 'rate limiter unavailable');
        throw new ApiError('service_unavailable', { message: 'Rate limiting is temporarily unavailable. Retry shortly.' });
      });
    }
    reply
      .header('X-RateLimit-Limit', String(decision.limit))
      .header('X-RateLimit-Remaining', String(decision.remaining))
      .header('X-RateLimit-Reset', String(decision.resetSeconds));
    if (!decision.allowed) {
      throw new ApiError('rate_limited', {
        message: `Rate limit of ${limits.requestsPerMinute} requests per minute (burst ${limits.burst}) exceeded. Retry in ${decision.retryAfterSeconds} s.`,
        headers: { 'Retry-After': String(decision.retryAfterSeconds) },
      });
    }
  });
}
