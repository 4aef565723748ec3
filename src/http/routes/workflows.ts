import { Type } from 'typebox';
import type { ErrorObject } from 'ajv';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { runView, versionView, workflowView } from '../../workflows/views.js';
import type { WorkflowRun } from '../../store/port.js';
import { KairoError } from '../../errors.js';
import { RetrySchema, StepSchema } from '../../workflows/step-schemas.js';
import { shapeError } from '../../workflows/schema-errors.js';
import { authOf } from '../plugins/auth.js';
import { ListOf, PaginationQuery, StrictObject, Timestamp, toList, UsageObject } from '../schemas.js';
import type { AppDeps } from '../deps.js';
import { sendEventStream } from '../sse.js';
import { FINAL_EVENTS } from '../../runs/statuses.js';

/** A wait-mode request or a stream follows a run through waits shorter than this. */
const SHORT_WAIT_MS = 30_000;

/** Whether a `run.waiting` event is a wait for a person (an approval) or for a time more than SHORT_WAIT_MS away. */
function waitsLong(data: Record<string, unknown>): boolean {
  const wakeAt = typeof data.wake_at === 'string' ? Date.parse(data.wake_at) : null;
  return data.waiting_for === 'approval' || (wakeAt !== null && wakeAt - Date.now() > SHORT_WAIT_MS);
}

const Json = Type.Unknown();
const AnyObject = Type.Object({}, { additionalProperties: true });
const Metadata = Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 500 }), { maxProperties: 50 });

const WorkflowBody = StrictObject({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Type.Union([Type.String({ maxLength: 2000 }), Type.Null()])),
  input_schema: Type.Optional(Type.Union([AnyObject, Type.Null()], { description: 'JSON Schema the input of every run must satisfy.' })),
  steps: Type.Array(StepSchema, {
    minItems: 1, maxItems: 200,
    description: 'Steps run in order: agent, http, transform, branch, parallel, map, delay, approval, workflow. See docs/workflows.md.',
  }),
  output: Type.Optional(Type.Union([Type.String({ maxLength: 10_000 }), Type.Null()], { description: "JSONata expression: the run's output (default: the last step's output)." })),
  retry: Type.Optional(RetrySchema),
  schedule: Type.Optional(Type.Union([AnyObject, Type.Null()], { description: '{ cron, timezone, input }: each due time starts one run.' })),
  metadata: Type.Optional(Metadata),
});

/**
 * The body schema checks a definition's steps; their problems are worded as validate.ts words
 * them, naming the step ("Step 'a': an agent step needs 'agent'."). Any other error goes on to the
 * app's error handler as it is.
 */
function stepErrors(error: unknown, request: FastifyRequest): never {
  const { validation, validationContext } = error as { validation?: ErrorObject[]; validationContext?: string };
  const first = validation?.[0];
  if (!first || validationContext !== 'body' || !/^\/steps(\/|$)/.test(first.instancePath)) throw error;
  const steps = (request.body as Record<string, unknown>).steps;
  throw shapeError({ ...first, instancePath: first.instancePath.slice('/steps'.length) }, steps, 'steps', 'sequence');
}

const WorkflowObject = Type.Object({
  object: Type.Literal('workflow'),
  id: Type.String(),
  livemode: Type.Boolean(),
  version: Type.Integer(),
  name: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  input_schema: Type.Union([AnyObject, Type.Null()]),
  steps: Type.Array(AnyObject),
  output: Type.Union([Type.String(), Type.Null()]),
  retry: AnyObject,
  schedule: Type.Union([AnyObject, Type.Null()]),
  next_run_at: Type.Union([Timestamp, Type.Null()]),
  metadata: Type.Record(Type.String(), Type.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const VersionObject = Type.Object({
  object: Type.Literal('workflow_version'),
  id: Type.String(),
  workflow_id: Type.String(),
  version: Type.Integer(),
  definition: AnyObject,
  created_at: Timestamp,
});

const StepObject = Type.Object({
  key: Type.String({ description: 'Unique in the run: the step id, prefixed by its map iterations (each[2].fetch).' }),
  step_id: Type.String(),
  type: Type.String(),
  status: Type.String({ description: 'pending, running, succeeded, failed, skipped or waiting.' }),
  attempts: Type.Integer(),
  input: Json,
  output: Json,
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  child_run_id: Type.Optional(Type.String({ description: 'A workflow step: the run of the workflow it called.' })),
  agent_run_ids: Type.Optional(Type.Array(Type.String(), { description: 'An agent step: the run of each attempt.' })),
  wake_at: Type.Union([Timestamp, Type.Null()]),
  started_at: Type.Union([Timestamp, Type.Null()]),
  completed_at: Type.Union([Timestamp, Type.Null()]),
  duration_ms: Type.Union([Type.Integer(), Type.Null()]),
});

const RunObject = Type.Object({
  object: Type.Literal('workflow_run'),
  id: Type.String(),
  workflow_id: Type.String(),
  workflow_version: Type.Integer(),
  livemode: Type.Boolean(),
  status: Type.String({ description: 'queued, running, waiting, completed, failed or cancelled.' }),
  mode: Type.String(),
  trigger: Type.String({ description: 'api, schedule or workflow.' }),
  scheduled_for: Type.Union([Timestamp, Type.Null()]),
  parent_run_id: Type.Union([Type.String(), Type.Null()]),
  input: Json,
  output: Json,
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String(), step: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  cancel_requested: Type.Boolean(),
  usage: UsageObject,
  cost_usd: Type.Number({ description: 'What the agent runs of its steps (and the workflows it called) cost.' }),
  cost_notional: Type.Boolean({ description: 'True in test mode: the cost is notional; nobody is charged.' }),
  latency_ms: Type.Record(Type.String(), Type.Number(), { description: 'queue_ms, slot_wait_ms (when it waited for a concurrent-run slot), total_ms.' }),
  api_key_id: Type.Union([Type.String(), Type.Null()]),
  steps: Type.Optional(Type.Array(StepObject)),
  metadata: Type.Record(Type.String(), Type.String()),
  created_at: Timestamp,
  started_at: Type.Union([Timestamp, Type.Null()]),
  completed_at: Type.Union([Timestamp, Type.Null()]),
});

const StartRunBody = StrictObject({
  input: Type.Optional(Json),
  stream: Type.Optional(Type.Boolean({ description: 'Answer with server-sent events as the run progresses.' })),
  background: Type.Optional(Type.Boolean({ description: 'Answer 202 at once; poll or stream the run.' })),
  metadata: Type.Optional(Metadata),
});

const ResumeBody = StrictObject({
  step: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'The waiting approval step (id or key); needed only when several wait.' })),
  data: Type.Optional(Json),
});

const WorkflowParams = StrictObject({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const RunParams = StrictObject({ id: Type.String({ minLength: 1, maxLength: 128 }), run_id: Type.String({ minLength: 1, maxLength: 128 }) });
const RunStatus = Type.Union(['queued', 'running', 'waiting', 'completed', 'failed', 'cancelled'].map((s) => Type.Literal(s)));

/** Workflow routes: the Workflows group. */
export async function workflowRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { workflows, events } = deps.workflows;

  const page = (q: { limit?: number; after?: string; before?: string }) => ({ limit: q.limit ?? 20, after: q.after, before: q.before });

  async function fullRun(runId: string) {
    const run = (await workflows.currentRun(runId))!;
    return runView(run, await workflows.steps(run.id));
  }

  /**
   * The run's events after `afterSeq` until it finishes, or waits for a person (an approval) or
   * for a time more than SHORT_WAIT_MS away. Waits that end by themselves (a called workflow, a
   * short delay or backoff) are followed through.
   */
  async function* runEvents(runId: string, afterSeq: number, signal: AbortSignal) {
    let last = afterSeq;
    // A client that has the last event of a finished run, or of one waiting for a person or a
    // long time, has everything: the log will not grow soon.
    const point = afterSeq > 0 ? await events.resumePoint(runId, afterSeq) : null;
    if (point) {
      const held = point.held;
      if (!held || FINAL_EVENTS.has(held.type) || (held.type === 'run.waiting' && waitsLong(held.data))) return;
    }
    while (!signal.aborted) {
      let pause: Record<string, unknown> | undefined;
      for await (const event of events.follow(runId, last, signal)) {
        last = event.seq;
        yield event;
        if (event.type === 'run.waiting') pause = event.data;
      }
      if (!pause) return;
      // A wait that is already over (a replay of a run that went on since) is history: read on.
      if ((await events.read(runId, last, 1)).length > 0) continue;
      if (waitsLong(pause)) return;
    }
  }

  /** Waits as `runEvents` says, or until the client goes away (the run goes on). */
  async function settled(request: FastifyRequest, runId: string): Promise<void> {
    const closed = new AbortController();
    const onClose = () => closed.abort();
    request.raw.on('close', onClose);
    try {
      for await (const _event of runEvents(runId, 0, closed.signal)) {
        // Reading the events is the wait.
      }
    } finally {
      request.raw.off('close', onClose);
    }
  }

  /** Streams the run's events as SSE from `afterSeq`, as far as a wait-mode request would wait. */
  function streamRun(request: FastifyRequest, reply: FastifyReply, runId: string, afterSeq: number) {
    return sendEventStream(request, reply, (signal) => runEvents(runId, afterSeq, signal), async () => {
      if (!request.idempotency) return;
      await request.recordStreamedResponse(JSON.stringify(await fullRun(runId)));
    });
  }

  app.post('/v1/workflows', {
    schema: {
      operationId: 'workflows.create',
      tags: ['Workflows'], summary: 'Create a workflow',
      description: 'The definition is validated whole: unique step ids, references to earlier steps and to existing agents and workflows, no call cycles, expressions that parse. Errors name the step and field.',
      body: WorkflowBody, response: { 201: WorkflowObject },
    },
    errorHandler: stepErrors,
  }, async (request, reply) => reply.code(201).send(workflowView(await workflows.create(authOf(request).scope, request.body))));

  app.get('/v1/workflows', {
    schema: { operationId: 'workflows.list', description: 'The workflows of the workspace and mode, newest first.', tags: ['Workflows'], summary: 'List workflows', querystring: PaginationQuery, response: { 200: ListOf(WorkflowObject) } },
  }, async (request) => {
    const result = await workflows.list(authOf(request).scope, page(request.query));
    return toList(result.data.map(workflowView), result.hasMore);
  });

  app.get('/v1/workflows/:id', {
    schema: { operationId: 'workflows.retrieve', description: 'The workflow with its current version\'s steps.', tags: ['Workflows'], summary: 'Get a workflow', params: WorkflowParams, response: { 200: WorkflowObject } },
  }, async (request) => workflowView(await workflows.get(authOf(request).scope, request.params.id)));

  app.put('/v1/workflows/:id', {
    schema: {
      operationId: 'workflows.replace',
      tags: ['Workflows'], summary: 'Replace a workflow (a new version)',
      description: 'Runs already started keep the version they started with.',
      params: WorkflowParams, body: WorkflowBody, response: { 200: WorkflowObject },
    },
    errorHandler: stepErrors,
  }, async (request) => workflowView(await workflows.replace(authOf(request).scope, request.params.id, request.body)));

  app.delete('/v1/workflows/:id', {
    config: { errors: ['workflow_has_active_runs'] },
    schema: {
      operationId: 'workflows.delete',
      tags: ['Workflows'], summary: 'Delete a workflow',
      description: 'Refused with 409 workflow_has_active_runs while runs are queued, running or waiting: cancel them first. Finished runs stay readable.',
      params: WorkflowParams,
      response: { 200: Type.Object({ object: Type.Literal('workflow'), id: Type.String(), deleted: Type.Literal(true) }) },
    },
  }, async (request) => {
    const workflow = await workflows.delete(authOf(request).scope, request.params.id);
    return { object: 'workflow' as const, id: workflow.id, deleted: true as const };
  });

  app.get('/v1/workflows/:id/versions', {
    schema: { operationId: 'workflows.versions.list', description: 'Every definition the workflow has had, newest first.', tags: ['Workflows'], summary: 'List the versions of a workflow', params: WorkflowParams, querystring: PaginationQuery, response: { 200: ListOf(VersionObject) } },
  }, async (request) => {
    const result = await workflows.versions(authOf(request).scope, request.params.id, page(request.query));
    return toList(result.data.map(versionView), result.hasMore);
  });

  app.post('/v1/workflows/:id/runs', {
    config: { eventStream: 'body' },
    schema: {
      operationId: 'workflows.runs.create',
      tags: ['Workflows'], summary: 'Start a workflow run',
      description: 'Waits until the run finishes or waits (approval, long delay) by default. `stream: true` answers with server-sent events; `background: true` answers 202 at once. A run does not depend on its request: a client that goes away leaves it going, and a run whose server dies is continued by the job queue.',
      params: WorkflowParams, body: StartRunBody, response: { 200: RunObject, 202: RunObject },
    },
  }, async (request, reply) => {
    const auth = authOf(request);
    const body = request.body;
    if (body.stream && body.background) throw new KairoError('parameter_invalid', { message: 'Choose stream or background, not both.', param: 'stream' });
    const mode = body.background ? 'background' : body.stream ? 'stream' : 'wait';
    const run = await workflows.start(auth.scope, request.params.id, { input: body.input, mode, apiKeyId: auth.key.id, ...(body.metadata ? { metadata: body.metadata } : {}) });
    request.createdRunId = run.id;
    if (mode === 'stream') return streamRun(request, reply, run.id, 0);
    if (mode === 'background') return reply.code(202).send(runView(run, []));
    await settled(request, run.id);
    return fullRun(run.id);
  });

  app.get('/v1/workflows/:id/runs', {
    schema: {
      operationId: 'workflows.runs.list', description: 'The runs of the workflow, newest first; filter by `status` and `trigger`.',
      tags: ['Workflows'], summary: 'List runs of a workflow',
      params: WorkflowParams,
      querystring: StrictObject({
        ...PaginationQuery.properties,
        status: Type.Optional(RunStatus),
        trigger: Type.Optional(Type.Union([Type.Literal('api'), Type.Literal('schedule'), Type.Literal('workflow')])),
      }),
      response: { 200: ListOf(RunObject) },
    },
  }, async (request) => {
    const q = request.query;
    const result = await workflows.listRuns(authOf(request).scope, {
      workflowId: request.params.id, ...(q.status ? { status: q.status as WorkflowRun['status'] } : {}), ...(q.trigger ? { trigger: q.trigger } : {}),
    }, page(q));
    return toList(result.data.map((r) => runView(r)), result.hasMore);
  });

  app.get('/v1/workflows/:id/runs/:run_id', {
    config: { eventStream: 'accept' },
    schema: {
      operationId: 'workflows.runs.retrieve',
      tags: ['Workflows'], summary: 'Get a workflow run with the state of each step',
      description: "With `Accept: text/event-stream`, streams the run's events; `Last-Event-ID` resumes after that event.",
      params: RunParams, response: { 200: RunObject },
    },
  }, async (request, reply) => {
    const auth = authOf(request);
    const workflow = await workflows.get(auth.scope, request.params.id);
    const run = await workflows.getRun(auth.scope, workflow.id, request.params.run_id);
    if ((request.headers.accept ?? '').includes('text/event-stream')) {
      const last = Number(request.headers['last-event-id'] ?? 0);
      return streamRun(request, reply, run.id, Number.isInteger(last) && last > 0 ? last : 0);
    }
    return runView(run, await workflows.steps(run.id));
  });

  app.post('/v1/workflows/:id/runs/:run_id/cancel', {
    config: { errors: ['run_not_cancellable'] },
    schema: {
      operationId: 'workflows.runs.cancel',
      tags: ['Workflows'], summary: 'Cancel a workflow run',
      description: 'A queued or waiting run is cancelled at once; a running one stops its running steps within moments. Steps not finished are marked skipped.',
      params: RunParams, body: StrictObject({}), response: { 200: RunObject },
    },
  }, async (request) => {
    const auth = authOf(request);
    const workflow = await workflows.get(auth.scope, request.params.id);
    const run = await workflows.cancel(auth.scope, workflow.id, request.params.run_id);
    return fullRun(run.id);
  });

  app.post('/v1/workflows/:id/runs/:run_id/resume', {
    config: { errors: ['run_not_waiting'] },
    schema: {
      operationId: 'workflows.runs.resume',
      tags: ['Workflows'], summary: 'Resume a run waiting in an approval step',
      description: "`data` becomes the approval step's output. The run continues in the background; poll or stream it.",
      params: RunParams, body: ResumeBody, response: { 202: RunObject },
    },
  }, async (request, reply) => {
    const auth = authOf(request);
    const workflow = await workflows.get(auth.scope, request.params.id);
    const run = await workflows.resume(auth.scope, workflow.id, request.params.run_id, request.body);
    return reply.code(202).send(await fullRun(run.id));
  });
}
