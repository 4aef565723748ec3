import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { newId } from '../ids.js';
import type { Queue } from '../queue/port.js';
import {
  ACTIVE_WORKFLOW_RUN_STATUSES, emptyUsage, type Scope, type Store, type Transaction, type Usage, type Workflow, type WorkflowRun,
  type WorkflowStepState, type Workspace,
} from '../store/port.js';
import type { RunSlot, RunSlots } from '../platform/run-slots.js';
import type { SafeFetcher } from '../context/ports.js';
import { FetchError } from '../context/ports.js';
import type { RunEventLog } from '../runs/event-log.js';
import { isFinal } from '../runs/statuses.js';
import type { RunObserver } from '../runs/observer.js';
import { stepSpanId, type SpanWriter } from '../runs/spans.js';
import type { RunParent } from '../agents/run-engine.js';
import {
  allSteps, childSequences, DEFAULT_RETRY, parseDuration, type AgentStep, type ApprovalStep, type BranchStep, type DelayStep,
  type HttpStep, type MapStep, type ParallelStep, type RetryPolicy, type Step, type WorkflowCallStep, type WorkflowDefinition,
} from './definition.js';
import { DEFAULT_EXPRESSION_LIMITS, ExpressionError, renderTemplate, type ExpressionScope } from './expressions.js';
import { RESULT_TOO_LARGE, type ExpressionEvaluator } from './expression-evaluator.js';

export const WORKFLOW_RUN_JOB = 'workflows.run';

/** Waits this short (retry backoff, delay steps) are slept in place; longer ones park the run. */
const INLINE_WAIT_MS = 5_000;
/** A run whose lease another engine holds, or whose workspace is at its cap, is retried this soon. */
const BUSY_RETRY_MS = 1_000;
/** A cancel asked in another process (an API-only one) stops a running run within about this long. */
const CANCEL_CHECK_MS = 1_000;
const HTTP_DEFAULT_TIMEOUT_MS = 15_000;
const HTTP_MAX_RESPONSE_BYTES = 1024 * 1024;
const DEFAULT_MAP_CONCURRENCY = 4;

/** What an agent step needs from the agents area. */
export interface AgentCaller {
  /** Runs an agent to completion on the workflow run's slot, as a child of the step's span. */
  run(request: {
    workspace: Workspace; scope: Scope; agentId: string; input: string; slot: RunSlot; metadata: Record<string, string>;
    apiKeyId: string | null; parent: RunParent;
  }): Promise<AgentCallResult>;
}

/** How an agent step's run ended; `usage` and `costUsd` are the run's (zero when none started). */
export type AgentCallResult = { runId: string | null; usage: Usage; costUsd: number } & (
  | { ok: true; runId: string; output: string }
  | { ok: false; code: string; message: string; retryable: boolean }
);

export interface StartWorkflowRun {
  input: unknown;
  mode: WorkflowRun['mode'];
  trigger: WorkflowRun['trigger'];
  scheduledFor?: number;
  parentRunId?: string;
  parentStepKey?: string;
  metadata?: Record<string, string>;
  /** The API key whose request starts the run (or started the calling run). */
  apiKeyId?: string | null;
}

/** A step failed for good: the run fails and names it. */
class StepFailed extends Error {
  constructor(readonly key: string, readonly code: string, message: string) {
    super(message);
  }
}

/** A step cannot go on before `wakeAt` (null: until something outside resumes it). */
class Parked {
  constructor(readonly wakeAt: number | null) {}
}

/** A failure of one attempt; retryable ones are tried again under the step's retry policy. */
class AttemptFailed extends Error {
  constructor(readonly code: string, message: string, readonly retryable: boolean) {
    super(message);
  }
}

/** One advance of one run, under its lease. */
interface Execution {
  run: WorkflowRun;
  workspace: Workspace;
  definition: WorkflowDefinition;
  states: Map<string, WorkflowStepState>;
  positions: Map<string, number>;
  signal: AbortSignal;
  slot: RunSlot;
}

/** Where a sequence runs: the outputs it sees, the map item, and the key prefix of its steps. */
interface Frame {
  outputs: Record<string, unknown>;
  item?: unknown;
  index?: number;
  prefix: string;
}


/**
 * The durable workflow engine. Workflows are data, so nothing is replayed: each step's state and
 * output is stored when it changes, and advancing a run walks the definition from the top,
 * taking stored outputs for finished steps and executing the first unfinished ones. Every
 * advance is a `workflows.run` job and holds the run's lease, so one engine advances a run at a
 * time, in any process; a crashed engine's lease lapses and the job queue runs the job again,
 * which continues from the stored state. A step whose effect is outside (http, agent) may thus run
 * again after a crash, always with the same idempotency key.
 */
/** How much data a run may carry. */
export interface WorkflowDataLimits {
  /** Most items a `map` step iterates. */
  maxMapItems: number;
  /** Largest step output (and run input), as JSON bytes. */
  maxWorkflowDataBytes: number;
}

export class WorkflowEngine {
  /** This engine's lease owner name. */
  private readonly owner = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly controllers = new Map<string, AbortController>();
  private readonly definitions = new Map<string, WorkflowDefinition>();

  constructor(
    private readonly deps: {
      store: Store;
      queue: Queue;
      events: RunEventLog;
      slots: RunSlots;
      fetcher: SafeFetcher;
      agents: AgentCaller;
      spans: SpanWriter;
      observer: RunObserver;
      leaseMs: number;
      expressions: ExpressionEvaluator;
      limits: WorkflowDataLimits;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Creates a run in `queued` and its first job, in one transaction (joins `tx` when given). */
  async create(scope: Scope, workflow: Workflow, start: StartWorkflowRun, tx?: Transaction): Promise<WorkflowRun> {
    const now = this.now();
    const run: WorkflowRun = {
      id: newId('wfrun'), scope, workflowId: workflow.id, workflowVersion: workflow.version, status: 'queued', mode: start.mode,
      trigger: start.trigger, scheduledFor: start.scheduledFor ?? null, parentRunId: start.parentRunId ?? null,
      parentStepKey: start.parentStepKey ?? null, input: start.input ?? null, output: null, errorCode: null, errorMessage: null,
      errorStep: null, cancelRequested: false, metadata: start.metadata ?? {}, createdAt: now, startedAt: null, completedAt: null, updatedAt: now,
      apiKeyId: start.apiKeyId ?? null, usage: emptyUsage(), costUsd: 0, latency: {},
    };
    const write = async (t: Transaction) => {
      await t.workflowRuns.create(run);
      await this.deps.queue.enqueue(WORKFLOW_RUN_JOB, { runId: run.id }, { jobId: `wfrun_${run.id}`, tx: t, maxAttempts: 20 });
      this.deps.events.begin(run.id);
      await this.deps.events.append(run.id, 'run.created', { run_id: run.id, status: 'queued', trigger: run.trigger }, t);
    };
    if (tx) await write(tx);
    else await this.deps.store.transaction(write);
    return run;
  }

  /** Enqueues another advance of a run (after a resume, a cancel, a child run's end, a wait). */
  async wake(runId: string, delayMs = 0, tx?: Transaction): Promise<void> {
    await this.deps.queue.enqueue(
      WORKFLOW_RUN_JOB,
      { runId },
      { jobId: `wfwake_${runId}_${Date.now()}_${randomBytes(3).toString('hex')}`, delayMs: Math.max(0, Math.round(delayMs)), maxAttempts: 20, ...(tx ? { tx } : {}) },
    );
  }

  /** Aborts the run's execution in this process, if it runs here (other processes see the flag). */
  abortLocal(runId: string): void {
    this.controllers.get(runId)?.abort(new Error('cancelled'));
  }

  /**
   * Takes the run's lease for a short change outside an advance (cancelling a queued or waiting
   * run); false when an engine holds it.
   */
  async withLease<T>(runId: string, work: () => Promise<T>): Promise<{ done: true; value: T } | { done: false }> {
    const owner = `${this.owner}:${randomBytes(4).toString('hex')}`;
    if (!(await this.deps.store.workflowRuns.claim(runId, owner, this.now() + this.deps.leaseMs, this.now()))) return { done: false };
    this.deps.events.release(runId);
    try {
      return { done: true, value: await work() };
    } finally {
      await this.deps.store.workflowRuns.release(runId, owner);
    }
  }

  /** The job handler: advances a run as far as it can go now. */
  async advance(runId: string, jobSignal: AbortSignal): Promise<{ status: string }> {
    const { store } = this.deps;
    let run = await store.workflowRuns.getById(runId);
    if (!run || isFinal(run.status)) return { status: run?.status ?? 'missing' };
    // An owner of this advance alone: claim() lets an owner take its own lease again, so with the
    // engine's name two jobs of one run in this process (a wake while it runs) would both advance it.
    const owner = `${this.owner}:${randomBytes(4).toString('hex')}`;
    if (!(await store.workflowRuns.claim(runId, owner, this.now() + this.deps.leaseMs, this.now()))) {
      const until = (await store.workflowRuns.leaseUntil(runId)) ?? this.now();
      await this.wake(runId, Math.min(Math.max(until - this.now(), 50), BUSY_RETRY_MS));
      return { status: 'busy' };
    }
    // Another engine may have written events since this process last did.
    this.deps.events.release(runId);
    const controller = new AbortController();
    const onJobAbort = () => controller.abort(new Error('worker stopping'));
    jobSignal.addEventListener('abort', onJobAbort, { once: true });
    this.controllers.set(runId, controller);
    const renew = setInterval(() => {
      store.workflowRuns.renew(runId, owner, this.now() + this.deps.leaseMs).then(
        (held) => {
          if (!held) controller.abort(new Error('lease lost'));
          else if (held.cancelRequested) controller.abort(new Error('cancelled'));
        },
        () => {},
      );
    }, Math.max(50, Math.floor(this.deps.leaseMs / 3)));
    // Renewals see the cancel flag only every third of the lease: look for it more often between them.
    const watch = Math.floor(this.deps.leaseMs / 3) > CANCEL_CHECK_MS
      ? setInterval(() => {
        store.workflowRuns.getById(runId).then((current) => {
          if (current?.cancelRequested) controller.abort(new Error('cancelled'));
        }, () => {});
      }, CANCEL_CHECK_MS)
      : undefined;
    let slot: RunSlot | null = null;
    try {
      run = (await store.workflowRuns.getById(runId))!;
      if (isFinal(run.status)) return { status: run.status };
      const workspace = await store.workspaces.get(run.scope.workspaceId);
      if (!workspace) return { status: 'missing' };
      if (run.cancelRequested) return { status: (await this.finishCancelled(run)).status };
      slot = await this.deps.slots.acquire(workspace);
      if (!slot) {
        // At the plan's concurrent-run cap: the run waits in the queue for a slot, from now.
        if (run.latency.slot_wait_since === undefined) await store.workflowRuns.save({ ...run, latency: { ...run.latency, slot_wait_since: this.now() } });
        await this.wake(runId, BUSY_RETRY_MS);
        return { status: 'waiting_for_slot' };
      }
      const definition = await this.definition(run.workflowId, run.workflowVersion);
      const states = new Map((await store.workflowRuns.steps(runId)).map((s) => [s.key, s]));
      const positions = positionsOf(definition);
      run = await this.begin(run);
      const execution: Execution = { run, workspace, definition, states, positions, signal: controller.signal, slot };
      return { status: (await this.execute(execution)).status };
    } catch (error) {
      if (controller.signal.aborted) {
        const reason = String(controller.signal.reason);
        if (reason.includes('cancelled') && run) return { status: (await this.finishCancelled(run)).status };
        // Lease lost: another engine has the run. Worker stopping: continue in a later advance.
        if (reason.includes('worker stopping')) await this.wake(runId, BUSY_RETRY_MS).catch(() => {});
        return { status: 'interrupted' };
      }
      throw error;
    } finally {
      clearInterval(renew);
      clearInterval(watch);
      jobSignal.removeEventListener('abort', onJobAbort);
      this.controllers.delete(runId);
      await slot?.release();
      await store.workflowRuns.release(runId, owner).catch(() => {});
    }
  }

  /**
   * Marks the run running as an advance begins: its first start ends the queue wait; an advance
   * that waited for a slot ends that wait (a span of its own).
   */
  private async begin(run: WorkflowRun): Promise<WorkflowRun> {
    const now = this.now();
    const { slot_wait_since: slotWaitSince, ...latency } = run.latency;
    if (run.status === 'running' && slotWaitSince === undefined) return run;
    if (run.status === 'queued') latency.queue_ms ??= (slotWaitSince ?? now) - run.createdAt;
    if (slotWaitSince !== undefined) latency.slot_wait_ms = (latency.slot_wait_ms ?? 0) + (now - slotWaitSince);
    const started: WorkflowRun = { ...run, status: 'running', startedAt: run.startedAt ?? now, updatedAt: now, latency };
    await this.deps.store.transaction(async (tx) => {
      await tx.workflowRuns.save(started);
      if (slotWaitSince !== undefined) {
        await this.deps.spans.end(this.deps.spans.start(run.id, 'slot_wait', 'concurrent-run slot', { startedAt: slotWaitSince }), 'ok', {}, { tx, endedAt: now });
      }
      if (run.status !== 'running') await this.deps.events.append(run.id, run.status === 'queued' ? 'run.started' : 'run.resumed', { run_id: run.id }, tx);
    });
    return started;
  }

  /** A workflow version's definition (immutable once written, so kept in memory). */
  async definition(workflowId: string, version: number): Promise<WorkflowDefinition> {
    const key = `${workflowId}@${version}`;
    const cached = this.definitions.get(key);
    if (cached) return cached;
    const found = await this.deps.store.workflows.getVersion(workflowId, version);
    if (!found) throw new Error(`Workflow ${workflowId} version ${version} is missing.`);
    const definition = found.definition as unknown as WorkflowDefinition;
    if (this.definitions.size >= 500) this.definitions.delete(this.definitions.keys().next().value!);
    this.definitions.set(key, definition);
    return definition;
  }

  private async execute(ex: Execution): Promise<WorkflowRun> {
    const frame: Frame = { outputs: {}, prefix: '' };
    try {
      const last = await this.sequence(ex, ex.definition.steps, frame);
      const output = ex.definition.output === null ? last : await this.evaluate(ex, frame, ex.definition.output, '(output)', 'output');
      return await this.finish(ex.run, { status: 'completed', output });
    } catch (error) {
      if (error instanceof Parked) return this.park(ex, error.wakeAt);
      if (error instanceof StepFailed) {
        return this.finish(ex.run, { status: 'failed', errorCode: error.code, errorMessage: error.message, errorStep: error.key }, ex);
      }
      throw error;
    }
  }

  private async sequence(ex: Execution, steps: Step[], frame: Frame): Promise<unknown> {
    let last: unknown = null;
    for (const step of steps) {
      last = await this.step(ex, step, frame);
      frame.outputs[step.id] = last;
    }
    return last;
  }

  private scopeOf(ex: Execution, frame: Frame): ExpressionScope {
    return {
      input: ex.run.input,
      steps: frame.outputs,
      ...(frame.index !== undefined ? { item: frame.item, index: frame.index } : {}),
      run: { id: ex.run.id, workflow_id: ex.run.workflowId, trigger: ex.run.trigger },
    };
  }

  /** Evaluates an expression of a step; an error fails the step at once (retrying cannot help). */
  private async evaluate(ex: Execution, frame: Frame, source: string, key: string, field: string): Promise<unknown> {
    try {
      return await this.deps.expressions.for(ex.run.scope.workspaceId)(source, this.scopeOf(ex, frame));
    } catch (error) {
      if (error instanceof ExpressionError && error.code === RESULT_TOO_LARGE) {
        // A transform's expression is its output; any other field's result is data the step would carry.
        throw new AttemptFailed(field === 'expression' ? 'step_output_too_large' : 'step_data_too_large', `Step '${key}': ${field}: ${error.message}`, false);
      }
      if (error instanceof ExpressionError) throw new AttemptFailed('expression_error', `Step '${key}': ${field}: ${error.message}`, false);
      throw error;
    }
  }

  private async template(ex: Execution, frame: Frame, template: string, key: string, field: string): Promise<string> {
    try {
      return await renderTemplate(template, this.scopeOf(ex, frame), DEFAULT_EXPRESSION_LIMITS, this.deps.expressions.for(ex.run.scope.workspaceId));
    } catch (error) {
      if (error instanceof ExpressionError) throw new AttemptFailed('expression_error', `Step '${key}': ${field}: ${error.message}`, false);
      throw error;
    }
  }

  private newState(ex: Execution, step: Step, key: string): WorkflowStepState {
    return {
      runId: ex.run.id, key, stepId: step.id, type: step.type, status: 'pending', position: ex.positions.get(step.id) ?? 0, input: null,
      output: null, state: {}, errorCode: null, errorMessage: null, attempts: 0, wakeAt: null, startedAt: null, completedAt: null, updatedAt: this.now(),
    };
  }

  /** Writes a step's state, with an event in the same transaction when given (in `db`'s, when that is one). */
  private async saveStep(
    ex: Execution, state: WorkflowStepState, event?: { type: string; data: Record<string, unknown> }, db: Store | Transaction = this.deps.store,
  ): Promise<void> {
    state.updatedAt = this.now();
    ex.states.set(state.key, state);
    if (!event) {
      await db.workflowRuns.saveStep(state);
      return;
    }
    await db.transaction(async (tx) => {
      await tx.workflowRuns.saveStep(state);
      await this.deps.events.append(ex.run.id, event.type, { key: state.key, step_id: state.stepId, type: state.type, ...event.data }, tx);
    });
  }

  private async succeed(ex: Execution, state: WorkflowStepState, output: unknown): Promise<unknown> {
    const oversize = this.oversize(state.key, 'output', output);
    if (oversize) throw await this.failStep(ex, state, oversize);
    const now = this.now();
    Object.assign(state, { status: 'succeeded', output, wakeAt: null, errorCode: null, errorMessage: null, completedAt: now, startedAt: state.startedAt ?? now });
    await this.saveStep(ex, state, { type: 'step.completed', data: { output } });
    return output;
  }

  /** Why a run's input is over the data limit, or undefined when it is not. */
  inputTooLarge(input: unknown): string | undefined {
    return this.oversize('', 'input', input)?.message.replace(/^Step '': its input/, 'The input');
  }

  /** The error for a step output or input over the data limit, if it is over. */
  private oversize(key: string, what: 'output' | 'input', value: unknown): AttemptFailed | undefined {
    if (value === null || typeof value !== 'object') {
      if (typeof value !== 'string' || value.length * 3 <= this.deps.limits.maxWorkflowDataBytes) return undefined;
    }
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
    if (bytes <= this.deps.limits.maxWorkflowDataBytes) return undefined;
    return new AttemptFailed(
      what === 'output' ? 'step_output_too_large' : 'step_input_too_large',
      `Step '${key}': its ${what} is ${bytes} bytes of JSON, more than the ${this.deps.limits.maxWorkflowDataBytes} allowed (--max-workflow-data-bytes / KAIRO_MAX_WORKFLOW_DATA_BYTES).`,
      false,
    );
  }

  private async step(ex: Execution, step: Step, frame: Frame): Promise<unknown> {
    const key = frame.prefix + step.id;
    const stored = ex.states.get(key);
    if (stored?.status === 'succeeded') return stored.output;
    if (stored?.status === 'skipped') return null;
    if (stored?.status === 'failed') throw new StepFailed(key, stored.errorCode ?? 'step_failed', stored.errorMessage ?? `Step '${key}' failed.`);
    ex.signal.throwIfAborted();
    const state = stored ?? this.newState(ex, step, key);
    switch (step.type) {
      case 'transform':
        return this.attempts(ex, step, state, frame, async () => ({ output: await this.evaluate(ex, frame, step.expression, key, 'expression') }), false);
      case 'http':
        return this.attempts(ex, step, state, frame, () => this.http(ex, step, state, frame), true);
      case 'agent':
        return this.attempts(ex, step, state, frame, () => this.agent(ex, step, state, frame), true);
      case 'branch':
        return this.branch(ex, step, state, frame);
      case 'parallel':
        return this.parallel(ex, step, state, frame);
      case 'map':
        return this.map(ex, step, state, frame);
      case 'delay':
        return this.delay(ex, step, state, frame);
      case 'approval':
        return this.approval(ex, step, state, frame);
      case 'workflow':
        return this.callWorkflow(ex, step, state, frame);
    }
  }

  /**
   * Runs a leaf step's attempts under its retry policy. Steps with an outside effect record each
   * attempt as `running` first, so attempts are counted across crashes; a pure step is written
   * once, when it is done.
   */
  private async attempts(
    ex: Execution, step: Step, state: WorkflowStepState, frame: Frame,
    perform: () => Promise<{ input?: unknown; output: unknown }>, effectful: boolean,
  ): Promise<unknown> {
    const policy: RetryPolicy = { ...DEFAULT_RETRY, ...ex.definition.retry, ...step.retry };
    for (;;) {
      if (state.wakeAt !== null && state.status === 'pending') await this.waitUntil(ex, state.wakeAt);
      state.attempts += 1;
      state.startedAt ??= this.now();
      if (effectful) {
        Object.assign(state, { status: 'running', wakeAt: null });
        await this.saveStep(ex, state, { type: 'step.started', data: { attempt: state.attempts } });
      }
      try {
        const result = await perform();
        if (result.input !== undefined) state.input = result.input;
        return await this.succeed(ex, state, result.output);
      } catch (error) {
        if (ex.signal.aborted || error instanceof StepFailed) throw error;
        const failure = error instanceof AttemptFailed ? error : new AttemptFailed('step_error', error instanceof Error ? error.message : String(error), true);
        if (!failure.retryable || state.attempts >= policy.max_attempts) {
          Object.assign(state, { status: 'failed', errorCode: failure.code, errorMessage: failure.message, completedAt: this.now(), wakeAt: null });
          await this.saveStep(ex, state, { type: 'step.failed', data: { attempt: state.attempts, error: { code: failure.code, message: failure.message } } });
          throw new StepFailed(state.key, failure.code, `Step '${state.key}' failed: ${failure.message}`);
        }
        const backoff = Math.min(policy.backoff_ms * 2 ** (state.attempts - 1), policy.max_backoff_ms);
        Object.assign(state, { status: 'pending', errorCode: failure.code, errorMessage: failure.message, wakeAt: this.now() + backoff });
        await this.saveStep(ex, state, { type: 'step.retrying', data: { attempt: state.attempts, error: { code: failure.code, message: failure.message }, retry_at: new Date(state.wakeAt!).toISOString() } });
      }
    }
  }

  /** Sleeps until `wakeAt` when it is near; parks the run when it is not. */
  private async waitUntil(ex: Execution, wakeAt: number): Promise<void> {
    // A loop: a timer may fire a millisecond before the clock says its time has come.
    for (let remaining = wakeAt - this.now(); remaining > 0; remaining = wakeAt - this.now()) {
      if (remaining > INLINE_WAIT_MS) throw new Parked(wakeAt);
      await sleep(remaining, undefined, { signal: ex.signal });
    }
  }

  private async http(ex: Execution, step: HttpStep, state: WorkflowStepState, frame: Frame) {
    const url = await this.template(ex, frame, step.url, state.key, 'url');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(step.headers ?? {})) headers[name.toLowerCase()] = await this.template(ex, frame, value, state.key, `headers.${name}`);
    const hasBody = step.method !== 'GET' && step.method !== 'DELETE';
    const body = hasBody && step.body !== undefined ? JSON.stringify(await this.evaluate(ex, frame, step.body, state.key, 'body')) : undefined;
    // Stable for the step across attempts, restarts and engines: a receiver applies the effect once.
    const idempotencyKey = `${ex.run.id}:${state.key}`;
    Object.assign(headers, {
      accept: headers.accept ?? 'application/json, text/plain;q=0.9, */*;q=0.1',
      ...(body !== undefined ? { 'content-type': headers['content-type'] ?? 'application/json' } : {}),
      'idempotency-key': idempotencyKey,
      'kairo-workflow-run-id': ex.run.id,
    });
    const input = { method: step.method, url, headers: redactHeaders(headers), body: body === undefined ? null : JSON.parse(body) };
    try {
      const response = await this.deps.fetcher.fetch(url, {
        method: step.method, headers, ...(body !== undefined ? { body } : {}), maxBytes: HTTP_MAX_RESPONSE_BYTES,
        timeoutMs: step.timeout_ms ?? HTTP_DEFAULT_TIMEOUT_MS, signal: ex.signal,
      });
      return { input, output: { status: response.status, headers: response.headers, body: parseBody(response.body, response.headers['content-type']) } };
    } catch (error) {
      if (ex.signal.aborted) throw error;
      if (error instanceof FetchError) {
        const status = error.status;
        // A 4xx is the receiver refusing this request: retrying the same request cannot help (but 408 and 429 can).
        const retryable = status !== undefined ? status >= 500 || status === 408 || status === 429 : ['timeout', 'network_error'].includes(error.code);
        throw new AttemptFailed(status !== undefined ? 'http_status' : `http_${error.code}`, error.message, retryable);
      }
      throw error;
    }
  }

  private async agent(ex: Execution, step: AgentStep, state: WorkflowStepState, frame: Frame) {
    const value = await this.evaluate(ex, frame, step.input, state.key, 'input');
    const input = typeof value === 'string' ? value : JSON.stringify(value);
    const result = await this.deps.agents.run({
      workspace: ex.workspace, scope: ex.run.scope, agentId: step.agent, input, slot: ex.slot,
      metadata: { workflow_run_id: ex.run.id, workflow_step: state.key, workflow_step_attempt: String(state.attempts), idempotency_key: `${ex.run.id}:${state.key}` },
      apiKeyId: ex.run.apiKeyId,
      parent: { runId: ex.run.id, spanId: stepSpanId(ex.run.id, state.key), workflowId: ex.run.workflowId, workflowVersion: ex.run.workflowVersion },
    });
    // Every attempt's run is linked from the step, and its tokens and cost count for the workflow run.
    if (result.runId !== null) noteChildRun(state, 'agent_run_ids', result.runId, result.usage, result.costUsd);
    ex.signal.throwIfAborted();
    if (!result.ok) throw new AttemptFailed(result.code, result.runId ? `${result.message} (agent run ${result.runId})` : result.message, result.retryable);
    return { input, output: result.output };
  }

  private async branch(ex: Execution, step: BranchStep, state: WorkflowStepState, frame: Frame): Promise<unknown> {
    let chosen = state.state.case as number | undefined;
    if (chosen === undefined) {
      try {
        chosen = -1;
        for (const [index, option] of step.cases.entries()) {
          if (truthy(await this.evaluate(ex, frame, option.when, state.key, `cases[${index}].when`))) {
            chosen = index;
            break;
          }
        }
      } catch (error) {
        throw await this.failStep(ex, state, error);
      }
      const taken = chosen;
      const sequences = [...step.cases.map((c) => c.steps), step.default ?? []];
      await this.skipAll(ex, frame, sequences.filter((_, i) => i !== (taken === -1 ? step.cases.length : taken)).flat());
      Object.assign(state, { status: 'running', startedAt: this.now(), state: { case: chosen }, input: { case: chosen === -1 ? 'default' : chosen } });
      await this.saveStep(ex, state, { type: 'step.started', data: { case: chosen === -1 ? 'default' : chosen } });
    }
    const sequence = chosen === -1 ? step.default ?? [] : step.cases[chosen]!.steps;
    const output = await this.enclosing(ex, state, () => this.sequence(ex, sequence, frame));
    return this.succeed(ex, state, output);
  }

  private async parallel(ex: Execution, step: ParallelStep, state: WorkflowStepState, frame: Frame): Promise<unknown> {
    if (state.status === 'pending') {
      Object.assign(state, { status: 'running', startedAt: this.now() });
      await this.saveStep(ex, state, { type: 'step.started', data: {} });
    }
    const results = await Promise.allSettled(step.branches.map((b) => this.sequence(ex, b.steps, frame)));
    await this.enclosing(ex, state, () => this.settle(results));
    const output = Object.fromEntries(step.branches.map((b, i) => [b.name, (results[i] as PromiseFulfilledResult<unknown>).value]));
    return this.succeed(ex, state, output);
  }

  private async map(ex: Execution, step: MapStep, state: WorkflowStepState, frame: Frame): Promise<unknown> {
    let items = state.state.items as unknown[] | undefined;
    if (items === undefined) {
      let value: unknown;
      try {
        value = await this.evaluate(ex, frame, step.items, state.key, 'items');
        if (value === null) value = [];
        if (!Array.isArray(value)) throw new AttemptFailed('invalid_items', `Step '${state.key}': items must evaluate to an array, not ${typeof value}.`, false);
        if (value.length > this.deps.limits.maxMapItems) {
          throw new AttemptFailed('map_too_large', `Step '${state.key}': items has ${value.length} entries, more than the ${this.deps.limits.maxMapItems} allowed (--max-map-items / KAIRO_MAX_MAP_ITEMS).`, false);
        }
      } catch (error) {
        throw await this.failStep(ex, state, error);
      }
      items = value;
      // The list is stored: later advances iterate the same items whatever the expression would say now.
      Object.assign(state, { status: 'running', startedAt: this.now(), state: { items }, input: { count: items.length } });
      await this.saveStep(ex, state, { type: 'step.started', data: { items: items.length } });
    }
    const list = items;
    const results: Array<PromiseSettledResult<unknown>> = new Array(list.length);
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (next < list.length && !failed) {
        const index = next++;
        const iteration: Frame = { outputs: { ...frame.outputs }, item: list[index], index, prefix: `${frame.prefix}${step.id}[${index}].` };
        try {
          results[index] = { status: 'fulfilled', value: await this.sequence(ex, step.steps, iteration) };
        } catch (error) {
          results[index] = { status: 'rejected', reason: error };
          if (!(error instanceof Parked)) failed = true;
        }
      }
    };
    const concurrency = Math.min(step.concurrency ?? DEFAULT_MAP_CONCURRENCY, Math.max(list.length, 1));
    await Promise.all(Array.from({ length: concurrency }, worker));
    await this.enclosing(ex, state, () => this.settle(results.filter((r) => r !== undefined)));
    return this.succeed(ex, state, results.map((r) => (r as PromiseFulfilledResult<unknown>).value));
  }

  /** Joins concurrent sequences: the first failure wins, else the earliest wake of those parked. */
  private async settle(results: Array<PromiseSettledResult<unknown>>): Promise<void> {
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    const failure = rejected.find((reason) => !(reason instanceof Parked));
    if (failure !== undefined) throw failure;
    if (rejected.length > 0) {
      const wakes = (rejected as Parked[]).map((p) => p.wakeAt);
      throw new Parked(wakes.includes(null) && wakes.every((w) => w === null) ? null : Math.min(...wakes.filter((w): w is number => w !== null)));
    }
  }

  private async delay(ex: Execution, step: DelayStep, state: WorkflowStepState, frame: Frame): Promise<unknown> {
    if (state.wakeAt === null) {
      const now = this.now();
      let wakeAt: number;
      try {
        wakeAt = step.duration !== undefined ? now + parseDuration(step.duration)! : toTime(await this.evaluate(ex, frame, step.until!, state.key, 'until'), state.key);
      } catch (error) {
        throw await this.failStep(ex, state, error);
      }
      Object.assign(state, { status: 'waiting', startedAt: now, wakeAt, input: { until: new Date(wakeAt).toISOString() } });
      await this.saveStep(ex, state, { type: 'step.waiting', data: { wake_at: new Date(wakeAt).toISOString() } });
    }
    await this.waitUntil(ex, state.wakeAt!);
    return this.succeed(ex, state, { waited_until: new Date(state.wakeAt!).toISOString() });
  }

  private async approval(ex: Execution, step: ApprovalStep, state: WorkflowStepState, frame: Frame): Promise<unknown> {
    if (state.status === 'pending') {
      const wakeAt = step.timeout ? this.now() + parseDuration(step.timeout)! : null;
      Object.assign(state, { status: 'waiting', startedAt: this.now(), wakeAt, input: { prompt: step.prompt ?? null } });
      await this.saveStep(ex, state, { type: 'step.waiting', data: { prompt: step.prompt ?? null, expires_at: wakeAt === null ? null : new Date(wakeAt).toISOString() } });
      throw new Parked(wakeAt);
    }
    if (state.status === 'waiting') {
      // Read again: the approval may have been given since this advance began.
      const current = (await this.deps.store.workflowRuns.steps(ex.run.id)).find((s) => s.key === state.key) ?? state;
      Object.assign(state, current);
      const resolution = state.state.resolution as { data: unknown } | undefined;
      if (resolution) return this.succeed(ex, state, resolution.data);
      if (state.wakeAt === null || state.wakeAt > this.now()) throw new Parked(state.wakeAt);
      if (!step.on_timeout) {
        Object.assign(state, { status: 'failed', errorCode: 'approval_timeout', errorMessage: `Step '${state.key}' was not approved within ${step.timeout}.`, completedAt: this.now() });
        await this.saveStep(ex, state, { type: 'step.failed', data: { error: { code: 'approval_timeout', message: state.errorMessage } } });
        throw new StepFailed(state.key, 'approval_timeout', state.errorMessage!);
      }
      Object.assign(state, { status: 'running', state: { timed_out: true } });
      await this.saveStep(ex, state, { type: 'step.timed_out', data: {} });
    }
    await this.enclosing(ex, state, () => this.sequence(ex, step.on_timeout ?? [], frame));
    return this.succeed(ex, state, null);
  }

  /**
   * Runs the steps a composite step encloses (or joins them): when one of them fails, the
   * composite fails with it, naming it, rather than being left unfinished (and then skipped).
   */
  private async enclosing<T>(ex: Execution, state: WorkflowStepState, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof StepFailed) || ex.signal.aborted) throw error;
      // The inner step's message names it.
      const message = error.message;
      Object.assign(state, { status: 'failed', errorCode: error.code, errorMessage: message, completedAt: this.now(), wakeAt: null });
      await this.saveStep(ex, state, { type: 'step.failed', data: { error: { code: error.code, message, step: error.key } } });
      throw error;
    }
  }

  private async callWorkflow(ex: Execution, step: WorkflowCallStep, state: WorkflowStepState, frame: Frame): Promise<unknown> {
    const childId = state.state.child_run_id as string | undefined;
    if (childId === undefined) {
      let input: unknown;
      let callee: Workflow | undefined;
      try {
        input = step.input === undefined ? {} : await this.evaluate(ex, frame, step.input, state.key, 'input');
        const oversize = this.oversize(state.key, 'input', input);
        if (oversize) throw oversize;
        callee = await this.deps.store.workflows.get(ex.run.scope, step.workflow);
        if (!callee) throw new AttemptFailed('workflow_missing', `Step '${state.key}': workflow ${step.workflow} no longer exists.`, false);
      } catch (error) {
        throw await this.failStep(ex, state, error);
      }
      const target = callee;
      await this.deps.store.transaction(async (tx) => {
        const child = await this.create(ex.run.scope, target, {
          input, mode: 'background', trigger: 'workflow', parentRunId: ex.run.id, parentStepKey: state.key,
          metadata: { parent_run_id: ex.run.id }, apiKeyId: ex.run.apiKeyId,
        }, tx);
        Object.assign(state, { status: 'running', startedAt: this.now(), attempts: 1, input, state: { child_run_id: child.id } });
        await this.saveStep(ex, state, { type: 'step.started', data: { child_run_id: child.id } }, tx);
      });
      // The child's end wakes this run.
      throw new Parked(null);
    }
    const child = await this.deps.store.workflowRuns.getById(childId);
    if (!child || !isFinal(child.status)) throw new Parked(null);
    Object.assign(state.state, { usage: child.usage, cost_usd: child.costUsd });
    if (child.status === 'completed') return this.succeed(ex, state, child.output);
    const message = `Workflow run ${child.id} ended ${child.status}${child.errorMessage ? `: ${child.errorMessage}` : ''}.`;
    Object.assign(state, { status: 'failed', errorCode: 'workflow_failed', errorMessage: message, completedAt: this.now() });
    await this.saveStep(ex, state, { type: 'step.failed', data: { error: { code: 'workflow_failed', message } } });
    throw new StepFailed(state.key, 'workflow_failed', `Step '${state.key}' failed: ${message}`);
  }

  /** Fails a composite step for an error of its own expressions; returns what to throw. */
  private async failStep(ex: Execution, state: WorkflowStepState, error: unknown): Promise<unknown> {
    if (!(error instanceof AttemptFailed)) return error;
    Object.assign(state, { status: 'failed', errorCode: error.code, errorMessage: error.message, completedAt: this.now(), startedAt: state.startedAt ?? this.now() });
    await this.saveStep(ex, state, { type: 'step.failed', data: { error: { code: error.code, message: error.message } } });
    return new StepFailed(state.key, error.code, error.message);
  }

  /** Marks steps that will not run (a branch not taken) as skipped. */
  private async skipAll(ex: Execution, frame: Frame, steps: Step[]): Promise<void> {
    const skipped = [...allSteps(steps)].map((s) => ({ ...this.newState(ex, s, frame.prefix + s.id), status: 'skipped' as const }));
    if (skipped.length === 0) return;
    await this.deps.store.transaction(async (tx) => {
      for (const state of skipped) {
        ex.states.set(state.key, state);
        await tx.workflowRuns.saveStep(state);
      }
    });
  }

  /**
   * Leaves the run `waiting` until `wakeAt` (a delayed job wakes it) or until something outside
   * does: an approval's resume, a called run's end. The event says which, so that a client
   * waiting for the run can tell a person's decision from a wait that ends by itself.
   */
  private async park(ex: Execution, wakeAt: number | null): Promise<WorkflowRun> {
    const { run } = ex;
    const now = this.now();
    const waiting: WorkflowRun = { ...run, status: 'waiting', updatedAt: now };
    const approvals = [...ex.states.values()].filter((s) => s.type === 'approval' && s.status === 'waiting' && !s.state.resolution).map((s) => s.key);
    const waitingFor = approvals.length > 0 ? 'approval' : wakeAt !== null ? 'time' : 'workflow';
    await this.deps.store.transaction(async (tx) => {
      await tx.workflowRuns.save(waiting);
      if (wakeAt !== null) await this.wake(run.id, wakeAt - now, tx);
      await this.deps.events.append(run.id, 'run.waiting', {
        run_id: run.id, waiting_for: waitingFor, approvals, wake_at: wakeAt === null ? null : new Date(wakeAt).toISOString(),
      }, tx);
    });
    return waiting;
  }

  /**
   * Ends the run with its usage and cost (its steps' agent runs and called workflows) and its
   * total latency, in one transaction with the observer, the parent's wake-up and the last event.
   * A run that already has a final status is left as it is.
   */
  private async finish(run: WorkflowRun, end: Partial<WorkflowRun> & { status: WorkflowRun['status'] }, ex?: Execution): Promise<WorkflowRun> {
    const now = this.now();
    const steps = ex ? await this.unfinishedSteps(ex) : [];
    const all = ex ? [...ex.states.values()] : await this.deps.store.workflowRuns.steps(run.id);
    const { slot_wait_since: _, ...latency } = run.latency;
    const finished: WorkflowRun = {
      ...run, ...end, completedAt: now, updatedAt: now, ...stepTotals(all), latency: { queue_ms: 0, ...latency, total_ms: now - run.createdAt },
    };
    await this.deps.store.transaction(async (tx) => {
      if (!(await tx.workflowRuns.save(finished, ACTIVE_WORKFLOW_RUN_STATUSES))) return;
      for (const step of steps) await tx.workflowRuns.saveStep(step);
      await this.deps.observer.workflowRunFinished(tx, finished, all.filter((s) => s.status === 'succeeded' || s.status === 'failed').length);
      if (run.parentRunId) await this.wake(run.parentRunId, 0, tx);
      const data = { run_id: run.id, status: finished.status, ...(finished.status === 'completed' ? { output: finished.output } : {}),
        ...(finished.errorCode ? { error: { code: finished.errorCode, message: finished.errorMessage, step: finished.errorStep } } : {}) };
      await this.deps.events.append(run.id, `run.${finished.status}`, data, tx);
    });
    this.deps.events.release(run.id);
    return finished;
  }

  /** Every declared step not finished (outside map iterations), as skipped: the run ended without it. */
  private async unfinishedSteps(ex: Execution): Promise<WorkflowStepState[]> {
    const now = this.now();
    const skipped: WorkflowStepState[] = [];
    const visit = (steps: Step[], insideMap: boolean) => {
      for (const step of steps) {
        if (!insideMap) {
          const state = ex.states.get(step.id);
          if (!state || ['pending', 'running', 'waiting'].includes(state.status)) {
            skipped.push({ ...(state ?? this.newState(ex, step, step.id)), status: 'skipped', wakeAt: null, completedAt: state ? now : null, updatedAt: now });
          }
        }
        for (const sequence of childSequences(step)) visit(sequence, insideMap || step.type === 'map');
      }
    };
    visit(ex.definition.steps, false);
    // Map iterations that had begun are closed too.
    for (const state of ex.states.values()) {
      if (state.key.includes('[') && ['pending', 'running', 'waiting'].includes(state.status)) skipped.push({ ...state, status: 'skipped', wakeAt: null, completedAt: now, updatedAt: now });
    }
    return skipped;
  }

  /** Ends a run that was asked to cancel: what ran stays, the rest is skipped. */
  private async finishCancelled(run: WorkflowRun): Promise<WorkflowRun> {
    const current = (await this.deps.store.workflowRuns.getById(run.id)) ?? run;
    if (isFinal(current.status)) return current;
    const definition = await this.definition(current.workflowId, current.workflowVersion);
    const states = new Map((await this.deps.store.workflowRuns.steps(run.id)).map((s) => [s.key, s]));
    const ex = { run: current, definition, states, positions: positionsOf(definition) } as Execution;
    // Workflows this run called and waits for are cancelled with it.
    for (const state of states.values()) {
      const child = state.state.child_run_id;
      if (state.type === 'workflow' && state.status === 'running' && typeof child === 'string') {
        await this.deps.store.workflowRuns.requestCancel(child, this.now());
        this.abortLocal(child);
        await this.wake(child);
      }
    }
    return this.finish(current, { status: 'cancelled', errorCode: 'cancelled', errorMessage: 'The run was cancelled.' }, ex);
  }

  /** Cancels a queued or waiting run at once, when no engine holds it; else the engine stops it. */
  async cancel(run: WorkflowRun): Promise<WorkflowRun> {
    await this.deps.store.workflowRuns.requestCancel(run.id, this.now());
    this.abortLocal(run.id);
    const direct = await this.withLease(run.id, () => this.finishCancelled(run));
    if (direct.done) return direct.value;
    return (await this.deps.store.workflowRuns.getById(run.id)) ?? run;
  }
}

/** Each step's place in the definition, depth first: the order a run's steps are listed in. */
function positionsOf(definition: WorkflowDefinition): Map<string, number> {
  const positions = new Map<string, number>();
  for (const step of allSteps(definition.steps)) positions.set(step.id, positions.size);
  return positions;
}

function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  return Boolean(value);
}

function toTime(value: unknown, key: string): number {
  const time = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(time)) throw new AttemptFailed('invalid_until', `Step '${key}': until must evaluate to an RFC 3339 time or epoch milliseconds.`, false);
  return time;
}

function parseBody(body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0) return null;
  const text = body.toString('utf8');
  if (contentType?.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** Header values that look like credentials are not stored with the step's input. */
function redactHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, /authorization|token|secret|key|cookie/i.test(name) && name !== 'idempotency-key' ? '[redacted]' : value]));
}

/** Adds a child run (an agent step's attempt) to a step's notes: its id, and its tokens and cost to the step's. */
function noteChildRun(state: WorkflowStepState, list: string, runId: string, usage: Usage, costUsd: number): void {
  const notes = state.state;
  notes[list] = [...((notes[list] as string[] | undefined) ?? []), runId];
  notes.usage = addUsage((notes.usage as Usage | undefined) ?? emptyUsage(), usage);
  notes.cost_usd = ((notes.cost_usd as number | undefined) ?? 0) + costUsd;
}

function addUsage(a: Usage, b: Usage): Usage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cached_input_tokens: a.cached_input_tokens + b.cached_input_tokens,
    reasoning_tokens: a.reasoning_tokens + b.reasoning_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  };
}

/** A workflow run's usage and cost: the sums over its steps' agent runs and called workflows. */
function stepTotals(steps: WorkflowStepState[]): { usage: Usage; costUsd: number } {
  let usage = emptyUsage();
  let costUsd = 0;
  for (const step of steps) {
    const notes = step.state as { usage?: Usage; cost_usd?: number };
    if (notes.usage) usage = addUsage(usage, { ...emptyUsage(), ...notes.usage });
    costUsd += notes.cost_usd ?? 0;
  }
  return { usage, costUsd };
}
