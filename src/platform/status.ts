import type { Queue } from '../queue/port.js';
import type { RateLimiter } from '../limits/port.js';
import type { Store } from '../store/port.js';

const MINUTE_MS = 60_000;
const WINDOW_MINUTES = 30 * 24 * 60;

/** Records a heartbeat for the current minute now and then every minute until stopped. */
export function startHeartbeats(store: Store, onError: (error: unknown) => void, now: () => number = Date.now): () => void {
  const beat = () => store.heartbeats.record(Math.floor(now() / MINUTE_MS)).catch(onError);
  void beat();
  const timer = setInterval(beat, MINUTE_MS);
  timer.unref();
  return () => clearInterval(timer);
}

export interface Check {
  status: 'ok' | 'failing';
  latency_ms: number;
  error?: string;
}

/** How loaded this process is (see the HTTP layer's load shedding) and what its compute pool is doing. */
export interface LoadStatus {
  status: 'ok' | 'shedding';
  event_loop_delay_ms: number;
  heap_used_bytes: number;
  compute: { workers: number; running: number; queued: number };
}

export interface ServiceStatus {
  status: 'operational' | 'degraded';
  version: string;
  checks: { database: Check; queue: Check; limits: Check };
  load: LoadStatus;
  uptime: { window_days: number; percent: number; minutes_up: number; minutes_total: number; since: string };
  started_at: string;
}

async function check(probe: () => Promise<void>): Promise<Check> {
  const start = performance.now();
  try {
    await probe();
    return { status: 'ok', latency_ms: Math.round((performance.now() - start) * 100) / 100 };
  } catch (error) {
    return {
      status: 'failing',
      latency_ms: Math.round((performance.now() - start) * 100) / 100,
      error: error instanceof Error ? error.message.slice(0, 200) : 'unreachable',
    };
  }
}

/**
 * Health, load and 30-day uptime. Uptime is the share of minutes, since the first heartbeat ever
 * recorded or the start of the window (whichever is later), in which some KAIRO process
 * recorded a heartbeat. A process that sheds load, or cannot reach its database, queue or
 * limits (Redis in cluster mode), is `degraded`.
 */
export async function getStatus(
  deps: { store: Store; queue: Queue; rateLimiter: RateLimiter; version: string; startedAt: number; load: () => LoadStatus },
  now = Date.now(),
): Promise<ServiceStatus> {
  const [database, queue, limits] = await Promise.all([
    check(() => deps.store.ping()),
    check(() => deps.queue.ping()),
    check(() => deps.rateLimiter.ping()),
  ]);
  const nowMinute = Math.floor(now / MINUTE_MS);
  let minutesUp = 0;
  let from = nowMinute;
  if (database.status === 'ok') {
    const first = (await deps.store.heartbeats.first()) ?? nowMinute;
    from = Math.max(first, nowMinute - WINDOW_MINUTES + 1);
    minutesUp = await deps.store.heartbeats.countBetween(from, nowMinute);
  }
  const minutesTotal = nowMinute - from + 1;
  const load = deps.load();
  return {
    status: database.status === 'ok' && queue.status === 'ok' && limits.status === 'ok' && load.status === 'ok' ? 'operational' : 'degraded',
    version: deps.version,
    checks: { database, queue, limits },
    load,
    uptime: {
      window_days: 30,
      percent: Math.round((Math.min(minutesUp, minutesTotal) / minutesTotal) * 100_000) / 1000,
      minutes_up: minutesUp,
      minutes_total: minutesTotal,
      since: new Date(from * MINUTE_MS).toISOString(),
    },
    started_at: new Date(deps.startedAt).toISOString(),
  };
}
