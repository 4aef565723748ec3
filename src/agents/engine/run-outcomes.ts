import type { ModelMessage } from 'ai';
import { newId } from '../../ids.js';
import { NoModelAvailableError } from '../../models/router.js';
import type { RunEventLog, TakenWrites } from '../../runs/event-log.js';
import type { ModelCallRecord, RunObserver } from '../../runs/observer.js';
import type { SpanWriter } from '../../runs/spans.js';
import type { Run, Store, Transaction } from '../../store/port.js';
import { ModelStepFailed, type ModelStep } from './model-step.js';
import type { EngineState } from './types.js';
import { recordEvents } from '../../events/events.js';
import { runView } from '../views.js';

/** The API request a run executes in (wait and stream runs), which its events name. */
export const requestIdOf = (run: Run): string | null => (run.state as EngineState).requestId ?? null;

/** The statuses a run can still leave. */
export const UNFINISHED: Run['status'][] = ['queued', 'running', 'requires_action'];

/**
 * How runs end: completed, failed (with a code) or cancelled. The final run, the model calls of
 * its last step, what the observer keeps and its last event are written in one transaction, and
 * only from a status the run can still leave (a final status is never overwritten).
 */
export class RunOutcomes {
  constructor(
    private readonly deps: {
      store: Store;
      events: RunEventLog;
      spans: SpanWriter;
      observer: RunObserver;
      modelStep: ModelStep;
      now: () => number;
    },
  ) {}

  /** The run ended by an error: cancelled if that was asked for, else failed (timeouts say so). */
  async stopped(run: Run, signal: AbortSignal, error: unknown): Promise<Run> {
    // A model call that failed the run is recorded with its end.
    const calls = error instanceof ModelStepFailed ? [error.record] : [];
    if (await this.cancelRequested(run.id)) return this.cancelled(run, UNFINISHED, calls);
    const timedOut = signal.aborted && String(signal.reason).includes('timeout');
    const failure = error instanceof ModelStepFailed ? error.failure : error;
    if (timedOut) return this.fail(run, 'run_timeout', 'The run exceeded settings.timeout_ms.', calls);
    // "auto" found no model that can serve the run (in live mode: none whose provider is configured).
    if (failure instanceof NoModelAvailableError) return this.fail(run, failure.code, failure.message, calls);
    return this.fail(run, 'run_error', failure instanceof Error ? failure.message : String(failure), calls);
  }

  async cancelRequested(runId: string): Promise<boolean> {
    return (await this.deps.store.runs.getById(runId))?.cancelRequested ?? false;
  }

  /** Ends the run `cancelled`, unless it has finished since. */
  async cancelled(run: Run, from: Run['status'][] = UNFINISHED, calls: ModelCallRecord[] = []): Promise<Run> {
    const now = this.deps.now();
    const next: Run = { ...run, status: 'cancelled', requiredAction: null, completedAt: now, updatedAt: now, latency: this.total(run, now) };
    const buffered = await this.takeBufferedDespiteFailure(run.id);
    await this.finish(next, from, calls, (tx) => this.deps.events.append(run.id, 'run.cancelled', { run_id: run.id }, tx), buffered);
    return (await this.deps.store.runs.getById(run.id)) ?? next;
  }

  /** Completes a running run with the model's text, adding the exchange to its thread. */
  async complete(run: Run, state: EngineState, text: string, calls: ModelCallRecord[]): Promise<Run> {
    const now = this.deps.now();
    const next: Run = { ...run, status: 'completed', output: text, state, completedAt: now, updatedAt: now, latency: this.total(run, now) };
    const buffered = await this.deps.events.takeBuffered(run.id);
    const saved = await this.finish(next, ['running'], calls, async (tx) => {
      if (run.threadId) {
        const input = run.input;
        const userMessages: ModelMessage[] = typeof input === 'string' ? [{ role: 'user', content: input }] : (input as ModelMessage[]);
        await tx.threads.addMessages([
          ...userMessages.map((content) => ({ id: newId('msg'), threadId: run.threadId!, runId: run.id, role: 'user' as const, content, createdAt: now })),
          { id: newId('msg'), threadId: run.threadId, runId: run.id, role: 'assistant' as const, content: { role: 'assistant', content: text }, createdAt: now },
        ]);
      }
      await this.deps.events.append(run.id, 'run.completed', { run_id: run.id, output: text, usage: next.usage }, tx);
    }, buffered);
    if (!saved) return (await this.deps.store.runs.getById(run.id))!;
    return next;
  }

  async fail(run: Run, code: string, message: string, calls: ModelCallRecord[] = []): Promise<Run> {
    const now = this.deps.now();
    const next: Run = { ...run, status: 'failed', errorCode: code, errorMessage: message.slice(0, 1000), requiredAction: null, completedAt: now, updatedAt: now, latency: this.total(run, now) };
    const buffered = await this.takeBufferedDespiteFailure(run.id);
    const saved = await this.finish(next, UNFINISHED, calls, (tx) => this.deps.events.append(run.id, 'run.failed', { run_id: run.id, error: { code, message: next.errorMessage } }, tx), buffered);
    if (!saved) return (await this.deps.store.runs.getById(run.id))!;
    return next;
  }

  /**
   * Saves a run that reached a final status, if it is still in one of `from`, with the model calls
   * of its last step, what the observer keeps and `alsoWrite`, all in one transaction; false when
   * it had moved on (the calls are recorded then on their own). The run's buffered writes
   * (`buffered`, taken from the log: its creation when deferred, its events) come first, and are
   * written whether the run is saved or not.
   */
  private async finish(
    run: Run, from: Run['status'][], calls: ModelCallRecord[], alsoWrite: (tx: Transaction) => Promise<unknown>, buffered: TakenWrites,
  ): Promise<boolean> {
    let saved: boolean;
    try {
      saved = await this.deps.store.transaction(async (tx) => {
        await this.deps.events.writeTaken(buffered, tx);
        if (!(await tx.runs.save(run, from))) return false;
        await this.deps.spans.write(calls.map((c) => c.span), tx);
        await this.deps.observer.agentRunFinished(tx, run, calls.map((c) => c.outcome));
        await alsoWrite(tx);
        await recordEvents(tx, run.scope, [{ type: `agent.run.${run.status as 'completed' | 'failed' | 'cancelled'}`, object: runView(run), relatedId: run.agentId, requestId: requestIdOf(run) }], run.updatedAt);
        return true;
      });
    } catch (error) {
      await this.deps.events.writeTaken(buffered).catch(() => {});
      throw error;
    }
    if (!saved) await this.deps.modelStep.write(calls);
    return saved;
  }

  /** The run's buffered writes, also after a background write of them failed (reported, not thrown, as the run fails anyway). */
  private async takeBufferedDespiteFailure(runId: string): Promise<TakenWrites> {
    try {
      return await this.deps.events.takeBuffered(runId);
    } catch {
      // The failure is reported once; what still waits (a creation that rolled back) is taken now.
      return this.deps.events.takeBuffered(runId).catch(() => ({ events: [] }));
    }
  }

  private total(run: Run, now: number): Record<string, number> {
    return { queue_ms: 0, retrieval_ms: 0, model_ms: 0, tools_ms: 0, ...run.latency, total_ms: now - run.createdAt };
  }
}
