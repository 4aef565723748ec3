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

export interface Database {
  workspaces: WorkspacesTable;
  api_keys: ApiKeysTable;
  idempotency_keys: IdempotencyKeysTable;
  heartbeats: HeartbeatsTable;
  jobs: JobsTable;
  outbox: OutboxTable;
  meta: MetaTable;
}
