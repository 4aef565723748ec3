import type { Queue } from '../../queue/port.js';
import type { RequestRecord, Store } from '../../store/port.js';
import type { RunListener } from '../run-listeners.js';

export interface PrometheusOptions {
  store: Store;
  queue: Queue;
  serviceVersion: string;
}

/**
 * Prometheus metrics of this process, served on the operator's metrics port. (Being written: see
 * the analytics exporters work.)
 */
export class PrometheusMetrics implements RunListener {
  constructor(private readonly options: PrometheusOptions) {}

  requestsWritten(_records: RequestRecord[]): void {}

  /** Serves GET /metrics on host:port (port 0: any free port). */
  async listen(host: string, port: number): Promise<{ url: string; port: number; close(): Promise<void> }> {
    return { url: `http://${host}:${port}`, port, close: async () => {} };
  }
}
