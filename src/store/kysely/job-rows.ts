import type { Database } from '../schema.js';
import type { JobRecord, JobState, OutboxEntry } from '../port.js';

export const toJob = (row: Database['jobs']): JobRecord => ({
  id: row.id,
  queue: row.queue,
  kind: row.kind,
  payload: row.payload,
  state: row.state as JobState,
  runAt: Number(row.run_at),
  leaseUntil: row.lease_until === null ? null : Number(row.lease_until),
  leaseToken: row.lease_token,
  attempts: Number(row.attempts),
  maxAttempts: Number(row.max_attempts),
  backoffMs: Number(row.backoff_ms),
  lastError: row.last_error,
  result: row.result,
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
});

export const toOutboxEntry = (row: Database['outbox']): OutboxEntry => ({
  id: row.id,
  queue: row.queue,
  kind: row.kind,
  payload: row.payload,
  options: row.options,
  createdAt: Number(row.created_at),
});
