import { ApiError } from '../errors.js';
import type { ApiKey, Scope, Store, Workspace } from '../store/port.js';
import { hashSecret, parseSecret } from './api-key-secret.js';

/** Who is calling: resolved once per request by the auth plugin. */
export interface AuthContext {
  workspace: Workspace;
  key: ApiKey;
  livemode: boolean;
  scope: Scope;
}

const HASH_CACHE_SIZE = 10_000;
const TOUCH_INTERVAL_MS = 60_000;

/**
 * Resolves bearer secrets to keys. The key row is read on every request, so a revocation by any
 * process (API or CLI) takes effect at once; only the secret → hash computation is cached.
 */
export class Authenticator {
  private readonly hashes = new Map<string, string>();
  private readonly lastTouched = new Map<string, number>();

  constructor(private readonly store: Store, private readonly now: () => number = Date.now) {}

  async authenticate(authorization: string | undefined): Promise<AuthContext> {
    if (!authorization) throw new ApiError('missing_api_key');
    const space = authorization.indexOf(' ');
    const scheme = space === -1 ? authorization : authorization.slice(0, space);
    const secret = space === -1 ? '' : authorization.slice(space + 1).trim();
    if (scheme.toLowerCase() !== 'bearer' || secret === '') {
      throw new ApiError('missing_api_key', { message: 'Send the API key as "Authorization: Bearer sk_...".' });
    }
    if (!parseSecret(secret)) {
      throw new ApiError('invalid_api_key', { message: 'Invalid API key: it is not a well-formed KAIRO key.' });
    }
    const found = await this.store.apiKeys.findBySecretHash(this.hash(secret));
    if (!found) throw new ApiError('invalid_api_key');
    if (found.key.revokedAt !== null) throw new ApiError('api_key_revoked');
    this.touch(found.key.id);
    return {
      workspace: found.workspace,
      key: found.key,
      livemode: found.key.livemode,
      scope: { workspaceId: found.workspace.id, livemode: found.key.livemode },
    };
  }

  private hash(secret: string): string {
    let hash = this.hashes.get(secret);
    if (hash === undefined) {
      if (this.hashes.size >= HASH_CACHE_SIZE) this.hashes.clear();
      hash = hashSecret(secret);
      this.hashes.set(secret, hash);
    }
    return hash;
  }

  /** Records last use at most once a minute per key, off the request path. */
  private touch(keyId: string): void {
    const now = this.now();
    const last = this.lastTouched.get(keyId) ?? 0;
    if (now - last < TOUCH_INTERVAL_MS) return;
    if (this.lastTouched.size >= HASH_CACHE_SIZE) this.lastTouched.clear();
    this.lastTouched.set(keyId, now);
    this.store.apiKeys.touch(keyId, now).catch(() => {
      // Last-used time is informational; a failed write must not fail the request.
    });
  }
}
