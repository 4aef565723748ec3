import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify';
import { KairoError } from '../../errors.js';
import { isConnectionError } from '../../redis/redis-health.js';
import type { AuthContext, Authenticator } from '../../platform/authenticate.js';
import type { BucketPolicy, RateLimitDecision, RateLimiter } from '../../limits/port.js';
import { plans } from '../../platform/plans.js';
import { allows, permissionDenied, requiredPermission, type Permission } from '../../platform/permissions.js';
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
 * Authenticates every non-public `/v1` route, takes the request's rate-limit tokens and sets the
 * rate-limit headers, so that they are on every authenticated response, errors included; then
 * refuses a restricted key without the route's permission (403 `permission_denied`).
 *
 * What each route needs (src/platform/permissions.ts) is decided once, when it is registered (as
 * for idempotency), not on every request; a `/v1` route the permission table does not know fails
 * to register. The hook is callback-style: with SQLite and the in-process limiter every step is
 * synchronous, so an authenticated request goes on to the handler in the same tick, without a
 * promise and a microtask per hook; a Redis limiter or a PostgreSQL store takes the async path.
 * Registered before the routes; runs after the app-wide onRequest hooks (request id, HTTPS policy).
 */
export function registerAuth(app: FastifyInstance, deps: { authenticator: Authenticator; rateLimiter: RateLimiter }): void {
  app.decorateRequest('auth', null);

  /** Records the caller, takes its tokens, sets the headers and checks its permission; calls `done` once, with the refusal if any. */
  const admit = (request: FastifyRequest, reply: FastifyReply, auth: AuthContext, permission: Permission | null, done: HookHandlerDoneFunction): void => {
    request.auth = auth;
    const limited = takeTokens(deps.rateLimiter, auth);
    if (limited instanceof Promise) {
      limited.then(
        (settled) => done(answer(reply, settled, auth, permission)),
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
    done(answer(reply, limited, auth, permission));
  };

  /** The hook of a route that needs `permission` (null: any key may call it). */
  const authenticateFor = (permission: Permission | null): onRequestHookHandler => (request, reply, done) => {
    // A synchronous throw (no or malformed key) is caught by Fastify and handled like done(error).
    const auth = deps.authenticator.authenticate(request.headers.authorization);
    if (auth instanceof Promise) auth.then((resolved) => admit(request, reply, resolved, permission, done), done);
    else admit(request, reply, auth, permission, done);
  };
  const authenticateOpen = authenticateFor(null);

  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/') || route.config?.public) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const needed = methods.map((method) => requiredPermission(method, route.url));
    const [first] = needed;
    if (first === undefined || needed.some((permission) => !samePermission(permission, first))) {
      throw new Error(`${methods.join(',')} ${route.url}: no single permission for this route; add it to src/platform/permissions.ts`);
    }
    const permission = first === 'open' ? null : first;
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [permission === null ? authenticateOpen : authenticateFor(permission), ...existing];
  });
}

function samePermission(a: Permission | 'open' | undefined, b: Permission | 'open'): boolean {
  return a === b || (typeof a === 'object' && typeof b === 'object' && a.area === b.area && a.access === b.access);
}

/** The decision the rate-limit headers show; `keyLimit` is set when it is the key's own bucket's. */
type Limited = RateLimitDecision & { keyLimit?: number };

/**
 * Takes one token from the key's own bucket (when it has a limit) and then one from the
 * workspace's; null when no bucket applies (an unlimited plan and no key limit). The key's comes
 * first so that a key over its own limit does not drain the bucket its workspace's other keys
 * share. The headers show the bucket that refused, or else the one with fewer tokens remaining
 * (the key's on a tie).
 */
function takeTokens(limiter: RateLimiter, auth: AuthContext): Limited | null | Promise<Limited | null> {
  const workspaceBucket = buckets[auth.workspace.plan];
  const keyLimit = auth.key.rateLimitPerMinute;
  if (keyLimit === null) return workspaceBucket === null ? null : limiter.consume(auth.workspace.id, workspaceBucket);
  return settle(limiter.consume(auth.key.id, { capacity: keyLimit, refillPerMinute: keyLimit }), (keyDecision): Limited | Promise<Limited> => {
    const fromKey: Limited = { ...keyDecision, keyLimit };
    if (!keyDecision.allowed || workspaceBucket === null) return fromKey;
    return settle(limiter.consume(auth.workspace.id, workspaceBucket), (workspaceDecision) =>
      !workspaceDecision.allowed || workspaceDecision.remaining < keyDecision.remaining ? workspaceDecision : fromKey);
  });
}

/** `then` that stays synchronous for a synchronous value. */
function settle<T, R>(value: T | Promise<T>, next: (settled: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** Sets the rate-limit headers; the refusal when a bucket was empty or the key lacks the permission. */
function answer(reply: FastifyReply, decision: Limited | null, auth: AuthContext, permission: Permission | null): KairoError | undefined {
  if (decision === null) {
    reply.header('X-RateLimit-Limit', 'unlimited').header('X-RateLimit-Remaining', 'unlimited').header('X-RateLimit-Reset', '0');
  } else {
    reply
      .header('X-RateLimit-Limit', String(decision.limit))
      .header('X-RateLimit-Remaining', String(decision.remaining))
      .header('X-RateLimit-Reset', String(decision.resetSeconds));
    if (!decision.allowed) {
      const limit = decision.keyLimit === undefined
        ? `Rate limit of ${plans[auth.workspace.plan].requestsPerMinute} requests per minute (burst ${plans[auth.workspace.plan].burst})`
        : `Rate limit of this API key, ${decision.keyLimit} requests per minute,`;
      return new KairoError('rate_limited', {
        message: `${limit} exceeded. Retry in ${decision.retryAfterSeconds} s.`,
        headers: { 'Retry-After': String(decision.retryAfterSeconds) },
      });
    }
  }
  if (permission !== null && !allows(auth.key.permissions, permission)) return permissionDenied(permission);
  return undefined;
}
