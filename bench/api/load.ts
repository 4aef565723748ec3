// The load generator, run in its own process so it never shares an event loop with a server.
// Usage: node --import tsx bench/api/load.ts '<json LoadSpec>'  → prints one JSON LoadResult on stdout.
import autocannon from 'autocannon';

/** What to fire at. */
export interface LoadSpec {
  url: string;
  connections: number;
  durationSeconds: number;
  headers?: Record<string, string>;
}

/** What came back, in the units the orchestrator prints. */
export interface LoadResult {
  requestsPerSecond: number;
  totalRequests: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
}

const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
if (typeof spec?.url !== 'string' || !spec.url.startsWith('http://127.0.0.1:')) {
  throw new Error('load.ts: expected a LoadSpec with a url on http://127.0.0.1');
}
const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  pipelining: 1,
  duration: spec.durationSeconds,
  timeout: 10,
  headers: spec.headers ?? {},
});
const statusCounts: Record<string, number> = {};
for (const [status, stats] of Object.entries(result.statusCodeStats ?? {})) statusCounts[status] = Number(stats.count);
const out: LoadResult = {
  requestsPerSecond: result.requests.average,
  totalRequests: result.requests.total,
  latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
  statusCounts,
  errors: result.errors,
  timeouts: result.timeouts,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
