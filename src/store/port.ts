/**
 * The storage port. Domain code talks to these interfaces only; the SQLite and PostgreSQL
 * adapters implement them (sharing one Kysely implementation where SQL is portable).
 */

import type { AgentRepo, ThreadRepo } from './agent-port.js';
import type { RequestLogRepo, RollupRepo } from './analytics-port.js';
import type { BudgetRepo } from './budget-port.js';
import type { ContextChunkRepo, ContextDocumentRepo, ContextSourceRepo } from './context-port.js';
import type { EventRepo, StoredEvent } from './event-port.js';
import type { JobRepo, OutboxRepo } from './job-port.js';
import type { ModelResponseRepo } from './model-response-port.js';
import type { ApiKeyRepo, HeartbeatRepo, IdempotencyRepo, MetaRepo, WorkspaceRepo } from './platform-port.js';
import type { RunEventRepo, RunRepo, SpanRepo } from './run-port.js';
import type { WebhookDeliveryRepo, WebhookEndpointRepo } from './webhook-port.js';
import type { WorkflowRepo, WorkflowRunRepo } from './workflow-port.js';

// Each area's types live in its own file, which never imports this one (so no import cycles);
// this module is the one the rest of the code imports them from.
export * from './agent-port.js';
export * from './analytics-port.js';
export * from './budget-port.js';
export * from './context-port.js';
export * from './event-port.js';
export * from './job-port.js';
export * from './model-response-port.js';
export * from './platform-port.js';
export * from './run-port.js';
export * from './webhook-port.js';
export * from './workflow-port.js';

/** The repositories, bound either to the database or to one open transaction. */
export interface Repos {
  workspaces: WorkspaceRepo;
  apiKeys: ApiKeyRepo;
  idempotency: IdempotencyRepo;
  heartbeats: HeartbeatRepo;
  jobs: JobRepo;
  outbox: OutboxRepo;
  meta: MetaRepo;
  contextSources: ContextSourceRepo;
  contextDocuments: ContextDocumentRepo;
  contextChunks: ContextChunkRepo;
  agents: AgentRepo;
  runs: RunRepo;
  runEvents: RunEventRepo;
  spans: SpanRepo;
  threads: ThreadRepo;
  workflows: WorkflowRepo;
  workflowRuns: WorkflowRunRepo;
  workflowRunEvents: RunEventRepo;
  rollups: RollupRepo;
  requestLog: RequestLogRepo;
  events: EventRepo;
  webhookEndpoints: WebhookEndpointRepo;
  webhookDeliveries: WebhookDeliveryRepo;
  budgets: BudgetRepo;
  modelResponses: ModelResponseRepo;
}

export interface Transaction extends Repos {
  /** Runs `hook` after the transaction commits (never if it rolls back). */
  afterCommit(hook: () => void | Promise<void>): void;
  /** Runs `work` in this same transaction (so code given a store or a transaction can nest). */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
}

/** Runs inside the transaction that wrote `events`, right after they were written. */
export type EventsWrittenHook = (tx: Transaction, events: StoredEvent[]) => Promise<void>;

export interface Store extends Repos {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Adds work to every transaction that writes events, done in it after they are written (so
   * what it writes commits or rolls back with them). Events written outside a transaction skip it.
   */
  onEventsWritten(hook: EventsWrittenHook): void;
  /** Runs `work` in one transaction; code inside it nests through `tx.transaction`, never this again. */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Cheap liveness check of the database. */
  ping(): Promise<void>;
  /** The connection pool's state (PostgreSQL); undefined for a database without a pool. */
  poolStats(): { total: number; idle: number; waiting: number } | undefined;
  close(): Promise<void>;
}

