import type { Redis } from 'ioredis';
import type { Store } from '../store/port.js';
import type { Queue } from './port.js';
import { BullmqQueue } from './bullmq-queue.js';
import { LocalQueue } from './local-queue.js';

/** What openQueue needs; everything but the store is optional. */
export interface OpenQueueOptions {
  /** The database: the local queue's jobs table, or BullMQ's outbox. */
  store: Store;
  /** When set, jobs go to BullMQ on this Redis (cluster mode). */
  redisUrl?: string | undefined;
  /** Default 'default'. */
  queueName?: string | undefined;
  /** BullMQ key prefix (default 'kairo'); ignored by the local queue. */
  prefix?: string | undefined;
  /** The local queue's longest sleep between polls (default 1000 ms); ignored by BullMQ. */
  pollIntervalMs?: number | undefined;
  /** How long a claimed job stays claimed without renewal (default 30 000 ms). */
  leaseMs?: number | undefined;
  /** Errors with no caller to go to, e.g. a failed poll or a Redis reconnect; log them. */
  onError?: ((error: unknown) => void) | undefined;
  /** BullMQ: called with each Redis client the queue opens, e.g. to follow Redis's health. */
  watch?: ((client: Redis) => void) | undefined;
}

/** BullMQ on Redis when a Redis URL is configured, else the durable queue on the store's database. */
export function openQueue(options: OpenQueueOptions): Queue {
  const { store, queueName, onError } = options;
  if (options.redisUrl) return new BullmqQueue({ store, queueName, onError, redisUrl: options.redisUrl, prefix: options.prefix, lockMs: options.leaseMs, watch: options.watch });
  return new LocalQueue({ store, queueName, onError, pollIntervalMs: options.pollIntervalMs, ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}) });
}
