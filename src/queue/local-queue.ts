import { randomUUID } from 'node:crypto';
import { RetryLaterError, UnrecoverableError } from '../errors.js';
import { newId } from '../ids.js';
import type { JobRecord, Store, Transaction } from '../store/port.js';
import type { JobHandler, JobInfo, JobOptions, JobStatus, Queue } from './port.js';
import { errorMessage, parseStoredJson, validateJobOptions } from './job-options.js';

/** Options of the embedded queue. */
export interface LocalQueueOptions {
  /** The database the `jobs` table lives in. The queue does not own it: close it yourself. */
  store: Store;
  /** The `queue` column: queues with different names share the table but not their jobs (default 'default'). */
  queueName?: string;
  /** Longest sleep between looks for due jobs, so jobs enqueued by other processes are seen (default 1000 ms). */
  pollIntervalMs?: number;
  /** How long a claimed job stays ours without a renewal (default 30 000 ms); renewed every third of it. */
  leaseMs?: number;
  /** The clock for job timestamps (default Date.now); tests inject their own. */
  now?: () => number;
  /** Called with errors that have no caller to go to (database down while polling, renewing, recording). */
  onError?: (error: unknown) => void;
}

interface RunningJob {
  controller: AbortController;
  renewTimer: NodeJS.Timeout;
  done: Promise<void>;
}

/**
 * The durable embedded queue: jobs are rows of the `jobs` table on the same database as
 * everything else, so enqueueing can be part of a domain transaction. A worker loop claims
 * due jobs with a lease it keeps renewing; a job whose worker died is claimed again once its
 * lease expires. Delivery is at-least-once.
 */
export class LocalQueue implements Queue {
  readonly backend = 'local' as const;

  private readonly store: Store;
  private readonly queueName: string;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly now: () => number;
  private readonly onError: (error: unknown) => void;
  private readonly handlers = new Map<string, JobHandler<any>>();
  private readonly running = new Map<string, RunningJob>();

  private concurrency = 4;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  private wakePending = false;
  /** When the sleeping loop looks for due jobs next (undefined while it is awake). */
  private sleepingUntil: number | undefined;

  constructor(options: LocalQueueOptions) {
    this.store = options.store;
    this.queueName = options.queueName ?? 'default';
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.onError = options.onError ?? (() => {});
    if (!(this.pollIntervalMs > 0)) throw new RangeError('pollIntervalMs must be positive');
    if (!(this.leaseMs > 0)) throw new RangeError('leaseMs must be positive');
  }

  async enqueue(kind: string, payload: unknown, options: JobOptions = {}): Promise<string> {
    const { delayMs, maxAttempts, backoffMs } = validateJobOptions(options);
    const id = options.jobId ?? newId('job');
    const now = this.now();
    const job: JobRecord = {
      id,
      queue: this.queueName,
      kind,
      payload: JSON.stringify(payload ?? null),
      state: 'waiting',
      runAt: now + delayMs,
      leaseUntil: null,
      leaseToken: null,
      attempts: 0,
      maxAttempts,
      backoffMs,
      lastError: null,
      result: null,
      createdAt: now,
      updatedAt: now,
    };
    // A job already queued under this id wakes nobody; nor does one due after the loop's next look.
    if (options.tx) {
      if (await options.tx.jobs.insert(job)) options.tx.afterCommit(() => this.wakeFor(job.runAt));
    } else if (await this.store.jobs.insert(job)) {
      this.wakeFor(job.runAt);
    }
    return id;
  }

  async cancel(jobId: string, options: { tx?: Transaction } = {}): Promise<void> {
    await (options.tx ?? this.store).jobs.deleteWaiting(jobId);
  }

  register<P>(kind: string, handler: JobHandler<P>): void {
    this.handlers.set(kind, handler);
  }

  async start(options: { concurrency?: number } = {}): Promise<void> {
    if (this.loop) throw new Error('The queue is already started');
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.concurrency = concurrency;
    this.stopping = false;
    this.loop = this.run();
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    this.wake();
    await this.loop;
    this.loop = undefined;

    const settled = () => Promise.allSettled([...this.running.values()].map((job) => job.done)).then(() => true);
    if (this.running.size === 0) return;
    const finished = await Promise.race([settled(), delay(timeoutMs).then(() => false)]);
    if (finished) return;
    for (const job of this.running.values()) {
      job.controller.abort(new Error('The queue is stopping'));
      // A handler that ignores its signal must not keep the lease alive: let it expire so
      // another worker takes the job over.
      clearInterval(job.renewTimer);
    }
    await Promise.race([settled(), delay(Math.min(timeoutMs, 1000))]);
  }

  async getJob(id: string): Promise<JobInfo | undefined> {
    const job = await this.store.jobs.get(id);
    if (!job || job.queue !== this.queueName) return undefined;
    return {
      id: job.id,
      kind: job.kind,
      state: job.state === 'waiting' && job.runAt > this.now() ? 'delayed' : job.state,
      attempts: job.attempts,
      lastError: job.lastError,
      result: job.result === null ? null : parseStoredJson(job.result),
    };
  }

  async counts(): Promise<Record<JobStatus, number>> {
    const [byState, delayed] = await Promise.all([this.store.jobs.countByState(this.queueName), this.store.jobs.countDelayed(this.queueName, this.now())]);
    return { waiting: byState.waiting - delayed, delayed, active: byState.active, completed: byState.completed, failed: byState.failed };
  }

  async ping(): Promise<void> {
    await this.store.ping();
  }

  async close(): Promise<void> {
    await this.stop();
  }

  private wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.wakePending = true;
  }

  /** Wakes the loop for a job due at `runAt`, unless it sleeps until no later than that anyway. */
  private wakeFor(runAt: number): void {
    if (this.wakeUp && this.sleepingUntil !== undefined && runAt >= this.sleepingUntil) return;
    this.wake();
  }

  /** Sleeps until woken or `ms` passed. */
  private sleep(ms: number): Promise<void> {
    if (this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    this.sleepingUntil = this.now() + Math.max(0, ms);
    return new Promise((resolve) => {
      // Whichever comes first ends the sleep; a wake after that finds the loop awake and is kept as pending.
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.sleepingUntil = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wakeUp = done;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const free = this.concurrency - this.running.size;
      let claimedAll = false;
      let sleepMs = this.pollIntervalMs;
      try {
        if (free > 0) {
          const now = this.now();
          const token = randomUUID();
          const jobs = await this.store.jobs.claim(this.queueName, now, now + this.leaseMs, token, free);
          for (const job of jobs) this.execute(job, token);
          claimedAll = jobs.length === free;
          if (!claimedAll) {
            const next = await this.store.jobs.nextDue(this.queueName);
            if (next !== undefined) sleepMs = Math.min(sleepMs, next - this.now());
          }
        }
      } catch (error) {
        this.onError(error);
      }
      if (this.stopping) break;
      // A full batch means more may be due: look again at once (capacity permitting).
      if (claimedAll && this.concurrency > this.running.size) continue;
      await this.sleep(sleepMs);
    }
    this.wakePending = false;
  }

  private execute(job: JobRecord, token: string): void {
    const controller = new AbortController();
    const renewTimer = setInterval(() => {
      const now = this.now();
      this.store.jobs.renew(job.id, token, now + this.leaseMs, now).then(
        (kept) => {
          if (!kept) controller.abort(new Error(`Job ${job.id} lost its lease`));
        },
        (error) => this.onError(error),
      );
    }, Math.max(1, Math.floor(this.leaseMs / 3)));
    const done = this.process(job, token, controller.signal)
      .catch((error) => this.onError(error))
      .finally(() => {
        clearInterval(renewTimer);
        this.running.delete(job.id);
        this.wake();
      });
    this.running.set(job.id, { controller, renewTimer, done });
  }

  private async process(job: JobRecord, token: string, signal: AbortSignal): Promise<void> {
    const jobs = this.store.jobs;
    if (job.attempts > job.maxAttempts) {
      const error =
        `Job ${job.id} gave up: attempt ${job.attempts} exceeds maxAttempts ${job.maxAttempts} because its lease ` +
        `expired before it finished (the worker died or the handler outran the lease)` +
        (job.lastError ? `; last error: ${job.lastError}` : '');
      await jobs.fail(job.id, token, error, null, this.now());
      return;
    }
    const handler = this.handlers.get(job.kind);
    if (!handler) {
      const error = `No handler is registered for job kind "${job.kind}" on queue "${this.queueName}"`;
      await jobs.fail(job.id, token, error, null, this.now());
      return;
    }
    let result: unknown;
    try {
      result = await handler({
        id: job.id,
        kind: job.kind,
        payload: parseStoredJson(job.payload),
        attempt: job.attempts,
        maxAttempts: job.maxAttempts,
        signal,
      });
    } catch (error) {
      const now = this.now();
      if (error instanceof RetryLaterError) {
        await jobs.postpone(job.id, token, now + error.delayMs, now);
        return;
      }
      const final = error instanceof UnrecoverableError || job.attempts >= job.maxAttempts;
      const retryAt = final ? null : now + job.backoffMs * 2 ** (job.attempts - 1);
      await jobs.fail(job.id, token, errorMessage(error), retryAt, now);
      return;
    }
    await jobs.complete(job.id, token, result === undefined ? null : JSON.stringify(result), this.now());
  }
}

/** A timer that does not keep the process alive on its own. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
