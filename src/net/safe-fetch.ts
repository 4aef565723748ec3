import net from 'node:net';
import { Agent, request, type Dispatcher } from 'undici';
import { FetchError, type FetchResult, type SafeFetcher } from './fetch-types.js';
import { BlockedAddressError, createCheckedLookup, systemResolve, type ResolveHost } from './checked-lookup.js';
import { version } from '../version.js';
import { createAddressPolicy, type AddressPolicy } from './address-policy.js';

export type { ResolveHost } from './checked-lookup.js';

export interface SafeFetcherOptions {
  /** CIDRs that may be reached even though private, loopback or link-local. */
  allowCidrs: readonly string[];
  /** Default `KAIRO/<version>`. */
  userAgent?: string;
  /** Redirects followed before `too_many_redirects`. Default 5. */
  maxRedirects?: number;
  /** Body size cap when a call gives none. Default 10 MiB. */
  defaultMaxBytes?: number;
  /** Whole-fetch time limit (redirects and body included) when a call gives none. Default 15 s. */
  defaultTimeoutMs?: number;
  /** Name resolution; default the system resolver (`dns.lookup`). Tests substitute it. */
  resolve?: ResolveHost;
}

/** A SafeFetcher that owns a connection pool; `close()` releases it. */
export interface ClosableSafeFetcher extends SafeFetcher {
  close(): Promise<void>;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers that carry credentials and must not follow a redirect to another origin. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];

/** Marks an abort caused by our own time limit, as opposed to the caller's signal. */
class TimeoutReason extends Error {}

/**
 * Outbound HTTP for tools and URL sources that cannot be pointed at internal services.
 *
 * - Only `http:` and `https:` URLs without credentials (else `invalid_url`).
 * - An IP-literal host is checked before any connection; a host name is resolved inside the
 *   connection pool's connector and only the permitted addresses are handed to the socket, so
 *   the address connected to is the address checked (no DNS-rebinding gap). See
 *   `createAddressPolicy` for what is refused; `allowCidrs` re-opens ranges (tests: loopback).
 * - Redirects are followed by hand, up to `maxRedirects`, each hop's URL and address checked
 *   again; credentials headers are dropped when a redirect changes origin; 303 (and 301/302 of a
 *   POST) continue as GET without a body.
 * - `etag` / `lastModified` become `If-None-Match` / `If-Modified-Since`; 304 → `notModified`.
 * - The body streams into memory and is cut off past `maxBytes` (`too_large`, also up front
 *   from Content-Length); no compression is requested, so the cap is the bytes on the wire.
 * - One time limit covers the whole call (`timeout`); the caller's abort signal rethrows its
 *   reason; other non-2xx statuses are `bad_status` with the status.
 */
export function createSafeFetcher(options: SafeFetcherOptions): ClosableSafeFetcher {
  const policy = createAddressPolicy(options.allowCidrs);
  const userAgent = options.userAgent ?? `KAIRO/${version}`;
  const maxRedirects = options.maxRedirects ?? 5;
  const defaultMaxBytes = options.defaultMaxBytes ?? 10 * 1024 * 1024;
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 15_000;
  const resolve = options.resolve ?? systemResolve;

  const agent = new Agent({
    connect: { lookup: createCheckedLookup(policy, resolve) },
    // Pooled sockets were opened to checked addresses, so reuse is safe.
    keepAliveTimeout: 4_000,
  });

  return {
    async fetch(url, fetchOptions = {}) {
      const maxBytes = fetchOptions.maxBytes ?? defaultMaxBytes;
      const timeoutMs = fetchOptions.timeoutMs ?? defaultTimeoutMs;
      const callerSignal = fetchOptions.signal;
      callerSignal?.throwIfAborted();
      let current = checkUrl(url, policy);

      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new TimeoutReason('timeout')), timeoutMs);
      const onCallerAbort = (): void => controller.abort(callerSignal?.reason);
      callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
      try {
        let method = (fetchOptions.method ?? 'GET').toUpperCase();
        let body = fetchOptions.body;
        const headers = buildHeaders(fetchOptions, userAgent);

        for (let redirects = 0; ; redirects++) {
          const response = await request(current, {
            dispatcher: agent,
            method: method as Dispatcher.HttpMethod,
            headers,
            ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
            signal: controller.signal,
          });
          const status = response.statusCode;
          const location = headerValue(response.headers.location);

          if (REDIRECT_STATUSES.has(status) && location !== undefined) {
            await discard(response.body);
            if (redirects >= maxRedirects) {
              throw new FetchError('too_many_redirects', `More than ${maxRedirects} redirects, last at ${current.href}.`);
            }
            let next: URL;
            try {
              next = new URL(location, current);
            } catch {
              throw new FetchError('invalid_url', `Redirect from ${current.href} to an invalid URL.`);
            }
            next = checkUrl(next.href, policy);
            if (next.origin !== current.origin) for (const name of CREDENTIAL_HEADERS) delete headers[name];
            if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
              if (method !== 'HEAD') method = 'GET';
              body = undefined;
              delete headers['content-type'];
            }
            current = next;
            continue;
          }

          const responseHeaders = flattenHeaders(response.headers);
          if (status === 304) {
            await discard(response.body);
            return { status, url: current.href, headers: responseHeaders, body: Buffer.alloc(0), notModified: true };
          }
          if (status < 200 || status > 299) {
            await discard(response.body);
            throw new FetchError('bad_status', `${current.href} answered HTTP ${status}.`, status);
          }
          const declared = Number(responseHeaders['content-length']);
          if (Number.isFinite(declared) && declared > maxBytes) {
            abandon(response.body);
            throw new FetchError('too_large', `${current.href} declares ${declared} bytes; the limit is ${maxBytes}.`);
          }
          const chunks: Buffer[] = [];
          let total = 0;
          for await (const chunk of response.body) {
            const bytes = chunk as Buffer;
            total += bytes.length;
            if (total > maxBytes) {
              abandon(response.body);
              throw new FetchError('too_large', `${current.href} sent more than the limit of ${maxBytes} bytes.`);
            }
            chunks.push(bytes);
          }
          return { status, url: current.href, headers: responseHeaders, body: Buffer.concat(chunks, total), notModified: false };
        }
      } catch (error) {
        throw translateError(error, { url: current.href, timeoutMs, controller, callerSignal });
      } finally {
        clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onCallerAbort);
      }
    },
    async close() {
      await agent.close();
    },
  } satisfies ClosableSafeFetcher;
}

/** Parse a URL and refuse what may never be fetched, before any connection. */
function checkUrl(raw: string, policy: AddressPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FetchError('invalid_url', 'Not a valid URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FetchError('invalid_url', `Only http and https URLs can be fetched, not ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new FetchError('invalid_url', 'URLs with credentials cannot be fetched.');
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') throw new FetchError('invalid_url', 'The URL has no host.');
  if (net.isIP(host) !== 0 && !policy.allows(host)) {
    throw new FetchError('address_blocked', `${url.host} is a private, loopback or otherwise non-public address.`);
  }
  url.hash = '';
  return url;
}


function buildHeaders(
  options: { headers?: Record<string, string>; etag?: string | null; lastModified?: string | null },
  userAgent: string,
): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': userAgent };
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
  // The URL decides the host; compression is not asked for so the size cap counts real bytes.
  delete headers.host;
  delete headers['accept-encoding'];
  if (options.etag) headers['if-none-match'] = options.etag;
  if (options.lastModified) headers['if-modified-since'] = options.lastModified;
  return headers;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Drop a body mid-stream; the abort error it then emits is expected, so it is swallowed. */
function abandon(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

async function discard(body: Dispatcher.ResponseData['body']): Promise<void> {
  try {
    await body.dump({ limit: 64 * 1024 });
  } catch {
    // The body is not wanted; a broken one changes nothing.
  }
}

function translateError(
  error: unknown,
  context: { url: string; timeoutMs: number; controller: AbortController; callerSignal: AbortSignal | undefined },
): unknown {
  if (error instanceof FetchError) return error;
  if (context.controller.signal.reason instanceof TimeoutReason) {
    return new FetchError('timeout', `Fetching ${context.url} took longer than ${context.timeoutMs} ms.`);
  }
  if (context.callerSignal?.aborted) return context.callerSignal.reason;
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (cause instanceof BlockedAddressError) {
      return new FetchError('address_blocked', `${cause.hostname} resolves only to private, loopback or otherwise non-public addresses.`);
    }
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return new FetchError('timeout', `Fetching ${context.url} timed out (${code}).`);
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  return new FetchError('network_error', `Fetching ${context.url} failed: ${message}`);
}
