import type { RequestRecord, RollupRow, Store } from '../store/port.js';
import { timeOfId } from '../ids.js';
import { minuteRow } from './rollup-writer.js';
import { addValue } from './sketch.js';

/** How often buffered requests are written. */
export const REQUEST_FLUSH_INTERVAL_MS = 1_000;

/** A request buffered more than this many times over is dropped with the oldest first (the database is not keeping up). */
const MAX_BUFFERED = 200_000;

/**
 * Counts every authenticated API request and keeps its log entry, off the request path: a request
 * only appends its record to a buffer; every second the buffer is written in one transaction, as
 * request log rows and per-minute rollups (workspace × mode × key × route × status, with a
 * latency sketch). A crash loses at most the requests of that last second.
 */
export class RequestAccounting {
  private buffer: RequestRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private dropped = 0;

  constructor(
    private readonly store: Store,
    private readonly options: { enabled: boolean; onFlush?: (records: RequestRecord[]) => void; onError?: (error: unknown) => void },
  ) {}

  get enabled(): boolean {
    return this.options.enabled;
  }

  /**
   * Buffers a request's record. Its `createdAt` is set when it is written: the time of its id,
   * made when the request arrived (so time filters, which read ids, agree with it).
   */
  record(record: RequestRecord): void {
    if (this.buffer.length >= MAX_BUFFERED) {
      this.buffer.shift();
      this.dropped++;
    }
    this.buffer.push(record);
  }

  /** Starts flushing every second; returns a stop function that writes what is left. */
  start(): () => Promise<void> {
    this.timer = setInterval(() => void this.flush().catch((error) => this.options.onError?.(error)), REQUEST_FLUSH_INTERVAL_MS);
    this.timer.unref();
    return async () => {
      clearInterval(this.timer);
      await this.flush().catch((error) => this.options.onError?.(error));
    };
  }

  /** Writes the buffered requests now (flushes run one at a time). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write(), () => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.buffer.length === 0) return;
    const records = this.buffer;
    this.buffer = [];
    for (const record of records) record.createdAt = timeOfId(record.id);
    if (this.dropped > 0) {
      this.options.onError?.(new Error(`${this.dropped} request log entries were dropped: the database did not keep up.`));
      this.dropped = 0;
    }
    const rollups = aggregate(records);
    await this.store.transaction(async (tx) => {
      await tx.requestLog.insert(records);
      await tx.rollups.add(rollups);
    });
    this.options.onFlush?.(records);
  }
}

/** One minute row per series of the requests: counts, errors (4xx and 5xx) and a latency sketch. */
function aggregate(records: RequestRecord[]): RollupRow[] {
  const rows = new Map<string, RollupRow>();
  for (const r of records) {
    const route = `${r.method} ${r.route}`;
    const key = `${Math.floor(r.createdAt / 60_000)}\u0001${r.scope.workspaceId}\u0001${r.scope.livemode}\u0001${r.apiKeyId}\u0001${route}\u0001${r.status}`;
    let row = rows.get(key);
    if (!row) {
      row = minuteRow(r.scope, 'request', r.createdAt, { apiKeyId: r.apiKeyId, route, status: String(r.status) }, {});
      rows.set(key, row);
    }
    row.metrics.count += 1;
    if (r.status >= 400) row.metrics.errors += 1;
    addValue(row.metrics.sketches, 'latency', r.latencyMs);
  }
  return [...rows.values()];
}
