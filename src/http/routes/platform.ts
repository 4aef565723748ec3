import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AuthContext } from '../../platform/authenticate.js';
import { getStatus, type LoadStatus } from '../../platform/status.js';
import { apiKeyView } from '../../platform/api-key-view.js';
import { accessLevels, permissionAreas, type AccessLevel, type PermissionArea } from '../../platform/permissions.js';
import type { LoadReading } from '../plugins/load-shedding.js';
import { plans } from '../../platform/plans.js';
import { INGESTION_SLOTS, RUN_SLOTS } from '../../platform/run-slots.js';
import { isId } from '../../ids.js';
import { KairoError } from '../../errors.js';
import { authOf } from '../plugins/auth.js';
import { IdParams, ListOf, PaginationQuery, StrictObject, Timestamp, toList, toTimestamp } from '../schemas.js';
import type { AppDeps } from '../deps.js';

const Check = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('failing')]),
  latency_ms: Type.Number(),
  error: Type.Optional(Type.String()),
});

const StatusResponse = Type.Object({
  object: Type.Literal('status'),
  status: Type.Union([Type.Literal('operational'), Type.Literal('degraded')]),
  version: Type.String(),
  checks: Type.Object({ database: Check, queue: Check, limits: Check }, { description: 'limits: the rate limiter and run slots (Redis in cluster mode).' }),
  load: Type.Object({
    status: Type.Union([Type.Literal('ok'), Type.Literal('shedding')], { description: 'shedding: new requests get 503 server_busy until the load falls.' }),
    event_loop_delay_ms: Type.Number({ description: 'Mean event-loop delay over the last second.' }),
    heap_used_bytes: Type.Integer(),
    compute: Type.Object({
      workers: Type.Integer({ description: 'Worker processes for parsing, chunking and built-in embedding.' }),
      running: Type.Integer(),
      queued: Type.Integer(),
    }),
  }),
  uptime: Type.Object({
    window_days: Type.Integer(),
    percent: Type.Number({ description: 'Share of minutes with a heartbeat in the window, in percent.' }),
    minutes_up: Type.Integer(),
    minutes_total: Type.Integer(),
    since: Timestamp,
  }),
  started_at: Timestamp,
});

// A type list rather than anyOf: the same JSON Schema, but the serializer writes it without
// validating each alternative (this route is on the benchmarked hot path).
const Limit = Type.Unsafe<number | null>({ type: ['integer', 'null'], description: 'null means unlimited.' });

const WorkspaceResponse = Type.Object({
  object: Type.Literal('workspace'),
  id: Type.String(),
  name: Type.String(),
  plan: Type.Union([Type.Literal('free'), Type.Literal('pro'), Type.Literal('enterprise')]),
  livemode: Type.Boolean({ description: 'The mode of the key that made this request.' }),
  limits: Type.Object({
    requests_per_minute: Limit, burst: Limit, concurrent_runs: Limit,
    storage_bytes: Type.Unsafe<number | null>({ type: ['integer', 'null'], description: 'Bytes of documents the workspace may store (both modes); null means unlimited.' }),
    documents_per_source: Limit,
    concurrent_ingestion_jobs: Type.Unsafe<number | null>({
      type: ['integer', 'null'], description: 'Background ingestion jobs (indexing in the queue, source refreshes) run at once; more wait their turn. null means unlimited.',
    }),
  }),
  usage: Type.Object({
    rate_limit_remaining: Limit,
    rate_limit_reset_seconds: Type.Integer(),
    concurrent_runs: Type.Integer(),
    concurrent_ingestion_jobs: Type.Integer(),
    storage_bytes: Type.Integer({ description: 'Bytes of documents stored (both modes); up to 10 seconds old.' }),
  }),
  created_at: Timestamp,
});

const AccessLevelSchema = Type.Unsafe<AccessLevel>({ type: 'string', enum: [...accessLevels] });

const ApiKeyObject = Type.Object({
  object: Type.Literal('api_key'),
  id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  livemode: Type.Boolean(),
  last4: Type.String({ description: 'The last four characters of the secret.' }),
  secret: Type.Optional(Type.String({ description: 'The full secret. Returned only in the response that creates the key.' })),
  created_at: Timestamp,
  last_used_at: Type.Union([Timestamp, Type.Null()]),
  revoked_at: Type.Union([Timestamp, Type.Null()]),
  status: Type.Union([Type.Literal('active'), Type.Literal('revoked')]),
  type: Type.Union([Type.Literal('standard'), Type.Literal('restricted')], { description: 'restricted: the key may do only what `permissions` allows.' }),
  permissions: Type.Union([
    Type.Object(Object.fromEntries(permissionAreas.map((area) => [area, AccessLevelSchema])) as Record<PermissionArea, typeof AccessLevelSchema>),
    Type.Null(),
  ], { description: 'Each area\'s access level; null for a standard key, which may do everything.' }),
  rate_limit_per_minute: Type.Union([Type.Integer(), Type.Null()], { description: 'The key\'s own limit, below its workspace\'s; null when only the workspace\'s applies.' }),
});

const CreateApiKeyBody = StrictObject({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  permissions: Type.Optional(Type.Unsafe<Partial<Record<PermissionArea, AccessLevel>> | null>({
    type: ['object', 'null'],
    properties: Object.fromEntries(permissionAreas.map((area) => [area, AccessLevelSchema])),
    additionalProperties: false,
    description: 'Makes a restricted key: the access level of each area (areas not named get `none`). Omitted or null: a standard key. At most the calling key\'s own level in each area.',
  })),
  rate_limit_per_minute: Type.Optional(Type.Unsafe<number | null>({
    type: ['integer', 'null'],
    minimum: 1,
    description: 'The key\'s own requests per minute (burst the same), taken besides the workspace\'s; at most the plan\'s requests per minute. Omitted or null: none.',
  })),
});

/** Platform routes: status, the caller's workspace, and API keys. */
export async function platformRoutes(fastify: FastifyInstance, deps: AppDeps & { load: () => LoadReading }): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  const load = (): LoadStatus => {
    const reading = deps.load();
    const pool = deps.context.work.stats();
    return {
      status: reading.shedding ? 'shedding' : 'ok',
      event_loop_delay_ms: reading.eventLoopDelayMs,
      heap_used_bytes: reading.heapUsedBytes,
      compute: { workers: pool.size, running: pool.running, queued: pool.queued },
    };
  };

  app.get('/v1/status', {
    config: { public: true, shedLoad: false },
    schema: {
      operationId: 'status.retrieve',
      tags: ['Status'],
      summary: 'Service health and 30-day uptime',
      description: 'Public: needs no API key. Uptime counts the minutes in which a KAIRO process recorded a heartbeat.',
      response: { 200: StatusResponse },
    },
  }, async () => ({ object: 'status' as const, ...(await getStatus({ ...deps, load })) }));

  /** A workspace's `created_at` text, made once per workspace object (auth shares one per key). */
  const createdAtText = new WeakMap<object, string>();

  /**
   * The workspace view. Synchronous when the limiters answer synchronously (in memory), so this
   * hot read costs no promise and no microtask; with Redis it waits for them.
   */
  const workspaceView = (auth: AuthContext, remaining: number | null, reset: number, concurrentRuns: number, ingestionJobs: number, storageBytes: number) => {
    const limits = plans[auth.workspace.plan];
    let createdAt = createdAtText.get(auth.workspace);
    if (createdAt === undefined) {
      createdAt = toTimestamp(auth.workspace.createdAt);
      createdAtText.set(auth.workspace, createdAt);
    }
    return {
      object: 'workspace' as const,
      id: auth.workspace.id,
      name: auth.workspace.name,
      plan: auth.workspace.plan,
      livemode: auth.livemode,
      limits: {
        requests_per_minute: limits.requestsPerMinute, burst: limits.burst, concurrent_runs: limits.concurrentRuns,
        storage_bytes: limits.storageBytes, documents_per_source: limits.documentsPerSource, concurrent_ingestion_jobs: limits.concurrentIngestionJobs,
      },
      usage: {
        rate_limit_remaining: remaining, rate_limit_reset_seconds: reset, concurrent_runs: concurrentRuns,
        concurrent_ingestion_jobs: ingestionJobs, storage_bytes: storageBytes,
      },
      created_at: createdAt,
    };
  };

  app.get('/v1/workspace', {
    schema: { operationId: 'workspace.retrieve', description: 'Any key may call it, whatever its permissions: the plan, its limits, and usage now (rate-limit bucket, concurrent runs and ingestion jobs, storage).', tags: ['Platform'], summary: 'The workspace of the calling key: plan, limits and usage now', response: { 200: WorkspaceResponse } },
  }, (request) => {
    const auth = authOf(request);
    const limits = plans[auth.workspace.plan];
    const bucket = limits.burst !== null && limits.requestsPerMinute !== null ? { capacity: limits.burst, refillPerMinute: limits.requestsPerMinute } : null;
    const state = bucket === null ? null : deps.rateLimiter.peek(auth.workspace.id, bucket);
    const runs = deps.concurrency.count(RUN_SLOTS.key(auth.workspace.id));
    const ingestionJobs = deps.concurrency.count(INGESTION_SLOTS.key(auth.workspace.id));
    const storageBytes = deps.context.storage.bytes(auth.workspace.id);
    if (state instanceof Promise || runs instanceof Promise || ingestionJobs instanceof Promise || storageBytes instanceof Promise) {
      return Promise.all([state, runs, ingestionJobs, storageBytes]).then(([settled, ...counts]) =>
        workspaceView(auth, settled?.remaining ?? null, settled?.resetSeconds ?? 0, ...counts));
    }
    return workspaceView(auth, state?.remaining ?? null, state?.resetSeconds ?? 0, runs, ingestionJobs, storageBytes);
  });

  app.post('/v1/api_keys', {
    schema: {
      operationId: 'api_keys.create',
      tags: ['API keys'],
      summary: 'Create an API key',
      description: 'The new key has the mode of the calling key. Its secret is in this response only. A restricted key (with `permissions`) gets 403 `permission_denied` on every request its permissions do not cover.',
      body: CreateApiKeyBody,
      response: { 201: ApiKeyObject },
    },
  }, async (request, reply) => {
    const auth = authOf(request);
    const { name, permissions, rate_limit_per_minute: rateLimitPerMinute } = request.body;
    const created = await deps.platform.apiKeys.create(auth, { name, permissions, rateLimitPerMinute }, request.id);
    return reply.code(201).send(apiKeyView(created.key, created.secret));
  });

  app.get('/v1/api_keys', {
    schema: { operationId: 'api_keys.list', description: 'The keys of the calling key\'s workspace and mode, newest first. A secret is never shown again after creation; `last4` identifies it.', tags: ['API keys'], summary: 'List API keys of this workspace and mode', querystring: PaginationQuery, response: { 200: ListOf(ApiKeyObject) } },
  }, async (request) => {
    const auth = authOf(request);
    const page = await deps.platform.apiKeys.list(auth.scope, { limit: request.query.limit ?? 20, after: request.query.after, before: request.query.before });
    return toList(page.data.map((key) => apiKeyView(key)), page.hasMore);
  });

  app.get('/v1/api_keys/:id', {
    schema: { operationId: 'api_keys.retrieve', description: 'The key\'s type, permissions, rate limit and status, without its secret.', tags: ['API keys'], summary: 'Get an API key', params: IdParams('API key id (key_…)'), response: { 200: ApiKeyObject } },
  }, async (request) => {
    const auth = authOf(request);
    if (!isId('key', request.params.id)) throw new KairoError('resource_missing', { message: `No such API key: '${request.params.id}'.`, param: 'id' });
    return apiKeyView(await deps.platform.apiKeys.get(auth.scope, request.params.id));
  });

  app.delete('/v1/api_keys/:id', {
    schema: {
      operationId: 'api_keys.revoke',
      tags: ['API keys'],
      summary: 'Revoke an API key',
      description: 'Requests with the key are refused from this moment. Revoking a revoked key returns it unchanged.',
      params: IdParams('API key id (key_…)'),
      response: { 200: ApiKeyObject },
    },
  }, async (request) => {
    const auth = authOf(request);
    if (!isId('key', request.params.id)) throw new KairoError('resource_missing', { message: `No such API key: '${request.params.id}'.`, param: 'id' });
    return apiKeyView(await deps.platform.apiKeys.revoke(auth.scope, request.params.id, request.id));
  });
}
