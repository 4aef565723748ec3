import { KairoError } from '../errors.js';
import type { ApiKey, Scope, Store, Workspace } from '../store/port.js';
import { hashSecret, parseSecret } from './api-key-secret.js';

/**
 * Who is calling: resolved once per request by the auth plugin. Shared by every request made
 * with the same key (and frozen, so that no request can change what the next one sees); `key` is
 * as read when the key was loaded, so its `lastUsedAt` may be behind.
 */
export interface AuthContext {
  readonly workspace: Workspace;
  readonly key: ApiKey;
  readonly livemode: boolean;
  readonly scope: Scope;
}

/** A key seen before: its hash and everything authentication resolved from it. */
interface CachedKey {
  hash: string;
  auth: AuthContext;
  /** When the key and its workspace were read. */
  readAt: number;
}

const CACHE_SIZE = 10_000;
const TOUCH_INTERVAL_MS = 60_000;
/**
 * How long a cached key's workspace (name, plan) is used before it is read again. Revocation does
 * not wait for this: it is checked on every request.
 */
const WORKSPACE_REFRESH_MS = 1_000;

/**
 * Resolves bearer secrets to keys.
 *
 * What each request costs, and why (docs/api.md; measured in bench/api, docs/benchmarks.md):
 * the first request with a secret checks its format and checksum, hashes it (SHA-256) and reads
 * the key joined with its workspace. That result is cached by secret; later requests skip the
 * parsing and hashing and make one read: `revoked_at` of that key through the unique
 * `secret_hash` index (`ApiKeyRepo.revokedAtBySecretHash`, synchronous on SQLite). So a key
 * revoked by any process, this one, another server or `kairo keys revoke` against the same
 * database, is refused on the very next request, as before, while the join and the hashing are
 * gone from the hot path. A cache of validity alone (no read) would miss another process's
 * revocation; a "keys changed" counter in `meta` would cost the same one indexed read and would
 * have to be bumped by every path that revokes or deletes a key, so the key's own row is read
 * instead. The workspace's name and plan are read again at most every WORKSPACE_REFRESH_MS.
 */
export class Authenticator {
  private readonly cache = new Map<string, CachedKey>();
  private readonly lastTouched = new Map<string, number>();

  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  /** Synchronous when the key is cached and the store answers synchronously (SQLite). */
  authenticate(authorization: string | undefined): AuthContext | Promise<AuthContext> {
    const secret = bearerSecret(authorization);
    const cached = this.cache.get(secret);
    const now = this.now();
    if (cached !== undefined && now - cached.readAt < WORKSPACE_REFRESH_MS) {
      const revokedAt = this.store.apiKeys.revokedAtBySecretHash(cached.hash);
      return revokedAt instanceof Promise
        ? revokedAt.then((value) => this.admitCached(secret, cached, value, now))
        : this.admitCached(secret, cached, revokedAt, now);
    }
    if (cached === undefined && !parseSecret(secret)) {
      throw new KairoError('invalid_api_key', { message: 'Invalid API key: it is not a well-formed KAIRO key.' });
    }
    return this.load(secret, cached?.hash ?? hashSecret(secret), now);
  }

  private admitCached(secret: string, cached: CachedKey, revokedAt: number | null | undefined, now: number): AuthContext {
    if (revokedAt !== null) {
      this.cache.delete(secret);
      throw new KairoError(revokedAt === undefined ? 'invalid_api_key' : 'api_key_revoked');
    }
    this.touch(cached.auth.key.id, now);
    return cached.auth;
  }

  /** Reads the key and its workspace, and caches them while the key is active. */
  private async load(secret: string, hash: string, now: number): Promise<AuthContext> {
    const found = await this.store.apiKeys.findBySecretHash(hash);
    if (!found || found.key.revokedAt !== null) {
      this.cache.delete(secret);
      throw new KairoError(found ? 'api_key_revoked' : 'invalid_api_key');
    }
    const auth: AuthContext = Object.freeze({
      workspace: Object.freeze(found.workspace),
      key: Object.freeze(found.key),
      livemode: found.key.livemode,
      scope: Object.freeze({ workspaceId: found.workspace.id, livemode: found.key.livemode }),
    });
    if (this.cache.size >= CACHE_SIZE) this.cache.clear();
    this.cache.set(secret, { hash, auth, readAt: now });
    this.touch(found.key.id, now);
    return auth;
  }

  /** Records last use at most once a minute per key, off the request path. */
  private touch(keyId: string, now: number): void {
    const last = this.lastTouched.get(keyId) ?? 0;
    if (now - last < TOUCH_INTERVAL_MS) return;
    if (this.lastTouched.size >= CACHE_SIZE) this.lastTouched.clear();
    this.lastTouched.set(keyId, now);
    this.store.apiKeys.touch(keyId, now).catch(() => {
      // Last-used time is informational; a failed write must not fail the request.
    });
  }
}

/** The secret of an `Authorization: Bearer <secret>` header. */
function bearerSecret(authorization: string | undefined): string {
  if (!authorization) throw new KairoError('missing_api_key');
  // The usual spelling first, without lower-casing a copy of the scheme.
  if (authorization.startsWith('Bearer ')) {
    const secret = authorization.slice(7).trim();
    if (secret !== '') return secret;
  }
  const space = authorization.indexOf(' ');
  const scheme = space === -1 ? authorization : authorization.slice(0, space);
  const secret = space === -1 ? '' : authorization.slice(space + 1).trim();
  if (scheme.toLowerCase() !== 'bearer' || secret === '') {
    throw new KairoError('missing_api_key', { message: 'Send the API key as "Authorization: Bearer sk_...".' });
  }
  return secret;
}
