/**
 * The storage port of the job queue: the embedded queue's jobs, and the outbox through which a
 * BullMQ job enqueued in a transaction reaches Redis once it commits.
 */

export type JobState = 'waiting' | 'active' | 'completed' | 'failed';

export interface JobRecord {
  id: string;
  queue: string;
  kind: string;
  payload: string;
  state: JobState;
  runAt: number;
  leaseUntil: number | null;
  leaseToken: string | null;
  attempts: number;
  maxAttempts: number;
  backoffMs: number;
  lastError: string | null;
  result: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface JobRepo {
  /** Inserts a job; a job with the same id already present is left as it is (dedupe). */
  insert(job: JobRecord): Promise<boolean>;
  get(id: string): Promise<JobRecord | undefined>;
  /** Deletes a job that is still waiting (due or not); false when there is none. */
  deleteWaiting(id: string): Promise<boolean>;
  /**
   * Atomically takes up to `limit` due jobs of a queue: waiting jobs whose run_at has come and
   * active jobs whose lease expired (their worker died). Each gets a new lease token and one
   * more attempt.
   */
  claim(queue: string, now: number, leaseUntil: number, leaseToken: string, limit: number): Promise<JobRecord[]>;
  /** Extends the lease; false when the lease was lost (reclaimed by another worker). */
  renew(id: string, leaseToken: string, leaseUntil: number, now: number): Promise<boolean>;
  complete(id: string, leaseToken: string, result: string | null, now: number): Promise<boolean>;
  /** Puts the job back to wait until `retryAt`, or fails it for good when `retryAt` is null. */
  fail(id: string, leaseToken: string, error: string, retryAt: number | null, now: number): Promise<boolean>;
  /** Puts the job back to wait until `runAt` without counting the attempt it was claimed for. */
  postpone(id: string, leaseToken: string, runAt: number, now: number): Promise<boolean>;
  /** The earliest run_at of a waiting job, to sleep exactly until then. */
  nextDue(queue: string): Promise<number | undefined>;
  countByState(queue: string): Promise<Record<JobState, number>>;
  /** Waiting jobs not due before `now` (delayed, or backing off before a retry). */
  countDelayed(queue: string, now: number): Promise<number>;
  /** Deletes completed and failed jobs last changed before `before`; returns how many. */
  purgeFinished(before: number): Promise<number>;
}

export interface OutboxEntry {
  id: string;
  queue: string;
  kind: string;
  payload: string;
  options: string;
  createdAt: number;
}

export interface OutboxRepo {
  insert(entry: OutboxEntry): Promise<void>;
  /** Oldest entries first. */
  list(createdBefore: number, limit: number): Promise<OutboxEntry[]>;
  delete(id: string): Promise<void>;
}
