import { Type, type TSchema } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { RequestRecord } from '../../store/port.js';
import { bucketQuery, GROUP_BY, parsePercentiles, type BucketParams } from '../../analytics/buckets.js';
import { LATENCY_METRICS, parseLatencyMetrics } from '../../analytics/reports.js';
import { idPattern, type IdPrefix } from '../../ids.js';
import { authOf } from '../plugins/auth.js';
import { IdParams, ListOf, Nullable, PaginationQuery, StrictObject, Timestamp, toList, toTimestamp, UsageObject } from '../schemas.js';
import type { AppDeps } from '../deps.js';

const AnyObject = Type.Object({}, { additionalProperties: true });
const Id = (prefix: IdPrefix, description: string) => Type.Optional(Type.String({ pattern: idPattern(prefix), description }));

/** A comma-separated list of `items` (each a regular expression), at most `max` long. */
const listPattern = (item: string, max: number): string => `^(${item})(,(${item})){0,${max - 1}}$`;
const GROUP_BY_NAMES = Object.keys(GROUP_BY).join('|');
/** A percentile above 0 and at most 100. */
const PERCENTILE = '100(\\.0+)?|[1-9][0-9]?(\\.[0-9]+)?|0?\\.[0-9]*[1-9][0-9]*';

const BucketQueryFields = {
  start: Type.Optional(Type.String({ format: 'date-time', description: 'Start of the range, RFC 3339 (rounded down to a whole bucket). Default: `end` minus 60 minutes, 24 hours or 7 days.' })),
  end: Type.Optional(Type.String({ format: 'date-time', description: 'End of the range, RFC 3339, exclusive (rounded up to a whole bucket). Default: now.' })),
  bucket_width: Type.Optional(Type.Union([Type.Literal('1m'), Type.Literal('1h'), Type.Literal('1d')], { description: 'Bucket width (default 1d); buckets are aligned to UTC.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440, description: 'Buckets per response; each width has a cap (1440 of 1m, 168 of 1h, 31 of 1d), also the default. A larger limit gets the cap, and next_page.' })),
  page: Type.Optional(Type.String({ format: 'date-time', description: 'The next_page of the previous response: the start of the first bucket to return.' })),
  group_by: Type.Optional(Type.String({
    pattern: listPattern(GROUP_BY_NAMES, 8), description: `Group results by any of ${Object.keys(GROUP_BY).join(', ')}, comma-separated.`,
  })),
  agent_id: Id('agent', 'Only this agent.'),
  agent_version: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'Only this version of agent_id.' })),
  workflow_id: Id('wf', 'Only this workflow.'),
  workflow_version: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_147_483_647, description: 'Only this version of workflow_id.' })),
  api_key_id: Id('key', 'Only work started with this API key.'),
  model: Type.Optional(Type.String({ maxLength: 200, description: 'Only this model.' })),
  provider: Type.Optional(Type.String({ maxLength: 100, description: 'Only this provider.' })),
  status: Type.Optional(Type.String({
    pattern: '^(completed|failed|cancelled|ok|error|[1-5][0-9][0-9])$',
    description: 'Only this status: completed, failed or cancelled (runs), ok or error (model calls), or an HTTP status code (requests).',
  })),
};

const PercentilesField = Type.Optional(Type.String({ pattern: listPattern(PERCENTILE, 10), description: 'Comma-separated percentiles, each above 0 and at most 100 (up to 10). Default 50,90,95,99.' }));

/** A page of buckets, each with results per group, and the page's totals per group. */
function BucketPage(result: TSchema, extra: Record<string, TSchema> = {}) {
  return Type.Object({
    object: Type.Literal('list'),
    data: Type.Array(Type.Object({ object: Type.Literal('bucket'), start_time: Timestamp, end_time: Timestamp, results: Type.Array(result) })),
    has_more: Type.Boolean(),
    next_page: Nullable('string', { description: 'Pass as `page` for the next buckets.' }),
    totals: Type.Array(result, { description: 'Each group over all buckets of this page.' }),
    ...extra,
  });
}

const GroupFields = {
  agent_id: Type.Optional(Nullable('string')),
  agent_version: Type.Optional(Nullable('integer')),
  workflow_id: Type.Optional(Nullable('string')),
  workflow_version: Type.Optional(Nullable('integer')),
  api_key_id: Type.Optional(Nullable('string')),
  model: Type.Optional(Nullable('string')),
  provider: Type.Optional(Nullable('string')),
  status: Type.Optional(Nullable('string')),
};

const Percentiles = Type.Object({ count: Type.Integer() }, { additionalProperties: Nullable('number'), description: '`count` values and one `p<N>` per percentile asked for (null when there are none).' });

const UsageResult = Type.Object({
  object: Type.Literal('analytics.usage.result'),
  ...GroupFields,
  requests: Type.Integer(), request_errors: Type.Integer(), runs: Type.Integer(), run_errors: Type.Integer(), workflow_runs: Type.Integer(),
  workflow_run_errors: Type.Integer(), steps: Type.Integer(),
  completions: Type.Integer({ description: 'Completions asked of a model (or `auto`) without an agent through the OpenAI-compatible API.' }),
  completion_errors: Type.Integer(),
  input_tokens: Type.Integer({ description: 'Tokens of agent runs and of completions without an agent, as are the other token counts.' }),
  cached_input_tokens: Type.Integer(), output_tokens: Type.Integer(), reasoning_tokens: Type.Integer(), total_tokens: Type.Integer(),
});

const CostResult = Type.Object({
  object: Type.Literal('analytics.costs.result'), ...GroupFields, cost_usd: Type.Number(), runs: Type.Integer(),
  completions: Type.Integer({ description: 'Completions without an agent whose cost is counted in `cost_usd` with the runs\'.' }),
});

const LatencyResult = Type.Object({
  object: Type.Literal('analytics.latency.result'),
  ...GroupFields,
  runs: Type.Integer(),
  total_ms: Type.Optional(Percentiles), queue_ms: Type.Optional(Percentiles), slot_wait_ms: Type.Optional(Percentiles), retrieval_ms: Type.Optional(Percentiles),
  model_ms: Type.Optional(Percentiles), time_to_first_token_ms: Type.Optional(Percentiles), tools_ms: Type.Optional(Percentiles),
});

const ModelResult = Type.Object({
  object: Type.Literal('analytics.model.result'),
  ...GroupFields,
  calls: Type.Integer(), errors: Type.Integer(), error_rate: Type.Number(), input_tokens: Type.Integer(), cached_input_tokens: Type.Integer(),
  output_tokens: Type.Integer(), reasoning_tokens: Type.Integer(), cost_usd: Type.Number(),
  auto_chosen: Type.Integer({ description: 'Runs for which "auto" routing chose this model.' }),
  fallbacks: Type.Integer({ description: 'Calls that failed with a retryable error, after which the run moved on to the next model.' }),
  latency_ms: Percentiles, time_to_first_token_ms: Percentiles,
});

const TraceSummary = Type.Object({
  object: Type.Literal('trace'),
  id: Type.String(),
  type: Type.String({ description: 'agent_run or workflow_run.' }),
  livemode: Type.Boolean(),
  status: Type.String(),
  agent_id: Nullable('string'),
  agent_version: Nullable('integer'),
  workflow_id: Nullable('string'),
  workflow_version: Nullable('integer'),
  parent_trace_id: Nullable('string', { description: 'The trace that started this one (an agent tool call or a workflow step).' }),
  parent_span_id: Nullable('string'),
  api_key_id: Nullable('string'),
  model: Nullable('string'),
  usage: UsageObject,
  cost_usd: Type.Number(),
  cost_notional: Type.Boolean(),
  latency_ms: Type.Record(Type.String(), Type.Number()),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  created_at: Timestamp,
  started_at: Nullable('string', { format: 'date-time', description: 'RFC 3339 timestamp, UTC.' }),
  completed_at: Nullable('string', { format: 'date-time', description: 'RFC 3339 timestamp, UTC.' }),
  duration_ms: Nullable('number'),
});

const TraceSpan = Type.Object({
  id: Type.String(),
  parent_id: Nullable('string', { description: 'null: a child of the trace itself.' }),
  type: Type.String({ description: 'queue_wait, slot_wait, retrieval, model_call, tool_call or step.' }),
  name: Type.String(),
  status: Type.String(),
  started_at: Timestamp,
  ended_at: Nullable('string', { format: 'date-time', description: 'RFC 3339 timestamp, UTC.' }),
  duration_ms: Nullable('number'),
  attributes: AnyObject,
  child_trace_ids: Type.Array(Type.String()),
});

const TraceDetail = Type.Object({
  ...TraceSummary.properties,
  name: Nullable('string'),
  routing: Type.Union([AnyObject, Type.Null()]),
  spans: Type.Array(TraceSpan),
  children: Type.Array(TraceSummary),
});

const RequestObject = Type.Object({
  object: Type.Literal('request'),
  id: Type.String({ description: 'The request id, as its X-Request-Id.' }),
  livemode: Type.Boolean(),
  created_at: Timestamp,
  api_key_id: Type.String(),
  method: Type.String(),
  route: Type.String({ description: 'The route template, e.g. /v1/agents/{id}/runs.' }),
  path: Type.String(),
  status: Type.Integer(),
  latency_ms: Type.Number(),
  error_code: Nullable('string'),
  idempotency_key: Nullable('string'),
  run_id: Nullable('string', { description: 'The agent or workflow run the request created.' }),
});

function requestView(r: RequestRecord) {
  return {
    object: 'request' as const, id: r.id, livemode: r.scope.livemode, created_at: toTimestamp(r.createdAt), api_key_id: r.apiKeyId, method: r.method,
    route: r.route, path: r.path, status: r.status, latency_ms: r.latencyMs, error_code: r.errorCode, idempotency_key: r.idempotencyKey, run_id: r.runId,
  };
}

const time = (value: string | undefined): number | undefined => (value === undefined ? undefined : Date.parse(value));

/** The Analytics group (usage, costs, latency, models, traces) and the request log. */
export async function analyticsRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { reports, traces, requestLog } = deps.analytics;
  const tags = ['Analytics'];
  const query = (request: { query: BucketParams }, scope: Parameters<typeof bucketQuery>[0]) => bucketQuery(scope, request.query, Date.now());

  app.get('/v1/analytics/usage', {
    schema: {
      operationId: 'analytics.usage',
      tags, summary: 'Usage per bucket: requests, runs, workflow runs, steps, completions, tokens, errors',
      description: 'Figures come from rollups kept as runs finish and requests end (requests about a second later). Grouping by a dimension a kind of work does not have (requests by model, say) puts that work in a group whose field is null.',
      querystring: StrictObject(BucketQueryFields), response: { 200: BucketPage(UsageResult) },
    },
  }, async (request) => reports.usage(query(request, authOf(request).scope)));

  app.get('/v1/analytics/costs', {
    schema: {
      operationId: 'analytics.costs',
      tags, summary: 'Costs per bucket, with totals',
      description: 'What agent runs, and completions asked of a model without an agent, cost: fixed when each model call ended at the prices of the time. In test mode costs are notional (`cost_notional: true`).',
      querystring: StrictObject(BucketQueryFields),
      response: { 200: BucketPage(CostResult, { total_cost_usd: Type.Number(), cost_notional: Type.Boolean() }) },
    },
  }, async (request) => reports.costs(query(request, authOf(request).scope)));

  app.get('/v1/analytics/latency', {
    schema: {
      operationId: 'analytics.latency',
      tags, summary: 'Latency percentiles of agent runs: total, queue, retrieval, model, time to first token, tools',
      description: 'Percentiles come from DDSketch sketches with 1 % relative accuracy: each value is within 1 % of the exact percentile of the same runs.',
      querystring: StrictObject({
        ...BucketQueryFields,
        percentiles: PercentilesField,
        metrics: Type.Optional(Type.String({
          pattern: listPattern(Object.keys(LATENCY_METRICS).join('|'), 7), description: `Comma-separated, any of ${Object.keys(LATENCY_METRICS).join(', ')} (default all).`,
        })),
      }),
      response: { 200: BucketPage(LatencyResult) },
    },
  }, async (request) => reports.latency(query(request, authOf(request).scope), parseLatencyMetrics(request.query.metrics), parsePercentiles(request.query.percentiles)));

  app.get('/v1/analytics/models', {
    schema: {
      operationId: 'analytics.models', description: 'Per model over the period: calls, tokens, cost, error rate and latency, how often `auto` routing chose it and how often a fallback was used.',
      tags, summary: 'Per model: calls, tokens, cost, error rate, latency, auto routing choices and fallbacks',
      querystring: StrictObject({ ...BucketQueryFields, percentiles: PercentilesField }),
      response: { 200: BucketPage(ModelResult, { cost_notional: Type.Boolean() }) },
    },
  }, async (request) => reports.models(query(request, authOf(request).scope), parsePercentiles(request.query.percentiles)));

  app.get('/v1/analytics/traces', {
    schema: {
      operationId: 'analytics.traces.list', description: 'Agent runs and workflow runs as traces, newest first; filter by type, status, model, latency, cost and time.',
      tags, summary: 'List traces: agent runs and workflow runs, newest first',
      querystring: StrictObject({
        ...PaginationQuery.properties,
        type: Type.Optional(Type.Union([Type.Literal('agent_run'), Type.Literal('workflow_run')])),
        agent_id: Id('agent', 'Only runs of this agent.'),
        workflow_id: Id('wf', 'Only runs of this workflow, and the agent runs of its steps.'),
        api_key_id: Id('key', 'Only runs started with this API key.'),
        status: Type.Optional(Type.Union(['queued', 'running', 'requires_action', 'waiting', 'completed', 'failed', 'cancelled'].map((s) => Type.Literal(s)))),
        model: Type.Optional(Type.String({ maxLength: 200, description: 'Only agent runs that finished on this model.' })),
        min_latency_ms: Type.Optional(Type.Number({ minimum: 0, maximum: 1e12, description: 'Only finished runs that took at least this long.' })),
        min_cost_usd: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9 })),
        start: Type.Optional(Type.String({ format: 'date-time', description: 'Only runs created at or after this time.' })),
        end: Type.Optional(Type.String({ format: 'date-time', description: 'Only runs created before this time.' })),
      }),
      response: { 200: ListOf(TraceSummary) },
    },
  }, async (request) => {
    const q = request.query;
    const page = await traces.list(authOf(request).scope, {
      type: q.type, agentId: q.agent_id, workflowId: q.workflow_id, apiKeyId: q.api_key_id, status: q.status, model: q.model,
      minLatencyMs: q.min_latency_ms, minCostUsd: q.min_cost_usd, from: time(q.start), to: time(q.end),
    }, { limit: q.limit ?? 20, after: q.after, before: q.before });
    return toList(page.data, page.hasMore);
  });

  app.get('/v1/analytics/traces/:id', {
    schema: {
      operationId: 'analytics.traces.retrieve', description: 'One trace by its run id: the span tree with timings, tokens, cost and status, the routing decision, and the traces it started.',
      tags, summary: 'A trace: its span tree with timings, tokens, cost and status, the routing decision, and the traces it started',
      params: IdParams('A run id (run_…) or workflow run id (wfrun_…).'), response: { 200: TraceDetail },
    },
  }, async (request) => traces.get(authOf(request).scope, request.params.id));

  app.get('/v1/requests', {
    schema: {
      operationId: 'requests.list',
      tags, summary: 'List API requests, newest first',
      description: 'Every authenticated request: id, time, key, route, status, latency, error code, idempotency key and the run it created. Never bodies or secrets. Kept 7 days by default; written about a second after each request ends.',
      querystring: StrictObject({
        ...PaginationQuery.properties,
        status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599 })),
        method: Type.Optional(Type.Union(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => Type.Literal(m)))),
        route: Type.Optional(Type.String({ maxLength: 300, description: 'A route template, e.g. /v1/agents/{id}/runs.' })),
        api_key_id: Id('key', 'Only requests made with this API key.'),
        start: Type.Optional(Type.String({ format: 'date-time' })),
        end: Type.Optional(Type.String({ format: 'date-time' })),
      }),
      response: { 200: ListOf(RequestObject) },
    },
  }, async (request) => {
    const q = request.query;
    const page = await requestLog.list(authOf(request).scope, {
      status: q.status, method: q.method, route: q.route, apiKeyId: q.api_key_id, from: time(q.start), to: time(q.end),
    }, { limit: q.limit ?? 20, after: q.after, before: q.before });
    return toList(page.data.map(requestView), page.hasMore);
  });

  app.get('/v1/requests/:id', {
    schema: { operationId: 'requests.retrieve', description: 'One entry of the request log, by the request id `X-Request-Id` gave.', tags, summary: 'Get a logged API request', params: IdParams('A request id (req_…), as X-Request-Id gave it.'), response: { 200: RequestObject } },
  }, async (request) => requestView(await requestLog.get(authOf(request).scope, request.params.id)));
}
