import { newId } from '../ids.js';
import { KairoError } from '../errors.js';
import type { ApiKey, Page, PageRequest, Scope, Store } from '../store/port.js';
import { generateSecret, hashSecret } from './api-key-secret.js';

/** A key as just created: the only time its secret is available. */
export interface CreatedApiKey {
  key: ApiKey;
  secret: string;
}

/** Creates a key for a workspace; the secret is returned once and only its hash is kept. */
export async function createApiKey(
  store: Store,
  input: { workspaceId: string; livemode: boolean; name?: string | null | undefined },
  now = Date.now(),
): Promise<CreatedApiKey> {
  const secret = generateSecret(input.livemode);
  const key = await store.apiKeys.create({
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
  return { key, secret };
}

export function listApiKeys(store: Store, scope: Scope, page: PageRequest): Promise<Page<ApiKey>> {
  return store.apiKeys.list(scope, page);
}

export async function getApiKey(store: Store, scope: Scope, id: string): Promise<ApiKey> {
  const key = await store.apiKeys.get(scope, id);
  if (!key) throw new KairoError('resource_missing', { message: `No such API key: '${id}'.`, param: 'id' });
  return key;
}

/** Revokes a key of the caller's workspace and mode; revoking twice is harmless. */
export async function revokeApiKey(store: Store, scope: Scope, id: string, now = Date.now()): Promise<ApiKey> {
  const key = await store.apiKeys.revoke(id, now, scope);
  if (!key) throw new KairoError('resource_missing', { message: `No such API key: '${id}'.`, param: 'id' });
  return key;
}
