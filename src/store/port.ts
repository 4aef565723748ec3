/**
 * The storage port. Domain code talks to these interfaces only; the SQLite and PostgreSQL
 * adapters implement them (sharing one Kysely implementation where SQL is portable).
 */

import type { RequestLogRepo, RollupRepo } from './analytics-port.js';
import type { ContextChunkRepo, ContextDocumentRepo, ContextSourceRepo } from './context-port.js';
import type { AgentRepo, RunEventRepo, RunRepo, SpanRepo, ThreadRepo } from './run-port.js';
import type { WorkflowRepo, WorkflowRunRepo } from './workflow-port.js';

// Each area's types live in its own file; this module is the one to import them from.
export * from './analytics-port.js';
export * from './context-port.js';
export * from './run-port.js';
export * from './workflow-port.js';

export type PlanName = 'free' | 'pro' | 'enterprise';

export interface Workspace {
  id: string;
  name: string;
  plan: PlanName;
  createdAt: number;
}

export interface ApiKey {
  id: string;
  workspaceId: string;
  livemode: boolean;
  name: string | null;
  secretHash: string;
  last4: string;
  createdAt: number;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** What authentication needs in one read: the key and the workspace it belongs to. */
export interface KeyWithWorkspace {
  key: ApiKey;
  workspace: Workspace;
}

/** Cursor page request: newest first; `after` walks to older objects, `before` to newer. */
export interface PageRequest {
  limit: number;
  after?: string | undefined;
  before?: string | undefined;
}

export interface Page<T> {
  data: T[];
  hasMore: boolean;
}

/** A request scope: every tenant-owned object belongs to a workspace and a mode. */
export interface Scope {
  workspaceId: string;
  livemode: boolean;
}

export interface WorkspaceRepo {
  create(workspace: Workspace): Promise<Workspace>;
  get(id: string): Promise<Workspace | undefined>;
  list(page: PageRequest): Promise<Page<Workspace>>;
}

export interface ApiKeyRepo {
  create(key: ApiKey): Promise<ApiKey>;
  /** The key with this secret hash and its workspace, revoked or not. */
  findBySecretHash(secretHash: string): Promise<KeyWithWorkspace | undefined>;
  /**
   * The per-request validity check of a key the caller already holds: its revocation time, null
   * while it is active, or undefined when no key has this hash. One indexed single-column read,
   * so that a revocation by any process (API or `kairo keys revoke`) is seen by the next request
   * without re-reading the key and its workspace. Adapters that can answer synchronously
   * (SQLite) do, so the request path need not wait for a promise.
   */
  revokedAtBySecretHash(secretHash: string): number | null | undefined | Promise<number | null | undefined>;
  get(scope: Scope, id: string): Promise<ApiKey | undefined>;
  list(scope: Scope, page: PageRequest): Promise<Page<ApiKey>>;
  /** Every key of every workspace, for the operator's CLI. */
  listAll(page: PageRequest): Promise<Page<ApiKey>>;
  /** Marks the key revoked (first revocation time wins). Undefined when no such key exists. */
  revoke(id: string, at: number, scope?: Scope): Promise<ApiKey | undefined>;
  /** Records last use; callers throttle this, it is not on every request. */
  touch(id: string, at: number): Promise<void>;
}

export type IdempotencyState = 'in_progress' | 'completed';

export interface IdempotencyRecord {
  scope: Scope;
  key: string;
  requestHash: string;
  state: IdempotencyState;
  responseStatus: number | null;
  responseBody: string | null;
  responseHeaders: Record<string, string> | null;
  createdAt: number;
  lockedUntil: number;
}

export interface IdempotencyRepo {
  /**
   * Claims the key for a new request. Returns `claimed` when this caller now owns it, or the
   * existing record. An in-progress record whose lock expired (its owner died) is taken over.
   */
  claim(record: IdempotencyRecord): Promise<{ claimed: true } | { claimed: false; existing: IdempotencyRecord }>;
  complete(scope: Scope, key: string, status: number, body: string, headers: Record<string, string>): Promise<void>;
  /** Forgets a claim, so the same key can be retried (used when the request failed with 5xx). */
  release(scope: Scope, key: string): Promise<void>;
  /** Deletes records created before `before`; returns how many. */
  purge(before: number): Promise<number>;
}

export interface HeartbeatRepo {
  /** Records that the service was up during this minute (idempotent). */
  record(minute: number): Promise<void>;
  /** Number of distinct minutes with a heartbeat in [fromMinute, toMinute]. */
  countBetween(fromMinute: number, toMinute: number): Promise<number>;
  /** The first minute ever recorded. */
  first(): Promise<number | undefined>;
}

export type JobState = 'waiting' | 'active' | 'completed' | 'failed';

export interface JobRecord {
  id: string;
  queue: string;
  kind: string;
  payload: string;
  state: JobState;
  runAt: number;
  leaseUntil: number | null;
  leaseToken: string | null;
  attempts: number;
  maxAttempts: number;
  backoffMs: number;
  lastError: string | null;
  result: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface JobRepo {
  /** Inserts a job; a job with the same id already present is left as it is (dedupe). */
  insert(job: JobRecord): Promise<boolean>;
  get(id: string): Promise<JobRecord | undefined>;
  /**
   * Atomically takes up to `limit` due jobs of a queue: waiting jobs whose run_at has come and
   * active jobs whose lease expired (their worker died). Each gets a new lease token and one
   * more attempt.
   */
  claim(queue: string, now: number, leaseUntil: number, leaseToken: string, limit: number): Promise<JobRecord[]>;
  /** Extends the lease; false when the lease was lost (reclaimed by another worker). */
  renew(id: string, leaseToken: string, leaseUntil: number, now: number): Promise<boolean>;
  complete(id: string, leaseToken: string, result: string | null, now: number): Promise<boolean>;
  /** Puts the job back to wait until `retryAt`, or fails it for good when `retryAt` is null. */
  fail(id: string, leaseToken: string, error: string, retryAt: number | null, now: number): Promise<boolean>;
  /** Puts the job back to wait until `runAt` without counting the attempt it was claimed for. */
  postpone(id: string, leaseToken: string, runAt: number, now: number): Promise<boolean>;
  /** The earliest run_at of a waiting job, to sleep exactly until then. */
  nextDue(queue: string): Promise<number | undefined>;
  countByState(queue: string): Promise<Record<JobState, number>>;
  /** Waiting jobs not due before `now` (delayed, or backing off before a retry). */
  countDelayed(queue: string, now: number): Promise<number>;
  /** Deletes completed and failed jobs last changed before `before`; returns how many. */
  purgeFinished(before: number): Promise<number>;
}

export interface OutboxEntry {
  id: string;
  queue: string;
  kind: string;
  payload: string;
  options: string;
  createdAt: number;
}

export interface OutboxRepo {
  insert(entry: OutboxEntry): Promise<void>;
  /** Oldest entries first. */
  list(createdBefore: number, limit: number): Promise<OutboxEntry[]>;
  delete(id: string): Promise<void>;
}

export interface MetaRepo {
  get(key: string): Promise<string | undefined>;
  /** Sets the value only when the key is absent; returns the value now stored. */
  setIfAbsent(key: string, value: string): Promise<string>;
  /** Sets the value, replacing any. */
  set(key: string, value: string): Promise<void>;
}

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
}

export interface Transaction extends Repos {
  /** Runs `hook` after the transaction commits (never if it rolls back). */
  afterCommit(hook: () => void | Promise<void>): void;
  /** Runs `work` in this same transaction (so code given a store or a transaction can nest). */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
}

export interface Store extends Repos {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `work` in one transaction; code inside it nests through `tx.transaction`, never this again. */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Cheap liveness check of the database. */
  ping(): Promise<void>;
  /** The connection pool's state (PostgreSQL); undefined for a database without a pool. */
  poolStats(): { total: number; idle: number; waiting: number } | undefined;
  close(): Promise<void>;
}

