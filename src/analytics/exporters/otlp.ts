import type { Run, Store, WorkflowRun } from '../../store/port.js';
import type { RunListener } from '../run-listeners.js';
import type { TraceService } from '../traces.js';

/** Where and how traces are exported (the standard OTEL_EXPORTER_OTLP_* settings, parsed in config). */
export interface OtlpOptions {
  /** The OTLP/HTTP traces URL (…/v1/traces). */
  url: string;
  headers: Record<string, string>;
  serviceName: string;
  serviceVersion: string;
  traces: TraceService;
  store: Store;
  onError: (error: unknown) => void;
}

/**
 * Exports each finished run's trace over OTLP/HTTP with the OpenTelemetry GenAI semantic
 * conventions. (Being written: see the analytics exporters work.)
 */
export class OtlpTraceExporter implements RunListener {
  constructor(private readonly options: OtlpOptions) {}

  agentRunFinished(_run: Run): void {}

  workflowRunFinished(_run: WorkflowRun): void {}

  async close(): Promise<void> {}
}
