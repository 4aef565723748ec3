import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { KairoError } from '../../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** False for routes that answer even while the server sheds load (`/v1/status`). */
    shedLoad?: boolean;
  }
}

export interface LoadSheddingOptions {
  /** Mean event-loop delay (ms) over the last second above which new requests are refused; 0: never. */
  maxEventLoopDelayMs: number;
  /** V8 heap in use (bytes) above which new requests are refused; 0: never. */
  maxHeapUsedBytes: number;
}

/** Seconds a refused client is told to wait: the load is measured once a second. */
const RETRY_AFTER_SECONDS = 2;
/** Start-up (loading modules, migrating, warming caches) holds the event loop by design: its delay is not judged for this long. */
const START_UP_GRACE_MS = 5_000;

/** How loaded the process is, as `/v1/status` reports it. */
export interface LoadReading {
  shedding: boolean;
  eventLoopDelayMs: number;
  heapUsedBytes: number;
}

/**
 * Load shedding: while the event loop lags or the heap is nearly full, new requests get 503
 * `server_busy` with Retry-After at once instead of queueing behind the work that is already
 * late. `/v1/status` (routes whose config sets `shedLoad: false`) still answers, and says so.
 * Returns how to read the current load.
 */
export async function registerLoadShedding(app: FastifyInstance, options: LoadSheddingOptions): Promise<() => LoadReading> {
  const judgeDelayFrom = Date.now() + START_UP_GRACE_MS;
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    maxHeapUsedBytes: options.maxHeapUsedBytes,
    sampleInterval: 1000,
    pressureHandler: async (request, _reply, type) => {
      if (request.routeOptions.config.shedLoad === false) return;
      if (type === 'eventLoopDelay' && Date.now() < judgeDelayFrom) return;
      throw new KairoError('server_busy', {
        message: 'The server is overloaded right now. Retry after the time in the Retry-After header.',
        headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
      });
    },
  });
  return () => {
    const usage = app.memoryUsage();
    const lagging = options.maxEventLoopDelayMs > 0 && usage.eventLoopDelay > options.maxEventLoopDelayMs && Date.now() >= judgeDelayFrom;
    const full = options.maxHeapUsedBytes > 0 && usage.heapUsed > options.maxHeapUsedBytes;
    // A delay of Infinity means no sample at all in the last second: the loop was held the whole time.
    const delay = Number.isFinite(usage.eventLoopDelay) ? Math.round(usage.eventLoopDelay * 100) / 100 : 1000;
    return { shedding: lagging || full, eventLoopDelayMs: delay, heapUsedBytes: usage.heapUsed };
  };
}
