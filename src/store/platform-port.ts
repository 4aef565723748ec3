/**
 * The storage port of the platform: workspaces, API keys, idempotency records, heartbeats and
 * stored settings; and the request scope and cursor pages every area's port uses.
 */
import type { Permissions } from '../platform/permissions.js';

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
  /** What a restricted key may do in each area; null for a standard key, which may do everything. */
  permissions: Permissions | null;
  /** The key's own limit, below its workspace's; null when only the workspace's applies. */
  rateLimitPerMinute: number | null;
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

export interface MetaRepo {
  get(key: string): Promise<string | undefined>;
  /** Sets the value only when the key is absent; returns the value now stored. */
  setIfAbsent(key: string, value: string): Promise<string>;
  /** Sets the value, replacing any. */
  set(key: string, value: string): Promise<void>;
}
