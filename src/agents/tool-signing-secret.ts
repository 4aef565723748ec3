import type { Repos, Scope, Store } from '../store/port.js';
import { generateSigningSecret } from './tools/http-tool.js';

/** The secret that signs a workspace's `http` tool calls in one mode, as the API shows it. */
export interface ToolSigningSecret {
  secret: string;
  /** When this secret was made (epoch ms); 0 for a secret made before rotation existed. */
  createdAt: number;
  /** Until when the secret it replaced still signs too (epoch ms), or null. */
  previousExpiresAt: number | null;
}

/** What the store keeps: the secret, and the one it replaced while both sign. */
interface Stored {
  secret: string;
  created_at: number;
  previous?: string;
  previous_expires_at?: number;
}

const keyOf = (scope: Scope) => `tool_signing_secret:${scope.workspaceId}:${scope.livemode ? 'live' : 'test'}`;

function parse(value: string): Stored {
  // A bare secret is how the first secrets were kept.
  if (value.startsWith('whsec_')) return { secret: value, created_at: 0 };
  return JSON.parse(value) as Stored;
}

async function stored(repos: Pick<Repos, 'meta'>, scope: Scope, now: number): Promise<Stored> {
  return parse(await repos.meta.setIfAbsent(keyOf(scope), JSON.stringify({ secret: generateSigningSecret(), created_at: now } satisfies Stored)));
}

function view(value: Stored, now: number): ToolSigningSecret {
  const overlapping = value.previous !== undefined && (value.previous_expires_at ?? 0) > now;
  return { secret: value.secret, createdAt: value.created_at, previousExpiresAt: overlapping ? value.previous_expires_at! : null };
}

/** The workspace's signing secret for this mode (made on first use). */
export async function getToolSigningSecret(store: Store, scope: Scope, now = Date.now()): Promise<ToolSigningSecret> {
  return view(await stored(store, scope, now), now);
}

/** Every secret that signs a call now: the current one, and the replaced one during its overlap. */
export async function toolSigningSecrets(store: Store, scope: Scope, now = Date.now()): Promise<string[]> {
  const value = await stored(store, scope, now);
  return value.previous !== undefined && (value.previous_expires_at ?? 0) > now ? [value.secret, value.previous] : [value.secret];
}

/**
 * Replaces the signing secret. For `overlapSeconds` the replaced secret signs every call too
 * (each call carries both signatures), so receivers can switch to the new one without missing
 * a call; with 0 it stops at once.
 */
export async function rotateToolSigningSecret(store: Store, scope: Scope, overlapSeconds: number, now = Date.now()): Promise<ToolSigningSecret> {
  return store.transaction(async (tx) => {
    const current = await stored(tx, scope, now);
    const next: Stored = { secret: generateSigningSecret(), created_at: now };
    if (overlapSeconds > 0) Object.assign(next, { previous: current.secret, previous_expires_at: now + overlapSeconds * 1000 });
    await tx.meta.set(keyOf(scope), JSON.stringify(next));
    return view(next, now);
  });
}
