import { EventEmitter } from 'node:events';
import type { Repos, RunEvent, RunEventRepo, Store, Transaction } from '../store/port.js';
import { STOP_EVENTS } from './statuses.js';

/** The longest a buffered event (or a deferred creation) waits before it is written. */
const BUFFER_MS = 50;

/** Writes that create a run (its row, its thread, its first events), deferred by `deferCreation`. */
export type CreationWrite = (tx: Transaction) => Promise<void>;

/** A run's writes waiting for its next write: its creation (when deferred) and buffered events. */
interface Buffer {
  events: RunEvent[];
  creation?: CreationWrite | undefined;
  timer?: NodeJS.Timeout | undefined;
}

/** Writes taken by `takeBuffered`, for `writeTaken`. */
export interface TakenWrites {
  events: RunEvent[];
  creation?: CreationWrite | undefined;
}

/**
 * The per-run event log. Every event a client can see is appended with a sequence number, so
 * an SSE stream is a read of the log (replay after Last-Event-ID, then live tail). Appends
 * also notify in-process listeners at once; readers on other processes see them by polling.
 *
 * Events can also be buffered (`appendBuffered`) and written together by the next `flush` or
 * `append`, at most `BUFFER_MS` later: a burst of output deltas then costs one insert, not one
 * per delta. Buffered events keep their order: any later append first writes them.
 *
 * A run that its request executes at once can defer its creation the same way (`deferCreation`):
 * its row is written with its next write, at most `BUFFER_MS` later, or — when it ends sooner —
 * in the transaction that ends it, which spares a quick run a transaction (the run is not
 * visible to others during those first milliseconds, and nobody has its id yet). Whatever else
 * writes rows that refer to the run (spans) flushes its log first.
 */
export class RunEventLog {
  private readonly bus = new EventEmitter();
  private readonly nextSeq = new Map<string, number>();
  private readonly pending = new Map<string, Buffer>();
  private readonly writing = new Map<string, Promise<void>>();
  /** A write of buffered events that failed in the background, reported by the next append. */
  private readonly failed = new Map<string, unknown>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
    private readonly repoOf: (repos: Repos) => RunEventRepo,
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
    this.bufferOf(runId).events.push(event);
    return event;
  }

  /**
   * Defers the writes that create a just-begun run: written in one transaction before its
   * buffered events by the next flush (at most `BUFFER_MS` from now), or by `writeTaken` in the
   * transaction that ends the run.
   */
  deferCreation(runId: string, creation: CreationWrite): void {
    this.bufferOf(runId).creation = creation;
  }

  private bufferOf(runId: string): Buffer {
    let buffer = this.pending.get(runId);
    if (!buffer) {
      buffer = { events: [] };
      this.pending.set(runId, buffer);
    }
    if (!buffer.timer) {
      buffer.timer = setTimeout(() => {
        this.flush(runId).catch((error: unknown) => this.failed.set(runId, error));
      }, BUFFER_MS);
      buffer.timer.unref();
    }
    return buffer;
  }

  /** Writes the run's buffered events (and deferred creation), if any; throws if an earlier background write failed. */
  async flush(runId: string): Promise<void> {
    // A background write in progress goes first, so events land in sequence order.
    await this.earlierWrite(runId);
    const buffer = this.pending.get(runId);
    if (!buffer) return;
    this.pending.delete(runId);
    clearTimeout(buffer.timer);
    const write = buffer.creation ? this.store.transaction((tx) => this.writeBuffer(buffer, tx)) : this.write(buffer.events);
    this.writing.set(runId, write.then(() => {}, () => {}));
    try {
      await write;
    } catch (error) {
      // A creation rolled back waits for the next write again, with its events: the run must exist.
      if (buffer.creation) this.pending.set(runId, { events: buffer.events, creation: buffer.creation });
      throw error;
    } finally {
      this.writing.delete(runId);
    }
    for (const event of buffer.events) this.bus.emit(runId, event);
  }

  /** Waits for a background write of the run's earlier events; throws (once) if one failed. */
  private async earlierWrite(runId: string): Promise<void> {
    await this.writing.get(runId);
    const failure = this.failed.get(runId);
    if (failure !== undefined) {
      this.failed.delete(runId);
      throw failure;
    }
  }

  /**
   * Takes the run's buffered events (and deferred creation), to be written by `writeTaken` in the
   * transaction the caller opens next: waits for a write of earlier ones under way (which could
   * not finish while that transaction holds the database) and throws if one failed in the
   * background.
   */
  async takeBuffered(runId: string): Promise<TakenWrites> {
    await this.earlierWrite(runId);
    const buffer = this.pending.get(runId);
    if (!buffer) return { events: [] };
    this.pending.delete(runId);
    clearTimeout(buffer.timer);
    return { events: buffer.events, creation: buffer.creation };
  }

  /** Writes what `takeBuffered` took in `tx`, announced once it commits, or on its own without one. */
  async writeTaken(taken: TakenWrites, tx?: Transaction): Promise<void> {
    if (taken.events.length === 0 && !taken.creation) return;
    if (tx) {
      await this.writeBuffer(taken, tx);
      tx.afterCommit(() => void taken.events.forEach((event) => this.bus.emit(event.runId, event)));
      return;
    }
    if (taken.creation) await this.store.transaction((own) => this.writeBuffer(taken, own));
    else await this.write(taken.events);
    for (const event of taken.events) this.bus.emit(event.runId, event);
  }

  private async writeBuffer(buffer: TakenWrites, tx: Transaction): Promise<void> {
    await buffer.creation?.(tx);
    if (buffer.events.length > 0) await this.write(buffer.events, tx);
  }

  private async write(events: RunEvent[], tx?: Transaction): Promise<void> {
    const repo = this.repoOf(tx ?? this.store);
    if (events.length === 1) await repo.appendEvent(events[0]!);
    else await repo.appendEvents(events);
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
    const seq = this.nextSeq.get(runId) ?? (await this.repoOf(tx ?? this.store).lastEventSeq(runId)) + 1;
    this.nextSeq.set(runId, seq + 1);
    return { runId, seq, type, data, createdAt: this.now() };
  }

  /** Events with seq > afterSeq, in order, as stored. */
  read(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]> {
    return this.repoOf(this.store).events(runId, afterSeq, limit);
  }

  /**
   * Where a client resuming after `afterSeq` stands: null when the log holds newer events, else
   * the event it holds last (`held`, undefined when the log has no event `afterSeq`). A client
   * holding a stop event (STOP_EVENTS) of a run that has not moved on has everything the log
   * will say until someone acts.
   */
  async resumePoint(runId: string, afterSeq: number): Promise<{ held: RunEvent | undefined } | null> {
    const [first, second] = await this.read(runId, Math.max(0, afterSeq - 1), 2);
    const held = first?.seq === afterSeq ? first : undefined;
    const newer = held ? second : first;
    return newer === undefined ? { held } : null;
  }

  /**
   * Events after `afterSeq` until the run ends or waits (STOP_EVENTS) or `signal` aborts. The
   * log is read first; after that, events this process appends are taken as they are announced,
   * in sequence, without reading them back. The log is read again when an announcement leaves a
   * gap, and every `pollMs` for the appends of other processes.
   */
  async *follow(runId: string, afterSeq: number, signal: AbortSignal, pollMs = 250): AsyncGenerator<RunEvent> {
    let last = afterSeq;
    let wake: (() => void) | undefined;
    let announced: RunEvent[] = [];
    const onEvent = (event: RunEvent) => {
      announced.push(event);
      wake?.();
    };
    this.bus.on(runId, onEvent);
    try {
      let batch = await this.repoOf(this.store).events(runId, last, 500);
      while (!signal.aborted) {
        for (const event of batch) {
          last = event.seq;
          yield event;
          if (STOP_EVENTS.has(event.type)) return;
        }
        announced = announced.filter((event) => event.seq > last);
        if (batch.length < 500 && !announcedAfter(announced, last)) {
          await this.nextAnnouncement(signal, pollMs, (resume) => (wake = resume));
          wake = undefined;
          if (signal.aborted) return;
        }
        batch = announcedAfter(announced, last) ?? (await this.repoOf(this.store).events(runId, last, 500));
      }
    } finally {
      this.bus.off(runId, onEvent);
    }
  }

  /** Resolves when `listen`'s callback is called, `pollMs` passed or `signal` aborted. */
  private nextAnnouncement(signal: AbortSignal, pollMs: number, listen: (resume: () => void) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, pollMs);
      signal.addEventListener('abort', done, { once: true });
      listen(done);
    });
  }
}

/**
 * The announced events that follow `last` without a gap, in order; undefined when none does (or
 * one is missing: the log is read instead).
 */
function announcedAfter(announced: RunEvent[], last: number): RunEvent[] | undefined {
  const after = announced.filter((event) => event.seq > last).sort((a, b) => a.seq - b.seq);
  if (after.length === 0 || after[0]!.seq !== last + 1) return undefined;
  for (let i = 1; i < after.length; i++) if (after[i]!.seq !== after[i - 1]!.seq + 1) return after.slice(0, i);
  return after;
}
