import type { RequestRecord, Run, Transaction, WorkflowRun } from '../store/port.js';
import type { CompletionOutcome, ModelCall, ModelCallOutcome, RunObserver } from '../runs/observer.js';
import type { RollupWriter } from './rollup-writer.js';

/**
 * Told of what analytics saw once it is committed: finished runs and written request records.
 * Exporters (Prometheus, OpenTelemetry) listen; a listener must not throw, and does its own I/O
 * in the background.
 */
export interface RunListener {
  agentRunFinished?(run: Run): void;
  workflowRunFinished?(run: WorkflowRun, steps: number): void;
  /** A model call of an agent run, or of a completion without an agent. */
  modelCallEnded?(call: ModelCall, livemode: boolean): void;
  requestsWritten?(records: RequestRecord[]): void;
}

/**
 * The observer the engines report to: keeps rollups in the run's transaction (when analytics is
 * on) and tells the listeners once that transaction has committed.
 */
export class AnalyticsObserver implements RunObserver {
  constructor(private readonly rollups: RollupWriter | null, private readonly listeners: RunListener[]) {}

  async modelCalls(tx: Transaction | undefined, calls: ModelCallOutcome[]): Promise<void> {
    if (tx) await this.rollups?.modelCalls(tx, calls);
    this.afterCommit(tx, () => this.tell((l) => calls.forEach((call) => l.modelCallEnded?.(call, call.run.scope.livemode))));
  }

  async agentRunFinished(tx: Transaction, run: Run, calls: ModelCallOutcome[]): Promise<void> {
    await this.rollups?.agentRunFinished(tx, run, calls);
    this.afterCommit(tx, () => this.tell((l) => {
      calls.forEach((call) => l.modelCallEnded?.(call, call.run.scope.livemode));
      l.agentRunFinished?.(run);
    }));
  }

  async workflowRunFinished(tx: Transaction, run: WorkflowRun, steps: number): Promise<void> {
    await this.rollups?.workflowRunFinished(tx, run, steps);
    this.afterCommit(tx, () => this.tell((l) => l.workflowRunFinished?.(run, steps)));
  }

  async completionFinished(tx: Transaction, completion: CompletionOutcome): Promise<void> {
    await this.rollups?.completionFinished(tx, completion);
    this.afterCommit(tx, () => this.tell((l) => completion.calls.forEach((call) => l.modelCallEnded?.(call, completion.scope.livemode))));
  }

  /** Runs `tell` once `tx` commits (at once without a transaction); nothing when nobody listens. */
  private afterCommit(tx: Transaction | undefined, tell: () => void): void {
    if (this.listeners.length === 0) return;
    if (tx) tx.afterCommit(tell);
    else tell();
  }

  requestsWritten(records: RequestRecord[]): void {
    this.tell((l) => l.requestsWritten?.(records));
  }

  private tell(call: (listener: RunListener) => void): void {
    for (const listener of this.listeners) {
      try {
        call(listener);
      } catch {
        // A listener's failure must never reach the run that reported to it.
      }
    }
  }
}
