import { newId } from '../ids.js';
import { KairoError } from '../errors.js';
import type { ApiKey, Page, PageRequest, Scope, Store } from '../store/port.js';
import { recordEvents } from '../events/events.js';
import { generateSecret, hashSecret } from './api-key-secret.js';
import { apiKeyView } from './api-key-view.js';

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
  input: { workspaceId: string; livemode: boolean; name?: string | null | undefined; requestId?: string | null },
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
    });
    await recordEvents(tx, scope, [{ type: 'api_key.created', object: apiKeyView(key), requestId: input.requestId }], now);
    return { key, secret };
  });
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
