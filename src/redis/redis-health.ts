import type { Redis } from 'ioredis';
import { DependencyUnavailableError } from '../errors.js';

/** Codes of socket errors that only say the server cannot be reached. */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** What ioredis (and BullMQ through it) rejects commands with while the connection is down. */
const CONNECTION_MESSAGES = /^Connection is closed|Stream isn't writeable|Command aborted due to connection close|Reached the max retries per request limit|Command timed out/;

/**
 * Whether Redis can be reached, followed on every Redis client of the process: one log line when
 * the first client loses its connection and one when the last gets it back, however many
 * clients there are and however often ioredis retries in between. Watching a client also
 * handles its 'error' events, so none is ever unhandled.
 */
export class RedisHealth {
  private readonly lost = new Set<Redis>();
  private lostAt = 0;
  private lastError: string | undefined;

  /** `address`: host:port for the log lines; `log`: where they go. */
  constructor(
    private readonly address: string,
    private readonly log: (message: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** False from the first client's loss of its connection until every client has it back. */
  get reachable(): boolean {
    return this.lost.size === 0;
  }

  /** Follows `client` until it is closed. */
  watch(client: Redis): void {
    client.on('error', (error: Error) => {
      this.lastError = error.message;
    });
    client.on('reconnecting', () => this.down(client));
    client.on('ready', () => this.up(client));
    // Closed on purpose (shutdown): no longer followed, and not an outage.
    client.on('end', () => this.lost.delete(client));
  }

  private down(client: Redis): void {
    const first = this.lost.size === 0;
    this.lost.add(client);
    if (!first) return;
    this.lostAt = this.now();
    this.log(
      `Redis at ${this.address} is unreachable (${this.lastError ?? 'connection closed'}); reconnecting. Until it is back, ` +
        'rate-limited requests get 503 service_unavailable and queued jobs wait.',
    );
  }

  private up(client: Redis): void {
    this.lastError = undefined;
    if (!this.lost.delete(client) || this.lost.size > 0) return;
    this.log(`Redis at ${this.address} is reachable again after ${Math.round((this.now() - this.lostAt) / 1000)} s.`);
  }
}

/**
 * True for an error that only says a connection to Redis failed or was lost, rather than anything
 * about a command: RedisHealth logs the outage once, so callers drop these instead of logging
 * each retry.
 */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof DependencyUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && CONNECTION_CODES.has(code)) return true;
  return CONNECTION_MESSAGES.test(error.message) || /\bECONNREFUSED\b/.test(error.message);
}
