import net from 'node:net';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import type { AddressPolicy } from '../../net/address-policy.js';
import { BlockedAddressError, createCheckedLookup, type ResolveHost } from '../../net/checked-lookup.js';

export { BlockedAddressError };

/** A response body grew past the cap. */
export class ResponseTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`The response is larger than the limit of ${maxBytes} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

export interface GuardedFetch {
  /**
   * WHATWG fetch whose every connection (redirects included) passes the address policy.
   * `onTooLarge` hears of a body cut off at the cap, for readers (SSE) that swallow stream errors.
   */
  fetch: (url: string | URL, init?: RequestInit, onTooLarge?: (error: ResponseTooLargeError) => void) => Promise<Response>;
  /** Hosts refused so far, to name the cause when a library reports only "fetch failed". */
  readonly blockedHosts: ReadonlySet<string>;
  /** Drop every connection at once. */
  destroy(): Promise<void>;
}

/**
 * A streaming fetch for clients that need a real `fetch` (the MCP SDK's transport) under the
 * same outbound rule as `createSafeFetcher` (the same checked lookup): IP-literal hosts are
 * checked in the connector, host names are resolved in it and only permitted addresses reach
 * the socket (no DNS-rebinding gap), so a redirect anywhere is checked too. Bodies are cut off
 * past `maxResponseBytes`.
 */
export function createGuardedFetch(options: { policy: AddressPolicy; maxResponseBytes: number; resolve?: ResolveHost }): GuardedFetch {
  const { policy, maxResponseBytes } = options;
  const blockedHosts = new Set<string>();
  const lookup = createCheckedLookup(policy, options.resolve, (hostname) => blockedHosts.add(hostname));
  const connectChecked = buildConnector({ lookup });
  const agent = new Agent({
    // net.connect skips the lookup for IP literals, so those are checked here.
    connect: (connectOptions, callback) => {
      const host = connectOptions.hostname.replace(/^\[(.*)\]$/, '$1');
      if (net.isIP(host) !== 0 && !policy.allows(host)) {
        blockedHosts.add(host);
        callback(new BlockedAddressError(host), null);
        return;
      }
      connectChecked(connectOptions, callback);
    },
  });

  return {
    blockedHosts,
    async fetch(url, init, onTooLarge) {
      // undici's own fetch, so that its Agent is the dispatcher (Node's bundled fetch may be an
      // older undici); its Request/Response are the same WHATWG shapes.
      const response = (await undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as Response;
      return capBody(response, maxResponseBytes, onTooLarge);
    },
    async destroy() {
      await agent.destroy();
    },
  };
}

/** Statuses whose Response may not be constructed with a body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

function capBody(response: Response, maxBytes: number, onTooLarge: ((error: ResponseTooLargeError) => void) | undefined): Response {
  if (response.body === null || NULL_BODY_STATUSES.has(response.status)) return response;
  let total = 0;
  const counted = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        total += chunk.byteLength;
        if (total > maxBytes) {
          const error = new ResponseTooLargeError(maxBytes);
          controller.error(error);
          onTooLarge?.(error);
        } else {
          controller.enqueue(chunk);
        }
      },
    }),
  );
  return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
}
