import { Type, type Static } from 'typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ModelMessage } from 'ai';
import { KairoError } from '../../errors.js';
import { agentView, runView, versionView } from '../../agents/views.js';
import type { Run } from '../../store/port.js';
import type { AgentInput } from '../../agents/agents.js';
import { ToolDefinitionSchema } from '../../agents/tools/schemas.js';
import { authOf } from '../plugins/auth.js';
import { ListOf, PaginationQuery, StrictObject, Timestamp, toList, toNullableTimestamp, toTimestamp, UsageObject } from '../schemas.js';
import type { AppDeps } from '../deps.js';
import { sendEventStream } from '../sse.js';
import { STOP_EVENTS, isFinal } from '../../runs/statuses.js';

/** A run that will not move on by itself: finished, or waiting for the client. */
const isStopped = (run: Run | undefined) => !run || isFinal(run.status) || run.status === 'requires_action';

const Json = Type.Unknown();

const AgentFields = {
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: '"auto" (routed per run) or provider/model from GET /v1/models.' })),
  instructions: Type.Optional(Type.Union([Type.String({ maxLength: 100_000 }), Type.Null()])),
  context: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 50, description: 'Context source names or ids.' })),
  context_mode: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('tool'), Type.Literal('both')])),
  context_max_tokens: Type.Optional(Type.Integer({ minimum: 100, maximum: 100_000 })),
  tools: Type.Optional(Type.Array(ToolDefinitionSchema, { maxItems: 64, description: 'Tools the model may call; see docs/agents.md.' })),
  settings: Type.Optional(StrictObject({
    temperature: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()])),
    max_output_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 200_000 }), Type.Null()])),
    max_steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 1000, maximum: 3_600_000 })),
  })),
  routing: Type.Optional(StrictObject({
    optimize: Type.Optional(Type.Union([Type.Literal('balanced'), Type.Literal('cost'), Type.Literal('quality'), Type.Literal('latency')])),
    allowed_models: Type.Optional(Type.Union([Type.Array(Type.String({ maxLength: 200 }), { maxItems: 50 }), Type.Null()])),
  })),
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('paused'), Type.Literal('archived')])),
  metadata: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 500 }), { maxProperties: 50 })),
};

const CreateAgentBody = StrictObject({ name: Type.String({ minLength: 1, maxLength: 200 }), ...AgentFields });
const UpdateAgentBody = StrictObject({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), ...AgentFields });

const AgentObject = Type.Object({
  object: Type.Literal('agent'),
  id: Type.String(),
  name: Type.String(),
  status: Type.String(),
  livemode: Type.Boolean(),
  version: Type.Integer(),
  description: Type.Union([Type.String(), Type.Null()]),
  model: Type.String(),
  instructions: Type.Union([Type.String(), Type.Null()]),
  context: Type.Array(Type.String()),
  context_mode: Type.String(),
  context_max_tokens: Type.Integer(),
  tools: Type.Array(Type.Object({}, { additionalProperties: true })),
  settings: Type.Object({}, { additionalProperties: true }),
  routing: Type.Object({}, { additionalProperties: true }),
  metadata: Type.Record(Type.String(), Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const VersionObject = Type.Object({
  object: Type.Literal('agent_version'),
  id: Type.String(),
  agent_id: Type.String(),
  version: Type.Integer(),
  config: Type.Object({}, { additionalProperties: true }),
  created_at: Timestamp,
});

const RunObject = Type.Object({
  object: Type.Literal('run'),
  id: Type.String(),
  agent_id: Type.String(),
  agent_version: Type.Integer(),
  thread_id: Type.Union([Type.String(), Type.Null()]),
  livemode: Type.Boolean(),
  status: Type.String(),
  mode: Type.String(),
  output: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  required_action: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
  model: Type.Union([Type.String(), Type.Null()]),
  routing: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
  usage: UsageObject,
  cost_usd: Type.Number({ description: 'What the run cost, fixed as each model call ended (catalogue prices at the time).' }),
  cost_notional: Type.Boolean({ description: 'True in test mode: the cost is what the calls would have cost at the prices of the models the simulator stood in for; nobody is charged.' }),
  latency_ms: Type.Record(Type.String(), Type.Number()),
  steps: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }))),
  api_key_id: Type.Union([Type.String(), Type.Null()], { description: 'The API key whose request started the run (or the run it is part of).' }),
  parent_run_id: Type.Union([Type.String(), Type.Null()], { description: 'The agent run (agent tool) or workflow run (agent step) that started this run.' }),
  metadata: Type.Record(Type.String(), Type.String()),
  created_at: Timestamp,
  started_at: Type.Union([Timestamp, Type.Null()]),
  completed_at: Type.Union([Timestamp, Type.Null()]),
});

const Message = StrictObject({ role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]), content: Type.String({ maxLength: 1_000_000 }) });
const CreateRunBody = StrictObject({
  input: Type.Union([Type.String({ minLength: 1, maxLength: 1_000_000 }), Type.Array(Message, { minItems: 1, maxItems: 200 })]),
  thread_id: Type.Optional(Type.String({ maxLength: 64, description: 'Continue this conversation; without it each run starts a new thread.' })),
  stream: Type.Optional(Type.Boolean({ description: 'Answer with server-sent events as the run progresses.' })),
  background: Type.Optional(Type.Boolean({ description: 'Answer 202 at once; poll or stream the run.' })),
  metadata: Type.Optional(Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 500 }), { maxProperties: 50 })),
});

const ToolOutputsBody = StrictObject({
  tool_outputs: Type.Array(StrictObject({
    tool_call_id: Type.String({ minLength: 1, maxLength: 200 }),
    output: Type.Optional(Json),
    approve: Type.Optional(Type.Boolean()),
    reason: Type.Optional(Type.String({ maxLength: 2000 })),
  }), { minItems: 1, maxItems: 64 }),
  stream: Type.Optional(Type.Boolean()),
});

const AgentParams = StrictObject({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const RunParams = StrictObject({ id: Type.String({ minLength: 1, maxLength: 128 }), run_id: Type.String({ minLength: 1, maxLength: 128 }) });

function toInput(body: Static<typeof UpdateAgentBody>): AgentInput {
  return body as unknown as AgentInput;
}

/** Agent routes: the 12 endpoints of the Agents group. */
export async function agentRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { agents, engine, events, runs } = deps.agents;

  async function findRun(request: FastifyRequest, params: { id: string; run_id: string }): Promise<Run> {
    const auth = authOf(request);
    const agent = await agents.get(auth.scope, params.id);
    return runs.ofAgent(auth.scope, agent.id, params.run_id);
  }

  /** The run's events after `afterSeq`; none when the client already has the last event of a run that stopped. */
  async function* followRun(runId: string, afterSeq: number, signal: AbortSignal) {
    const point = afterSeq > 0 ? await events.resumePoint(runId, afterSeq) : null;
    if (point) {
      if (point.held ? STOP_EVENTS.has(point.held.type) : isStopped(await runs.current(runId))) return;
    }
    yield* events.follow(runId, afterSeq, signal);
  }

  /** Streams the run's events as SSE from `afterSeq` until it finishes or waits for the client. */
  function streamRun(request: FastifyRequest, reply: FastifyReply, runId: string, afterSeq: number, work?: Promise<unknown>) {
    return sendEventStream(request, reply, (signal) => followRun(runId, afterSeq, signal), async () => {
      await work?.catch(() => {});
      if (!request.idempotency) return;
      const run = await runs.current(runId);
      await request.recordStreamedResponse(run ? JSON.stringify(runView(run)) : null);
    });
  }

  app.post('/v1/agents', {
    schema: {
      operationId: 'agents.create',
      tags: ['Agents'], summary: 'Create an agent',
      description: 'The agent is active at once. `model: "auto"` routes each run to the best available model; `context` attaches context sources by name or id.',
      body: CreateAgentBody, response: { 201: AgentObject },
    },
  }, async (request, reply) => {
    const auth = authOf(request);
    const agent = await agents.create(auth.scope, toInput(request.body) as AgentInput & { name: string });
    return reply.code(201).send(agentView(agent));
  });

  app.get('/v1/agents', {
    schema: {
      operationId: 'agents.list', description: 'The agents of the workspace and mode, newest first; filter by `status`.',
      tags: ['Agents'], summary: 'List agents',
      querystring: StrictObject({ ...PaginationQuery.properties, status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('paused'), Type.Literal('archived')])) }),
      response: { 200: ListOf(AgentObject) },
    },
  }, async (request) => {
    const q = request.query;
    const page = await agents.list(authOf(request).scope, { limit: q.limit ?? 20, after: q.after, before: q.before }, q.status);
    return toList(page.data.map(agentView), page.hasMore);
  });

  app.get('/v1/agents/:id', {
    schema: { operationId: 'agents.retrieve', description: 'The agent with its current version\'s configuration.', tags: ['Agents'], summary: 'Get an agent', params: AgentParams, response: { 200: AgentObject } },
  }, async (request) => agentView(await agents.get(authOf(request).scope, request.params.id)));

  app.patch('/v1/agents/:id', {
    schema: { operationId: 'agents.update', description: 'Fields sent are changed. A change to the configuration (model, instructions, tools, context…) makes a new version; runs already started keep theirs.', tags: ['Agents'], summary: 'Update an agent (a configuration change makes a new version)', params: AgentParams, body: UpdateAgentBody, response: { 200: AgentObject } },
  }, async (request) => agentView(await agents.update(authOf(request).scope, request.params.id, toInput(request.body))));

  app.delete('/v1/agents/:id', {
    schema: {
      operationId: 'agents.delete', description: 'The agent can no longer be run; its past runs stay readable.',
      tags: ['Agents'], summary: 'Delete an agent', params: AgentParams,
      response: { 200: Type.Object({ object: Type.Literal('agent'), id: Type.String(), deleted: Type.Literal(true) }) },
    },
  }, async (request) => {
    const agent = await agents.delete(authOf(request).scope, request.params.id);
    return { object: 'agent' as const, id: agent.id, deleted: true as const };
  });

  app.get('/v1/agents/:id/versions', {
    schema: { operationId: 'agents.versions.list', description: 'Every configuration the agent has had, newest first.', tags: ['Agents'], summary: 'List the versions of an agent', params: AgentParams, querystring: PaginationQuery, response: { 200: ListOf(VersionObject) } },
  }, async (request) => {
    const q = request.query;
    const page = await agents.versions(authOf(request).scope, request.params.id, { limit: q.limit ?? 20, after: q.after, before: q.before });
    return toList(page.data.map(versionView), page.hasMore);
  });

  app.post('/v1/agents/:id/runs', {
    config: { errors: ['agent_not_active', 'budget_exceeded', 'concurrency_limited'], eventStream: 'body' },
    schema: {
      operationId: 'agents.runs.create',
      tags: ['Runs'], summary: 'Run an agent',
      description: 'Waits for the result by default. `stream: true` answers with server-sent events; `background: true` answers 202 at once.',
      params: AgentParams, body: CreateRunBody, response: { 200: RunObject, 202: RunObject },
    },
  }, async (request, reply) => {
    const auth = authOf(request);
    const agent = await agents.get(auth.scope, request.params.id);
    const body = request.body;
    if (body.stream && body.background) throw new KairoError('parameter_invalid', { message: 'Choose stream or background, not both.', param: 'stream' });
    const mode = body.background ? 'background' : body.stream ? 'stream' : 'wait';
    const input = {
      input: typeof body.input === 'string' ? body.input : (body.input as ModelMessage[]), threadId: body.thread_id, mode, metadata: body.metadata,
      apiKeyId: auth.key.id, requestId: request.id,
    } as const;
    const { run, slot, budgetHeaders } = await engine.create(auth.workspace, auth.scope, agent, input, mode === 'wait');
    request.createdRunId = run.id;
    reply.headers(budgetHeaders);
    if (mode === 'stream') return streamRun(request, reply, run.id, 0, engine.execute(run.id, auth.workspace, slot));
    const result = mode === 'background' ? run : await engine.execute(run.id, auth.workspace, slot, run);
    return reply.code(mode === 'background' ? 202 : 200).send(runView(result));
  });

  app.get('/v1/agents/:id/runs', {
    schema: { operationId: 'agents.runs.list', description: 'The runs of the agent, newest first.', tags: ['Runs'], summary: 'List runs of an agent', params: AgentParams, querystring: PaginationQuery, response: { 200: ListOf(RunObject) } },
  }, async (request) => {
    const auth = authOf(request);
    const agent = await agents.get(auth.scope, request.params.id);
    const q = request.query;
    const page = await runs.list(auth.scope, { agentId: agent.id }, { limit: q.limit ?? 20, after: q.after, before: q.before });
    return toList(page.data.map(runView), page.hasMore);
  });

  app.get('/v1/agents/:id/runs/:run_id', {
    config: { eventStream: 'accept' },
    schema: {
      operationId: 'agents.runs.retrieve',
      tags: ['Runs'], summary: 'Get a run',
      description: 'With `Accept: text/event-stream`, streams the run\'s events; `Last-Event-ID` resumes after that event.',
      params: RunParams, response: { 200: RunObject },
    },
  }, async (request, reply) => {
    const run = await findRun(request, request.params);
    if ((request.headers.accept ?? '').includes('text/event-stream')) {
      const last = Number(request.headers['last-event-id'] ?? 0);
      return streamRun(request, reply, run.id, Number.isInteger(last) && last > 0 ? last : 0);
    }
    const spans = await runs.spans(run.id);
    return {
      ...runView(run),
      steps: spans.map((s) => ({
        id: s.id, type: s.kind, name: s.name, status: s.status, started_at: toTimestamp(s.startedAt), ended_at: toNullableTimestamp(s.endedAt),
        duration_ms: s.endedAt === null ? null : s.endedAt - s.startedAt, ...s.attributes,
      })),
    };
  });

  app.post('/v1/agents/:id/runs/:run_id/cancel', {
    config: { errors: ['run_not_cancellable'] },
    schema: { operationId: 'agents.runs.cancel', description: 'Stops a queued, running or waiting run; a run that has already finished answers 409 `run_not_cancellable`.', tags: ['Runs'], summary: 'Cancel a run', params: RunParams, body: StrictObject({}), response: { 200: RunObject } },
  }, async (request) => runView(await engine.cancel(await findRun(request, request.params))));

  app.post('/v1/agents/:id/runs/:run_id/tool_outputs', {
    config: { errors: ['run_not_waiting'] },
    schema: {
      operationId: 'agents.runs.submit_tool_outputs',
      tags: ['Runs'], summary: 'Submit tool outputs or approvals for a run in requires_action',
      description: 'Answer every pending call once: `output` for function tools, `approve` (and optional `reason`) for tools that need approval.',
      params: RunParams, body: ToolOutputsBody, response: { 200: RunObject, 202: RunObject },
    },
  }, async (request, reply) => {
    const auth = authOf(request);
    const run = await findRun(request, request.params);
    const resumed = await engine.submitToolOutputs(auth.workspace, run, request.body.tool_outputs);
    return reply.code(resumed.mode === 'background' ? 202 : 200).send(runView(resumed));
  });

  app.get('/v1/threads/:id/messages', {
    schema: {
      operationId: 'threads.messages.list', description: 'The messages of a conversation thread that runs continue, newest first.',
      tags: ['Runs'], summary: "A thread's messages, newest first",
      params: AgentParams, querystring: PaginationQuery,
      response: { 200: ListOf(Type.Object({ object: Type.Literal('thread_message'), id: Type.String(), thread_id: Type.String(), run_id: Type.Union([Type.String(), Type.Null()]), role: Type.String(), content: Json, created_at: Timestamp })) },
    },
  }, async (request) => {
    const auth = authOf(request);
    const q = request.query;
    const page = await runs.threadMessages(auth.scope, request.params.id, { limit: q.limit ?? 20, after: q.after, before: q.before });
    return toList(page.data.map((m) => {
      const content = m.content as { content?: unknown };
      return { object: 'thread_message' as const, id: m.id, thread_id: m.threadId, run_id: m.runId, role: m.role, content: typeof content === 'object' && content && 'content' in content ? content.content : m.content, created_at: toTimestamp(m.createdAt) };
    }), page.hasMore);
  });
}
