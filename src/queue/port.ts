import type { Transaction } from '../store/port.js';

/** Options for one job. */
export interface JobOptions {
  /** Caller-chosen id: enqueueing the same id twice runs the job once (dedupe). */
  jobId?: string;
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
  /** Total attempts including the first (default 5). */
  maxAttempts?: number;
  /** Base of the exponential backoff between attempts, in ms (default 1000): base × 2^(attempt-1). */
  backoffMs?: number;
  /**
   * Enqueue as part of this transaction: the job becomes visible only if and when it commits.
   * The local queue writes the job row inside the transaction; BullMQ writes an outbox row
   * inside it and hands the job to Redis after commit.
   */
  tx?: Transaction;
}

/** What a handler receives. */
export interface JobContext<P = unknown> {
  id: string;
  kind: string;
  payload: P;
  /** 1 on the first attempt. */
  attempt: number;
  maxAttempts: number;
  /** Aborted when the worker shuts down or loses the job's lease. */
  signal: AbortSignal;
}

/**
 * Handles one job. Delivery is at-least-once, so handlers must be idempotent. Throwing
 * UnrecoverableError (src/errors.ts) fails the job without further attempts.
 */
export type JobHandler<P = unknown> = (job: JobContext<P>) => Promise<unknown>;

export type JobStatus = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

export interface JobInfo {
  id: string;
  kind: string;
  state: JobStatus;
  attempts: number;
  lastError: string | null;
  result: unknown;
}

/** The job queue port: the embedded durable queue and BullMQ implement the same contract. */
export interface Queue {
  readonly backend: 'local' | 'bullmq';
  /** Returns the job id. */
  enqueue(kind: string, payload: unknown, options?: JobOptions): Promise<string>;
  /** Registers the handler for a kind of job. Register before start(). */
  /**
   * Withdraws a job that has not started: it will not run. A job already running or finished is
   * left as it is. With `tx` the job is withdrawn only if and when the transaction commits.
   */
  cancel(jobId: string, options?: { tx?: Transaction }): Promise<void>;
  register<P>(kind: string, handler: JobHandler<P>): void;
  /** Starts processing jobs in this process (up to `concurrency` at once). */
  start(options?: { concurrency?: number }): Promise<void>;
  /** Stops taking jobs and waits for running handlers to finish (or aborts them after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<void>;
  getJob(id: string): Promise<JobInfo | undefined>;
  /** How many jobs of this queue are in each state now (finished ones until they are purged). */
  counts(): Promise<Record<JobStatus, number>>;
  /** Throws when the backend cannot be reached. */
  ping(): Promise<void>;
  /** Releases connections. Call after stop(). */
  close(): Promise<void>;
}
