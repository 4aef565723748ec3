// What outbound HTTP under the address policy answers: used by URL and http sources, workflow http steps and http tools.
import { isRetryableStatus } from './retryable-status.js';

/** An outbound fetch was refused or failed (blocked address, too large, too slow, bad status). */
export class FetchError extends Error {
  /** Whether the same request may succeed later: a timeout, a network failure, or a retryable status (408, 429, 5xx). */
  readonly retryable: boolean;

  constructor(
    readonly code: 'address_blocked' | 'too_large' | 'timeout' | 'too_many_redirects' | 'bad_status' | 'network_error' | 'invalid_url',
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FetchError';
    this.retryable = status !== undefined ? isRetryableStatus(status) : code === 'timeout' || code === 'network_error';
  }
}

export interface FetchResult {
  status: number;
  /** The URL after redirects. */
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  /** True when a conditional GET answered 304 Not Modified (body is empty). */
  notModified: boolean;
}

/** Outbound HTTP that refuses private, loopback and link-local addresses unless allowed. */
export interface SafeFetcher {
  fetch(
    url: string,
    options?: {
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      etag?: string | null;
      lastModified?: string | null;
      maxBytes?: number;
      timeoutMs?: number;
      signal?: AbortSignal;
    },
  ): Promise<FetchResult>;
}
