import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/platform/api-keys.js';
import { createWorkspace } from '../../src/platform/workspaces.js';
import { dropPostgresSchema, openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { call, type ApiResponse } from '../support/server.js';
import { postgresUrl, redisUrl, tempDir, uniqueName } from '../support/services.js';
import { freePort, killAllCli, spawnCli, type CliProcess } from '../support/cli.js';

/** Lines of output, without blank ones. */
function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

/** Runs a kairo command that should refuse to start; returns its exit and what it printed. */
async function refusedStart(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const proc = spawnCli(args);
  const { code } = await proc.exited();
  return { code, stdout: proc.stdout(), stderr: proc.stderr(), ms: Date.now() - started };
}

/** Polls until `done`, or returns the last value at the deadline (the caller's expect fails then). */
async function poll<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * A TCP proxy in front of the test Redis: closing it (listener and every connection) is Redis
 * going away for the process behind it, without touching the Redis server other tests share.
 */
class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly target: { host: string; port: number }) {}

  async open(port: number): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

/** Deletes every Redis key under `prefix` (the queue's and the rate limits'). */
async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

describe('kairo refuses to start without the services it is configured with', { timeout: 60_000 }, () => {
  let dir: string;

  beforeAll(() => {
    dir = tempDir('kairo-services-');
  });

  afterAll(async () => {
    await killAllCli();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const command of ['serve', 'worker']) {
    it(`${command} with an unreachable Redis exits at once with one line naming --redis-url and the address`, async () => {
      const result = await refusedStart([command, '--data', dir, ...(command === 'serve' ? ['--port', '0'] : []), '--redis-url', 'redis://127.0.0.1:1']);
      expect(result.code).not.toBe(0);
      expect(result.code).not.toBeNull();
      expect(result.ms).toBeLessThan(20_000);
      expect(result.stdout).toBe('');
      const printed = lines(result.stderr);
      expect(printed, result.stderr).toHaveLength(1);
      expect(printed[0]).toMatch(/^kairo: /);
      expect(printed[0]).toContain('--redis-url / KAIRO_REDIS_URL');
      expect(printed[0]).toContain('127.0.0.1:1');
    });
  }

  it('serve with a data directory that cannot be created exits with one line naming --data and the path', async () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'not a directory');
    const candidates = [path.join(file, 'data')];
    // Under /proc nothing can be made (and Node's recursive mkdir never returns there).
    if (fs.existsSync('/proc/self')) candidates.push('/proc/kairo');
    for (const data of candidates) {
      const result = await refusedStart(['serve', '--data', data, '--port', '0']);
      expect(result.code, data).not.toBe(0);
      expect(result.code, data).not.toBeNull();
      expect(result.stdout).toBe('');
      const printed = lines(result.stderr);
      expect(printed, result.stderr).toHaveLength(1);
      expect(printed[0]).toMatch(/^kairo: /);
      expect(printed[0]).toContain('--data / KAIRO_DATA_DIR');
      expect(printed[0]).toContain(data);
    }
  });

  it('serve with a data directory that is a file exits with one line naming --data and the path', async () => {
    const file = path.join(dir, 'in-the-way');
    fs.writeFileSync(file, '');
    const result = await refusedStart(['serve', '--data', file, '--port', '0']);
    expect(result.code).not.toBe(0);
    const printed = lines(result.stderr);
    expect(printed, result.stderr).toHaveLength(1);
    expect(printed[0]).toContain('--data / KAIRO_DATA_DIR');
    expect(printed[0]).toContain(file);
  });
});

/**
 * Redis lost and back under a running `kairo serve` (PostgreSQL, BullMQ, Redis rate limits): the
 * server stays up and says `degraded`, rate-limited requests get a quick 503, the outage is
 * logged once each way, and runs accepted before and during it complete once Redis is back.
 */
describe('kairo serve rides out a Redis outage', { timeout: 120_000 }, () => {
  const schema = uniqueName('kairo_services');
  const prefix = uniqueName('kairo_services');
  let proxy: TcpProxy;
  let proxyPort: number;
  let base: string;
  let server: CliProcess;
  let freeKey: string;
  let enterpriseKey: string;

  /** Output lines about Redis, from both streams. */
  const redisLines = () => lines(`${server.stdout()}\n${server.stderr()}`).filter((line) => /redis/i.test(line));
  const status = () => call(base, 'GET', '/v1/status');

  beforeAll(async () => {
    const target = new URL(redisUrl);
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    proxyPort = await freePort();
    await proxy.open(proxyPort);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = spawnCli([
      'serve', '--port', String(port), '--log-level', 'warn',
      '--database-url', postgresUrl, '--database-schema', schema,
      '--redis-url', `redis://127.0.0.1:${proxyPort}`, '--redis-prefix', prefix,
    ]);
    freeKey = (await server.waitFor(/^ {2}test key: (sk_test_\S+)$/m, 60_000))[1]!;

    // An Enterprise workspace has no rate limit and no run cap: its requests need no Redis.
    const store = await openPostgresStore({ url: postgresUrl, schema, poolSize: 1 });
    try {
      const workspace = await createWorkspace(store, { name: 'enterprise', plan: 'enterprise' });
      enterpriseKey = (await createApiKey(store, { workspaceId: workspace.id, livemode: false })).secret;
    } finally {
      await store.close();
    }
  });

  afterAll(async () => {
    await killAllCli();
    await proxy?.close();
    await dropPostgresSchema(postgresUrl, schema);
    await deleteRedisKeys(prefix);
  });

  it('stays up, reports degraded, answers 503 at once and completes every accepted run when Redis is back', async () => {
    expect((await status()).body.status).toBe('operational');

    // Before the outage: a workflow run parked on a delay, which a delayed job in Redis ends.
    const workflow = await call(base, 'POST', '/v1/workflows', {
      key: freeKey,
      body: { name: 'outlives an outage', steps: [{ id: 'pause', type: 'delay', duration: '6s' }, { id: 'done', type: 'transform', expression: '"done"' }] },
    });
    expect(workflow.status, workflow.text).toBe(201);
    const workflowRun = await call(base, 'POST', `/v1/workflows/${workflow.body.id}/runs`, { key: freeKey, body: { input: {}, background: true } });
    expect(workflowRun.status, workflowRun.text).toBe(202);
    const getWorkflowRun = () => call(base, 'GET', `/v1/workflows/${workflow.body.id}/runs/${workflowRun.body.id}`, { key: freeKey });
    const parked = await poll(getWorkflowRun, (r) => r.body.status === 'waiting', 15_000);
    expect(parked.body.status).toBe('waiting');

    const agent = await call(base, 'POST', '/v1/agents', { key: enterpriseKey, body: { name: 'outage' } });
    expect(agent.status, agent.text).toBe(201);
    const linesBefore = redisLines().length;

    // Redis goes away.
    await proxy.close();
    const degraded = await poll(status, (r) => r.body.status === 'degraded', 10_000);
    expect(degraded.body.status).toBe('degraded');
    expect(degraded.body.checks.queue.status).toBe('failing');
    expect(degraded.body.checks.limits.status).toBe('failing');
    expect(degraded.body.checks.database.status).toBe('ok');

    // A rate-limited request is refused at once with a clear 503.
    const asked = Date.now();
    const refused = await call(base, 'GET', '/v1/workspace', { key: freeKey });
    expect(Date.now() - asked).toBeLessThan(5_000);
    expect(refused.status, refused.text).toBe(503);
    expect(refused.body.error.code).toBe('service_unavailable');
    expect(refused.headers.get('retry-after')).toBeTruthy();

    // A background run accepted during the outage, at once: its job waits in the database's outbox.
    const accepting = Date.now();
    const agentRun = await call(base, 'POST', `/v1/agents/${agent.body.id}/runs`, { key: enterpriseKey, body: { input: 'Hello during the outage', background: true } });
    expect(agentRun.status, agentRun.text).toBe(202);
    expect(Date.now() - accepting).toBeLessThan(5_000);
    const getAgentRun = () => call(base, 'GET', `/v1/agents/${agent.body.id}/runs/${agentRun.body.id}`, { key: enterpriseKey });

    // Past the workflow's delay, with Redis still away: the server is up and quiet about it.
    await new Promise((resolve) => setTimeout(resolve, 7_000));
    expect(server.child.exitCode).toBeNull();
    expect((await status()).body.status).toBe('degraded');
    expect((await getAgentRun()).body.status).toBe('queued');
    const during = redisLines().slice(linesBefore);
    expect(during.filter((line) => /unreachable/.test(line)), during.join('\n')).toHaveLength(1);
    expect(during.length, during.join('\n')).toBeLessThanOrEqual(2);
    expect(server.stderr()).not.toMatch(/Unhandled error event/);

    // Redis comes back on the same address.
    await proxy.open(proxyPort);
    const back = Date.now();
    const operational = await poll(status, (r) => r.body.status === 'operational', 15_000);
    expect(operational.body.status).toBe('operational');
    expect(operational.body.checks).toMatchObject({ database: { status: 'ok' }, queue: { status: 'ok' }, limits: { status: 'ok' } });
    expect(Date.now() - back).toBeLessThan(10_000);
    expect((await call(base, 'GET', '/v1/workspace', { key: freeKey })).status).toBe(200);

    const finished = (r: ApiResponse) => ['completed', 'failed', 'cancelled'].includes(r.body.status);
    const agentDone = await poll(getAgentRun, finished, 20_000);
    expect(agentDone.body.status, agentDone.text).toBe('completed');
    const workflowDone = await poll(getWorkflowRun, finished, 20_000);
    expect(workflowDone.body.status, workflowDone.text).toBe('completed');
    expect(workflowDone.body.output).toBe('done');

    const after = redisLines().slice(linesBefore);
    expect(after.filter((line) => /reachable again/.test(line)), after.join('\n')).toHaveLength(1);
    expect(after.length, after.join('\n')).toBeLessThanOrEqual(4);
    expect(server.child.exitCode).toBeNull();
  });
});
