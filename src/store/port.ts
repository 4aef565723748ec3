/**
 * The storage port. Domain code talks to these interfaces only; the SQLite and PostgreSQL
 * adapters implement them (sharing one Kysely implementation where SQL is portable).
 */

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
  /** The earliest run_at of a waiting job, to sleep exactly until then. */
  nextDue(queue: string): Promise<number | undefined>;
  countByState(queue: string): Promise<Record<JobState, number>>;
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
}

export interface Store extends Repos {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `work` in one transaction; nested calls join the outer transaction. */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Cheap liveness check of the database. */
  ping(): Promise<void>;
  /** The connection pool's state (PostgreSQL); undefined for a database without a pool. */
  poolStats(): { total: number; idle: number; waiting: number } | undefined;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Context: sources, documents and chunks.

export type SourceType = 'documents' | 'url' | 'http';

export interface ContextSource {
  id: string;
  scope: Scope;
  name: string;
  type: SourceType;
  description: string | null;
  embeddingModel: string;
  embeddingDimensions: number;
  chunkMaxTokens: number;
  chunkOverlapTokens: number;
  /** Type-specific settings (URLs to fetch, JSON endpoint and mapping). */
  config: Record<string, unknown>;
  metadata: Record<string, string>;
  refreshIntervalSeconds: number | null;
  lastRefreshAt: number | null;
  nextRefreshAt: number | null;
  lastRefreshError: string | null;
  /** A refresh in progress holds this lock until the time given, so two never run at once. */
  refreshLockedUntil: number | null;
  createdAt: number;
  updatedAt: number;
}

export type DocumentStatus = 'queued' | 'indexing' | 'indexed' | 'failed';

export interface ContextDocument {
  id: string;
  sourceId: string;
  scope: Scope;
  /** The caller's (or the URL/endpoint's) identity for the document: re-ingesting it replaces it. */
  externalId: string | null;
  title: string | null;
  contentType: string;
  /** Normalised text the chunks are cut from. */
  text: string;
  contentHash: string;
  sizeBytes: number;
  status: DocumentStatus;
  errorCode: string | null;
  errorMessage: string | null;
  metadata: Record<string, string | number | boolean>;
  chunkCount: number;
  tokenCount: number;
  /** For fetched documents: the URL and its validators for conditional GET. */
  url: string | null;
  etag: string | null;
  lastModified: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
  indexedAt: number | null;
}

export interface ContextSourceRepo {
  create(source: ContextSource): Promise<ContextSource>;
  get(scope: Scope, id: string): Promise<ContextSource | undefined>;
  /** Internal lookup without scope (job handlers carry only ids). */
  getById(id: string): Promise<ContextSource | undefined>;
  getByName(scope: Scope, name: string): Promise<ContextSource | undefined>;
  list(scope: Scope, page: PageRequest): Promise<Page<ContextSource>>;
  /** Every source of a scope (for queries over "all my sources"). */
  listAll(scope: Scope): Promise<ContextSource[]>;
  update(source: ContextSource): Promise<ContextSource>;
  delete(scope: Scope, id: string): Promise<boolean>;
  /** Takes the refresh lock if it is free (or expired); false when a refresh is already running. */
  lockRefresh(id: string, now: number, until: number): Promise<boolean>;
  /** Releases the lock and records the outcome. */
  finishRefresh(id: string, outcome: { at: number; error: string | null; nextRefreshAt: number | null }): Promise<void>;
  /** Sources with a refresh interval whose next refresh time has come (across all workspaces). */
  dueForRefresh(now: number, limit: number): Promise<ContextSource[]>;
}

export interface ContextDocumentRepo {
  /** Inserts, or replaces the document with the same id. */
  upsert(document: ContextDocument): Promise<ContextDocument>;
  get(scope: Scope, id: string): Promise<ContextDocument | undefined>;
  /** Internal lookup without scope (job handlers carry only ids). */
  getById(id: string): Promise<ContextDocument | undefined>;
  getByExternalId(sourceId: string, externalId: string): Promise<ContextDocument | undefined>;
  list(sourceId: string, page: PageRequest, filter?: { status?: DocumentStatus }): Promise<Page<ContextDocument>>;
  /** All documents of a source, without their text. */
  listAllIds(sourceId: string): Promise<Array<{ id: string; externalId: string | null; contentHash: string }>>;
  setStatus(
    id: string,
    update: { status: DocumentStatus; errorCode?: string | null; errorMessage?: string | null; chunkCount?: number; tokenCount?: number; indexedAt?: number | null; updatedAt: number },
  ): Promise<void>;
  delete(id: string): Promise<boolean>;
  countBySource(sourceId: string): Promise<{ documents: number; chunks: number; byStatus: Record<DocumentStatus, number> }>;
}

/** A chunk as written by the ingestion pipeline. */
export interface ChunkInput {
  id: string;
  sourceId: string;
  documentId: string;
  scope: Scope;
  position: number;
  text: string;
  tokenCount: number;
  /** SHA-256 of the chunk text: unchanged chunks reuse their embedding. */
  textHash: string;
  heading: string | null;
  metadata: Record<string, string | number | boolean>;
  embedding: Float32Array;
  createdAt: number;
}

export type ChunkRecord = Omit<ChunkInput, 'embedding'>;

/** A search hit: `score` is cosine similarity for vector search, a relevance score for keyword search. */
export interface ScoredChunk {
  chunkId: string;
  score: number;
}

/**
 * Chunks with their vector and full-text indexes. Dialect-specific: SQLite uses sqlite-vec and
 * FTS5; PostgreSQL uses pgvector (HNSW) when the server has it, else an exact scan, and tsvector.
 */
export interface ContextChunkRepo {
  /** Replaces every chunk of a document, indexes included (call inside a transaction). */
  replaceForDocument(documentId: string, chunks: ChunkInput[]): Promise<void>;
  deleteForDocument(documentId: string): Promise<void>;
  deleteForSource(sourceId: string): Promise<void>;
  /** Stored embeddings of a source's chunks by text hash, so unchanged chunks are not re-embedded. */
  embeddingsByHash(sourceId: string, textHashes: string[]): Promise<Map<string, Float32Array>>;
  /** Nearest chunks by cosine similarity among the given sources (all of one embedding dimension). */
  vectorSearch(query: { sourceIds: string[]; embedding: Float32Array; k: number }): Promise<ScoredChunk[]>;
  /** Full-text matches among the given sources, best first. */
  keywordSearch(query: { sourceIds: string[]; text: string; k: number }): Promise<ScoredChunk[]>;
  getMany(ids: string[]): Promise<ChunkRecord[]>;
  listForDocument(documentId: string): Promise<ChunkRecord[]>;
}

// ---------------------------------------------------------------------------------------------
// Agents, threads, runs, run events and spans.

export type AgentStatus = 'active' | 'paused' | 'archived';

export interface Agent {
  id: string;
  scope: Scope;
  name: string;
  status: AgentStatus;
  version: number;
  /** The current version's configuration (model, instructions, context, tools, settings…). */
  config: Record<string, unknown>;
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

export interface AgentVersion {
  agentId: string;
  version: number;
  config: Record<string, unknown>;
  createdAt: number;
}

export type RunStatus = 'queued' | 'running' | 'requires_action' | 'completed' | 'failed' | 'cancelled';

/** Tokens a run (or a workflow run, over its agent steps) used, by kind. */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  /** Input tokens read from the provider's prompt cache (part of input_tokens). */
  cached_input_tokens: number;
  /** Output tokens spent on reasoning (part of output_tokens). */
  reasoning_tokens: number;
  total_tokens: number;
}

export const emptyUsage = (): Usage => ({ input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0, total_tokens: 0 });

export interface Run {
  id: string;
  scope: Scope;
  agentId: string;
  agentVersion: number;
  threadId: string | null;
  status: RunStatus;
  mode: 'wait' | 'stream' | 'background';
  input: unknown;
  /** The engine's resumable state: conversation so far, pending tool calls, step count. */
  state: Record<string, unknown>;
  output: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  model: string | null;
  routing: Record<string, unknown> | null;
  usage: Usage;
  costUsd: number;
  latency: Record<string, number>;
  requiredAction: Record<string, unknown> | null;
  cancelRequested: boolean;
  metadata: Record<string, string>;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  updatedAt: number;
  /** The API key whose request started the run (or the run it is part of); null for scheduled work. */
  apiKeyId: string | null;
  /** The run that started this one: an agent run (agent tool) or a workflow run (agent step). */
  parentRunId: string | null;
  /** The span of the parent that started it: the tool call, or the workflow step. */
  parentSpanId: string | null;
  /** The workflow this run is part of, when a workflow step (directly or through agents) started it. */
  workflowId: string | null;
  workflowVersion: number | null;
}

export interface RunEvent {
  runId: string;
  seq: number;
  type: string;
  data: Record<string, unknown>;
  createdAt: number;
}

/**
 * A run's event log: every event a client can see, numbered from 1. Agent runs and workflow runs
 * each keep one, with this same contract.
 */
export interface RunEventRepo {
  /** Appends an event; a sequence number the run already has is refused. */
  appendEvent(event: RunEvent): Promise<void>;
  /** Appends several events (a burst of output deltas) in as few statements as it can. */
  appendEvents(events: RunEvent[]): Promise<void>;
  /** Events with seq > afterSeq, in order. */
  events(runId: string, afterSeq: number, limit: number): Promise<RunEvent[]>;
  /** The last event's sequence number (0 when there is none). */
  lastEventSeq(runId: string): Promise<number>;
  /** Deletes up to `limit` events of runs created before `before`; returns how many. */
  purge(before: number, limit: number): Promise<number>;
}

export type SpanKind = 'model_call' | 'tool_call' | 'retrieval' | 'queue_wait' | 'slot_wait';

/**
 * A timed part of a run's trace. The run itself (agent or workflow run) is the trace's root, so
 * `parentId` null means a child of the run. Workflow steps are read from their stored state.
 */
export interface Span {
  id: string;
  /** The run of either kind (`run_…` or `wfrun_…`) whose trace this is. */
  runId: string;
  parentId: string | null;
  kind: SpanKind;
  name: string;
  status: 'running' | 'ok' | 'error';
  attributes: Record<string, unknown>;
  startedAt: number;
  endedAt: number | null;
}

export interface ThreadMessage {
  id: string;
  threadId: string;
  runId: string | null;
  role: 'user' | 'assistant' | 'tool';
  content: unknown;
  createdAt: number;
}

export interface AgentRepo {
  create(agent: Agent): Promise<Agent>;
  get(scope: Scope, id: string): Promise<Agent | undefined>;
  list(scope: Scope, page: PageRequest, filter?: { status?: AgentStatus }): Promise<Page<Agent>>;
  /** Saves a changed agent; with a new version, records the version too. */
  update(agent: Agent, newVersion: boolean): Promise<Agent>;
  delete(scope: Scope, id: string, at: number): Promise<boolean>;
  versions(agentId: string, page: PageRequest): Promise<Page<AgentVersion>>;
  getVersion(agentId: string, version: number): Promise<AgentVersion | undefined>;
}

/** Which runs a list holds (every field narrows it). */
export interface RunFilter {
  agentId?: string;
  workflowId?: string;
  apiKeyId?: string;
  status?: RunStatus;
  model?: string;
  /** Created in [createdFrom, createdTo). */
  createdFrom?: number;
  createdTo?: number;
  /** Finished runs that took at least this long from creation to completion. */
  minLatencyMs?: number;
  minCostUsd?: number;
}

export interface RunRepo {
  create(run: Run): Promise<Run>;
  /** Inserts many finished runs at once (imports, benchmarks); one statement per batch. */
  createMany(runs: Run[]): Promise<void>;
  get(scope: Scope, id: string): Promise<Run | undefined>;
  getById(id: string): Promise<Run | undefined>;
  list(scope: Scope, filter: RunFilter, page: PageRequest): Promise<Page<Run>>;
  /** The runs another run started (agent tools, agent steps), oldest first. */
  children(parentRunId: string): Promise<Run[]>;
  /** Saves the run; with `expectStatus`, only if its status is still that (false otherwise). */
  save(run: Run, expectStatus?: RunStatus[]): Promise<boolean>;
  requestCancel(id: string, at: number): Promise<void>;
  /** Records that the run's engine is alive (runs executing in a request touch it every few seconds). */
  touch(id: string, at: number): Promise<void>;
  /** Wait and stream runs, queued or running, not touched since `before`: their process died. */
  listAbandoned(before: number, limit: number): Promise<Run[]>;
}

/** Spans of both kinds of run. */
export interface SpanRepo {
  /** Inserts or replaces a span (a running span is saved again when it ends). */
  save(span: Span): Promise<void>;
  saveMany(spans: Span[]): Promise<void>;
  /** A run's spans, by start time. */
  forRun(runId: string): Promise<Span[]>;
  /** Deletes up to `limit` spans that started before `before`; returns how many. */
  purge(before: number, limit: number): Promise<number>;
}

export interface ThreadRepo {
  create(thread: { id: string; scope: Scope; createdAt: number }): Promise<void>;
  exists(scope: Scope, id: string): Promise<boolean>;
  addMessages(messages: ThreadMessage[]): Promise<void>;
  messages(threadId: string, page: PageRequest): Promise<Page<ThreadMessage>>;
  /** Every message of a thread, oldest first (the model's memory). */
  history(threadId: string): Promise<ThreadMessage[]>;
}

// ---------------------------------------------------------------------------------------------
// Workflows, workflow runs, per-step state, schedule fires.

export interface Workflow {
  id: string;
  scope: Scope;
  name: string;
  version: number;
  /** The current version's validated definition (src/workflows/definition.ts). */
  definition: Record<string, unknown>;
  metadata: Record<string, string>;
  /** The schedule's next due time, null without a schedule. */
  nextFireAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface WorkflowVersion {
  workflowId: string;
  version: number;
  definition: Record<string, unknown>;
  createdAt: number;
}

export type WorkflowRunStatus = 'queued' | 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';
export const ACTIVE_WORKFLOW_RUN_STATUSES: WorkflowRunStatus[] = ['queued', 'running', 'waiting'];

export interface WorkflowRun {
  id: string;
  scope: Scope;
  workflowId: string;
  workflowVersion: number;
  status: WorkflowRunStatus;
  mode: 'wait' | 'stream' | 'background';
  trigger: 'api' | 'schedule' | 'workflow';
  /** The due time a scheduled run was fired for. */
  scheduledFor: number | null;
  /** For a run started by a `workflow` step: the calling run and step. */
  parentRunId: string | null;
  parentStepKey: string | null;
  input: unknown;
  output: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  /** The key of the step that failed the run. */
  errorStep: string | null;
  cancelRequested: boolean;
  metadata: Record<string, string>;
  createdAt: number;
  startedAt: number | null;
  completedAt: number | null;
  updatedAt: number;
  /** The API key whose request started the run; null for scheduled runs. */
  apiKeyId: string | null;
  /** Tokens and cost of the agent runs and called workflows of its steps. */
  usage: Usage;
  costUsd: number;
  /** queue_ms, slot_wait_ms, total_ms once known. */
  latency: Record<string, number>;
}

export type WorkflowStepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'waiting';

/** One step's stored state in one run; a step inside a `map` has one per item (`each[2].fetch`). */
export interface WorkflowStepState {
  runId: string;
  /** Unique in the run: the step id, prefixed by the map iterations it is in. */
  key: string;
  stepId: string;
  type: string;
  status: WorkflowStepStatus;
  /** Where the step is declared, depth first: orders the steps of a run for display. */
  position: number;
  input: unknown;
  output: unknown;
  /** The engine's own notes: the branch taken, a map's items, a called run's id. */
  state: Record<string, unknown>;
  errorCode: string | null;
  errorMessage: string | null;
  attempts: number;
  /** When a waiting step (delay, approval timeout, retry backoff) is due. */
  wakeAt: number | null;
  startedAt: number | null;
  completedAt: number | null;
  updatedAt: number;
}

export interface WorkflowRepo {
  /** Inserts the workflow and its first version. */
  create(workflow: Workflow): Promise<Workflow>;
  get(scope: Scope, id: string): Promise<Workflow | undefined>;
  getById(id: string): Promise<Workflow | undefined>;
  list(scope: Scope, page: PageRequest): Promise<Page<Workflow>>;
  /** Saves a new version (the workflow row and a version row). */
  replace(workflow: Workflow): Promise<void>;
  delete(scope: Scope, id: string, at: number): Promise<boolean>;
  versions(workflowId: string, page: PageRequest): Promise<Page<WorkflowVersion>>;
  getVersion(workflowId: string, version: number): Promise<WorkflowVersion | undefined>;
  /** Workflows whose schedule is due at `now` or earlier. */
  dueSchedules(now: number, limit: number): Promise<Workflow[]>;
  /** Moves a schedule on from `expected` to `next`; false when another process already did. */
  advanceSchedule(id: string, expected: number, next: number | null): Promise<boolean>;
}

export interface WorkflowRunFilter {
  workflowId?: string;
  status?: WorkflowRunStatus;
  trigger?: WorkflowRun['trigger'];
  apiKeyId?: string;
  /** Created in [createdFrom, createdTo). */
  createdFrom?: number;
  createdTo?: number;
  minLatencyMs?: number;
  minCostUsd?: number;
}

export interface WorkflowRunRepo {
  create(run: WorkflowRun): Promise<WorkflowRun>;
  get(scope: Scope, id: string): Promise<WorkflowRun | undefined>;
  getById(id: string): Promise<WorkflowRun | undefined>;
  list(scope: Scope, filter: WorkflowRunFilter, page: PageRequest): Promise<Page<WorkflowRun>>;
  /** The workflow runs a run's `workflow` steps started, oldest first. */
  children(parentRunId: string): Promise<WorkflowRun[]>;
  /** Saves the run (not its lease); with `expectStatus`, only if its status is still one of those. */
  save(run: WorkflowRun, expectStatus?: WorkflowRunStatus[]): Promise<boolean>;
  requestCancel(id: string, at: number): Promise<void>;
  countActive(workflowId: string): Promise<number>;
  /**
   * Takes the run's execution lease for `owner` until `until`, if it is free, expired (before
   * `now`) or already the owner's. One engine advances a run at a time.
   */
  claim(id: string, owner: string, until: number, now: number): Promise<boolean>;
  /** Extends the owner's lease; undefined when it was lost, else whether a cancel was asked for. */
  renew(id: string, owner: string, until: number): Promise<{ cancelRequested: boolean } | undefined>;
  release(id: string, owner: string): Promise<void>;
  /** When the lease of a claimed run ends (null when free). */
  leaseUntil(id: string): Promise<number | null>;
  steps(runId: string): Promise<WorkflowStepState[]>;
  /** Inserts or replaces a step's state. */
  saveStep(step: WorkflowStepState): Promise<void>;
  /** Records that a schedule fired for `dueAt`; false when that due time already fired. */
  recordFire(workflowId: string, dueAt: number, runId: string, at: number): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------
// Analytics: rollups and the request log.

/** What a rollup row counts. */
export type RollupSubject = 'agent_run' | 'model_call' | 'workflow_run' | 'request';

/** Minute rows are written with each run and request; hour and day rows are derived from them. */
export type RollupWidth = 'minute' | 'hour' | 'day';

/** The dimensions a series is keyed by; null where the subject has none or the grouping drops it. */
export interface RollupDims {
  apiKeyId: string | null;
  agentId: string | null;
  agentVersion: number | null;
  workflowId: string | null;
  workflowVersion: number | null;
  model: string | null;
  provider: string | null;
  /** A run's final status, a model call's `ok`/`error`, a request's HTTP status code. */
  status: string | null;
  /** A request's method and route template: `POST /v1/agents/{id}/runs`. */
  route: string | null;
}

export type RollupDim = keyof RollupDims;

/** Additive measures of a bucket, and latency sketches as bins (`<metric>:<bin>` → count). */
export interface RollupMetrics {
  count: number;
  errors: number;
  steps: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costUsd: number;
  autoChosen: number;
  fallbacks: number;
  sketches: Record<string, number>;
}

export type RollupSums = Omit<RollupMetrics, 'sketches'>;

/** One bucket of one series. */
export interface RollupRow {
  scope: Scope;
  subject: RollupSubject;
  width: RollupWidth;
  /** '*' keeps every dimension; a derived row may keep one (`model`, …) or none (''). */
  grouping: string;
  bucketStart: number;
  dims: RollupDims;
  metrics: RollupMetrics;
}

/** Which rows a read covers. */
export interface RollupSelection {
  scope: Scope;
  subjects: RollupSubject[];
  width: RollupWidth;
  grouping: string;
  /** Buckets starting in [from, to). */
  from: number;
  to: number;
  /** Only rows whose dimension equals the value. */
  filters: Partial<RollupDims>;
}

export interface RollupRepo {
  /**
   * Adds each row to its bucket, creating it: measures are summed and sketch bins merged, in
   * one statement per batch. Rows of one call must be distinct series.
   */
  add(rows: RollupRow[]): Promise<void>;
  /** Additive measures per bucket, subject and the dimensions in `groupBy`, summed by the database. */
  sums(selection: RollupSelection, groupBy: RollupDim[]): Promise<Array<{ subject: RollupSubject; bucketStart: number; dims: Partial<RollupDims>; sums: RollupSums }>>;
  /** The rows themselves (with their sketches, which only the caller can merge). */
  rows(selection: RollupSelection): Promise<RollupRow[]>;
  /** Every row of a width (and grouping) with a bucket in [from, to), across workspaces (for deriving coarser rows). */
  rowsBetween(width: RollupWidth, from: number, to: number, grouping: string): Promise<RollupRow[]>;
  /** Replaces the rows of a width in [from, to) across workspaces with `rows` (re-deriving is idempotent). */
  replaceBetween(width: RollupWidth, from: number, to: number, rows: RollupRow[]): Promise<void>;
  /** The earliest minute bucket on record. */
  firstMinute(): Promise<number | undefined>;
  /** Deletes up to `limit` rows of a width with buckets before `before`; returns how many. */
  purge(width: RollupWidth, before: number, limit: number): Promise<number>;
}

/** One authenticated API request, as the request log keeps it: never bodies or secrets. */
export interface RequestRecord {
  /** The request id (`req_…`), also its X-Request-Id. */
  id: string;
  scope: Scope;
  createdAt: number;
  apiKeyId: string;
  method: string;
  /** The route template, `/v1/agents/{id}/runs`. */
  route: string;
  /** The path without its query string. */
  path: string;
  status: number;
  latencyMs: number;
  errorCode: string | null;
  idempotencyKey: string | null;
  /** The agent or workflow run the request created. */
  runId: string | null;
}

export interface RequestLogFilter {
  status?: number;
  route?: string;
  method?: string;
  apiKeyId?: string;
  /** Requests made in [from, to). */
  from?: number;
  to?: number;
}

export interface RequestLogRepo {
  insert(records: RequestRecord[]): Promise<void>;
  get(scope: Scope, id: string): Promise<RequestRecord | undefined>;
  list(scope: Scope, filter: RequestLogFilter, page: PageRequest): Promise<Page<RequestRecord>>;
  /** Deletes up to `limit` records of a scope made before `before`; returns how many. */
  purge(scope: Scope, before: number, limit: number): Promise<number>;
}
