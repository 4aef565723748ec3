import { EventEmitter } from 'node:events';
import type { Repos, RunEvent, RunRepo, Store, Transaction } from '../store/port.js';

/** The longest a buffered event waits before it is written. */
const BUFFER_MS = 50;

/** Where a kind of run keeps its events (agent runs: `runs`; workflow runs: `workflowRuns`). */
export type EventRepo = Pick<RunRepo, 'appendEvent' | 'events'> & {
  /** Several events in one statement, when the repository can. */
  appendEvents?(events: RunEvent[]): Promise<void>;
  /** The last sequence number of a run's log (0 when empty), when the repository can say it in one read. */
  lastEventSeq?(runId: string): Promise<number>;
};

/**
 * The per-run event log. Every event a client can see is appended with a sequence number, so
 * an SSE stream is a read of the log (replay after Last-Event-ID, then live tail). Appends
 * also notify in-process listeners at once; readers on other processes see them by polling.
 *
 * Events can also be buffered (`appendBuffered`) and written together by the next `flush` or
 * `append`, at most `BUFFER_MS` later: a burst of output deltas then costs one insert, not one
 * per delta. Buffered events keep their order: any later append first writes them.
 */
export class RunEventLog {
  private readonly bus = new EventEmitter();
  private readonly nextSeq = new Map<string, number>();
  private readonly pending = new Map<string, { events: RunEvent[]; timer: NodeJS.Timeout }>();
  private readonly writing = new Map<string, Promise<void>>();
  /** A write of buffered events that failed in the background, reported by the next append. */
  private readonly failed = new Map<string, unknown>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
    private readonly repoOf: (repos: Repos) => EventRepo = (repos) => repos.runs,
  ) {
    this.bus.setMaxListeners(0);
  }

  /** Starts the log of a run created just now: its first event is 1, without reading the log. */
  begin(runId: string): void {
    this.nextSeq.set(runId, 1);
  }

  /**
   * Appends an event; the run's events must be appended by one engine at a time. With `tx` the
   * event is written in that transaction and announced once it commits; flush buffered events
   * before opening it.
   */
  async append(runId: string, type: string, data: Record<string, unknown>, tx?: Transaction): Promise<RunEvent> {
    await this.flush(runId);
    const event = await this.reserve(runId, type, data, tx);
    if (tx) {
      await this.repoOf(tx).appendEvent(event);
      tx.afterCommit(() => void this.bus.emit(runId, event));
    } else {
      await this.repoOf(this.store).appendEvent(event);
      this.bus.emit(runId, event);
    }
    return event;
  }

  /** Appends an event that is written (and announced) with the next flush, at most `BUFFER_MS` from now. */
  async appendBuffered(runId: string, type: string, data: Record<string, unknown>): Promise<RunEvent> {
    const event = await this.reserve(runId, type, data);
    const buffer = this.pending.get(runId);
    if (buffer) buffer.events.push(event);
    else {
      const timer = setTimeout(() => {
        this.flush(runId).catch((error: unknown) => this.failed.set(runId, error));
      }, BUFFER_MS);
      timer.unref();
      this.pending.set(runId, { events: [event], timer });
    }
    return event;
  }

  /** Writes the run's buffered events, if any; throws if an earlier background write failed. */
  async flush(runId: string): Promise<void> {
    // A background write in progress goes first, so events land in sequence order.
    await this.writing.get(runId);
    const failure = this.failed.get(runId);
    if (failure !== undefined) {
      this.failed.delete(runId);
      throw failure;
    }
    const buffer = this.pending.get(runId);
    if (!buffer) return;
    this.pending.delete(runId);
    clearTimeout(buffer.timer);
    const write = this.write(buffer.events);
    this.writing.set(runId, write.then(() => {}, () => {}));
    try {
      await write;
    } finally {
      this.writing.delete(runId);
    }
    for (const event of buffer.events) this.bus.emit(runId, event);
  }

  private async write(events: RunEvent[]): Promise<void> {
    const repo = this.repoOf(this.store);
    if (events.length === 1) await repo.appendEvent(events[0]!);
    else if (repo.appendEvents) await repo.appendEvents(events);
    else {
      await this.store.transaction(async (tx) => {
        for (const event of events) await this.repoOf(tx).appendEvent(event);
      });
    }
  }

  /** Forgets the cached sequence (and any unwritten buffered events) of a finished run. */
  release(runId: string): void {
    this.nextSeq.delete(runId);
    const buffer = this.pending.get(runId);
    if (buffer) clearTimeout(buffer.timer);
    this.pending.delete(runId);
    this.failed.delete(runId);
    this.writing.delete(runId);
  }

  /** Takes the next sequence number; the log is read (through `tx` when in one) only when it is not known here. */
  private async reserve(runId: string, type: string, data: Record<string, unknown>, tx?: Transaction): Promise<RunEvent> {
    let seq = this.nextSeq.get(runId);
    if (seq === undefined) {
      const last = await this.lastSeq(runId, tx);
      seq = last + 1;
    }
    this.nextSeq.set(runId, seq + 1);
    return { runId, seq, type, data, createdAt: this.now() };
  }

  private async lastSeq(runId: string, tx?: Transaction): Promise<number> {
    const repo = this.repoOf(tx ?? this.store);
    if (repo.lastEventSeq) return repo.lastEventSeq(runId);
    let last = 0;
    for (;;) {
      const batch = await repo.events(runId, last, 1000);
      if (batch.length === 0) return last;
      last = batch.at(-1)!.seq;
    }
  }

  /**
   * Events after `afterSeq` until the run ends or waits (TERMINAL_EVENTS) or `signal` aborts.
   */
  async *follow(runId: string, afterSeq: number, signal: AbortSignal, pollMs = 250): AsyncGenerator<RunEvent> {
    let last = afterSeq;
    let wake: (() => void) | undefined;
    const onEvent = () => wake?.();
    this.bus.on(runId, onEvent);
    try {
      while (!signal.aborted) {
        const batch = await this.repoOf(this.store).events(runId, last, 500);
        for (const event of batch) {
          last = event.seq;
          yield event;
          if (TERMINAL_EVENTS.has(event.type)) return;
        }
        if (batch.length === 500) continue;
        const onAbort = () => wake?.();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          signal.addEventListener('abort', onAbort, { once: true });
        });
        signal.removeEventListener('abort', onAbort);
        wake = undefined;
      }
    } finally {
      this.bus.off(runId, onEvent);
    }
  }
}

/** Events after which a stream ends (the run finished, or waits for the client or for time to pass). */
export const TERMINAL_EVENTS = new Set(['run.completed', 'run.failed', 'run.cancelled', 'run.requires_action', 'run.waiting']);
