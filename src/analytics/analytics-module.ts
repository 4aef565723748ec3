import type { Config } from '../config.js';
import type { Queue } from '../queue/port.js';
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

/**
 * The analytics area: spans and rollups written as runs go, request accounting, and (in later
 * modules) the queries, the trace view, maintenance and the exporters.
 */
export class AnalyticsModule {
  readonly spans: SpanWriter;
  readonly observer: RunObserver;
  readonly requests: RequestAccounting;
  readonly compactor: RollupCompactor;
  readonly reports: AnalyticsReports;
  readonly traces: TraceService;
  readonly requestLog: RequestLog;

  constructor(
    private readonly deps: {
      config: Pick<Config, 'analytics' | 'traceRetentionDays' | 'requestLogRetentionDays' | 'rollupRetentionDays'>;
      store: Store;
      queue: Queue;
      catalogue: ModelCatalogue;
      /** Exporters told of finished runs and written requests (Prometheus, OpenTelemetry). */
      listeners?: RunListener[];
      onError?: (error: unknown) => void;
    },
  ) {
    const enabled = deps.config.analytics;
    this.spans = new SpanWriter(deps.store, enabled);
    const observer = new AnalyticsObserver(enabled ? new RollupWriter(deps.catalogue) : null, deps.listeners ?? []);
    this.observer = observer;
    this.requests = new RequestAccounting(deps.store, {
      enabled, onFlush: (records) => observer.requestsWritten(records), ...(deps.onError ? { onError: deps.onError } : {}),
    });
    this.compactor = new RollupCompactor(deps.store);
    this.reports = new AnalyticsReports(new RollupQueries(deps.store, this.compactor));
    this.traces = new TraceService(deps.store);
    this.requestLog = new RequestLog(deps.store);
  }

  /** Deriving hour and day rollups and purging what has outlived its retention run as jobs. */
  registerJobs(): void {
    registerAnalyticsJobs(this.deps.queue, this.deps.store, this.compactor, this.deps.config);
  }

  /**
   * Starts writing buffered requests every second and scheduling maintenance; returns a stop
   * function that writes the requests still buffered.
   */
  start(onError: (error: unknown) => void): () => Promise<void> {
    const stopRequests = this.requests.start();
    const stopMaintenance = scheduleAnalyticsMaintenance(this.deps.queue, onError);
    return async () => {
      stopMaintenance();
      await stopRequests();
    };
  }
}
