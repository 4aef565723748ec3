// What outbound HTTP under the address policy answers: used by URL and http sources, workflow http steps and http tools.

/** An outbound fetch was refused or failed (blocked address, too large, too slow, bad status). */
export class FetchError extends Error {
  constructor(
    readonly code: 'address_blocked' | 'too_large' | 'timeout' | 'too_many_redirects' | 'bad_status' | 'network_error' | 'invalid_url',
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FetchError';
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
