import type { Queue } from '../../queue/port.js';
import type { Store, WorkflowRun, WorkflowStepState, Workspace } from '../../store/port.js';
import type { RunSlot, RunSlots } from '../../platform/run-slots.js';
import type { SafeFetcher } from '../../context/ports.js';
import type { RunEventLog } from '../../runs/event-log.js';
import type { RunObserver } from '../../runs/observer.js';
import type { SpanWriter } from '../../runs/spans.js';
import type { WorkflowDefinition } from '../definition.js';
import type { ExpressionEvaluator } from '../expression-evaluator.js';
import type { AgentCaller, WorkflowDataLimits } from './ports.js';

export interface EngineDeps {
  store: Store;
  queue: Queue;
  events: RunEventLog;
  slots: RunSlots;
  fetcher: SafeFetcher;
  agents: AgentCaller;
  spans: SpanWriter;
  observer: RunObserver;
  leaseMs: number;
  expressions: ExpressionEvaluator;
  limits: WorkflowDataLimits;
  now?: () => number;
  /** Errors of advances that no job or request awaits (a run its request started); the run's backstop job retries it. */
  onError?: (error: unknown) => void;
}

/** One advance of one run, under its lease. */
export interface Execution {
  run: WorkflowRun;
  workspace: Workspace;
  definition: WorkflowDefinition;
  states: Map<string, WorkflowStepState>;
  positions: Map<string, number>;
  signal: AbortSignal;
  slot: RunSlot;
  /** The lease's owner: the transaction that ends or parks the run also gives the lease back. */
  owner: string;
  /** The backstop job of a run its request advances (see WorkflowEngine.startNow), withdrawn by that transaction too. */
  backstop?: string;
}

/** Where a sequence runs: the outputs it sees, the map item, and the key prefix of its steps. */
export interface Frame {
  outputs: Record<string, unknown>;
  item?: unknown;
  index?: number;
  prefix: string;
}
