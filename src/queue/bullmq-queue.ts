import { Queue as BullQueue, DelayedError, UnrecoverableError as BullUnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { RetryLaterError, UnrecoverableError } from '../errors.js';
import { newId } from '../ids.js';
import type { OutboxEntry, Store, Transaction } from '../store/port.js';
import type { JobHandler, JobInfo, JobOptions, JobStatus, Queue } from './port.js';
import { parseStoredJson, validateJobOptions } from './job-options.js';
import { isDisconnected, pingRedis } from '../redis/connected.js';

/** Options of the BullMQ adapter. */
export interface BullmqQueueOptions {
  /** Holds the outbox that makes `enqueue(…, { tx })` happen only after the transaction commits. */
  store: Store;
  redisUrl: string;
  /** The BullMQ queue name (default 'default'). */
  queueName?: string;
  /** Prefix of every Redis key of the queue (default 'kairo'). */
  prefix?: string;
  /** How often a started worker looks for outbox rows left behind by a crash (default 5000 ms). */
  relayIntervalMs?: number;
  /** Outbox rows older than this are taken as left behind; younger ones are still being pushed by their owner (default 5000 ms). */
  relayAfterMs?: number;
  /** How long finished jobs stay in Redis, answering getJob and deduplicating their ids (default 7 days). */
  keepFinishedMs?: number;
  /**
   * How long a worker's lock on an active job lasts without renewal (BullMQ's lockDuration,
   * default 30 000 ms); a crashed worker's job is run again once it lapses (checked as often).
   */
  lockMs?: number | undefined;
  /** Called with errors that have no caller to go to (Redis errors, a failed post-commit push). */
  onError?: (error: unknown) => void;
  /** Called with each Redis client the queue opens, e.g. to follow Redis's health. */
  watch?: ((client: Redis) => void) | undefined;
}

/** What an outbox row's `options` column holds. */
interface OutboxJobOptions {
  jobId: string;
  delayMs: number;
  maxAttempts: number;
  backoffMs: number;
}

/** Longest a caller waits for a committed job's push to Redis (see relayAfterCommit). */
const PUSH_WAIT_MS = 2000;

/** Lapsed locks BullMQ tolerates per job; attempts bound them (see start()). */
const MAX_STALLED_COUNT = 1_000_000;

const stateMap: Record<string, JobStatus | undefined> = {
  waiting: 'waiting',
  'waiting-children': 'waiting',
  prioritized: 'waiting',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  failed: 'failed',
};

/**
 * The job queue on Redis through BullMQ, for cluster mode. One BullMQ Worker per queue
 * dispatches jobs to handlers by kind (the BullMQ job name). Enqueueing inside a database
 * transaction goes through an outbox row, pushed to Redis after commit and relayed later if
 * the process died in between; the BullMQ job id makes a double push harmless.
 */
export class BullmqQueue implements Queue {
  readonly backend = 'bullmq' as const;

  private readonly store: Store;
  private readonly redisUrl: string;
  private readonly queueName: string;
  private readonly prefix: string;
  private readonly relayIntervalMs: number;
  private readonly relayAfterMs: number;
  private readonly keepFinishedSeconds: number;
  private readonly onError: (error: unknown) => void;
  private readonly lockMs: number;
  private readonly watch: (client: Redis) => void;
  private readonly handlers = new Map<string, JobHandler<any>>();
  private readonly connection: Redis;
  private readonly bull: BullQueue;

  private workerConnection: Redis | undefined;
  private worker: Worker | undefined;
  private relayTimer: NodeJS.Timeout | undefined;
  private relaying: Promise<void> | undefined;

  constructor(options: BullmqQueueOptions) {
    this.store = options.store;
    this.redisUrl = options.redisUrl;
    this.queueName = options.queueName ?? 'default';
    this.prefix = options.prefix ?? 'kairo';
    this.relayIntervalMs = options.relayIntervalMs ?? 5000;
    this.relayAfterMs = options.relayAfterMs ?? 5000;
    this.keepFinishedSeconds = Math.ceil((options.keepFinishedMs ?? 7 * 24 * 3600 * 1000) / 1000);
    this.onError = options.onError ?? (() => {});
    this.lockMs = options.lockMs ?? 30_000;
    this.watch = options.watch ?? (() => {});
    this.connection = this.open({});
    this.bull = new BullQueue(this.queueName, { connection: this.connection, prefix: this.prefix });
    this.bull.on('error', (error) => this.onError(error));
  }

  async enqueue(kind: string, payload: unknown, options: JobOptions = {}): Promise<string> {
    const { delayMs, maxAttempts, backoffMs } = validateJobOptions(options);
    if (!options.tx) {
      const jobId = options.jobId ?? newId('job');
      await this.push(kind, payload ?? null, { jobId, delayMs, maxAttempts, backoffMs }, Date.now());
      return jobId;
    }
    // The outbox row id doubles as the job id, so a relay after a crash pushes the same job.
    const id = newId('job');
    const jobOptions: OutboxJobOptions = { jobId: options.jobId ?? id, delayMs, maxAttempts, backoffMs };
    const entry: OutboxEntry = {
      id,
      queue: this.queueName,
      kind,
      payload: JSON.stringify(payload ?? null),
      options: JSON.stringify(jobOptions),
      createdAt: Date.now(),
    };
    await options.tx.outbox.insert(entry);
    options.tx.afterCommit(() => this.relayAfterCommit(entry));
    return jobOptions.jobId;
  }

  /**
   * Removes the job from Redis (after the commit, with `tx`). A job whose push is still under
   * way, or whose worker holds it, stays and runs: withdrawing is best effort here, so a job that
   * may be cancelled must be harmless to run.
   */
  async cancel(jobId: string, options: { tx?: Transaction } = {}): Promise<void> {
    // A job its worker holds cannot be removed (BullMQ refuses): it runs, as said above.
    const remove = async () => {
      try {
        if (['waiting', 'delayed', 'prioritized'].includes(await this.bull.getJobState(jobId))) await this.bull.remove(jobId);
      } catch {
        // Redis away or the job taken meanwhile: it runs.
      }
    };
    if (options.tx) options.tx.afterCommit(() => void remove());
    else await remove();
  }

  register<P>(kind: string, handler: JobHandler<P>): void {
    this.handlers.set(kind, handler);
  }

  async start(options: { concurrency?: number } = {}): Promise<void> {
    if (this.worker) throw new Error('The queue is already started');
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.workerConnection = this.open({ maxRetriesPerRequest: null });
    const worker = new Worker(this.queueName, (job, token, signal) => this.dispatch(job, token, signal), {
      connection: this.workerConnection,
      prefix: this.prefix,
      concurrency,
      lockDuration: this.lockMs,
      stalledInterval: this.lockMs,
      // BullMQ fails a job whose lock lapsed more than once ("job stalled more than allowable
      // limit", default 1), whatever its attempts: a job whose worker died twice (kill -9, OOM)
      // would be lost. As on the local queue, a lapsed lock costs one attempt instead: dispatch()
      // gives up once the attempts started exceed the job's maxAttempts.
      maxStalledCount: MAX_STALLED_COUNT,
    });
    this.worker = worker;
    worker.on('error', (error) => this.onError(error));
    // BullMQ does not abort a job whose lock it could not renew; the port promises it does.
    worker.on('lockRenewalFailed', (jobIds) => {
      for (const jobId of jobIds) worker.cancelJob(jobId, `Job ${jobId} lost its lock`);
    });
    await worker.waitUntilReady();
    await this.relayLeftovers();
    this.relayTimer = setInterval(() => void this.relayLeftovers(), this.relayIntervalMs);
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    clearInterval(this.relayTimer);
    this.relayTimer = undefined;
    await this.relaying;
    const worker = this.worker;
    if (!worker) return;
    const closing = worker.close();
    const finished = await Promise.race([closing.then(() => true), delay(timeoutMs).then(() => false)]);
    if (!finished) {
      worker.cancelAllJobs('The queue is stopping');
      await Promise.race([closing, delay(Math.min(timeoutMs, 1000))]);
    }
    this.worker = undefined;
    await this.workerConnection?.quit().catch(() => this.workerConnection?.disconnect());
    this.workerConnection = undefined;
  }

  async getJob(id: string): Promise<JobInfo | undefined> {
    // State first: a job read after it is as new or newer, so a finished state comes with the
    // finished job's attempts and result (read the other way round, a job finishing in between
    // shows up as failed with the attempts of before it started).
    const state = stateMap[await this.bull.getJobState(id)];
    if (!state) return undefined;
    const job = await this.bull.getJob(id);
    if (!job) return undefined;
    return {
      id,
      kind: job.name,
      state,
      attempts: attemptsOf(job),
      lastError: job.failedReason || null,
      result: state === 'completed' ? (job.returnvalue ?? null) : null,
    };
  }

  async counts(): Promise<Record<JobStatus, number>> {
    const c = await this.bull.getJobCounts('waiting', 'prioritized', 'waiting-children', 'delayed', 'active', 'completed', 'failed');
    return {
      waiting: (c.waiting ?? 0) + (c.prioritized ?? 0) + (c['waiting-children'] ?? 0),
      delayed: c.delayed ?? 0,
      active: c.active ?? 0,
      completed: c.completed ?? 0,
      failed: c.failed ?? 0,
    };
  }

  ping(): Promise<void> {
    return pingRedis(this.connection);
  }

  async close(): Promise<void> {
    await this.stop();
    await this.bull.close();
    await this.connection.quit().catch(() => this.connection.disconnect());
  }

  private open(options: { maxRetriesPerRequest?: null }): Redis {
    const client = new Redis(this.redisUrl, options);
    // BullMQ hands the client's errors to the queue's and worker's 'error' listeners (onError)
    // while they are open; this one keeps an error after they closed from being unhandled.
    client.on('error', () => {});
    this.watch(client);
    return client;
  }

  private async push(kind: string, payload: unknown, options: OutboxJobOptions, enqueuedAt: number): Promise<void> {
    const ageSeconds = this.keepFinishedSeconds;
    await this.bull.add(kind, payload, {
      jobId: options.jobId,
      // Measured from the enqueue, so a relayed job runs when it was meant to, not later.
      delay: Math.max(0, enqueuedAt + options.delayMs - Date.now()),
      attempts: options.maxAttempts,
      backoff: { type: 'exponential', delay: options.backoffMs },
      removeOnComplete: { age: ageSeconds },
      removeOnFail: { age: ageSeconds },
    });
  }

  /**
   * Pushes a committed outbox row. The transaction has committed by the time this runs, so a
   * failed push must not look like a failed transaction to the caller: the relay picks the row
   * up later. Nor may a lost Redis hold the caller up (the store waits for after-commit hooks):
   * while the connection is down the row is left to the relay at once, and a push that outlasts
   * PUSH_WAIT_MS goes on without the caller.
   */
  private async relayAfterCommit(entry: OutboxEntry): Promise<void> {
    if (isDisconnected(this.connection)) return;
    const pushed = this.relay(entry).catch((error) => this.onError(error));
    await Promise.race([pushed, delay(PUSH_WAIT_MS)]);
  }

  private async relay(entry: OutboxEntry): Promise<void> {
    const options = parseStoredJson(entry.options) as OutboxJobOptions;
    await this.push(entry.kind, parseStoredJson(entry.payload), options, entry.createdAt);
    await this.store.outbox.delete(entry.id);
  }

  /** Pushes outbox rows whose post-commit push never happened (the process died in between). */
  private relayLeftovers(): Promise<void> {
    if (this.relaying) return this.relaying;
    this.relaying = (async () => {
      try {
        const batch = 100;
        for (;;) {
          const entries = await this.store.outbox.list(Date.now() - this.relayAfterMs, batch);
          const ours = entries.filter((entry) => entry.queue === this.queueName);
          for (const entry of ours) await this.relay(entry);
          if (entries.length < batch || ours.length === 0) break;
        }
      } catch (error) {
        this.onError(error);
      } finally {
        this.relaying = undefined;
      }
    })();
    return this.relaying;
  }

  private async dispatch(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
    const maxAttempts = job.opts.attempts ?? 1;
    const attempt = attemptsOf(job);
    if (attempt > maxAttempts) {
      throw new BullUnrecoverableError(
        `Job ${job.id} gave up: attempt ${attempt} exceeds maxAttempts ${maxAttempts} because its lock ` +
          `expired before it finished (the worker died or the handler outran the lock)` +
          (job.failedReason ? `; last error: ${job.failedReason}` : ''),
      );
    }
    const handler = this.handlers.get(job.name);
    if (!handler) {
      throw new BullUnrecoverableError(`No handler is registered for job kind "${job.name}" on queue "${this.queueName}"`);
    }
    try {
      const result = await handler({
        id: job.id!,
        kind: job.name,
        payload: job.data,
        attempt,
        maxAttempts,
        signal: signal ?? new AbortController().signal,
      });
      return result ?? null;
    } catch (error) {
      if (error instanceof UnrecoverableError) throw new BullUnrecoverableError(error.message);
      if (error instanceof RetryLaterError) {
        // BullMQ counts every start as an attempt started; the postponed ones are kept in the
        // job's (otherwise unused) progress and taken off again.
        await job.updateProgress({ postponed: postponedOf(job) + 1 });
        await job.moveToDelayed(Date.now() + error.delayMs, token);
        throw new DelayedError();
      }
      throw error;
    }
  }
}

/** Tries the job was postponed (RetryLaterError), which do not count as attempts. */
function postponedOf(job: Job): number {
  const progress = job.progress as { postponed?: unknown } | number | undefined;
  return typeof progress === 'object' && progress !== null && typeof progress.postponed === 'number' ? progress.postponed : 0;
}

/** Attempts the job has started, postponed tries left out. */
function attemptsOf(job: Job): number {
  return (job.attemptsStarted ?? job.attemptsMade) - postponedOf(job);
}

/** A timer that does not keep the process alive on its own. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
