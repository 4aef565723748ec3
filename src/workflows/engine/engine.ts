import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { newId } from '../../ids.js';
import {
  ACTIVE_WORKFLOW_RUN_STATUSES, emptyUsage, type Scope, type Transaction, type Workflow, type WorkflowRun, type WorkflowStepState, type Workspace,
} from '../../store/port.js';
import type { RunSlot } from '../../platform/run-slots.js';
import { isFinal } from '../../runs/statuses.js';
import { childSequences, type Step, type WorkflowDefinition } from '../definition.js';
import { AttemptFailed, Parked, StepFailed } from './errors.js';
import type { EngineDeps, Execution, Frame } from './execution.js';
import { newStepState, oversize, positionsOf, stepTotals } from './helpers.js';
import type { StartWorkflowRun } from './ports.js';
import { Walker } from './walker.js';
import { recordEvents } from '../../events/events.js';
import { runView } from '../views.js';

export const WORKFLOW_RUN_JOB = 'workflows.run';

/** A `workflows.run` job's payload; a backstop continues a run started in a request whose process died (see startNow). */
export interface WorkflowRunJob {
  runId: string;
  backstop?: boolean;
}

/** A run whose lease another engine holds, or whose workspace is at its cap, is retried this soon. */
const BUSY_RETRY_MS = 1_000;
/** A cancel asked in another process (an API-only one) stops a running run within about this long. */
const CANCEL_CHECK_MS = 1_000;

/**
 * The durable workflow engine. Workflows are data, so nothing is replayed: each step's state and
 * output is stored when it changes, and advancing a run walks the definition from the top,
 * taking stored outputs for finished steps and executing the first unfinished ones. Every
 * advance holds the run's lease, so one engine advances a run at a time, in any process. An
 * advance is a `workflows.run` job, or (the first of a run a request waits for) the request's own
 * with a backstop job behind it (startNow); a crashed engine's lease lapses and the job runs
 * again, which continues from the stored state. A step whose effect is outside (http, agent) may
 * thus run again after a crash, always with the same idempotency key.
 *
 * This class is the run's lifecycle (create, advance under lease, park, finish, cancel); the
 * walk of the definition is the Walker's, and each step type's work its executor's (steps/).
 */
export class WorkflowEngine {
  /** This engine's lease owner name. */
  private readonly owner = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly controllers = new Map<string, AbortController>();
  private readonly definitions = new Map<string, WorkflowDefinition>();
  /** Advances this process runs for the requests that started their runs (see startNow). */
  private readonly inline = new Set<Promise<unknown>>();
  private readonly stopInline = new AbortController();

  constructor(private readonly deps: EngineDeps) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private newRun(scope: Scope, workflow: Workflow, start: StartWorkflowRun, now: number): WorkflowRun {
    return {
      id: newId('wfrun'), scope, workflowId: workflow.id, workflowVersion: workflow.version, status: 'queued', mode: start.mode,
      trigger: start.trigger, scheduledFor: start.scheduledFor ?? null, parentRunId: start.parentRunId ?? null,
      parentStepKey: start.parentStepKey ?? null, input: start.input ?? null, output: null, errorCode: null, errorMessage: null,
      errorStep: null, cancelRequested: false, metadata: start.metadata ?? {}, createdAt: now, startedAt: null, completedAt: null, updatedAt: now,
      apiKeyId: start.apiKeyId ?? null, usage: emptyUsage(), costUsd: 0, latency: {},
    };
  }

  /** An owner name for one advance (or one short change) alone: claim() lets an owner take its own lease again. */
  private newOwner(): string {
    return `${this.owner}:${randomBytes(4).toString('hex')}`;
  }

  /** Creates a run in `queued` and its first job, in one transaction (joins `tx` when given). */
  async create(scope: Scope, workflow: Workflow, start: StartWorkflowRun, tx?: Transaction): Promise<WorkflowRun> {
    const run = this.newRun(scope, workflow, start, this.now());
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

  /**
   * Starts a run that this process advances at once, without waiting for the queue (a request
   * that waits for its run or streams it). One transaction writes the run `running`, leased to
   * this engine, with its first events and a backstop job due when the lease would lapse: should
   * this process die, the backstop continues the run from its stored state. The advance's last
   * write (the run's end, or its wait) withdraws the backstop. With no concurrent-run slot free
   * now, the run is queued as create() does and waits for one there.
   */
  async startNow(scope: Scope, workflow: Workflow, start: StartWorkflowRun, workspace: Workspace): Promise<WorkflowRun> {
    const slot = await this.deps.slots.acquire(workspace);
    if (!slot) return this.create(scope, workflow, start);
    const now = this.now();
    const owner = this.newOwner();
    const run: WorkflowRun = { ...this.newRun(scope, workflow, start, now), status: 'running', startedAt: now, latency: { queue_ms: 0 } };
    const backstop = `wfrun_${run.id}`;
    try {
      await this.deps.store.transaction(async (tx) => {
        await tx.workflowRuns.create(run);
        await tx.workflowRuns.claim(run.id, owner, now + this.deps.leaseMs, now);
        const job: WorkflowRunJob = { runId: run.id, backstop: true };
        await this.deps.queue.enqueue(WORKFLOW_RUN_JOB, job, { jobId: backstop, tx, delayMs: this.deps.leaseMs, maxAttempts: 20 });
        this.deps.events.begin(run.id);
        await this.deps.events.append(run.id, 'run.created', { run_id: run.id, status: 'queued', trigger: run.trigger }, tx);
        await this.deps.events.append(run.id, 'run.started', { run_id: run.id }, tx);
        await recordEvents(tx, scope, [{ type: 'workflow.run.started', object: runView(run), relatedId: workflow.id }], now);
      });
    } catch (error) {
      this.deps.events.release(run.id);
      await slot.release();
      throw error;
    }
    const advancing = this.held(run.id, owner, this.stopInline.signal, { run, workspace, slot, backstop })
      .catch((error) => this.deps.onError?.(error))
      .finally(() => this.inline.delete(advancing));
    this.inline.add(advancing);
    return run;
  }

  /** Stops the advances started by requests (each continues from its stored state in a job) and waits for them. */
  async closeInline(): Promise<void> {
    this.stopInline.abort(new Error('worker stopping'));
    await Promise.allSettled([...this.inline]);
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
    const owner = this.newOwner();
    if (!(await this.deps.store.workflowRuns.claim(runId, owner, this.now() + this.deps.leaseMs, this.now()))) return { done: false };
    this.deps.events.release(runId);
    try {
      return { done: true, value: await work() };
    } finally {
      await this.deps.store.workflowRuns.release(runId, owner);
    }
  }

  /** The job handler: advances a run as far as it can go now. */
  async advance(runId: string, jobSignal: AbortSignal, backstop = false): Promise<{ status: string }> {
    const { store } = this.deps;
    // An owner of this advance alone: with the engine's name two jobs of one run in this process
    // (a wake while it runs) would both advance it.
    const owner = this.newOwner();
    // The run is read once it is held (below); one that cannot be claimed is read here, to tell a
    // missing or finished run from a busy one.
    if (!(await store.workflowRuns.claim(runId, owner, this.now() + this.deps.leaseMs, this.now()))) {
      const current = await store.workflowRuns.getById(runId);
      if (!current || isFinal(current.status)) return { status: current?.status ?? 'missing' };
      const until = (await store.workflowRuns.leaseUntil(runId)) ?? this.now();
      if (backstop) {
        // The request's advance is alive and renewing: look again when its lease would lapse.
        const job: WorkflowRunJob = { runId, backstop: true };
        await this.deps.queue.enqueue(WORKFLOW_RUN_JOB, job, {
          jobId: `wfrun_${runId}_${until}`, delayMs: Math.max(until - this.now(), 0) + 50, maxAttempts: 20,
        });
      } else {
        await this.wake(runId, Math.min(Math.max(until - this.now(), 50), BUSY_RETRY_MS));
      }
      return { status: 'busy' };
    }
    // Another engine may have written events since this process last did.
    this.deps.events.release(runId);
    return this.held(runId, owner, jobSignal);
  }

  /**
   * Advances a run whose lease `owner` holds. `started` is a run startNow() has just written
   * running, with its slot: nothing of it needs reading back.
   */
  private async held(
    runId: string, owner: string, jobSignal: AbortSignal, started?: { run: WorkflowRun; workspace: Workspace; slot: RunSlot; backstop: string },
  ): Promise<{ status: string }> {
    const { store } = this.deps;
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
    let slot: RunSlot | null = started?.slot ?? null;
    let run: WorkflowRun | undefined = started?.run;
    try {
      let workspace = started?.workspace;
      let states = new Map<string, WorkflowStepState>();
      if (!started) {
        run = await store.workflowRuns.getById(runId);
        if (!run || isFinal(run.status)) return { status: run?.status ?? 'missing' };
        workspace = await store.workspaces.get(run.scope.workspaceId);
        if (!workspace) return { status: 'missing' };
        if (run.cancelRequested) return { status: (await this.finishCancelled(run)).status };
        slot = await this.deps.slots.acquire(workspace);
        if (!slot) {
          // At the plan's concurrent-run cap: the run waits in the queue for a slot, from now.
          if (run.latency.slot_wait_since === undefined) await store.workflowRuns.save({ ...run, latency: { ...run.latency, slot_wait_since: this.now() } });
          await this.wake(runId, BUSY_RETRY_MS);
          return { status: 'waiting_for_slot' };
        }
        states = new Map((await store.workflowRuns.steps(runId)).map((s) => [s.key, s]));
        run = await this.begin(run);
      }
      const definition = await this.definition(run!.workflowId, run!.workflowVersion);
      const execution: Execution = {
        run: run!, workspace: workspace!, definition, states, positions: positionsOf(definition), signal: controller.signal, slot: slot!, owner,
        ...(started ? { backstop: started.backstop } : {}),
      };
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
      if (run.status === 'queued') await recordEvents(tx, run.scope, [{ type: 'workflow.run.started', object: runView(started), relatedId: run.workflowId }], now);
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
    const walker = new Walker(this.deps, ex, (scope, workflow, start, tx) => this.create(scope, workflow, start, tx));
    const frame: Frame = { outputs: {}, prefix: '' };
    try {
      const last = await walker.sequence(ex.definition.steps, frame);
      let output = last;
      if (ex.definition.output !== null) {
        try {
          output = await walker.evaluate(frame, ex.definition.output, '(output)', 'output');
        } catch (error) {
          // Every step succeeded but the definition's output could not be made: the run fails, naming no step.
          if (!(error instanceof AttemptFailed)) throw error;
          const message = `The workflow's output: ${error.message.replace(/^Step '\(output\)': output: /, '')}`;
          return await this.finish(ex.run, { status: 'failed', errorCode: error.code, errorMessage: message, errorStep: null }, ex);
        }
      }
      return await this.finish(ex.run, { status: 'completed', output }, ex);
    } catch (error) {
      if (error instanceof Parked) return this.park(ex, error.wakeAt);
      if (error instanceof StepFailed) {
        return this.finish(ex.run, { status: 'failed', errorCode: error.code, errorMessage: error.message, errorStep: error.key }, ex);
      }
      throw error;
    }
  }

  /** Why a run's input is over the data limit, or undefined when it is not. */
  inputTooLarge(input: unknown): string | undefined {
    return oversize(this.deps.limits, '', 'input', input)?.message.replace(/^Step '': its input/, 'The input');
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
      await tx.workflowRuns.release(run.id, ex.owner);
      if (ex.backstop) await this.deps.queue.cancel(ex.backstop, { tx });
      if (wakeAt !== null) await this.wake(run.id, wakeAt - now, tx);
      await this.deps.events.append(run.id, 'run.waiting', {
        run_id: run.id, waiting_for: waitingFor, approvals, wake_at: wakeAt === null ? null : new Date(wakeAt).toISOString(),
      }, tx);
      // Reported when the run starts to wait, not again while it stays waiting.
      if (run.status !== 'waiting') {
        const object = runView(waiting);
        await recordEvents(tx, run.scope, [
          { type: 'workflow.run.waiting', object, previousAttributes: { status: run.status }, relatedId: run.workflowId },
          ...(waitingFor === 'approval' ? [{ type: 'workflow.run.approval_requested' as const, object, relatedId: run.workflowId }] : []),
        ], now);
      }
    });
    return waiting;
  }

  /**
   * Ends the run with its usage and cost (its steps' agent runs and called workflows) and its
   * total latency, in one transaction with the observer, the parent's wake-up, the last event and
   * (in an advance) the lease's release.
   * A run that already has a final status is left as it is.
   */
  private async finish(
    run: WorkflowRun, end: Partial<WorkflowRun> & { status: WorkflowRun['status'] },
    ex?: Pick<Execution, 'run' | 'definition' | 'states' | 'positions'> & Partial<Pick<Execution, 'owner' | 'backstop'>>,
  ): Promise<WorkflowRun> {
    const now = this.now();
    // A completed run has walked every step (a branch not taken is skipped as the walk passes it).
    const steps = ex && end.status !== 'completed' ? this.unfinishedSteps(ex) : [];
    const all = ex ? [...ex.states.values()] : await this.deps.store.workflowRuns.steps(run.id);
    const { slot_wait_since: _, ...latency } = run.latency;
    const finished: WorkflowRun = {
      ...run, ...end, completedAt: now, updatedAt: now, ...stepTotals(all), latency: { queue_ms: 0, ...latency, total_ms: now - run.createdAt },
    };
    await this.deps.store.transaction(async (tx) => {
      if (!(await tx.workflowRuns.save(finished, ACTIVE_WORKFLOW_RUN_STATUSES))) return;
      // The advance's own release then finds nothing to do: one write fewer per run.
      if (ex?.owner) await tx.workflowRuns.release(run.id, ex.owner);
      if (ex?.backstop) await this.deps.queue.cancel(ex.backstop, { tx });
      for (const step of steps) await tx.workflowRuns.saveStep(step);
      await this.deps.observer.workflowRunFinished(tx, finished, all.filter((s) => s.status === 'succeeded' || s.status === 'failed').length);
      if (run.parentRunId) await this.wake(run.parentRunId, 0, tx);
      const data = { run_id: run.id, status: finished.status, ...(finished.status === 'completed' ? { output: finished.output } : {}),
        ...(finished.errorCode ? { error: { code: finished.errorCode, message: finished.errorMessage, step: finished.errorStep } } : {}) };
      await this.deps.events.append(run.id, `run.${finished.status}`, data, tx);
      const type = `workflow.run.${finished.status as 'completed' | 'failed' | 'cancelled'}` as const;
      await recordEvents(tx, run.scope, [{ type, object: runView(finished), previousAttributes: { status: run.status }, relatedId: run.workflowId }], now);
    });
    this.deps.events.release(run.id);
    return finished;
  }

  /** Every declared step not finished (outside map iterations), as skipped: the run ended without it. */
  private unfinishedSteps(ex: Pick<Execution, 'run' | 'definition' | 'states' | 'positions'>): WorkflowStepState[] {
    const now = this.now();
    const skipped: WorkflowStepState[] = [];
    const visit = (steps: Step[], insideMap: boolean) => {
      for (const step of steps) {
        if (!insideMap) {
          const state = ex.states.get(step.id);
          if (!state || ['pending', 'running', 'waiting'].includes(state.status)) {
            skipped.push({ ...(state ?? newStepState(ex.run, ex.positions, step, step.id, now)), status: 'skipped', wakeAt: null, completedAt: state ? now : null, updatedAt: now });
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
    // Workflows this run called and waits for are cancelled with it.
    for (const state of states.values()) {
      const child = state.state.child_run_id;
      if (state.type === 'workflow' && state.status === 'running' && typeof child === 'string') {
        await this.deps.store.workflowRuns.requestCancel(child, this.now());
        this.abortLocal(child);
        await this.wake(child);
      }
    }
    const ex = { run: current, definition, states, positions: positionsOf(definition) };
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
