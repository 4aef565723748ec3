import { derivedId, newId } from '../ids.js';
import type { Span, SpanKind, Store, Transaction } from '../store/port.js';

/**
 * Writes the spans of runs (model calls, tool calls, retrievals, slot waits) as they end. With
 * tracing off (`--analytics off`) nothing is written and runs carry no spans.
 */
export class SpanWriter {
  constructor(
    private readonly store: Store,
    readonly enabled: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** A span that starts now (or at `startedAt`), not yet written. */
  start(runId: string, kind: SpanKind, name: string, options: { parentId?: string | null; startedAt?: number } = {}): Span {
    return {
      id: newId('span'), runId, parentId: options.parentId ?? null, kind, name, status: 'running', attributes: {},
      startedAt: options.startedAt ?? this.now(), endedAt: null,
    };
  }

  /** The span ended now (or at `endedAt`), not yet written. */
  ended(span: Span, status: Span['status'], attributes: Record<string, unknown>, endedAt = this.now()): Span {
    return { ...span, status, attributes, endedAt };
  }

  /** Ends the span now (or at `endedAt`) and writes it, in `tx` when given; returns it ended. */
  async end(span: Span, status: Span['status'], attributes: Record<string, unknown>, options: { tx?: Transaction; endedAt?: number } = {}): Promise<Span> {
    const ended = this.ended(span, status, attributes, options.endedAt);
    await this.write([ended], options.tx);
    return ended;
  }

  /** Writes ended spans, in `tx` when given. */
  async write(spans: Span[], tx?: Transaction): Promise<void> {
    if (!this.enabled || spans.length === 0) return;
    const repo = (tx ?? this.store).spans;
    if (spans.length === 1) await repo.save(spans[0]!);
    else await repo.saveMany(spans);
  }
}

/**
 * The span id of a workflow step (its state is stored, not a span row): the same for a run and
 * step key wherever it is computed, so an agent run can name the step it hangs under.
 */
export const stepSpanId = (workflowRunId: string, stepKey: string): string => derivedId('span', `${workflowRunId}/${stepKey}`);
