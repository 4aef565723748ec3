import type { JobOptions } from './port.js';

/** Attempts and backoff when the caller does not say (see JobOptions). */
export const jobDefaults = { maxAttempts: 5, backoffMs: 1000 } as const;

/** The numeric job options with defaults applied; throws RangeError on values no backend can honour. */
export function validateJobOptions(options: JobOptions): { delayMs: number; maxAttempts: number; backoffMs: number } {
  const delayMs = options.delayMs ?? 0;
  const maxAttempts = options.maxAttempts ?? jobDefaults.maxAttempts;
  const backoffMs = options.backoffMs ?? jobDefaults.backoffMs;
  if (!Number.isFinite(delayMs) || delayMs < 0) throw new RangeError('delayMs must be a non-negative number');
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError('maxAttempts must be a positive integer');
  if (!Number.isFinite(backoffMs) || backoffMs < 0) throw new RangeError('backoffMs must be a non-negative number');
  if (options.jobId !== undefined && (options.jobId === '' || options.jobId.includes(':'))) {
    // BullMQ reserves ':' in custom ids; refusing it everywhere keeps the backends interchangeable.
    throw new RangeError('jobId must be a non-empty string without ":"');
  }
  return { delayMs: Math.ceil(delayMs), maxAttempts, backoffMs: Math.round(backoffMs) };
}

/** The text recorded as a job's last error. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** Parses JSON the queue itself wrote (payloads and results), so no schema check is needed. */
export function parseStoredJson(text: string): unknown {
  return JSON.parse(text) as unknown;
}
