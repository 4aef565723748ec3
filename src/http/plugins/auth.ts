import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify';
import { KairoError } from '../../errors.js';
import { isConnectionError } from '../../redis/redis-health.js';
import type { AuthContext, Authenticator } from '../../platform/authenticate.js';
import type { BucketPolicy, RateLimitDecision, RateLimiter } from '../../limits/port.js';
import { plans, type PlanLimits } from '../../platform/plans.js';
import type { PlanName } from '../../store/port.js';

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
  if (!request.auth) throw new KairoError('missing_api_key');
  return request.auth;
}

/** Retry-After of a request refused because the rate limiter cannot be reached: Redis reconnects within a few seconds once it is back. */
const UNAVAILABLE_RETRY_AFTER_S = 2;

/** Each plan's bucket, or null when the plan is unlimited; built once, not per request. */
const buckets = Object.fromEntries(
  Object.entries(plans).map(([name, limits]) => [
    name,
    limits.burst === null || limits.requestsPerMinute === null ? null : { capacity: limits.burst, refillPerMinute: limits.requestsPerMinute },
  ]),
) as Record<PlanName, BucketPolicy | null>;

/**
 * Authenticates every non-public `/v1` route, then takes one token from the workspace's bucket and
 * sets the rate-limit headers, so that they are on every authenticated response, errors included.
 *
 * Which routes need it is decided once, when each route is registered (as for idempotency), not
 * on every request. The hook is callback-style: with SQLite and the in-process limiter every step
 * is synchronous, so an authenticated request goes on to the handler in the same tick, without a
 * promise and a microtask per hook; a Redis limiter or a PostgreSQL store takes the async path.
 * Registered before the routes; runs after the app-wide onRequest hooks (request id, HTTPS policy).
 */
export function registerAuth(app: FastifyInstance, deps: { authenticator: Authenticator; rateLimiter: RateLimiter }): void {
  app.decorateRequest('auth', null);

  /** Records the caller, takes a token and sets the headers; calls `done` once, with the refusal if any. */
  const admit = (request: FastifyRequest, reply: FastifyReply, auth: AuthContext, done: HookHandlerDoneFunction): void => {
    request.auth = auth;
    const plan = auth.workspace.plan;
    const bucket = buckets[plan];
    if (bucket === null) {
      reply.header('X-RateLimit-Limit', 'unlimited').header('X-RateLimit-Remaining', 'unlimited').header('X-RateLimit-Reset', '0');
      done();
      return;
    }
    const decision = deps.rateLimiter.consume(auth.workspace.id, bucket);
    if (decision instanceof Promise) {
      decision.then(
        (settled) => done(applyDecision(reply, settled, plans[plan])),
        (error: unknown) => {
          // A limiter that cannot be reached (Redis down) refuses rather than letting traffic
          // through unmetered. The outage itself is logged once, not on every request.
          if (!isConnectionError(error)) request.log.error({ err: error }, 'rate limiter unavailable');
          done(new KairoError('service_unavailable', {
            message: 'Rate limiting is temporarily unavailable. Retry shortly.',
            headers: { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_S) },
          }));
        },
      );
      return;
    }
    done(applyDecision(reply, decision, plans[plan]));
  };

  // A synchronous throw (no or malformed key) is caught by Fastify and handled like done(error).
  const authenticate: onRequestHookHandler = (request, reply, done) => {
    const auth = deps.authenticator.authenticate(request.headers.authorization);
    if (auth instanceof Promise) auth.then((resolved) => admit(request, reply, resolved, done), done);
    else admit(request, reply, auth, done);
  };

  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/') || route.config?.public) return;
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [authenticate, ...existing];
  });
}

/** Sets the rate-limit headers; the refusal when the bucket was empty. */
function applyDecision(reply: FastifyReply, decision: RateLimitDecision, limits: PlanLimits): KairoError | undefined {
  reply
    .header('X-RateLimit-Limit', String(decision.limit))
    .header('X-RateLimit-Remaining', String(decision.remaining))
    .header('X-RateLimit-Reset', String(decision.resetSeconds));
  if (decision.allowed) return undefined;
  return new KairoError('rate_limited', {
    message: `Rate limit of ${limits.requestsPerMinute} requests per minute (burst ${limits.burst}) exceeded. Retry in ${decision.retryAfterSeconds} s.`,
    headers: { 'Retry-After': String(decision.retryAfterSeconds) },
  });
}
