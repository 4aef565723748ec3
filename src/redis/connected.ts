import type { Redis } from 'ioredis';
import { DependencyUnavailableError } from '../errors.js';

/** ioredis statuses between a lost connection and the next attempt (or after giving up). */
const DISCONNECTED = new Set(['close', 'reconnecting', 'end']);

/** How long a health check waits for PONG. */
const PING_TIMEOUT_MS = 5000;

/**
 * True while `client` has lost its connection and waits to reconnect (a command would wait in
 * ioredis's queue until Redis is back). False while it connects for the first time, or is connected.
 */
export function isDisconnected(client: Redis): boolean {
  return DISCONNECTED.has(client.status);
}

/**
 * Throws DependencyUnavailableError while `client` has lost its connection, so a caller on a
 * request's path is refused at once instead of waiting until Redis is back.
 */
export function requireConnected(client: Redis): void {
  if (!isDisconnected(client)) return;
  const { host, port } = client.options;
  throw new DependencyUnavailableError(`Redis at ${host}:${port} is unreachable (${client.status}).`);
}

/** The health check of one client: fails at once while it has lost its connection, else PINGs. */
export async function pingRedis(client: Redis, timeoutMs = PING_TIMEOUT_MS): Promise<void> {
  requireConnected(client);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer PING within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([client.ping(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
