import { newId } from '../ids.js';
import { KairoError } from '../errors.js';
import type { ApiKey, Page, PageRequest, PlanName, Scope, Store } from '../store/port.js';
import { recordEvents } from '../events/events.js';
import { generateSecret, hashSecret } from './api-key-secret.js';
import { apiKeyView } from './api-key-view.js';
import type { AuthContext } from './authenticate.js';
import { completePermissions, withinPermissions, type AccessLevel, type PermissionArea, type Permissions } from './permissions.js';
import { plans } from './plans.js';

/** A key as just created: the only time its secret is available. */
export interface CreatedApiKey {
  key: ApiKey;
  secret: string;
}

/**
 * Creates a key for a workspace, with its `api_key.created` event; the secret is returned once
 * and only its hash is kept. `requestId`: the API request that asked for it, if one did.
 */
export async function createApiKey(
  store: Store,
  input: {
    workspaceId: string;
    livemode: boolean;
    name?: string | null | undefined;
    /** Null or absent: a standard key, which may do everything. */
    permissions?: Permissions | null | undefined;
    rateLimitPerMinute?: number | null | undefined;
    requestId?: string | null;
  },
  now = Date.now(),
): Promise<CreatedApiKey> {
  const secret = generateSecret(input.livemode);
  const scope = { workspaceId: input.workspaceId, livemode: input.livemode };
  return store.transaction(async (tx) => {
    const key = await tx.apiKeys.create({
      id: newId('key'),
      workspaceId: input.workspaceId,
      livemode: input.livemode,
      name: input.name ?? null,
      secretHash: hashSecret(secret),
      last4: secret.slice(-4),
      createdAt: now,
      revokedAt: null,
      lastUsedAt: null,
      permissions: input.permissions ?? null,
      rateLimitPerMinute: input.rateLimitPerMinute ?? null,
    });
    await recordEvents(tx, scope, [{ type: 'api_key.created', object: apiKeyView(key), requestId: input.requestId }], now);
    return { key, secret };
  });
}

/** What a caller asks a new key to be allowed. */
export interface NewKeyRestrictions {
  /** Null or absent: a standard key. Areas not named get `none`. */
  permissions?: Partial<Record<PermissionArea, AccessLevel>> | null | undefined;
  rateLimitPerMinute?: number | null | undefined;
}

/**
 * Creates a key through the API on behalf of `caller`: its workspace and mode, never more
 * permission in any area than the caller's own key has, nor a looser rate limit than the
 * caller's (403 `permission_denied`), and a rate limit within the plan's (400).
 */
export function createApiKeyFor(
  store: Store,
  caller: AuthContext,
  input: NewKeyRestrictions & { name?: string | undefined },
  requestId: string,
): Promise<CreatedApiKey> {
  const permissions = input.permissions == null ? null : completePermissions(input.permissions);
  const rateLimitPerMinute = input.rateLimitPerMinute ?? null;
  checkKeyRateLimit(caller.workspace.plan, rateLimitPerMinute);
  if (!withinPermissions(permissions, caller.key.permissions)) {
    throw new KairoError('permission_denied', {
      message: 'This API key cannot create a key with more permission than its own: give the new key at most the level this key has in each area.',
    });
  }
  const callerLimit = caller.key.rateLimitPerMinute;
  if (callerLimit !== null && (rateLimitPerMinute === null || rateLimitPerMinute > callerLimit)) {
    throw new KairoError('permission_denied', {
      message: `This API key is limited to ${callerLimit} requests per minute: a key it creates needs a rate_limit_per_minute of at most ${callerLimit}.`,
    });
  }
  return createApiKey(store, { workspaceId: caller.scope.workspaceId, livemode: caller.scope.livemode, name: input.name, permissions, rateLimitPerMinute, requestId });
}

/** Refuses a key rate limit above the plan's requests per minute (400 naming `rate_limit_per_minute`). */
export function checkKeyRateLimit(plan: PlanName, rateLimitPerMinute: number | null): void {
  const planLimit = plans[plan].requestsPerMinute;
  if (rateLimitPerMinute !== null && planLimit !== null && rateLimitPerMinute > planLimit) {
    throw new KairoError('parameter_invalid', {
      message: `rate_limit_per_minute must be at most ${planLimit}, the ${plan} plan's requests per minute.`,
      param: 'rate_limit_per_minute',
    });
  }
}

export function listApiKeys(store: Store, scope: Scope, page: PageRequest): Promise<Page<ApiKey>> {
  return store.apiKeys.list(scope, page);
}

export async function getApiKey(store: Store, scope: Scope, id: string): Promise<ApiKey> {
  const key = await store.apiKeys.get(scope, id);
  if (!key) throw new KairoError('resource_missing', { message: `No such API key: '${id}'.`, param: 'id' });
  return key;
}

/** Revokes a key of the caller's workspace and mode, with its `api_key.revoked` event; revoking twice is harmless (and reported once). */
export async function revokeApiKey(store: Store, scope: Scope, id: string, requestId: string | null = null, now = Date.now()): Promise<ApiKey> {
  return store.transaction(async (tx) => {
    const key = await tx.apiKeys.revoke(id, now, scope);
    if (!key) throw new KairoError('resource_missing', { message: `No such API key: '${id}'.`, param: 'id' });
    if (key.revokedAt === now) {
      await recordEvents(tx, scope, [{ type: 'api_key.revoked', object: apiKeyView(key), previousAttributes: { status: 'active', revoked_at: null }, requestId }], now);
    }
    return key;
  });
}
