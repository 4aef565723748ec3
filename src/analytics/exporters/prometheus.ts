import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobContext, JobHandler, Queue } from '../../queue/port.js';
import type { RequestRecord, Run, Store, WorkflowRun } from '../../store/port.js';
import type { ModelCall } from '../../runs/observer.js';
import type { RunListener } from '../run-listeners.js';

export interface PrometheusOptions {
  store: Store;
  queue: Queue;
  serviceVersion: string;
}

/** Seconds: from a fast API request to a long agent run. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * This process's metrics in the Prometheus text format, on the operator's metrics port (never the
 * API's). One registry per instance. Request figures arrive with each written batch of the
 * request log (about once a second), run and model-call figures once they are committed; queue
 * depth and the database pool are read when scraped.
 */
export class PrometheusMetrics implements RunListener {
  readonly registry = new Registry();
  private readonly requests: Counter;
  private readonly requestDuration: Histogram;
  private readonly runs: Counter;
  private readonly runDuration: Histogram;
  private readonly steps: Counter;
  private readonly modelCalls: Counter;
  private readonly tokens: Counter;
  private readonly cost: Counter;
  private readonly jobDuration: Histogram;

  constructor(private readonly options: PrometheusOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'kairo_build_info', help: 'The KAIRO version this process runs (always 1).', labelNames: ['version'], registers }).set({ version: options.serviceVersion }, 1);
    this.requests = new Counter({ name: 'kairo_http_requests_total', help: 'Authenticated API requests, by method, route template and status.', labelNames: ['method', 'route', 'status'], registers });
    this.requestDuration = new Histogram({ name: 'kairo_http_request_duration_seconds', help: 'Time to answer authenticated API requests.', labelNames: ['method', 'route'], buckets: DURATION_BUCKETS, registers });
    this.runs = new Counter({ name: 'kairo_runs_total', help: 'Runs that reached a final status, by kind and status.', labelNames: ['type', 'status'], registers });
    this.runDuration = new Histogram({ name: 'kairo_run_duration_seconds', help: 'Runs from creation to their final status.', labelNames: ['type'], buckets: DURATION_BUCKETS, registers });
    this.steps = new Counter({ name: 'kairo_workflow_steps_total', help: 'Workflow steps that ran, counted when their run finished.', registers });
    this.modelCalls = new Counter({ name: 'kairo_model_calls_total', help: 'Model calls, by model, provider and outcome.', labelNames: ['model', 'provider', 'status'], registers });
    this.tokens = new Counter({ name: 'kairo_tokens_total', help: 'Tokens of model calls, by model and kind (cached input is part of input, reasoning part of output).', labelNames: ['model', 'kind'], registers });
    this.cost = new Counter({ name: 'kairo_cost_usd_total', help: 'Cost of model calls in USD (notional in test mode: livemode="false").', labelNames: ['model', 'livemode'], registers });
    this.jobDuration = new Histogram({ name: 'kairo_job_duration_seconds', help: 'Time job handlers ran, by job kind and outcome.', labelNames: ['kind', 'outcome'], buckets: DURATION_BUCKETS, registers });
    const { queue, store } = options;
    new Gauge({
      name: 'kairo_queue_jobs', help: 'Jobs of the job queue by state (finished ones until they are purged).', labelNames: ['state'], registers,
      async collect() {
        const counts = await queue.counts();
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'kairo_db_pool_connections', help: 'Database pool connections by state (PostgreSQL; absent on SQLite).', labelNames: ['state'], registers,
      collect() {
        const pool = store.poolStats();
        if (pool) for (const [state, n] of Object.entries(pool)) this.set({ state }, n);
      },
    });
  }

  requestsWritten(records: RequestRecord[]): void {
    for (const r of records) {
      this.requests.inc({ method: r.method, route: r.route, status: String(r.status) });
      this.requestDuration.observe({ method: r.method, route: r.route }, r.latencyMs / 1000);
    }
  }

  agentRunFinished(run: Run): void {
    this.runs.inc({ type: 'agent_run', status: run.status });
    if (run.latency.total_ms !== undefined) this.runDuration.observe({ type: 'agent_run' }, run.latency.total_ms / 1000);
  }

  workflowRunFinished(run: WorkflowRun, steps: number): void {
    this.runs.inc({ type: 'workflow_run', status: run.status });
    if (run.latency.total_ms !== undefined) this.runDuration.observe({ type: 'workflow_run' }, run.latency.total_ms / 1000);
    this.steps.inc(steps);
  }

  modelCallEnded(call: ModelCall, livemode: boolean): void {
    const model = call.model;
    this.modelCalls.inc({ model, provider: call.provider, status: call.ok ? 'ok' : 'error' });
    for (const [kind, n] of [['input', call.inputTokens], ['output', call.outputTokens], ['cached_input', call.cachedInputTokens], ['reasoning', call.reasoningTokens]] as const) {
      if (n > 0) this.tokens.inc({ model, kind }, n);
    }
    if (call.costUsd > 0) this.cost.inc({ model, livemode: String(livemode) }, call.costUsd);
  }

  /** The same queue, except that every handler registered through it is timed. */
  instrumentQueue(queue: Queue): Queue {
    const jobDuration = this.jobDuration;
    const timed = <P>(kind: string, handler: JobHandler<P>): JobHandler<P> => async (job: JobContext<P>) => {
      const end = jobDuration.startTimer({ kind });
      try {
        const result = await handler(job);
        end({ outcome: 'completed' });
        return result;
      } catch (error) {
        end({ outcome: 'failed' });
        throw error;
      }
    };
    return {
      backend: queue.backend,
      enqueue: (kind, payload, options) => queue.enqueue(kind, payload, options),
      cancel: (jobId, options) => queue.cancel(jobId, options),
      register: (kind, handler) => queue.register(kind, timed(kind, handler)),
      start: (options) => queue.start(options),
      stop: (timeoutMs) => queue.stop(timeoutMs),
      getJob: (id) => queue.getJob(id),
      counts: () => queue.counts(),
      ping: () => queue.ping(),
      close: () => queue.close(),
    };
  }

  /** Serves `GET /metrics` on host:port (port 0: any free port); anything else is a 404. */
  async listen(host: string, port: number): Promise<{ url: string; port: number; close(): Promise<void> }> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found: metrics are at GET /metrics.\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`Metrics could not be collected: ${String(error)}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const bound = (server.address() as AddressInfo).port;
    const shown = host.includes(':') ? `[${host}]` : host;
    return {
      url: `http://${shown}:${bound}`,
      port: bound,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
}
