import { ConnectionError, ConnectionTimeoutError, retryAfterMs } from './errors.js';

export interface RetryPolicy {
  /** Tries after the first one. */
  maxRetries: number;
  /** How long one try may take to answer (for an event stream: until its headers arrive). */
  timeoutMs: number;
  /** The first backoff; each next one doubles, up to maxDelayMs, with jitter. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A `Retry-After` longer than this is not waited for: the error goes to the caller. */
  maxRetryAfterMs: number;
}

/** Methods that may be sent again without a key: the server does the same thing twice. */
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * A request that may be sent again after an answer was lost or a fault of the server: an
 * idempotent method, or one with an Idempotency-Key, which the server answers from its record
 * the second time instead of acting twice (docs/api.md, "Idempotency").
 */
function isReplayable(request: Request): boolean {
  return IDEMPOTENT_METHODS.has(request.method) || request.headers.has('idempotency-key');
}

/** Exponential backoff with jitter: the `attempt`th wait (from 0) is between half and all of its ceiling. */
export function backoffMs(policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>, attempt: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** attempt);
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

/** How long to wait before the next try, per the answer; undefined when it is not retried. */
async function retryDelay(request: Request, outcome: Outcome, attempt: number, policy: RetryPolicy): Promise<number | undefined> {
  const backoff = () => backoffMs(policy, attempt);
  if (!('response' in outcome)) return isReplayable(request) ? backoff() : undefined;
  const { response } = outcome;
  const refusedBeforeRunning = response.status === 429;
  const retryable =
    refusedBeforeRunning ||
    (isReplayable(request) && (response.status === 408 || response.status >= 500 || (response.status === 409 && (await isKeyInUse(response)))));
  if (!retryable) return undefined;
  const asked = retryAfterMs(response.headers);
  if (asked === undefined) return backoff();
  return asked <= policy.maxRetryAfterMs ? asked : undefined;
}

/** The 409 that says a request with the same Idempotency-Key is still running: it ends, so try again. */
async function isKeyInUse(response: Response): Promise<boolean> {
  try {
    const body = (await response.clone().json()) as { error?: { code?: unknown } };
    return body.error?.code === 'idempotency_key_in_use';
  } catch {
    return false;
  }
}

type Outcome = { response: Response } | { error: unknown; timedOut: boolean };

const timeoutReason = Symbol('timeout');

/**
 * One try: the response with its body read (so that a connection lost mid-body is a failed try
 * too), or for an event stream the response as soon as its headers arrived. The caller's signal
 * aborts it at any point.
 */
async function attempt(fetchImpl: typeof fetch, request: Request, timeoutMs: number): Promise<Outcome> {
  const controller = new AbortController();
  const callerSignal = request.signal;
  const onCallerAbort = () => controller.abort(callerSignal.reason);
  if (callerSignal.aborted) onCallerAbort();
  else callerSignal.addEventListener('abort', onCallerAbort, { once: true });
  const timer = setTimeout(() => controller.abort(timeoutReason), timeoutMs);
  let streaming = false;
  try {
    const response = await fetchImpl(new Request(request, { signal: controller.signal }));
    if ((response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      streaming = true;
      return { response };
    }
    const body = [101, 204, 205, 304].includes(response.status) ? null : await response.arrayBuffer();
    return { response: new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers }) };
  } catch (error) {
    if (callerSignal.aborted) throw callerSignal.reason ?? error;
    return { error, timedOut: controller.signal.reason === timeoutReason };
  } finally {
    clearTimeout(timer);
    if (!streaming) callerSignal.removeEventListener('abort', onCallerAbort);
  }
}

/**
 * Resolves once `ms` have passed (never sooner: timers count from the event loop's clock, which
 * may lag, so it waits again for any remainder), or rejects with the signal's reason as soon as
 * it aborts.
 */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  const until = performance.now() + ms;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let timer: ReturnType<typeof setTimeout>;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const wait = () => {
      const left = until - performance.now();
      if (left > 0) {
        timer = setTimeout(wait, Math.ceil(left));
        return;
      }
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    wait();
  });
}

/**
 * A fetch that retries what is safe to retry (network errors, timeouts, 408, 429, 5xx, and the
 * 409 of an Idempotency-Key still in use) with exponential backoff and jitter, or after
 * `Retry-After` when the server says how long. Every POST gets an Idempotency-Key unless it
 * has one, and keeps it on every try, so a POST whose answer was lost is retried without
 * running twice. The last error response is returned as it is; a request that never got one
 * throws a ConnectionError.
 */
export function retryingFetch(fetchImpl: typeof fetch, policy: RetryPolicy): (input: Request) => Promise<Response> {
  return async (input) => {
    let request = input;
    if (request.method === 'POST' && !request.headers.has('idempotency-key')) {
      const headers = new Headers(request.headers);
      headers.set('Idempotency-Key', crypto.randomUUID());
      request = new Request(request, { headers });
    }
    for (let tries = 0; ; tries++) {
      const outcome = await attempt(fetchImpl, request.clone(), policy.timeoutMs);
      const delay = tries < policy.maxRetries ? await retryDelay(request, outcome, tries, policy) : undefined;
      if (delay === undefined) {
        if ('response' in outcome) return outcome.response;
        const what = `${request.method} ${new URL(request.url).pathname}`;
        const tried = tries === 0 ? '' : ` (${tries + 1} tries)`;
        if (outcome.timedOut) throw new ConnectionTimeoutError(`${what} got no answer within ${policy.timeoutMs} ms${tried}.`, { cause: outcome.error });
        const reason = outcome.error instanceof Error ? (outcome.error.cause instanceof Error ? outcome.error.cause.message : outcome.error.message) : String(outcome.error);
        throw new ConnectionError(`${what} failed: ${reason}${tried}.`, { cause: outcome.error });
      }
      await sleep(delay, request.signal);
    }
  };
}
