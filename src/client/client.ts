import createClient from 'openapi-fetch';
import type { paths } from './schema.js';
import { errorFromResponse } from './errors.js';
import { paginate, type ListPage } from './pagination.js';
import { backoffMs, retryingFetch, type RetryPolicy } from './retry.js';
import { followRunEvents, type RunEvent } from './sse.js';
import type { Api, Body, Data, Init, InitArgs, ListItem, ListPath, Method, PathWith } from './paths.js';

export interface KairoOptions {
  /** A secret key, `sk_live_…` or `sk_test_…`. */
  apiKey: string;
  /** Where the server is, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Tries after the first for a request that may be retried (default 2). */
  maxRetries?: number;
  /** How long one try may wait for its answer, in milliseconds (default 600000; a run that waits for its result may take minutes). */
  timeoutMs?: number;
  /** The first wait between tries (default 500 ms); each next one doubles, with jitter. */
  initialRetryDelayMs?: number;
  /** The longest wait between tries (default 8000 ms). */
  maxRetryDelayMs?: number;
  /** A `Retry-After` longer than this is not waited for: the call fails with the error (default 60000 ms). */
  maxRetryAfterMs?: number;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** The fetch to send requests with (default: the global one). */
  fetch?: typeof fetch;
}

export interface StreamOptions {
  /** Start after this event (what `Last-Event-ID` would say); 0 or absent: from the first event. */
  lastEventId?: number;
  signal?: AbortSignal;
}

export interface RunStreamOptions {
  /** The Idempotency-Key of the request that starts the run (default: a random UUID). */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

type AgentRunBody = Omit<Body<'/v1/agents/{id}/runs', 'post'>, 'stream' | 'background'>;
type WorkflowRunBody = Omit<Body<'/v1/workflows/{id}/runs', 'post'>, 'stream' | 'background'>;
type RunKind = 'agents' | 'workflows';
/** Loosely typed access for the few generic calls below; every public method is typed through `paths`. */
type LooseCall = (method: string, path: string, init?: Record<string, unknown>) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

const isEventStream = (response: Response) => (response.headers.get('content-type') ?? '').startsWith('text/event-stream');

/**
 * The typed KAIRO client. Paths, parameters, bodies and answers are typed by the generated
 * `paths` of the served OpenAPI document; failures throw a KairoError subclass. Requests that are
 * safe to repeat are retried (every POST carries an Idempotency-Key for that); lists are async
 * iterators that follow the cursor; run event streams resume where a lost connection left off.
 */
export class Kairo {
  /**
   * The underlying openapi-fetch client, with the same retries and keys, for when the response
   * itself is needed (headers such as `Idempotent-Replayed` or `X-RateLimit-Remaining`): it
   * answers `{ data, error, response }` instead of throwing.
   */
  readonly api: Api;
  readonly #policy: RetryPolicy;

  constructor(options: KairoOptions) {
    if (!options.apiKey) throw new TypeError('Kairo: apiKey is required (sk_live_… or sk_test_…).');
    if (!options.baseUrl) throw new TypeError('Kairo: baseUrl is required, e.g. http://127.0.0.1:8080.');
    this.#policy = {
      maxRetries: options.maxRetries ?? 2,
      timeoutMs: options.timeoutMs ?? 600_000,
      initialDelayMs: options.initialRetryDelayMs ?? 500,
      maxDelayMs: options.maxRetryDelayMs ?? 8_000,
      maxRetryAfterMs: options.maxRetryAfterMs ?? 60_000,
    };
    this.api = createClient<paths, 'application/json'>({
      baseUrl: options.baseUrl,
      fetch: retryingFetch(options.fetch ?? globalThis.fetch, this.#policy),
      headers: { ...options.headers, Authorization: `Bearer ${options.apiKey}` },
    });
  }

  get<P extends PathWith<'get'>, I extends Init<P, 'get'>>(path: P, ...init: InitArgs<I>): Promise<Data<P, 'get', I>> {
    return this.#call('GET', path, init[0]) as Promise<Data<P, 'get', I>>;
  }

  post<P extends PathWith<'post'>, I extends Init<P, 'post'>>(path: P, ...init: InitArgs<I>): Promise<Data<P, 'post', I>> {
    return this.#call('POST', path, init[0]) as Promise<Data<P, 'post', I>>;
  }

  put<P extends PathWith<'put'>, I extends Init<P, 'put'>>(path: P, ...init: InitArgs<I>): Promise<Data<P, 'put', I>> {
    return this.#call('PUT', path, init[0]) as Promise<Data<P, 'put', I>>;
  }

  patch<P extends PathWith<'patch'>, I extends Init<P, 'patch'>>(path: P, ...init: InitArgs<I>): Promise<Data<P, 'patch', I>> {
    return this.#call('PATCH', path, init[0]) as Promise<Data<P, 'patch', I>>;
  }

  delete<P extends PathWith<'delete'>, I extends Init<P, 'delete'>>(path: P, ...init: InitArgs<I>): Promise<Data<P, 'delete', I>> {
    return this.#call('DELETE', path, init[0]) as Promise<Data<P, 'delete', I>>;
  }

  /**
   * Every object of a list endpoint, fetching pages as the loop goes:
   * `for await (const agent of kairo.list('/v1/agents', { params: { query: { limit: 100 } } }))`.
   * `limit` is the page size; `before` walks toward newer objects instead of older ones.
   */
  list<P extends ListPath, I extends Init<P, 'get'>>(path: P, ...init: InitArgs<I>): AsyncGenerator<ListItem<P>> {
    const options = (init[0] ?? {}) as { params?: { query?: Record<string, unknown> } };
    const fetchPage = (query: Record<string, unknown>) =>
      this.#call('GET', path, { ...options, params: { ...options.params, query } }) as Promise<ListPage<ListItem<P>>>;
    return paginate(fetchPage, options.params?.query);
  }

  /** The events of an agent run, replayed from the start (or after `lastEventId`) and followed live until it stops. */
  streamRunEvents(agentId: string, runId: string, options: StreamOptions = {}): AsyncGenerator<RunEvent> {
    return this.#follow((lastEventId) => this.#openRunStream('agents', agentId, runId, lastEventId, options.signal), options.lastEventId ?? 0, options.signal);
  }

  /** The events of a workflow run, replayed from the start (or after `lastEventId`) and followed live until it stops or waits long. */
  streamWorkflowRunEvents(workflowId: string, runId: string, options: StreamOptions = {}): AsyncGenerator<RunEvent> {
    return this.#follow((lastEventId) => this.#openRunStream('workflows', workflowId, runId, lastEventId, options.signal), options.lastEventId ?? 0, options.signal);
  }

  /** Runs an agent with `stream: true` and yields its events until the run stops, resuming across lost connections. */
  streamAgentRun(agentId: string, body: AgentRunBody, options: RunStreamOptions = {}): AsyncGenerator<RunEvent> {
    return this.#startAndFollow('agents', agentId, body, options);
  }

  /** Starts a workflow run with `stream: true` and yields its events until it finishes or waits long, resuming across lost connections. */
  streamWorkflowRun(workflowId: string, body: WorkflowRunBody, options: RunStreamOptions = {}): AsyncGenerator<RunEvent> {
    return this.#startAndFollow('workflows', workflowId, body, options);
  }

  async #call(method: Uppercase<Method>, path: string, init?: Record<string, unknown>): Promise<unknown> {
    const { data, error, response } = await (this.api.request as LooseCall)(method, path, init);
    if (!response.ok) throw errorFromResponse(response, error);
    return data;
  }

  #follow(connect: (lastEventId: number) => Promise<Response>, lastEventId: number, signal: AbortSignal | undefined, onEvent?: (event: RunEvent) => void) {
    return followRunEvents({
      connect, lastEventId, signal, onEvent,
      maxReconnects: this.#policy.maxRetries,
      backoff: (attempt) => backoffMs(this.#policy, attempt),
    });
  }

  async #openRunStream(kind: RunKind, ownerId: string, runId: string, lastEventId: number, signal: AbortSignal | undefined): Promise<Response> {
    const { error, response } = await (this.api.request as LooseCall)('GET', `/v1/${kind}/{id}/runs/{run_id}`, {
      params: { path: { id: ownerId, run_id: runId }, header: lastEventId > 0 ? { 'Last-Event-ID': lastEventId } : {} },
      headers: { Accept: 'text/event-stream' },
      parseAs: 'stream',
      signal,
    });
    if (!response.ok) throw errorFromResponse(response, error);
    return response;
  }

  /**
   * Starts the run with `stream: true`, then follows it by id: the `run.created` event names it.
   * A POST retried after its answer was lost gets the run as JSON (the server's record of the
   * first try); its events are then read from the run.
   */
  #startAndFollow(kind: RunKind, ownerId: string, body: object, options: RunStreamOptions): AsyncGenerator<RunEvent> {
    const idempotencyKey = options.idempotencyKey ?? crypto.randomUUID();
    let runId: string | undefined;
    const connect = async (lastEventId: number): Promise<Response> => {
      if (runId !== undefined) return this.#openRunStream(kind, ownerId, runId, lastEventId, options.signal);
      const { error, response } = await (this.api.request as LooseCall)('POST', `/v1/${kind}/{id}/runs`, {
        params: { path: { id: ownerId }, header: { 'Idempotency-Key': idempotencyKey } },
        body: { ...body, stream: true },
        parseAs: 'stream',
        signal: options.signal,
      });
      if (!response.ok) throw errorFromResponse(response, error);
      if (isEventStream(response)) return response;
      runId = ((await response.json()) as { id: string }).id;
      return this.#openRunStream(kind, ownerId, runId, lastEventId, options.signal);
    };
    const onEvent = (event: RunEvent) => {
      if (event.event === 'run.created' && typeof event.data.run_id === 'string') runId = event.data.run_id;
    };
    return this.#follow(connect, 0, options.signal, onEvent);
  }
}
