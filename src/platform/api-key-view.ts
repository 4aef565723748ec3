import type { ApiKey } from '../store/port.js';
import { toNullableTimestamp, toTimestamp } from '../timestamps.js';

/** An API key as the API shows it (the secret only in the response that creates it). */
export function apiKeyView(key: ApiKey, secret?: string) {
  return {
    object: 'api_key' as const,
    id: key.id,
    name: key.name,
    livemode: key.livemode,
    last4: key.last4,
    ...(secret ? { secret } : {}),
    created_at: toTimestamp(key.createdAt),
    last_used_at: toNullableTimestamp(key.lastUsedAt),
    revoked_at: toNullableTimestamp(key.revokedAt),
    status: key.revokedAt === null ? ('active' as const) : ('revoked' as const),
    type: key.permissions === null ? ('standard' as const) : ('restricted' as const),
    permissions: key.permissions,
    rate_limit_per_minute: key.rateLimitPerMinute,
  };
}
