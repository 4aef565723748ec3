import { setTimeout as sleep } from 'node:timers/promises';
import type { Scope, Store, Transaction, Workflow, WorkflowRun, WorkflowStepState } from '../../store/port.js';
import { allSteps, DEFAULT_RETRY, type RetryPolicy, type Step } from '../definition.js';
import { DEFAULT_EXPRESSION_LIMITS, ExpressionError, renderTemplate, type ExpressionScope } from '../expressions.js';
import { RESULT_TOO_LARGE } from '../expression-evaluator.js';
import { AttemptFailed, Parked, StepFailed } from './errors.js';
import type { EngineDeps, Execution, Frame } from './execution.js';
import { newStepState, oversize } from './helpers.js';
import type { StartWorkflowRun } from './ports.js';
import { executorFor } from './steps/registry.js';

/** Waits this short (retry backoff, delay steps) are slept in place; longer ones park the run. */
const INLINE_WAIT_MS = 5_000;

/** Creates a run (a workflow step's child) in the caller's transaction. */
export type CreateRun = (scope: Scope, workflow: Workflow, start: StartWorkflowRun, tx: Transaction) => Promise<WorkflowRun>;

/**
 * Walks a definition within one advance: takes stored outputs for finished steps and runs the
 * first unfinished ones through their type's executor. What every executor shares lives here:
 * expressions, attempts under the retry policy, step state writes, waits and joins.
 */
export class Walker {
  constructor(
    readonly deps: EngineDeps,
    readonly ex: Execution,
    readonly createRun: CreateRun,
  ) {}

  now(): number {
    return (this.deps.now ?? Date.now)();
  }

  async sequence(steps: Step[], frame: Frame): Promise<unknown> {
    let last: unknown = null;
    for (const step of steps) {
      last = await this.step(step, frame);
      frame.outputs[step.id] = last;
    }
    return last;
  }

  private async step(step: Step, frame: Frame): Promise<unknown> {
    const { ex } = this;
    const key = frame.prefix + step.id;
    const stored = ex.states.get(key);
    if (stored?.status === 'succeeded') return stored.output;
    if (stored?.status === 'skipped') return null;
    if (stored?.status === 'failed') throw new StepFailed(key, stored.errorCode ?? 'step_failed', stored.errorMessage ?? `Step '${key}' failed.`);
    ex.signal.throwIfAborted();
    const state = stored ?? this.newState(step, key);
    return executorFor(step).run(this, step, state, frame);
  }

  private scopeOf(frame: Frame): ExpressionScope {
    const { run } = this.ex;
    return {
      input: run.input,
      steps: frame.outputs,
      ...(frame.index !== undefined ? { item: frame.item, index: frame.index } : {}),
      run: { id: run.id, workflow_id: run.workflowId, trigger: run.trigger },
    };
  }

  /** Evaluates an expression of a step; an error fails the step at once (retrying cannot help). */
  async evaluate(frame: Frame, source: string, key: string, field: string): Promise<unknown> {
    try {
      return await this.deps.expressions.for(this.ex.run.scope.workspaceId)(source, this.scopeOf(frame));
    } catch (error) {
      if (error instanceof ExpressionError && error.code === RESULT_TOO_LARGE) {
        // A transform's expression is its output; any other field's result is data the step would carry.
        throw new AttemptFailed(field === 'expression' ? 'step_output_too_large' : 'step_data_too_large', `Step '${key}': ${field}: ${error.message}`, false);
      }
      if (error instanceof ExpressionError) throw new AttemptFailed('expression_error', `Step '${key}': ${field}: ${error.message}`, false);
      throw error;
    }
  }

  async template(frame: Frame, template: string, key: string, field: string): Promise<string> {
    try {
      return await renderTemplate(template, this.scopeOf(frame), DEFAULT_EXPRESSION_LIMITS, this.deps.expressions.for(this.ex.run.scope.workspaceId));
    } catch (error) {
      if (error instanceof ExpressionError) throw new AttemptFailed('expression_error', `Step '${key}': ${field}: ${error.message}`, false);
      throw error;
    }
  }

  newState(step: Step, key: string): WorkflowStepState {
    return newStepState(this.ex.run, this.ex.positions, step, key, this.now());
  }

  /** The error for a step output or input over the data limit, if it is over. */
  oversize(key: string, what: 'output' | 'input', value: unknown): AttemptFailed | undefined {
    return oversize(this.deps.limits, key, what, value);
  }

  /** Writes a step's state, with an event in the same transaction when given (in `db`'s, when that is one). */
  async saveStep(state: WorkflowStepState, event?: { type: string; data: Record<string, unknown> }, db: Store | Transaction = this.deps.store): Promise<void> {
    const { ex } = this;
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

  async succeed(state: WorkflowStepState, output: unknown): Promise<unknown> {
    const tooLarge = this.oversize(state.key, 'output', output);
    if (tooLarge) throw await this.failStep(state, tooLarge);
    const now = this.now();
    Object.assign(state, { status: 'succeeded', output, wakeAt: null, errorCode: null, errorMessage: null, completedAt: now, startedAt: state.startedAt ?? now });
    await this.saveStep(state, { type: 'step.completed', data: { output } });
    return output;
  }

  /**
   * Runs a leaf step's attempts under its retry policy. Steps with an outside effect record each
   * attempt as `running` first, so attempts are counted across crashes; a pure step is written
   * once, when it is done.
   */
  async attempts(step: Step, state: WorkflowStepState, perform: () => Promise<{ input?: unknown; output: unknown }>, effectful: boolean): Promise<unknown> {
    const { ex } = this;
    const policy: RetryPolicy = { ...DEFAULT_RETRY, ...ex.definition.retry, ...step.retry };
    for (;;) {
      if (state.wakeAt !== null && state.status === 'pending') await this.waitUntil(state.wakeAt);
      state.attempts += 1;
      state.startedAt ??= this.now();
      if (effectful) {
        Object.assign(state, { status: 'running', wakeAt: null });
        await this.saveStep(state, { type: 'step.started', data: { attempt: state.attempts } });
      }
      try {
        const result = await perform();
        if (result.input !== undefined) state.input = result.input;
        return await this.succeed(state, result.output);
      } catch (error) {
        if (ex.signal.aborted || error instanceof StepFailed) throw error;
        const failure = error instanceof AttemptFailed ? error : new AttemptFailed('step_error', error instanceof Error ? error.message : String(error), true);
        if (!failure.retryable || state.attempts >= policy.max_attempts) {
          Object.assign(state, { status: 'failed', errorCode: failure.code, errorMessage: failure.message, completedAt: this.now(), wakeAt: null });
          await this.saveStep(state, { type: 'step.failed', data: { attempt: state.attempts, error: { code: failure.code, message: failure.message } } });
          throw new StepFailed(state.key, failure.code, `Step '${state.key}' failed: ${failure.message}`);
        }
        const backoff = Math.min(policy.backoff_ms * 2 ** (state.attempts - 1), policy.max_backoff_ms);
        Object.assign(state, { status: 'pending', errorCode: failure.code, errorMessage: failure.message, wakeAt: this.now() + backoff });
        await this.saveStep(state, { type: 'step.retrying', data: { attempt: state.attempts, error: { code: failure.code, message: failure.message }, retry_at: new Date(state.wakeAt!).toISOString() } });
      }
    }
  }

  /** Sleeps until `wakeAt` when it is near; parks the run when it is not. */
  async waitUntil(wakeAt: number): Promise<void> {
    // A loop: a timer may fire a millisecond before the clock says its time has come.
    for (let remaining = wakeAt - this.now(); remaining > 0; remaining = wakeAt - this.now()) {
      if (remaining > INLINE_WAIT_MS) throw new Parked(wakeAt);
      await sleep(remaining, undefined, { signal: this.ex.signal });
    }
  }

  /** Joins concurrent sequences: the first failure wins, else the earliest wake of those parked. */
  async settle(results: Array<PromiseSettledResult<unknown>>): Promise<void> {
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    const failure = rejected.find((reason) => !(reason instanceof Parked));
    if (failure !== undefined) throw failure;
    if (rejected.length > 0) {
      const wakes = (rejected as Parked[]).map((p) => p.wakeAt);
      throw new Parked(wakes.includes(null) && wakes.every((w) => w === null) ? null : Math.min(...wakes.filter((w): w is number => w !== null)));
    }
  }

  /**
   * Runs the steps a composite step encloses (or joins them): when one of them fails, the
   * composite fails with it, naming it, rather than being left unfinished (and then skipped).
   */
  async enclosing<T>(state: WorkflowStepState, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof StepFailed) || this.ex.signal.aborted) throw error;
      // The inner step's message names it.
      const message = error.message;
      Object.assign(state, { status: 'failed', errorCode: error.code, errorMessage: message, completedAt: this.now(), wakeAt: null });
      await this.saveStep(state, { type: 'step.failed', data: { error: { code: error.code, message, step: error.key } } });
      throw error;
    }
  }

  /** Fails a composite step for an error of its own expressions; returns what to throw. */
  async failStep(state: WorkflowStepState, error: unknown): Promise<unknown> {
    if (!(error instanceof AttemptFailed)) return error;
    Object.assign(state, { status: 'failed', errorCode: error.code, errorMessage: error.message, completedAt: this.now(), startedAt: state.startedAt ?? this.now() });
    await this.saveStep(state, { type: 'step.failed', data: { error: { code: error.code, message: error.message } } });
    return new StepFailed(state.key, error.code, error.message);
  }

  /** Fails a step with a code of its own (not an attempt's), naming it in the run's error. */
  async failWith(state: WorkflowStepState, code: string, message: string, runMessage = message): Promise<never> {
    Object.assign(state, { status: 'failed', errorCode: code, errorMessage: message, completedAt: this.now() });
    await this.saveStep(state, { type: 'step.failed', data: { error: { code, message } } });
    throw new StepFailed(state.key, code, runMessage);
  }

  /** Marks steps that will not run (a branch not taken) as skipped. */
  async skipAll(frame: Frame, steps: Step[]): Promise<void> {
    const skipped = [...allSteps(steps)].map((s) => ({ ...this.newState(s, frame.prefix + s.id), status: 'skipped' as const }));
    if (skipped.length === 0) return;
    await this.deps.store.transaction(async (tx) => {
      for (const state of skipped) {
        this.ex.states.set(state.key, state);
        await tx.workflowRuns.saveStep(state);
      }
    });
  }
}
