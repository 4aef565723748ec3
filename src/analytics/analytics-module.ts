import type { Config } from '../config.js';
import type { Queue } from '../queue/port.js';
import type { AreaModule, AreaRunning, BackgroundErrors } from '../area-module.js';
import type { Store } from '../store/port.js';
import type { ModelCatalogue } from '../models/ports.js';
import type { RunObserver } from '../runs/observer.js';
import { SpanWriter } from '../runs/spans.js';
import { RequestAccounting } from './request-accounting.js';
import { RollupWriter } from './rollup-writer.js';
import { RollupCompactor } from './compaction.js';
import { RollupQueries } from './queries.js';
import { AnalyticsReports } from './reports.js';
import { TraceService } from './traces.js';
import { RequestLog } from './request-log.js';
import { registerAnalyticsJobs, scheduleAnalyticsMaintenance } from './maintenance.js';
import { AnalyticsObserver, type RunListener } from './run-listeners.js';
import { OtlpTraceExporter } from './exporters/otlp.js';
import { PrometheusMetrics } from './exporters/prometheus.js';

/**
 * The analytics area: spans and rollups written as runs go, request accounting, and (in later
 * modules) the queries, the trace view, maintenance and the exporters.
 */
export class AnalyticsModule implements AreaModule {
  readonly spans: SpanWriter;
  readonly observer: RunObserver;
  readonly requests: RequestAccounting;
  readonly compactor: RollupCompactor;
  readonly reports: AnalyticsReports;
  readonly traces: TraceService;
  readonly requestLog: RequestLog;
  /** Prometheus metrics, when the operator set a metrics port. */
  readonly metrics: PrometheusMetrics | undefined;
  /** OTLP trace export, when an OTLP endpoint is configured. */
  private readonly otlp: OtlpTraceExporter | undefined;
  /** The job queue the areas register their handlers on: with metrics on, every handler is timed. */
  readonly jobs: Queue;
  /** Where Prometheus metrics are served once started, when the operator set a metrics port. */
  metricsUrl: string | undefined;

  constructor(
    private readonly deps: {
      config: Pick<
        Config,
        | 'analytics' | 'traceRetentionDays' | 'requestLogRetentionDays' | 'rollupRetentionDays' | 'metricsHost' | 'metricsPort' | 'otlpTracesUrl' | 'otlpHeaders'
        | 'otelServiceName'
      >;
      store: Store;
      queue: Queue;
      catalogue: ModelCatalogue;
      version: string;
      onError: (error: unknown) => void;
    },
  ) {
    const { config, store } = deps;
    const enabled = config.analytics;
    this.spans = new SpanWriter(store, enabled);
    this.compactor = new RollupCompactor(store);
    this.reports = new AnalyticsReports(new RollupQueries(store, this.compactor));
    this.traces = new TraceService(store);
    this.requestLog = new RequestLog(store);
    this.metrics = config.metricsPort === undefined ? undefined : new PrometheusMetrics({ store, queue: deps.queue, serviceVersion: deps.version });
    this.jobs = this.metrics?.instrumentQueue(deps.queue) ?? deps.queue;
    this.otlp = config.otlpTracesUrl === undefined
      ? undefined
      : new OtlpTraceExporter({
        url: config.otlpTracesUrl, headers: config.otlpHeaders, serviceName: config.otelServiceName, serviceVersion: deps.version,
        traces: this.traces, store, onError: deps.onError,
      });
    const listeners: RunListener[] = [this.metrics, this.otlp].filter((l): l is PrometheusMetrics | OtlpTraceExporter => l !== undefined);
    const observer = new AnalyticsObserver(enabled ? new RollupWriter(deps.catalogue) : null, listeners);
    this.observer = observer;
    this.requests = new RequestAccounting(store, { enabled, onFlush: (records) => observer.requestsWritten(records), onError: deps.onError });
  }

  /** Deriving hour and day rollups and purging what has outlived its retention run as jobs. */
  registerJobs(queue: Queue): void {
    registerAnalyticsJobs(queue, this.deps.store, this.compactor, this.deps.config);
  }

  /**
   * Starts writing buffered requests every second, scheduling maintenance and serving metrics
   * (on the operator's port). Closing writes the requests still buffered and flushes the
   * exporters: after the job queue drained, so that runs finishing meanwhile are counted too.
   */
  async start(onError: BackgroundErrors): Promise<AreaRunning> {
    const { metricsHost, metricsPort } = this.deps.config;
    const metricsServer = this.metrics && metricsPort !== undefined ? await this.metrics.listen(metricsHost, metricsPort) : undefined;
    this.metricsUrl = metricsServer?.url;
    const stopRequests = this.requests.start();
    const stopMaintenance = scheduleAnalyticsMaintenance(this.deps.queue, onError('analytics maintenance not enqueued'));
    return {
      stop: stopMaintenance,
      close: async () => {
        await stopRequests();
        await this.otlp?.close();
        await metricsServer?.close();
      },
    };
  }
}
