/**
 * Table shapes as Kysely sees them. Timestamps are integer milliseconds since the epoch;
 * booleans are 0/1 integers, so both dialects store and return the same values.
 */
export interface WorkspacesTable {
  id: string;
  name: string;
  plan: string;
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  workspace_id: string;
  livemode: number;
  name: string | null;
  secret_hash: string;
  last4: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
  /** JSON: each area's access level; null for an unrestricted key. */
  permissions: string | null;
  rate_limit_per_minute: number | null;
}

export interface IdempotencyKeysTable {
  workspace_id: string;
  livemode: number;
  key: string;
  request_hash: string;
  state: string;
  response_status: number | null;
  response_body: string | null;
  response_headers: string | null;
  created_at: number;
  locked_until: number;
}

export interface HeartbeatsTable {
  minute: number;
}

export interface JobsTable {
  id: string;
  queue: string;
  kind: string;
  payload: string;
  state: string;
  run_at: number;
  lease_until: number | null;
  lease_token: string | null;
  attempts: number;
  max_attempts: number;
  backoff_ms: number;
  last_error: string | null;
  result: string | null;
  created_at: number;
  updated_at: number;
}

export interface OutboxTable {
  id: string;
  queue: string;
  kind: string;
  payload: string;
  options: string;
  created_at: number;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface ContextSourcesTable {
  id: string;
  workspace_id: string;
  livemode: number;
  name: string;
  type: string;
  description: string | null;
  embedding_model: string;
  embedding_dimensions: number;
  chunk_max_tokens: number;
  chunk_overlap_tokens: number;
  config: string;
  metadata: string;
  refresh_interval_seconds: number | null;
  last_refresh_at: number | null;
  next_refresh_at: number | null;
  last_refresh_error: string | null;
  refresh_locked_until: number | null;
  created_at: number;
  updated_at: number;
}

export interface ContextDocumentsTable {
  id: string;
  source_id: string;
  workspace_id: string;
  livemode: number;
  external_id: string | null;
  title: string | null;
  content_type: string;
  text: string;
  content_hash: string;
  size_bytes: number;
  status: string;
  error_code: string | null;
  error_message: string | null;
  metadata: string;
  chunk_count: number;
  token_count: number;
  url: string | null;
  etag: string | null;
  last_modified: string | null;
  version: number;
  created_at: number;
  updated_at: number;
  indexed_at: number | null;
}

/** Columns every dialect's chunk table has (adapters add their vector and full-text columns). */
export interface ContextChunksTable {
  id: string;
  source_id: string;
  document_id: string;
  workspace_id: string;
  livemode: number;
  position: number;
  text: string;
  token_count: number;
  text_hash: string;
  heading: string | null;
  metadata: string;
  dimensions: number;
  created_at: number;
}

export interface AgentsTable {
  id: string;
  workspace_id: string;
  livemode: number;
  name: string;
  status: string;
  version: number;
  config: string;
  metadata: string;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface AgentVersionsTable {
  agent_id: string;
  version: number;
  config: string;
  created_at: number;
}

export interface ThreadsTable {
  id: string;
  workspace_id: string;
  livemode: number;
  created_at: number;
  updated_at: number;
}

export interface ThreadMessagesTable {
  id: string;
  thread_id: string;
  run_id: string | null;
  role: string;
  content: string;
  created_at: number;
}

export interface RunsTable {
  id: string;
  workspace_id: string;
  livemode: number;
  agent_id: string;
  agent_version: number;
  thread_id: string | null;
  status: string;
  mode: string;
  input: string;
  state: string;
  output: string | null;
  error_code: string | null;
  error_message: string | null;
  model: string | null;
  routing: string | null;
  usage: string;
  cost_usd: number;
  latency: string;
  required_action: string | null;
  cancel_requested: number;
  metadata: string;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  updated_at: number;
  api_key_id: string | null;
  parent_run_id: string | null;
  parent_span_id: string | null;
  workflow_id: string | null;
  workflow_version: number | null;
}

export interface RunEventsTable {
  run_id: string;
  seq: number;
  type: string;
  data: string;
  created_at: number;
}

export interface SpansTable {
  id: string;
  run_id: string;
  parent_id: string | null;
  kind: string;
  name: string;
  status: string;
  attributes: string;
  started_at: number;
  ended_at: number | null;
}

export interface WorkflowsTable {
  id: string;
  workspace_id: string;
  livemode: number;
  name: string;
  version: number;
  definition: string;
  metadata: string;
  next_fire_at: number | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface WorkflowVersionsTable {
  workflow_id: string;
  version: number;
  definition: string;
  created_at: number;
}

export interface WorkflowRunsTable {
  id: string;
  workspace_id: string;
  livemode: number;
  workflow_id: string;
  workflow_version: number;
  status: string;
  mode: string;
  trigger: string;
  scheduled_for: number | null;
  parent_run_id: string | null;
  parent_step_key: string | null;
  input: string;
  output: string | null;
  error_code: string | null;
  error_message: string | null;
  error_step: string | null;
  cancel_requested: number;
  lease_owner: string | null;
  lease_until: number | null;
  metadata: string;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  updated_at: number;
  api_key_id: string | null;
  usage: string;
  cost_usd: number;
  latency: string;
}

export interface WorkflowStepsTable {
  run_id: string;
  key: string;
  step_id: string;
  type: string;
  status: string;
  position: number;
  input: string | null;
  output: string | null;
  state: string;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  wake_at: number | null;
  started_at: number | null;
  completed_at: number | null;
  updated_at: number;
}

export interface WorkflowScheduleFiresTable {
  workflow_id: string;
  due_at: number;
  run_id: string;
  created_at: number;
}

export interface RollupsTable {
  workspace_id: string;
  livemode: number;
  subject: string;
  width: string;
  grouping: string;
  bucket_start: number;
  series: string;
  api_key_id: string | null;
  agent_id: string | null;
  agent_version: number | null;
  workflow_id: string | null;
  workflow_version: number | null;
  model: string | null;
  provider: string | null;
  status: string | null;
  route: string | null;
  count: number;
  errors: number;
  steps: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_usd: number;
  auto_chosen: number;
  fallbacks: number;
  sketches: string;
}

export interface RequestLogSegmentsTable {
  workspace_id: string;
  livemode: number;
  last_id: string;
  first_id: string;
  count: number;
  /** The statuses, routes and API keys of the segment's requests, as `,a,b,` (routes `\na\nb\n`). */
  statuses: string;
  routes: string;
  api_keys: string;
  /** The requests, as a JSON array of compact arrays. */
  records: string;
}

export interface EventsTable {
  id: string;
  workspace_id: string;
  livemode: number;
  type: string;
  created_at: number;
  request_id: string | null;
  object_id: string;
  related_id: string | null;
  /** The event's `data`, JSON. */
  payload: string;
}

export interface Database {
  workspaces: WorkspacesTable;
  api_keys: ApiKeysTable;
  idempotency_keys: IdempotencyKeysTable;
  heartbeats: HeartbeatsTable;
  jobs: JobsTable;
  outbox: OutboxTable;
  meta: MetaTable;
  context_sources: ContextSourcesTable;
  context_documents: ContextDocumentsTable;
  context_chunks: ContextChunksTable;
  agents: AgentsTable;
  agent_versions: AgentVersionsTable;
  threads: ThreadsTable;
  thread_messages: ThreadMessagesTable;
  runs: RunsTable;
  run_events: RunEventsTable;
  spans: SpansTable;
  workflows: WorkflowsTable;
  workflow_versions: WorkflowVersionsTable;
  workflow_runs: WorkflowRunsTable;
  workflow_steps: WorkflowStepsTable;
  workflow_run_events: RunEventsTable;
  workflow_schedule_fires: WorkflowScheduleFiresTable;
  rollups: RollupsTable;
  request_log_segments: RequestLogSegmentsTable;
  events: EventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  budgets: BudgetsTable;
  model_responses: ModelResponsesTable;
}

export interface WebhookEndpointsTable {
  id: string;
  workspace_id: string;
  livemode: number;
  url: string;
  description: string | null;
  /** JSON array of types and wildcards. */
  enabled_events: string;
  status: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: number | null;
  /** Since when every delivery has failed; null after a success. */
  failing_since: number | null;
  created_at: number;
  updated_at: number;
}

export interface WebhookDeliveriesTable {
  id: string;
  endpoint_id: string;
  workspace_id: string;
  livemode: number;
  event_id: string;
  event_type: string;
  attempt: number;
  status: string;
  response_status: number | null;
  latency_ms: number | null;
  error: string | null;
  created_at: number;
  next_attempt_at: number | null;
  /** When the first attempt of this attempt's series was due (null: its own creation, before batches). */
  series_started_at: number | null;
  /** 0 for a redelivery, which is not retried; null or 1 otherwise. */
  retried: number | null;
  /** The batch job sending this attempt, and until when its claim holds. */
  claimed_by: string | null;
  claimed_until: number | null;
}

export interface BudgetsTable {
  id: string;
  workspace_id: string;
  livemode: number;
  /** `workspace`, `api_key` or `agent`. */
  scope_type: string;
  /** The key or agent; null for a workspace budget. */
  scope_id: string | null;
  period: string;
  limit_usd: number | null;
  limit_tokens: number | null;
  /** JSON array of percentages. */
  thresholds: string;
  hard: number;
  /** The period `reported_percent` belongs to. */
  reported_period_start: number | null;
  /** The highest threshold reported in that period (100 once `budget.exceeded` was). */
  reported_percent: number;
  created_at: number;
  updated_at: number;
}

export interface ModelResponsesTable {
  id: string;
  workspace_id: string;
  livemode: number;
  /** The response object, JSON. */
  body: string;
  created_at: number;
}
