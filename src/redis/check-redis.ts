import { Redis } from 'ioredis';
import { ConfigError } from '../config-error.js';
import { serviceAddress } from '../net/service-address.js';

/** How long the start-up check waits for Redis to connect and answer PING. */
const CHECK_TIMEOUT_MS = 5000;

/**
 * Connects to Redis once and sends PING, before anything that needs Redis is opened. Without it
 * an unreachable Redis would leave every client retrying in the background (and the job worker
 * waiting forever to become ready); with it KAIRO stops with one message naming the setting.
 * Throws ConfigError.
 */
export async function checkRedis(url: string, timeoutMs = CHECK_TIMEOUT_MS): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // connect() only says "Connection is closed."; the socket's error says why.
  let cause: Error | undefined;
  client.on('error', (error: Error) => {
    cause ??= error;
  });
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    const reason = (cause ?? (error as Error)).message;
    throw new ConfigError(`Cannot connect to Redis at ${serviceAddress(url, 6379)} (${reason}). Check --redis-url / KAIRO_REDIS_URL.`);
  } finally {
    client.disconnect();
  }
}
