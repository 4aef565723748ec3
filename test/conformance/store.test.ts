/**
 * Storage conformance: every operation of the store port (src/store/port.ts), run against every
 * backend in `storeBackends` (SQLite in a temp dir, PostgreSQL in a fresh schema).
 */
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { completePermissions } from '../../src/platform/permissions.js';
import type {
  ApiKey, IdempotencyRecord, JobRecord, OutboxEntry, PageRequest, Scope, Store, Transaction, Workspace,
} from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { dropPostgresSchema, openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { postgresUrl, storeBackends, tempDir, uniqueName, type StoreHandle } from '../support/services.js';

type BackendName = (typeof storeBackends)[number]['name'];

/**
 * One database location that can be opened more than once (two instances at a time, or again
 * after a close): a directory for SQLite, a schema for PostgreSQL.
 */
function sharedLocation(name: BackendName): { open(): Promise<Store>; dispose(): Promise<void> } {
  if (name === 'sqlite') {
    const dir = tempDir();
    return {
      open: () => openSqliteStore({ dataDir: dir }),
      async dispose() {
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = uniqueName('kairo_test');
  return {
    open: () => openPostgresStore({ url: postgresUrl, schema, poolSize: 5 }),
    dispose: () => dropPostgresSchema(postgresUrl, schema),
  };
}

function workspace(overrides: Partial<Workspace> = {}): Workspace {
  return { id: newId('ws'), name: 'Acme', plan: 'free', createdAt: Date.now(), ...overrides };
}

function apiKey(ws: Workspace, livemode: boolean, overrides: Partial<ApiKey> = {}): ApiKey {
  const secretHash = randomBytes(32).toString('hex');
  return {
    id: newId('key'),
    workspaceId: ws.id,
    livemode,
    name: null,
    secretHash,
    last4: secretHash.slice(-4),
    createdAt: Date.now(),
    revokedAt: null,
    lastUsedAt: null,
    permissions: null,
    rateLimitPerMinute: null,
    ...overrides,
  };
}

function job(queue: string, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id: newId('job'),
    queue,
    kind: 'test.kind',
    payload: '{"n":1}',
    state: 'waiting',
    runAt: 0,
    leaseUntil: null,
    leaseToken: null,
    attempts: 0,
    maxAttempts: 3,
    backoffMs: 1000,
    lastError: null,
    result: null,
    createdAt: 0,
    updatedAt: 0,
    ...overrides,
  };
}

const ids = (items: Array<{ id: string }>): string[] => items.map((item) => item.id);

describe.each(storeBackends)('store conformance: $name', (backend) => {
  let handle: StoreHandle;
  let store: Store;

  beforeAll(async () => {
    handle = await backend.open();
    store = handle.store;
  });

  afterAll(async () => {
    await handle?.dispose();
  });

  /** Runs `body` on a store of its own, for operations that read across all workspaces. */
  async function withFreshStore(body: (fresh: Store) => Promise<void>): Promise<void> {
    const own = await backend.open();
    try {
      await body(own.store);
    } finally {
      await own.dispose();
    }
  }

  it('reports its dialect and answers ping', async () => {
    expect(store.dialect).toBe(backend.name);
    await expect(store.ping()).resolves.toBeUndefined();
  });

  describe('workspaces', () => {
    it('creates and gets a workspace with the same values', async () => {
      const ws = workspace({ name: 'Pro team', plan: 'pro' });
      await expect(store.workspaces.create(ws)).resolves.toEqual(ws);
      await expect(store.workspaces.get(ws.id)).resolves.toEqual(ws);
      await expect(store.workspaces.get(newId('ws'))).resolves.toBeUndefined();
    });

    it('rejects a second workspace with the same id', async () => {
      const ws = workspace();
      await store.workspaces.create(ws);
      await expect(store.workspaces.create({ ...ws, name: 'Other' })).rejects.toThrow();
      await expect(store.workspaces.get(ws.id)).resolves.toEqual(ws);
    });

    it('lists newest first with after/before cursors and exact has_more', async () => {
      await withFreshStore(async (fresh) => {
        const created: Workspace[] = [];
        for (let i = 0; i < 5; i++) created.push(await fresh.workspaces.create(workspace({ name: `ws ${i}` })));
        const [w0, w1, w2, w3, w4] = created.map((w) => w.id) as [string, string, string, string, string];
        const list = async (page: PageRequest) => {
          const result = await fresh.workspaces.list(page);
          return { ids: ids(result.data), hasMore: result.hasMore };
        };

        // The full page: objects come back whole.
        const all = await fresh.workspaces.list({ limit: 10 });
        expect(all).toEqual({ data: [...created].reverse(), hasMore: false });

        // Limits at the boundary.
        await expect(list({ limit: 5 })).resolves.toEqual({ ids: [w4, w3, w2, w1, w0], hasMore: false });
        await expect(list({ limit: 4 })).resolves.toEqual({ ids: [w4, w3, w2, w1], hasMore: true });
        await expect(list({ limit: 1 })).resolves.toEqual({ ids: [w4], hasMore: true });

        // `after` walks to older objects.
        await expect(list({ limit: 2 })).resolves.toEqual({ ids: [w4, w3], hasMore: true });
        await expect(list({ limit: 2, after: w3 })).resolves.toEqual({ ids: [w2, w1], hasMore: true });
        await expect(list({ limit: 2, after: w2 })).resolves.toEqual({ ids: [w1, w0], hasMore: false });
        await expect(list({ limit: 2, after: w1 })).resolves.toEqual({ ids: [w0], hasMore: false });
        await expect(list({ limit: 2, after: w0 })).resolves.toEqual({ ids: [], hasMore: false });

        // `before` walks to newer objects, still newest first within the page.
        await expect(list({ limit: 2, before: w0 })).resolves.toEqual({ ids: [w2, w1], hasMore: true });
        await expect(list({ limit: 2, before: w1 })).resolves.toEqual({ ids: [w3, w2], hasMore: true });
        await expect(list({ limit: 2, before: w2 })).resolves.toEqual({ ids: [w4, w3], hasMore: false });
        await expect(list({ limit: 2, before: w3 })).resolves.toEqual({ ids: [w4], hasMore: false });
        await expect(list({ limit: 2, before: w4 })).resolves.toEqual({ ids: [], hasMore: false });
        await expect(list({ limit: 10, before: w0 })).resolves.toEqual({ ids: [w4, w3, w2, w1], hasMore: false });

        // A cursor that is not a stored id still splits the sequence where it sorts.
        const missing = newId('ws');
        await expect(list({ limit: 3, before: missing })).resolves.toEqual({ ids: [], hasMore: false });
        await expect(list({ limit: 3, after: missing })).resolves.toEqual({ ids: [w4, w3, w2], hasMore: true });
      });
    });

    it('lists an empty table as an empty page', async () => {
      await withFreshStore(async (fresh) => {
        await expect(fresh.workspaces.list({ limit: 20 })).resolves.toEqual({ data: [], hasMore: false });
        await expect(fresh.apiKeys.listAll({ limit: 20 })).resolves.toEqual({ data: [], hasMore: false });
      });
    });
  });

  describe('api keys', () => {
    let wsA: Workspace;
    let wsB: Workspace;
    const liveA = (): Scope => ({ workspaceId: wsA.id, livemode: true });
    const testA = (): Scope => ({ workspaceId: wsA.id, livemode: false });
    const liveB = (): Scope => ({ workspaceId: wsB.id, livemode: true });

    beforeAll(async () => {
      wsA = await store.workspaces.create(workspace({ name: 'A', plan: 'pro' }));
      wsB = await store.workspaces.create(workspace({ name: 'B', plan: 'enterprise' }));
    });

    it('creates a key and finds it with its workspace by secret hash', async () => {
      const key = apiKey(wsA, true, { name: 'ci' });
      await expect(store.apiKeys.create(key)).resolves.toEqual(key);
      await expect(store.apiKeys.findBySecretHash(key.secretHash)).resolves.toEqual({ key, workspace: wsA });
      await expect(store.apiKeys.findBySecretHash(randomBytes(32).toString('hex'))).resolves.toBeUndefined();

      const testKey = apiKey(wsA, false);
      await store.apiKeys.create(testKey);
      const found = await store.apiKeys.findBySecretHash(testKey.secretHash);
      expect(found?.key.livemode).toBe(false);
      expect(found?.key).toEqual(testKey);
    });

    it('keeps a restricted key\'s permissions and rate limit', async () => {
      const permissions = completePermissions({ agents: 'write', context: 'read' });
      const key = apiKey(wsA, true, { permissions, rateLimitPerMinute: 7 });
      await store.apiKeys.create(key);
      await expect(store.apiKeys.findBySecretHash(key.secretHash)).resolves.toEqual({ key, workspace: wsA });
      await expect(store.apiKeys.get(liveA(), key.id)).resolves.toEqual(key);
    });

    it('rejects a key for a workspace that does not exist', async () => {
      const orphan = apiKey(workspace(), true);
      await expect(store.apiKeys.create(orphan)).rejects.toThrow();
      await expect(store.apiKeys.findBySecretHash(orphan.secretHash)).resolves.toBeUndefined();
    });

    it('rejects a second key with the same secret hash', async () => {
      const key = await store.apiKeys.create(apiKey(wsA, true));
      await expect(store.apiKeys.create(apiKey(wsB, true, { secretHash: key.secretHash }))).rejects.toThrow();
    });

    it('gets a key only in its own workspace and mode', async () => {
      const key = await store.apiKeys.create(apiKey(wsA, true));
      await expect(store.apiKeys.get(liveA(), key.id)).resolves.toEqual(key);
      await expect(store.apiKeys.get(testA(), key.id)).resolves.toBeUndefined();
      await expect(store.apiKeys.get(liveB(), key.id)).resolves.toBeUndefined();
      await expect(store.apiKeys.get(liveA(), newId('key'))).resolves.toBeUndefined();
    });

    it('lists keys of one workspace and mode, newest first, with cursors', async () => {
      const ws = await store.workspaces.create(workspace());
      const live: Scope = { workspaceId: ws.id, livemode: true };
      const test: Scope = { workspaceId: ws.id, livemode: false };
      const keys: ApiKey[] = [];
      for (let i = 0; i < 3; i++) {
        keys.push(await store.apiKeys.create(apiKey(ws, true, { name: `live ${i}` })));
        await store.apiKeys.create(apiKey(ws, false, { name: `test ${i}` }));
        await store.apiKeys.create(apiKey(wsB, true, { name: `other ${i}` }));
      }
      const [k0, k1, k2] = keys as [ApiKey, ApiKey, ApiKey];

      await expect(store.apiKeys.list(live, { limit: 10 })).resolves.toEqual({ data: [k2, k1, k0], hasMore: false });
      await expect(store.apiKeys.list(live, { limit: 2 })).resolves.toEqual({ data: [k2, k1], hasMore: true });
      await expect(store.apiKeys.list(live, { limit: 2, after: k1.id })).resolves.toEqual({ data: [k0], hasMore: false });
      await expect(store.apiKeys.list(live, { limit: 1, before: k0.id })).resolves.toEqual({ data: [k1], hasMore: true });
      await expect(store.apiKeys.list(live, { limit: 2, before: k0.id })).resolves.toEqual({ data: [k2, k1], hasMore: false });

      const testPage = await store.apiKeys.list(test, { limit: 10 });
      expect(testPage.data.map((k) => k.name)).toEqual(['test 2', 'test 1', 'test 0']);
      expect(testPage.data.every((k) => k.workspaceId === ws.id && !k.livemode)).toBe(true);

      const empty: Scope = { workspaceId: newId('ws'), livemode: true };
      await expect(store.apiKeys.list(empty, { limit: 10 })).resolves.toEqual({ data: [], hasMore: false });
    });

    it('lists every key of every workspace and mode', async () => {
      await withFreshStore(async (fresh) => {
        const a = await fresh.workspaces.create(workspace());
        const b = await fresh.workspaces.create(workspace());
        const created: ApiKey[] = [];
        created.push(await fresh.apiKeys.create(apiKey(a, true)));
        created.push(await fresh.apiKeys.create(apiKey(b, false)));
        created.push(await fresh.apiKeys.create(apiKey(a, false)));
        created.push(await fresh.apiKeys.create(apiKey(b, true)));
        const newestFirst = [...created].reverse();

        await expect(fresh.apiKeys.listAll({ limit: 10 })).resolves.toEqual({ data: newestFirst, hasMore: false });
        await expect(fresh.apiKeys.listAll({ limit: 4 })).resolves.toEqual({ data: newestFirst, hasMore: false });
        await expect(fresh.apiKeys.listAll({ limit: 3 })).resolves.toEqual({ data: newestFirst.slice(0, 3), hasMore: true });
        await expect(fresh.apiKeys.listAll({ limit: 3, after: newestFirst[2]!.id })).resolves.toEqual({
          data: newestFirst.slice(3),
          hasMore: false,
        });
        await expect(fresh.apiKeys.listAll({ limit: 2, before: newestFirst[2]!.id })).resolves.toEqual({
          data: newestFirst.slice(0, 2),
          hasMore: false,
        });
        await expect(fresh.apiKeys.listAll({ limit: 1, before: newestFirst[2]!.id })).resolves.toEqual({
          data: newestFirst.slice(1, 2),
          hasMore: true,
        });
      });
    });

    it('revokes a key: scoped to its owner, first revocation time wins', async () => {
      const key = await store.apiKeys.create(apiKey(wsA, true));

      // Another workspace, or the other mode of the same workspace, cannot revoke it.
      await expect(store.apiKeys.revoke(key.id, 1_000, liveB())).resolves.toBeUndefined();
      await expect(store.apiKeys.revoke(key.id, 1_000, testA())).resolves.toBeUndefined();
      await expect(store.apiKeys.get(liveA(), key.id)).resolves.toEqual(key);
      expect((await store.apiKeys.findBySecretHash(key.secretHash))?.key.revokedAt).toBeNull();

      await expect(store.apiKeys.revoke(key.id, 2_000, liveA())).resolves.toEqual({ ...key, revokedAt: 2_000 });
      await expect(store.apiKeys.revoke(key.id, 3_000, liveA())).resolves.toEqual({ ...key, revokedAt: 2_000 });
      await expect(store.apiKeys.revoke(key.id, 4_000)).resolves.toEqual({ ...key, revokedAt: 2_000 });

      // Revoked keys are still found (authentication tells "revoked" apart from "unknown").
      await expect(store.apiKeys.findBySecretHash(key.secretHash)).resolves.toEqual({
        key: { ...key, revokedAt: 2_000 },
        workspace: wsA,
      });
      await expect(store.apiKeys.get(liveA(), key.id)).resolves.toEqual({ ...key, revokedAt: 2_000 });
    });

    it('revokes without a scope (operator CLI) and answers undefined for an unknown key', async () => {
      const key = await store.apiKeys.create(apiKey(wsB, false));
      await expect(store.apiKeys.revoke(key.id, 5_000)).resolves.toEqual({ ...key, revokedAt: 5_000 });
      await expect(store.apiKeys.revoke(key.id, 6_000)).resolves.toEqual({ ...key, revokedAt: 5_000 });
      await expect(store.apiKeys.revoke(newId('key'), 5_000)).resolves.toBeUndefined();
      await expect(store.apiKeys.revoke(newId('key'), 5_000, liveA())).resolves.toBeUndefined();
    });

    it('answers a key\'s revocation by secret hash: null while active, the time once revoked, undefined when unknown', async () => {
      const key = await store.apiKeys.create(apiKey(wsA, true));
      await expect(Promise.resolve(store.apiKeys.revokedAtBySecretHash(key.secretHash))).resolves.toBeNull();
      await store.apiKeys.revoke(key.id, 9_000);
      await expect(Promise.resolve(store.apiKeys.revokedAtBySecretHash(key.secretHash))).resolves.toBe(9_000);
      await expect(Promise.resolve(store.apiKeys.revokedAtBySecretHash(randomBytes(32).toString('hex')))).resolves.toBeUndefined();
    });

    it('sees a revocation made through another store instance on the same database at once', async () => {
      // Authentication caches keys and re-checks only this per request, so a revocation by another
      // process (e.g. `kairo keys revoke`) must be visible to the very next call.
      const location = sharedLocation(backend.name);
      const server = await location.open();
      const operator = await location.open();
      try {
        const ws = await server.workspaces.create(workspace());
        const key = await server.apiKeys.create(apiKey(ws, false));
        await expect(Promise.resolve(server.apiKeys.revokedAtBySecretHash(key.secretHash))).resolves.toBeNull();
        await operator.apiKeys.revoke(key.id, 10_000);
        await expect(Promise.resolve(server.apiKeys.revokedAtBySecretHash(key.secretHash))).resolves.toBe(10_000);
      } finally {
        await server.close();
        await operator.close();
        await location.dispose();
      }
    });

    it('records last use with touch', async () => {
      const key = await store.apiKeys.create(apiKey(wsA, false));
      await store.apiKeys.touch(key.id, 7_000);
      await expect(store.apiKeys.get(testA(), key.id)).resolves.toEqual({ ...key, lastUsedAt: 7_000 });
      await store.apiKeys.touch(key.id, 8_000);
      expect((await store.apiKeys.findBySecretHash(key.secretHash))?.key.lastUsedAt).toBe(8_000);
      await expect(store.apiKeys.touch(newId('key'), 8_000)).resolves.toBeUndefined();
    });
  });

  describe('idempotency', () => {
    let scope: Scope;
    const base = Date.now();

    function record(key: string, overrides: Partial<IdempotencyRecord> = {}): IdempotencyRecord {
      return {
        scope,
        key,
        requestHash: 'hash-1',
        state: 'in_progress',
        responseStatus: null,
        responseBody: null,
        responseHeaders: null,
        createdAt: base,
        lockedUntil: base + 60_000,
        ...overrides,
      };
    }

    beforeAll(async () => {
      scope = { workspaceId: (await store.workspaces.create(workspace())).id, livemode: true };
    });

    it('claims a new key once; a second claim gets the in-progress record', async () => {
      const key = uniqueName('idem');
      await expect(store.idempotency.claim(record(key))).resolves.toEqual({ claimed: true });
      await expect(store.idempotency.claim(record(key, { createdAt: base + 1 }))).resolves.toEqual({
        claimed: false,
        existing: record(key),
      });
      // A different request body under the same key is reported, not claimed.
      const other = await store.idempotency.claim(record(key, { requestHash: 'hash-2', createdAt: base + 2 }));
      expect(other).toEqual({ claimed: false, existing: record(key) });
    });

    it('keeps keys of different workspaces and modes apart', async () => {
      const key = uniqueName('idem');
      const otherMode: Scope = { ...scope, livemode: false };
      const otherWorkspace: Scope = { workspaceId: newId('ws'), livemode: true };
      await expect(store.idempotency.claim(record(key))).resolves.toEqual({ claimed: true });
      await expect(store.idempotency.claim(record(key, { scope: otherMode }))).resolves.toEqual({ claimed: true });
      await expect(store.idempotency.claim(record(key, { scope: otherWorkspace }))).resolves.toEqual({ claimed: true });

      // Completing one scope leaves the others in progress.
      await store.idempotency.complete(otherMode, key, 200, '{}', {});
      const first = await store.idempotency.claim(record(key));
      expect(first.claimed === false && first.existing.state).toBe('in_progress');
      const second = await store.idempotency.claim(record(key, { scope: otherMode }));
      expect(second.claimed === false && second.existing.state).toBe('completed');
    });

    it('returns the completed response after complete', async () => {
      const key = uniqueName('idem');
      await store.idempotency.claim(record(key));
      const headers = { 'content-type': 'application/json', location: '/v1/agents/agent_x' };
      const body = JSON.stringify({ id: 'agent_x', name: 'Lead Qualifier' });
      await store.idempotency.complete(scope, key, 201, body, headers);

      await expect(store.idempotency.claim(record(key, { createdAt: base + 5 }))).resolves.toEqual({
        claimed: false,
        existing: { ...record(key), state: 'completed', responseStatus: 201, responseBody: body, responseHeaders: headers },
      });
      // Even once its lock time has passed, a completed record is never taken over.
      const late = await store.idempotency.claim(record(key, { createdAt: base + 120_000, lockedUntil: base + 180_000 }));
      expect(late.claimed).toBe(false);
      expect(late.claimed === false && late.existing.responseStatus).toBe(201);
    });

    it('release forgets an in-progress claim so the key can be claimed again', async () => {
      const key = uniqueName('idem');
      await store.idempotency.claim(record(key));
      await store.idempotency.release(scope, key);
      await expect(store.idempotency.claim(record(key, { requestHash: 'hash-2' }))).resolves.toEqual({ claimed: true });
      const again = await store.idempotency.claim(record(key));
      expect(again.claimed === false && again.existing.requestHash).toBe('hash-2');

      // Releasing a key nobody holds is harmless; releasing a completed key keeps its response.
      await expect(store.idempotency.release(scope, uniqueName('idem'))).resolves.toBeUndefined();
      await store.idempotency.complete(scope, key, 200, 'ok', {});
      await store.idempotency.release(scope, key);
      const completed = await store.idempotency.claim(record(key));
      expect(completed.claimed === false && completed.existing.state).toBe('completed');
    });

    it('takes over an in-progress claim whose lock expired, for the same request only', async () => {
      const key = uniqueName('idem');
      await store.idempotency.claim(record(key, { createdAt: base, lockedUntil: base + 1_000 }));

      // Lock still held.
      const held = await store.idempotency.claim(record(key, { createdAt: base + 500, lockedUntil: base + 1_500 }));
      expect(held).toEqual({ claimed: false, existing: record(key, { createdAt: base, lockedUntil: base + 1_000 }) });

      // Lock expired, but a different request: not taken over.
      const different = await store.idempotency.claim(
        record(key, { requestHash: 'hash-2', createdAt: base + 2_000, lockedUntil: base + 3_000 }),
      );
      expect(different.claimed).toBe(false);

      // Lock expired, same request: taken over, with the new lock.
      await expect(
        store.idempotency.claim(record(key, { createdAt: base + 2_000, lockedUntil: base + 62_000 })),
      ).resolves.toEqual({ claimed: true });
      const after = await store.idempotency.claim(record(key, { createdAt: base + 3_000, lockedUntil: base + 63_000 }));
      expect(after.claimed === false && after.existing.lockedUntil).toBe(base + 62_000);
    });

    it('hands a key to exactly one of many concurrent claims', async () => {
      const key = uniqueName('idem');
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.idempotency.claim(record(key, { requestHash: `hash-${i}` }))),
      );
      const winners = results.filter((r) => r.claimed);
      expect(winners).toHaveLength(1);
      const winnerHash = `hash-${results.findIndex((r) => r.claimed)}`;
      for (const r of results) {
        if (r.claimed) continue;
        expect(r.existing.state).toBe('in_progress');
        expect(r.existing.requestHash).toBe(winnerHash);
      }
    });

    it('hands an expired claim to exactly one of many concurrent takeovers', async () => {
      const key = uniqueName('idem');
      await store.idempotency.claim(record(key, { createdAt: base, lockedUntil: base + 1_000 }));
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.idempotency.claim(record(key, { createdAt: base + 5_000, lockedUntil: base + 65_000 }))),
      );
      expect(results.filter((r) => r.claimed)).toHaveLength(1);
    });

    it('purges records created before a time and returns how many', async () => {
      const oldA = uniqueName('idem');
      const oldB = uniqueName('idem');
      const fresh = uniqueName('idem');
      const day = 24 * 60 * 60 * 1000;
      await store.idempotency.claim(record(oldA, { createdAt: base - 10 * day, lockedUntil: base - 10 * day + 60_000 }));
      await store.idempotency.claim(record(oldB, { createdAt: base - 2 * day, lockedUntil: base - 2 * day + 60_000 }));
      await store.idempotency.complete(scope, oldB, 200, 'old', {});
      await store.idempotency.claim(record(fresh));

      await expect(store.idempotency.purge(base - day)).resolves.toBe(2);
      await expect(store.idempotency.purge(base - day)).resolves.toBe(0);
      await expect(store.idempotency.claim(record(oldA))).resolves.toEqual({ claimed: true });
      await expect(store.idempotency.claim(record(oldB))).resolves.toEqual({ claimed: true });
      expect((await store.idempotency.claim(record(fresh))).claimed).toBe(false);
    });
  });

  describe('heartbeats', () => {
    it('records minutes idempotently, counts them and knows the first', async () => {
      await expect(store.heartbeats.first()).resolves.toBeUndefined();
      await expect(store.heartbeats.countBetween(0, Number.MAX_SAFE_INTEGER)).resolves.toBe(0);

      const minute = Math.floor(Date.now() / 60_000);
      await store.heartbeats.record(minute);
      await store.heartbeats.record(minute);
      await store.heartbeats.record(minute + 1);
      await store.heartbeats.record(minute + 5);
      await Promise.all([store.heartbeats.record(minute + 7), store.heartbeats.record(minute + 7)]);
      await store.heartbeats.record(minute - 3);

      await expect(store.heartbeats.first()).resolves.toBe(minute - 3);
      await expect(store.heartbeats.countBetween(minute, minute + 5)).resolves.toBe(3);
      await expect(store.heartbeats.countBetween(minute + 1, minute + 4)).resolves.toBe(1);
      await expect(store.heartbeats.countBetween(minute + 2, minute + 4)).resolves.toBe(0);
      await expect(store.heartbeats.countBetween(minute - 10, minute + 10)).resolves.toBe(5);
      await expect(store.heartbeats.countBetween(minute + 5, minute + 5)).resolves.toBe(1);
    });
  });

  describe('jobs', () => {
    const now = 1_700_000_000_000;

    it('inserts a job once; a second insert with the same id changes nothing', async () => {
      const queue = uniqueName('q');
      const first = job(queue, { runAt: now, createdAt: now, updatedAt: now });
      await expect(store.jobs.insert(first)).resolves.toBe(true);
      await expect(store.jobs.insert({ ...first, payload: '{"n":2}', runAt: now + 5 })).resolves.toBe(false);
      await expect(store.jobs.get(first.id)).resolves.toEqual(first);
      await expect(store.jobs.get(newId('job'))).resolves.toBeUndefined();
    });

    it('purges finished jobs last changed before a time, and nothing else', async () => {
      const queue = uniqueName('q');
      const oldDone = job(queue, { runAt: now, state: 'completed', updatedAt: now - 10_000 });
      const oldFailed = job(queue, { runAt: now, state: 'failed', updatedAt: now - 10_000 });
      const newDone = job(queue, { runAt: now, state: 'completed', updatedAt: now });
      const oldWaiting = job(queue, { runAt: now, state: 'waiting', updatedAt: now - 10_000 });
      for (const j of [oldDone, oldFailed, newDone, oldWaiting]) expect(await store.jobs.insert(j)).toBe(true);
      expect(await store.jobs.purgeFinished(now - 1)).toBeGreaterThanOrEqual(2);
      await expect(store.jobs.get(oldDone.id)).resolves.toBeUndefined();
      await expect(store.jobs.get(oldFailed.id)).resolves.toBeUndefined();
      await expect(store.jobs.get(newDone.id)).resolves.toEqual(newDone);
      await expect(store.jobs.get(oldWaiting.id)).resolves.toEqual(oldWaiting);
    });

    it('claims due waiting jobs by run_at up to the limit, then reclaims expired leases', async () => {
      const queue = uniqueName('q');
      const a = job(queue, { runAt: now - 3_000 });
      const b = job(queue, { runAt: now - 1_000 });
      const c = job(queue, { runAt: now - 2_000 });
      const future = job(queue, { runAt: now + 60_000 });
      const done = job(queue, { runAt: now - 5_000, state: 'completed' });
      const dead = job(queue, { runAt: now - 5_000, state: 'failed' });
      const elsewhere = job(uniqueName('q'), { runAt: now - 9_000 });
      for (const j of [b, future, a, done, c, dead, elsewhere]) expect(await store.jobs.insert(j)).toBe(true);

      const lease1 = now + 30_000;
      const first = await store.jobs.claim(queue, now, lease1, 'tok-1', 2);
      expect(ids(first)).toEqual([a.id, c.id]);
      for (const [claimed, original] of [[first[0]!, a], [first[1]!, c]] as const) {
        expect(claimed).toEqual({
          ...original,
          state: 'active',
          leaseUntil: lease1,
          leaseToken: 'tok-1',
          attempts: 1,
          updatedAt: now,
        });
      }
      await expect(store.jobs.get(a.id)).resolves.toEqual(first[0]);

      // Live leases are not taken; the future job is not due yet.
      const second = await store.jobs.claim(queue, now + 1, now + 100_000, 'tok-2', 10);
      expect(ids(second)).toEqual([b.id]);
      await expect(store.jobs.claim(queue, now + 2, now + 100_000, 'tok-x', 10)).resolves.toEqual([]);

      // After lease1 expires, a and c are reclaimed (their worker died); b's lease still holds.
      const later = lease1 + 1;
      const third = await store.jobs.claim(queue, later, later + 30_000, 'tok-3', 10);
      expect(ids(third)).toEqual([a.id, c.id]);
      expect(third.map((j) => [j.attempts, j.leaseToken, j.leaseUntil])).toEqual([
        [2, 'tok-3', later + 30_000],
        [2, 'tok-3', later + 30_000],
      ]);
      await expect(store.jobs.get(b.id)).resolves.toMatchObject({ state: 'active', leaseToken: 'tok-2', attempts: 1 });
      await expect(store.jobs.get(done.id)).resolves.toEqual(done);
      await expect(store.jobs.get(dead.id)).resolves.toEqual(dead);
      await expect(store.jobs.get(elsewhere.id)).resolves.toEqual(elsewhere);

      // The future job becomes due at its run_at exactly.
      const fourth = await store.jobs.claim(queue, future.runAt, future.runAt + 30_000, 'tok-4', 10);
      expect(ids(fourth)).toEqual([future.id]);
    });

    it('renews, completes and fails only with the current lease token', async () => {
      const queue = uniqueName('q');
      const j = job(queue, { runAt: now });
      await store.jobs.insert(j);
      await store.jobs.claim(queue, now, now + 1_000, 'old', 1);
      // The lease expires and another worker takes the job.
      await store.jobs.claim(queue, now + 2_000, now + 30_000, 'new', 1);

      await expect(store.jobs.renew(j.id, 'old', now + 90_000, now + 2_001)).resolves.toBe(false);
      await expect(store.jobs.complete(j.id, 'old', 'r', now + 2_001)).resolves.toBe(false);
      await expect(store.jobs.fail(j.id, 'old', 'boom', null, now + 2_001)).resolves.toBe(false);
      await expect(store.jobs.renew(newId('job'), 'new', now + 90_000, now + 2_001)).resolves.toBe(false);
      await expect(store.jobs.get(j.id)).resolves.toMatchObject({ state: 'active', leaseToken: 'new', leaseUntil: now + 30_000 });

      await expect(store.jobs.renew(j.id, 'new', now + 60_000, now + 2_500)).resolves.toBe(true);
      await expect(store.jobs.get(j.id)).resolves.toMatchObject({ leaseUntil: now + 60_000, updatedAt: now + 2_500 });
      // A renewed lease is not reclaimed at the old expiry.
      await expect(store.jobs.claim(queue, now + 31_000, now + 90_000, 'thief', 1)).resolves.toEqual([]);

      await expect(store.jobs.complete(j.id, 'new', '{"ok":true}', now + 3_000)).resolves.toBe(true);
      await expect(store.jobs.get(j.id)).resolves.toEqual({
        ...j,
        state: 'completed',
        result: '{"ok":true}',
        leaseUntil: null,
        leaseToken: 'new',
        attempts: 2,
        updatedAt: now + 3_000,
      });
      // Finished jobs cannot be completed, renewed or failed again.
      await expect(store.jobs.complete(j.id, 'new', null, now + 3_001)).resolves.toBe(false);
      await expect(store.jobs.renew(j.id, 'new', now + 90_000, now + 3_001)).resolves.toBe(false);
      await expect(store.jobs.fail(j.id, 'new', 'late', null, now + 3_001)).resolves.toBe(false);
    });

    it('fail with retryAt puts the job back to wait; without it fails for good', async () => {
      const queue = uniqueName('q');
      const retried = job(queue, { runAt: now });
      const fatal = job(queue, { runAt: now + 1 });
      await store.jobs.insert(retried);
      await store.jobs.insert(fatal);
      await store.jobs.claim(queue, now + 10, now + 30_000, 'tok', 10);

      await expect(store.jobs.fail(retried.id, 'tok', 'timeout', now + 5_000, now + 20)).resolves.toBe(true);
      await expect(store.jobs.get(retried.id)).resolves.toMatchObject({
        state: 'waiting',
        runAt: now + 5_000,
        lastError: 'timeout',
        leaseUntil: null,
        attempts: 1,
        updatedAt: now + 20,
      });
      await expect(store.jobs.fail(fatal.id, 'tok', 'unrecoverable', null, now + 20)).resolves.toBe(true);
      await expect(store.jobs.get(fatal.id)).resolves.toMatchObject({
        state: 'failed',
        lastError: 'unrecoverable',
        leaseUntil: null,
        attempts: 1,
      });
      // The old lease token no longer acts on the job that is waiting again.
      await expect(store.jobs.complete(retried.id, 'tok', null, now + 21)).resolves.toBe(false);

      await expect(store.jobs.claim(queue, now + 4_999, now + 60_000, 'tok-2', 10)).resolves.toEqual([]);
      const again = await store.jobs.claim(queue, now + 5_000, now + 60_000, 'tok-2', 10);
      expect(again).toHaveLength(1);
      expect(again[0]).toMatchObject({ id: retried.id, attempts: 2, leaseToken: 'tok-2', lastError: 'timeout' });
    });

    it('reports the next due time and the count per state', async () => {
      const queue = uniqueName('q');
      await expect(store.jobs.nextDue(queue)).resolves.toBeUndefined();
      await expect(store.jobs.countByState(queue)).resolves.toEqual({ waiting: 0, active: 0, completed: 0, failed: 0 });

      await store.jobs.insert(job(queue, { runAt: now + 9_000 }));
      await store.jobs.insert(job(queue, { runAt: now + 4_000 }));
      await store.jobs.insert(job(queue, { runAt: now - 1_000 }));
      await store.jobs.insert(job(queue, { runAt: now - 9_000, state: 'completed' }));
      await store.jobs.insert(job(queue, { runAt: now - 8_000, state: 'failed' }));
      await store.jobs.insert(job(uniqueName('q'), { runAt: now - 99_000 }));
      await expect(store.jobs.nextDue(queue)).resolves.toBe(now - 1_000);

      await store.jobs.claim(queue, now, now + 30_000, 'tok', 10);
      // Active jobs are not "due": the next waiting one is.
      await expect(store.jobs.nextDue(queue)).resolves.toBe(now + 4_000);
      await expect(store.jobs.countByState(queue)).resolves.toEqual({ waiting: 2, active: 1, completed: 1, failed: 1 });
    });

    it('never hands the same job to two store instances claiming (or reclaiming) at once', async () => {
      const location = sharedLocation(backend.name);
      const first = await location.open();
      const second = await location.open();
      try {
        const queue = uniqueName('q');
        const total = 60;
        for (let i = 0; i < total; i++) await first.jobs.insert(job(queue, { runAt: now + (i % 7) }));

        // Every worker claims in small batches until nothing is due; returns job id -> token.
        const claimAll = async (at: number, leaseUntil: number, round: string) => {
          const claimedBy = new Map<string, string>();
          const duplicates: string[] = [];
          const worker = async (s: Store, token: string) => {
            for (;;) {
              const batch = await s.jobs.claim(queue, at, leaseUntil, token, 3);
              expect(batch.length).toBeLessThanOrEqual(3);
              if (batch.length === 0) return;
              for (const j of batch) {
                expect(j.leaseToken).toBe(token);
                if (claimedBy.has(j.id)) duplicates.push(j.id);
                claimedBy.set(j.id, token);
              }
            }
          };
          await Promise.all(
            Array.from({ length: 8 }, (_, i) => worker(i % 2 === 0 ? first : second, `${round}-worker-${i}`)),
          );
          expect(duplicates).toEqual([]);
          expect(claimedBy.size).toBe(total);
          return claimedBy;
        };

        const firstRound = await claimAll(now + 100, now + 1_000, 'first');
        await expect(second.jobs.countByState(queue)).resolves.toEqual({ waiting: 0, active: total, completed: 0, failed: 0 });
        // Each job's stored lease is the one its claimer got, claimed exactly once.
        for (const [id, token] of firstRound) {
          await expect(first.jobs.get(id)).resolves.toMatchObject({ leaseToken: token, attempts: 1 });
        }

        // Every lease expires: the concurrent reclaim also hands each job out exactly once.
        const secondRound = await claimAll(now + 5_000, now + 600_000, 'second');
        for (const [id, token] of secondRound) {
          await expect(second.jobs.get(id)).resolves.toMatchObject({ leaseToken: token, attempts: 2 });
        }
      } finally {
        await first.close();
        await second.close();
        await location.dispose();
      }
    });
  });

  describe('outbox', () => {
    it('inserts, lists oldest first before a time, and deletes', async () => {
      const entries: OutboxEntry[] = [];
      for (let i = 0; i < 3; i++) {
        entries.push({
          id: newId('job'),
          queue: 'default',
          kind: `kind.${i}`,
          payload: JSON.stringify({ i }),
          options: '{"attempts":3}',
          createdAt: 1_000 * (i + 1),
        });
      }
      const [e1, e2, e3] = entries as [OutboxEntry, OutboxEntry, OutboxEntry];
      // Inserted out of order: listing still returns the oldest first.
      for (const e of [e3, e1, e2]) await store.outbox.insert(e);
      await expect(store.outbox.insert(e1)).rejects.toThrow();

      await expect(store.outbox.list(2_500, 10)).resolves.toEqual([e1, e2]);
      await expect(store.outbox.list(3_000, 10)).resolves.toEqual([e1, e2]);
      await expect(store.outbox.list(10_000, 10)).resolves.toEqual([e1, e2, e3]);
      await expect(store.outbox.list(10_000, 1)).resolves.toEqual([e1]);
      await expect(store.outbox.list(1_000, 10)).resolves.toEqual([]);

      await store.outbox.delete(e1.id);
      await store.outbox.delete(e1.id);
      await store.outbox.delete(newId('job'));
      await expect(store.outbox.list(10_000, 10)).resolves.toEqual([e2, e3]);
      await store.outbox.delete(e2.id);
      await store.outbox.delete(e3.id);
      await expect(store.outbox.list(10_000, 10)).resolves.toEqual([]);
    });
  });

  describe('meta', () => {
    it('sets a value only when absent and returns the stored one', async () => {
      const key = uniqueName('meta');
      await expect(store.meta.get(key)).resolves.toBeUndefined();
      await expect(store.meta.setIfAbsent(key, 'v1')).resolves.toBe('v1');
      await expect(store.meta.setIfAbsent(key, 'v2')).resolves.toBe('v1');
      await expect(store.meta.get(key)).resolves.toBe('v1');

      const raced = uniqueName('meta');
      const values = await Promise.all(Array.from({ length: 8 }, (_, i) => store.meta.setIfAbsent(raced, `v${i}`)));
      expect(new Set(values).size).toBe(1);
      await expect(store.meta.get(raced)).resolves.toBe(values[0]);
    });
  });

  describe('transactions', () => {
    it('commits every write, returns the result and runs afterCommit hooks after commit', async () => {
      const ws = workspace();
      const key = apiKey(ws, true);
      const queue = uniqueName('q');
      const j = job(queue, { runAt: 5 });
      const metaKey = uniqueName('meta');
      const events: string[] = [];
      let seenByHook: unknown;

      const result = await store.transaction(async (tx) => {
        await tx.workspaces.create(ws);
        await tx.apiKeys.create(key);
        await tx.jobs.insert(j);
        await tx.outbox.insert({ id: newId('job'), queue, kind: 'k', payload: '{}', options: '{}', createdAt: 1 });
        await tx.meta.setIfAbsent(metaKey, 'tx');
        // Reads inside the transaction see its own writes.
        await expect(tx.workspaces.get(ws.id)).resolves.toEqual(ws);
        await expect(tx.apiKeys.findBySecretHash(key.secretHash)).resolves.toEqual({ key, workspace: ws });
        // Reads outside do not (the authentication lookup runs on its own connection).
        await expect(store.apiKeys.findBySecretHash(key.secretHash)).resolves.toBeUndefined();
        tx.afterCommit(async () => {
          events.push('hook 1');
          seenByHook = await store.workspaces.get(ws.id);
        });
        tx.afterCommit(() => void events.push('hook 2'));
        events.push('work done');
        return 'result';
      });

      expect(result).toBe('result');
      expect(events).toEqual(['work done', 'hook 1', 'hook 2']);
      expect(seenByHook).toEqual(ws);
      await expect(store.apiKeys.findBySecretHash(key.secretHash)).resolves.toEqual({ key, workspace: ws });
      await expect(store.jobs.get(j.id)).resolves.toEqual(j);
      await expect(store.meta.get(metaKey)).resolves.toBe('tx');
    });

    it('rolls back every write and runs no hook when the work throws', async () => {
      const ws = workspace();
      const key = apiKey(ws, true);
      const queue = uniqueName('q');
      const j = job(queue, { runAt: 5 });
      const metaKey = uniqueName('meta');
      let hookRan = false;
      const failure = new Error('boom');

      await expect(
        store.transaction(async (tx) => {
          await tx.workspaces.create(ws);
          await tx.apiKeys.create(key);
          await tx.jobs.insert(j);
          await tx.meta.setIfAbsent(metaKey, 'tx');
          tx.afterCommit(() => {
            hookRan = true;
          });
          throw failure;
        }),
      ).rejects.toBe(failure);

      expect(hookRan).toBe(false);
      await expect(store.workspaces.get(ws.id)).resolves.toBeUndefined();
      await expect(store.apiKeys.findBySecretHash(key.secretHash)).resolves.toBeUndefined();
      await expect(store.jobs.get(j.id)).resolves.toBeUndefined();
      await expect(store.meta.get(metaKey)).resolves.toBeUndefined();
    });

    it('rolls back when a statement fails inside the transaction', async () => {
      const ws = workspace();
      await expect(
        store.transaction(async (tx) => {
          await tx.workspaces.create(ws);
          await tx.apiKeys.create(apiKey(workspace(), true)); // no such workspace
        }),
      ).rejects.toThrow();
      await expect(store.workspaces.get(ws.id)).resolves.toBeUndefined();
    });

    it('joins transactions nested through the transaction to the outer one', async () => {
      const outerWs = workspace();
      const innerWs = workspace();
      const events: string[] = [];

      await store.transaction(async (tx) => {
        await tx.workspaces.create(outerWs);
        const inner = await tx.transaction(async (nested) => {
          // The nested transaction sees the outer one's uncommitted write.
          await expect(nested.workspaces.get(outerWs.id)).resolves.toEqual(outerWs);
          await nested.workspaces.create(innerWs);
          nested.afterCommit(() => void events.push('inner hook'));
          return 'inner';
        });
        expect(inner).toBe('inner');
        // The inner hook waits for the outer commit.
        expect(events).toEqual([]);
        events.push('outer done');
      });
      expect(events).toEqual(['outer done', 'inner hook']);
      await expect(store.workspaces.get(innerWs.id)).resolves.toEqual(innerWs);

      // A failure after the nested call rolls back the nested writes too.
      const lost = workspace();
      await expect(
        store.transaction(async (tx) => {
          await tx.transaction((nested) => nested.workspaces.create(lost));
          throw new Error('outer fails');
        }),
      ).rejects.toThrow('outer fails');
      await expect(store.workspaces.get(lost.id)).resolves.toBeUndefined();

      // A transaction used after it committed (by detached work) starts a new one.
      let committed: Transaction | undefined;
      await store.transaction(async (tx) => void (committed = tx));
      const late = workspace();
      await committed!.transaction((fresh) => fresh.workspaces.create(late));
      await expect(store.workspaces.get(late.id)).resolves.toEqual(late);
    });
  });

  it('keeps its data across close and reopen', async () => {
    const location = sharedLocation(backend.name);
    try {
      const ws = workspace({ plan: 'enterprise' });
      const key = apiKey(ws, false, { name: 'survivor', lastUsedAt: 42 });
      const queue = uniqueName('q');
      const j = job(queue, { runAt: 7 });
      const scope: Scope = { workspaceId: ws.id, livemode: false };

      const before = await location.open();
      await before.workspaces.create(ws);
      await before.apiKeys.create(key);
      await before.jobs.insert(j);
      await before.meta.setIfAbsent('install_id', 'abc');
      await before.idempotency.claim({
        scope, key: 'k1', requestHash: 'h', state: 'in_progress', responseStatus: null, responseBody: null,
        responseHeaders: null, createdAt: 1, lockedUntil: 2,
      });
      await before.idempotency.complete(scope, 'k1', 201, '{"id":1}', { a: 'b' });
      await before.close();

      const after = await location.open();
      try {
        await after.ping();
        await expect(after.workspaces.get(ws.id)).resolves.toEqual(ws);
        await expect(after.apiKeys.findBySecretHash(key.secretHash)).resolves.toEqual({ key, workspace: ws });
        await expect(after.apiKeys.get(scope, key.id)).resolves.toEqual(key);
        await expect(after.jobs.get(j.id)).resolves.toEqual(j);
        await expect(after.meta.setIfAbsent('install_id', 'other')).resolves.toBe('abc');
        const replay = await after.idempotency.claim({
          scope, key: 'k1', requestHash: 'h', state: 'in_progress', responseStatus: null, responseBody: null,
          responseHeaders: null, createdAt: 10, lockedUntil: 20,
        });
        expect(replay.claimed === false && replay.existing).toMatchObject({
          state: 'completed', responseStatus: 201, responseBody: '{"id":1}', responseHeaders: { a: 'b' },
        });
      } finally {
        await after.close();
      }
    } finally {
      await location.dispose();
    }
  });
});
