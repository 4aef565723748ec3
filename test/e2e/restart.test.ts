import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { LocalQueue } from '../../src/queue/local-queue.js';
import { PURGE_IDEMPOTENCY_JOB } from '../../src/platform/maintenance.js';
import type { JobRecord } from '../../src/store/port.js';
import { call } from '../support/server.js';
import { tempDir } from '../support/services.js';
import { freePort, killAllCli, spawnCli, type CliProcess } from '../support/cli.js';

/**
 * The real CLI, killed with SIGKILL and restarted on the same data directory: nothing acknowledged
 * is lost, the first-start bootstrap does not run again, and jobs left behind (one delayed, one
 * that was running when the process died) are run by the restarted process.
 */
describe('kairo serve survives kill -9 and restart', { timeout: 120_000 }, () => {
  let dir: string;
  let port: number;
  let base: string;
  let server: CliProcess | undefined;

  // What the first life of the server created.
  let liveKey: string;
  let testKey: string;
  let created: { id: string; secret: string; text: string };
  let revokedSecret: string;
  const idempotencyKey = `restart-${randomUUID()}`;
  const createBody = { name: 'created before the crash' };

  // The jobs left in the database while the server was down.
  let delayedJobId: string;
  let orphanJobId: string;

  async function start(): Promise<CliProcess> {
    const proc = spawnCli(['serve', '--data', dir, '--port', String(port), '--log-level', 'warn']);
    await proc.waitFor(/listening on (\S+)/);
    return proc;
  }

  /** Polls the jobs through a second connection to the database (WAL lets it read beside the server). */
  async function waitForJobs(ids: string[], timeoutMs = 15_000): Promise<Map<string, JobRecord>> {
    const store = await openSqliteStore({ dataDir: dir });
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const jobs = new Map<string, JobRecord>();
        for (const id of ids) {
          const job = await store.jobs.get(id);
          if (job) jobs.set(id, job);
        }
        if (ids.every((id) => jobs.get(id)?.state === 'completed')) return jobs;
        if (Date.now() > deadline) {
          throw new Error(`Jobs not completed in ${timeoutMs} ms: ${JSON.stringify([...jobs.values()], null, 2)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await store.close();
    }
  }

  /** Everything the first life acknowledged still holds. */
  async function expectNothingLost(): Promise<void> {
    for (const [key, livemode] of [[liveKey, true], [testKey, false], [created.secret, false]] as const) {
      const response = await call(base, 'GET', '/v1/workspace', { key });
      expect(response.status, `key ${key.slice(0, 8)}…`).toBe(200);
      expect(response.body.livemode).toBe(livemode);
    }

    const revoked = await call(base, 'GET', '/v1/workspace', { key: revokedSecret });
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.code).toBe('api_key_revoked');

    const replay = await call(base, 'POST', '/v1/api_keys', { key: testKey, body: createBody, headers: { 'idempotency-key': idempotencyKey } });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.text).toBe(created.text);
    expect(replay.body.id).toBe(created.id);

    const createdKey = await call(base, 'GET', `/v1/api_keys/${created.id}`, { key: testKey });
    expect(createdKey.status).toBe(200);
    expect(createdKey.body.status).toBe('active');
  }

  beforeAll(async () => {
    dir = tempDir('kairo-restart-');
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await killAllCli();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('first start bootstraps a workspace and prints its two keys once', async () => {
    server = await start();
    expect(server.stdout()).toContain(`listening on ${base} (sqlite, local queue)`);
    const live = (await server.waitFor(/^ {2}live key: (sk_live_\S+)$/m))[1]!;
    const test = (await server.waitFor(/^ {2}test key: (sk_test_\S+)$/m))[1]!;
    liveKey = live;
    testKey = test;

    const workspace = await call(base, 'GET', '/v1/workspace', { key: testKey });
    expect(workspace.status).toBe(200);
    expect(workspace.body).toMatchObject({ object: 'workspace', name: 'Default', plan: 'free', livemode: false });
  });

  it('creates and revokes keys, then dies with SIGKILL', async () => {
    const response = await call(base, 'POST', '/v1/api_keys', { key: testKey, body: createBody, headers: { 'idempotency-key': idempotencyKey } });
    expect(response.status).toBe(201);
    expect(response.headers.get('idempotent-replayed')).toBeNull();
    expect(response.body).toMatchObject({ object: 'api_key', name: createBody.name, livemode: false, status: 'active' });
    created = { id: response.body.id, secret: response.body.secret, text: response.text };

    const doomed = await call(base, 'POST', '/v1/api_keys', { key: testKey, body: { name: 'to revoke' } });
    expect(doomed.status).toBe(201);
    revokedSecret = doomed.body.secret;
    const revoke = await call(base, 'DELETE', `/v1/api_keys/${doomed.body.id}`, { key: testKey });
    expect(revoke.status).toBe(200);
    expect(revoke.body.status).toBe('revoked');
    expect((await call(base, 'GET', '/v1/workspace', { key: revokedSecret })).status).toBe(401);
    expect((await call(base, 'GET', '/v1/workspace', { key: created.secret })).status).toBe(200);

    await server!.kill9();
    expect((await server!.exited()).signal).toBe('SIGKILL');
    await expect(call(base, 'GET', '/v1/status')).rejects.toThrow();
  });

  it('leaves a delayed job and an orphaned running job in the database while it is down', async () => {
    const store = await openSqliteStore({ dataDir: dir });
    try {
      const queue = new LocalQueue({ store });
      delayedJobId = await queue.enqueue(PURGE_IDEMPOTENCY_JOB, { before: 0 }, { delayMs: 1_000 });
      orphanJobId = await queue.enqueue(PURGE_IDEMPOTENCY_JOB, { before: 0 });

      // A worker claims the orphan with a short lease and dies before finishing it. (It may also
      // claim other due jobs, e.g. the hourly purge; those are orphaned the same way.)
      const now = Date.now();
      const claimed = await store.jobs.claim('default', now, now + 500, randomUUID(), 100);
      expect(claimed.map((job) => job.id)).toContain(orphanJobId);
      expect(claimed.map((job) => job.id)).not.toContain(delayedJobId);

      expect(await queue.getJob(delayedJobId)).toMatchObject({ state: 'delayed', attempts: 0 });
      expect(await queue.getJob(orphanJobId)).toMatchObject({ state: 'active', attempts: 1 });
      await queue.close();
    } finally {
      await store.close();
    }
  });

  it('restarts on the same data dir without bootstrapping again, and loses nothing', async () => {
    server = await start();
    expect((await call(base, 'GET', '/v1/status')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.stdout()).not.toMatch(/key: sk_/);
    expect(server.stdout()).not.toMatch(/Created workspace/);

    await expectNothingLost();
  });

  it('runs the delayed job and reclaims the orphaned one after its lease expires', async () => {
    const jobs = await waitForJobs([delayedJobId, orphanJobId]);
    const delayed = jobs.get(delayedJobId)!;
    const orphan = jobs.get(orphanJobId)!;
    expect(delayed.attempts).toBe(1);
    expect(JSON.parse(delayed.result!)).toEqual({ purged: 0, jobsPurged: 0 });
    // Claimed once by the dead worker, once more by the restarted server.
    expect(orphan.attempts).toBe(2);
    expect(JSON.parse(orphan.result!)).toEqual({ purged: 0, jobsPurged: 0 });
    expect(orphan.lastError).toBeNull();
  });

  it('a second kill -9 while handling requests right after starting loses nothing', async () => {
    await server!.kill9();

    server = spawnCli(['serve', '--data', dir, '--port', String(port), '--log-level', 'warn']);
    await server.waitFor(/listening on/);
    // Requests in flight at the moment of the kill, reads and writes alike: the kill comes as
    // soon as the first of them is answered, while the others are being handled.
    const requests = Array.from({ length: 30 }, (_, i) =>
      i % 3 === 0
        ? call(base, 'POST', '/v1/api_keys', { key: testKey, body: { name: 'in flight' } })
        : call(base, 'GET', i % 3 === 1 ? '/v1/workspace' : '/v1/api_keys', { key: testKey }),
    );
    await Promise.race(requests);
    await server.kill9();
    const outcomes = await Promise.allSettled(requests);
    expect(outcomes.some((outcome) => outcome.status === 'fulfilled')).toBe(true);
    const answeredPosts = outcomes.filter((outcome, i) => i % 3 === 0 && outcome.status === 'fulfilled' && outcome.value.status === 201).length;

    server = await start();
    expect((await call(base, 'GET', '/v1/status')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.stdout()).not.toMatch(/key: sk_/);

    await expectNothingLost();

    // The jobs finished before stay finished: not run again.
    const jobs = await waitForJobs([delayedJobId, orphanJobId], 1_000);
    expect(jobs.get(delayedJobId)!.attempts).toBe(1);
    expect(jobs.get(orphanJobId)!.attempts).toBe(2);

    // The database is still consistent and readable.
    const list = await call(base, 'GET', '/v1/api_keys?limit=100', { key: testKey });
    expect(list.status).toBe(200);
    const names = list.body.data.map((key: { name: string }) => key.name);
    expect(names).toContain(createBody.name);
    expect(names).toContain('to revoke');
    // Every key whose creation was acknowledged survived the kill (a few more may have been
    // committed without their response getting out).
    const inFlightKeys = names.filter((name: string) => name === 'in flight').length;
    expect(inFlightKeys).toBeGreaterThanOrEqual(answeredPosts);
    expect(inFlightKeys).toBeLessThanOrEqual(10);

    await server.kill9();
  });
});
