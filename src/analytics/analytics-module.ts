import type { Config } from '../config.js';
import type { Queue } from '../queue/port.js';
import type { Store } from '../store/port.js';
import type { ModelCatalogue } from '../models/ports.js';
import { ignoreRuns, type RunObserver } from '../runs/observer.js';
import { SpanWriter } from '../runs/spans.js';
import { RequestAccounting } from './request-accounting.js';
import { RollupWriter } from './rollup-writer.js';

/**
 * The analytics area: spans and rollups written as runs go, request accounting, and (in later
 * modules) the queries, the trace view, maintenance and the exporters.
 */
export class AnalyticsModule {
  readonly spans: SpanWriter;
  readonly observer: RunObserver;
  readonly requests: RequestAccounting;

  constructor(
    private readonly deps: {
      config: Pick<Config, 'analytics'>;
      store: Store;
      queue: Queue;
      catalogue: ModelCatalogue;
      onError?: (error: unknown) => void;
    },
  ) {
    const enabled = deps.config.analytics;
    this.spans = new SpanWriter(deps.store, enabled);
    this.observer = enabled ? new RollupWriter(deps.catalogue) : ignoreRuns;
    this.requests = new RequestAccounting(deps.store, { enabled, ...(deps.onError ? { onError: deps.onError } : {}) });
  }

  /** Starts writing buffered requests every second; returns a stop function that writes the rest. */
  start(): () => Promise<void> {
    return this.requests.start();
  }
}
