import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator } from '../../src/platform/authenticate.js';
import { createApiKey } from '../../src/platform/api-keys.js';
import { createWorkspace } from '../../src/platform/workspaces.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { call } from '../support/server.js';
import { tempDir } from '../support/services.js';
import { freePort, killAllCli, spawnCli, type CliProcess } from '../support/cli.js';

/**
 * Authentication caches keys it has seen and re-checks only their revocation on each request.
 * A key revoked by the operator CLI, a separate process writing to the same SQLite file, must
 * still be refused by the running server on the very next request.
 */
describe('a key revoked with `kairo keys revoke` in another process', { timeout: 120_000 }, () => {
  let dir: string;
  let base: string;
  let server: CliProcess;
  let testKey: string;

  beforeAll(async () => {
    dir = tempDir();
    const port = await freePort();
    server = spawnCli(['serve', '--data', dir, '--port', String(port), '--log-level', 'warn']);
    base = (await server.waitFor(/listening on (\S+)/))[1]!;
    testKey = (await server.waitFor(/^ {2}test key: (sk_test_\S+)$/m))[1]!;
  });

  afterAll(async () => {
    await killAllCli();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is refused by an authenticator that has it cached, on the next call', async () => {
    // The clock is frozen, so the cached key never falls due for its periodic re-read: only the
    // per-request revocation check can notice what the other process did.
    const store = await openSqliteStore({ dataDir: dir });
    try {
      const authenticator = new Authenticator(store, () => 1_000_000);
      const ws = await createWorkspace(store, { name: 'cli revoke', plan: 'pro' });
      const { key, secret } = await createApiKey(store, { workspaceId: ws.id, livemode: true });
      const first = await authenticator.authenticate(`Bearer ${secret}`);
      expect(first.workspace.id).toBe(ws.id);
      expect(await authenticator.authenticate(`Bearer ${secret}`)).toBe(first);

      const revoke = spawnCli(['keys', 'revoke', key.id, '--data', dir]);
      expect((await revoke.exited()).code).toBe(0);

      await expect(Promise.resolve().then(() => authenticator.authenticate(`Bearer ${secret}`))).rejects.toMatchObject({ code: 'api_key_revoked' });
    } finally {
      await store.close();
    }
  });

  it('is refused by the running server on the next request', async () => {
    const created = await call(base, 'POST', '/v1/api_keys', { key: testKey, body: { name: 'revoked by the operator' } });
    expect(created.status).toBe(201);
    const secret: string = created.body.secret;

    const ok = await call(base, 'GET', '/v1/workspace', { key: secret });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-ratelimit-limit')).toBe('200');

    // Keep using the key while the CLI revokes it, so that the server has it freshly cached.
    const revoke = spawnCli(['keys', 'revoke', created.body.id, '--data', dir]);
    let exited = false;
    void revoke.exited().then(() => (exited = true));
    while (!exited) {
      const during = await call(base, 'GET', '/v1/workspace', { key: secret });
      expect([200, 401]).toContain(during.status);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await revoke.exited()).code).toBe(0);
    expect(revoke.stdout()).toContain(`Revoked ${created.body.id}`);

    const refused = await call(base, 'GET', '/v1/workspace', { key: secret });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('api_key_revoked');
    expect(refused.headers.get('x-request-id')).toMatch(/^req_/);

    // The key that made it is untouched.
    const other = await call(base, 'GET', '/v1/workspace', { key: testKey });
    expect(other.status).toBe(200);
    expect(other.headers.get('x-ratelimit-remaining')).not.toBeNull();
  });
});
