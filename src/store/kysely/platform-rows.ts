import type { Database } from '../schema.js';
import { parsePermissions } from '../../platform/permissions.js';
import type { ApiKey, IdempotencyRecord, PlanName, Workspace } from '../port.js';

type WorkspaceRow = Database['workspaces'];
type KeyRow = Database['api_keys'];

export const toWorkspace = (row: WorkspaceRow): Workspace => ({
  id: row.id,
  name: row.name,
  plan: row.plan as PlanName,
  createdAt: Number(row.created_at),
});

export const toApiKey = (row: KeyRow): ApiKey => ({
  id: row.id,
  workspaceId: row.workspace_id,
  livemode: Number(row.livemode) === 1,
  name: row.name,
  secretHash: row.secret_hash,
  last4: row.last4,
  createdAt: Number(row.created_at),
  revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  permissions: parsePermissions(row.permissions),
  rateLimitPerMinute: row.rate_limit_per_minute === null ? null : Number(row.rate_limit_per_minute),
});

export const toIdempotency = (row: Database['idempotency_keys']): IdempotencyRecord => ({
  scope: { workspaceId: row.workspace_id, livemode: Number(row.livemode) === 1 },
  key: row.key,
  requestHash: row.request_hash,
  state: row.state as IdempotencyRecord['state'],
  responseStatus: row.response_status === null ? null : Number(row.response_status),
  responseBody: row.response_body,
  responseHeaders: row.response_headers === null ? null : (JSON.parse(row.response_headers) as Record<string, string>),
  createdAt: Number(row.created_at),
  lockedUntil: Number(row.locked_until),
});
