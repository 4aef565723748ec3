import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { dropPostgresSchema, openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { Store } from '../../src/store/port.js';
import { createWorkspace } from '../../src/platform/workspaces.js';
import { createApiKey } from '../../src/platform/api-keys.js';
import { call } from '../support/server.js';
import { postgresUrl, redisUrl, tempDir, uniqueName } from '../support/services.js';
import { killAllCli, spawnCli, type CliProcess } from '../support/cli.js';
import { parseSse } from '../support/sse.js';

/**
 * Workflow runs survive repeated kill -9 of the real CLI (half started in the background, half
 * by streaming requests that the server's process advances itself): a loopback receiver records every
 * request the http steps send, the server is killed with SIGKILL at random moments and restarted
 * on the same database, again and again, until every run has completed. Then every run has the
 * output it would have had without the crashes, every http step reached the receiver under
 * exactly one idempotency key (`<run id>:<step key>`), and no step whose completion was recorded
 * was ever sent again: a key arrives again only while its step's completion was not yet stored.
 */

const LEASE_MS = 1_500;
const RUNS = 10;
/**
 * Kills per backend (the loop stops early should every run have completed). A restart costs
 * seconds (the CLI runs from the sources through tsx), so this is what bounds the test's time.
 */
const KILLS = 8;
/**
 * Runs started in each life of the server: most at first, then one after each restart, so that
 * every kill finds runs in flight (10 runs started at once would all be done after ~5 kills).
 */
const STARTS_PER_LIFE = [RUNS - (KILLS - 1), ...Array<number>(KILLS - 1).fill(1)];
/** A request may be recorded by the receiver this much after the step's completed_at (one machine, one clock). */
const CLOCK_TOLERANCE_MS = 5;

/** One request as the receiver saw it. */
interface Delivery {
  at: number;
  key: string | undefined;
  runId: string | undefined;
  path: string;
  body: unknown;
}

interface Receiver {
  url: string;
  log: Delivery[];
  close(): Promise<void>;
}

/** Answers every request with 200 JSON `{ ok, path, key, received }` after 0–30 ms; records it on arrival. */
async function startReceiver(): Promise<Receiver> {
  const log: Delivery[] = [];
  const server = http.createServer((req, res) => {
    const entry: Delivery = {
      at: Date.now(),
      key: header(req.headers['idempotency-key']),
      runId: header(req.headers['kairo-workflow-run-id']),
      path: req.url ?? '/',
      body: null,
    };
    log.push(entry);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The sender may die mid-request: nothing to answer then.
    req.on('error', () => {});
    res.on('error', () => {});
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        entry.body = text === '' ? null : JSON.parse(text);
      } catch {
        entry.body = text;
      }
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, path: entry.path, key: entry.key ?? null, received: entry.body }));
      }, Math.floor(Math.random() * 31));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * 8 steps: http, transform, a map of 3 items (an http step inside, 2 at once), a short delay
 * (slept in place; it also keeps each run in flight across at least one kill).
 */
function definition(receiver: string) {
  return {
    name: 'crash survivor',
    steps: [
      { id: 'start', type: 'http', method: 'POST', url: `${receiver}/start`, body: '{ "n": input.n }' },
      { id: 'double', type: 'transform', expression: 'steps.start.body.received.n * 2' },
      { id: 'notify', type: 'http', method: 'POST', url: `${receiver}/notify/{{ steps.double }}`, body: '{ "doubled": steps.double, "from": steps.start.body.path }' },
      { id: 'list', type: 'transform', expression: '[input.n, input.n + 1, input.n + 2]' },
      {
        id: 'each', type: 'map', items: 'steps.list', concurrency: 2,
        steps: [
          { id: 'post_item', type: 'http', method: 'POST', url: `${receiver}/item/{{ index }}`, body: '{ "item": item, "index": index, "doubled": steps.double }' },
          { id: 'item_out', type: 'transform', expression: 'steps.post_item.body.received.item * 10' },
        ],
      },
      { id: 'pause', type: 'delay', duration: '500ms' },
      { id: 'sum', type: 'transform', expression: '$sum(steps.each)' },
      { id: 'final', type: 'http', method: 'POST', url: `${receiver}/final`, body: '{ "sum": steps.sum, "doubled": steps.double }' },
    ],
    output: '{ "n": input.n, "doubled": steps.double, "items": steps.each, "sum": steps.sum, "final": steps.final.body.received }',
  };
}

/** The http step keys of every run, and the path each one posts to. */
const HTTP_STEPS: Record<string, (n: number) => string> = {
  start: () => '/start',
  notify: (n) => `/notify/${2 * n}`,
  'each[0].post_item': () => '/item/0',
  'each[1].post_item': () => '/item/1',
  'each[2].post_item': () => '/item/2',
  final: () => '/final',
};

function expectedOutput(n: number) {
  const items = [n, n + 1, n + 2].map((i) => i * 10);
  const sum = items.reduce((a, b) => a + b, 0);
  return { n, doubled: 2 * n, items, sum, final: { sum, doubled: 2 * n } };
}

/** A run's event log, read as server-sent events (the stream ends at the terminal event). */
async function runEvents(base: string, key: string, workflowId: string, runId: string): Promise<Array<{ type: string; data: any }>> {
  const response = await fetch(`${base}/v1/workflows/${workflowId}/runs/${runId}`, {
    headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' },
    signal: AbortSignal.timeout(10_000),
  });
  return parseSse(await response.text()).map((e) => ({ type: e.event, data: e.data }));
}

interface Backend {
  name: string;
  /** Storage and queue flags of `kairo serve`. */
  flags: string[];
  /** A store on the same database, for creating the workspace. */
  openStore(): Promise<Store>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  const dir = tempDir('kairo-wf-crash-');
  return {
    name: 'sqlite + local queue',
    flags: ['--data', dir],
    openStore: () => openSqliteStore({ dataDir: dir }),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresBackend(): Backend {
  const dir = tempDir('kairo-wf-crash-pg-');
  const schema = uniqueName('kairo_wfcrash');
  const prefix = uniqueName('kairo_wfcrash');
  return {
    name: 'postgres + bullmq',
    flags: ['--data', dir, '--database-url', postgresUrl, '--database-schema', schema, '--redis-url', redisUrl, '--redis-prefix', prefix],
    openStore: () => openPostgresStore({ url: postgresUrl, schema, poolSize: 2 }),
    async cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
      await dropPostgresSchema(postgresUrl, schema);
      const redis = new Redis(redisUrl);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    },
  };
}

function crashSuite(makeBackend: () => Backend) {
  let backend: Backend;
  let receiver: Receiver;
  let server: CliProcess | undefined;
  let base: string;

  const restarts: number[] = [];
  const start = async (): Promise<CliProcess> => {
    const spawnedAt = Date.now();
    const proc = spawnCli([
      'serve', ...backend.flags, '--port', '0', '--log-level', 'warn',
      '--job-lease', String(LEASE_MS), '--outbound-allow-cidrs', '127.0.0.0/8',
    ]);
    base = (await proc.waitFor(/listening on (\S+)/, 60_000))[1]!;
    restarts.push(Date.now() - spawnedAt);
    return proc;
  };

  beforeAll(async () => {
    backend = makeBackend();
    receiver = await startReceiver();
  });

  afterAll(async () => {
    await killAllCli();
    await receiver?.close();
    await backend?.cleanup();
  });

  it('completes every run with each http step sent under one key and never after its completion was stored', async () => {
    const began = Date.now();
    server = await start();

    // An enterprise workspace: no rate limit on the polling, no concurrent-run cap (a killed
    // process's run slots would otherwise stay taken until their lease lapses).
    const store = await backend.openStore();
    let key: string;
    try {
      const workspace = await createWorkspace(store, { name: 'workflow crash', plan: 'enterprise' });
      key = (await createApiKey(store, { workspaceId: workspace.id, livemode: false })).secret;
    } finally {
      await store.close();
    }

    const created = await call(base, 'POST', '/v1/workflows', { key, body: definition(receiver.url) });
    expect(created.status, created.text).toBe(201);
    const workflowId: string = created.body.id;

    /**
     * Starts a run by a streaming request, which the server's own process advances at once (a
     * backstop job continues it should that process die); the client reads the run's id from the
     * first event and goes away.
     */
    const startStreamed = async (id: string, n: number): Promise<string> => {
      const response = await fetch(`${base}/v1/workflows/${id}/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ input: { n }, stream: true }),
      });
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      let text = '';
      while (parseSse(text).length === 0) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
      }
      await reader.cancel();
      const first = parseSse(text)[0]!;
      expect(first.event).toBe('run.created');
      return (first.data as { run_id: string }).run_id;
    };
    const inputs = new Map<string, number>();
    const startRuns = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const n = inputs.size + 1;
        if (n % 2 === 0) {
          inputs.set(await startStreamed(workflowId, n), n);
          continue;
        }
        const started = await call(base, 'POST', `/v1/workflows/${workflowId}/runs`, { key, body: { input: { n }, background: true } });
        expect(started.status, started.text).toBe(202);
        inputs.set(started.body.id, n);
      }
    };
    const runIds = () => [...inputs.keys()];

    const statuses = async (): Promise<Map<string, string>> => {
      const list = await call(base, 'GET', `/v1/workflows/${workflowId}/runs?limit=100`, { key });
      expect(list.status, list.text).toBe(200);
      return new Map(list.body.data.map((run: { id: string; status: string }) => [run.id, run.status]));
    };
    const allCompleted = (map: Map<string, string>) => inputs.size === RUNS && runIds().every((id) => map.get(id) === 'completed');

    // Kill at random moments while runs are in flight, restart on the same database each time.
    await startRuns(STARTS_PER_LIFE[0]!);
    let kills = 0;
    const killedWith: number[] = [];
    while (kills < KILLS) {
      await sleep(100 + Math.floor(Math.random() * 601));
      if (allCompleted(await statuses())) break;
      killedWith.push(receiver.log.length);
      await server.kill9();
      expect((await server.exited()).signal).toBe('SIGKILL');
      kills += 1;
      server = await start();
      await startRuns(STARTS_PER_LIFE[kills] ?? 0);
    }
    await startRuns(RUNS - inputs.size);
    expect(inputs.size).toBe(RUNS);

    // The last life finishes what is left (the dead process's leases lapse after LEASE_MS).
    const deadline = Date.now() + 60_000;
    let last = await statuses();
    while (!allCompleted(last) && Date.now() < deadline) {
      await sleep(200);
      last = await statuses();
    }
    if (!allCompleted(last)) {
      for (const runId of runIds().filter((id) => last.get(id) !== 'completed')) {
        const run = await call(base, 'GET', `/v1/workflows/${workflowId}/runs/${runId}`, { key });
        console.log(`[workflow crash, ${backend.name}] run not completed: ${runId} ${run.body?.status}`, JSON.stringify(run.body?.steps?.map((s: any) => [s.key, s.status, s.attempts])));
      }
    }
    expect(Object.fromEntries(last)).toEqual(Object.fromEntries(runIds().map((id) => [id, 'completed'])));

    // Figures.
    const requests = receiver.log;
    const perKey = new Map<string, Delivery[]>();
    for (const delivery of requests) {
      const list = perKey.get(delivery.key ?? '(none)') ?? [];
      list.push(delivery);
      perKey.set(delivery.key ?? '(none)', list);
    }
    const duplicateKeys = [...perKey.values()].filter((list) => list.length > 1);
    const duplicates = duplicateKeys.reduce((sum, list) => sum + list.length - 1, 0);
    console.log(
      `[workflow crash, ${backend.name}] kills: ${kills} (requests seen before each: ${killedWith.join(', ')}), runs: ${RUNS}, ` +
        `total requests: ${requests.length}, distinct keys: ${perKey.size}, duplicate deliveries: ${duplicates} ` +
        `(over ${duplicateKeys.length} keys), server starts: ${restarts.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s, ` +
        `elapsed: ${((Date.now() - began) / 1000).toFixed(1)} s`,
    );

    // Every request is one of a run's http steps, under its idempotency key.
    const expectedKeys = new Set(runIds().flatMap((id) => Object.keys(HTTP_STEPS).map((step) => `${id}:${step}`)));
    for (const delivery of requests) {
      expect(expectedKeys.has(delivery.key ?? ''), `unexpected key ${delivery.key} (${delivery.path})`).toBe(true);
      expect(delivery.key!.startsWith(`${delivery.runId}:`), `${delivery.key} sent for run ${delivery.runId}`).toBe(true);
    }

    for (const runId of runIds()) {
      const n = inputs.get(runId)!;
      const run = await call(base, 'GET', `/v1/workflows/${workflowId}/runs/${runId}`, { key });
      expect(run.status).toBe(200);
      expect(run.body.status).toBe('completed');
      expect(run.body.output, runId).toEqual(expectedOutput(n));

      // The run's http steps, as stored, are exactly the declared ones, all succeeded.
      const httpSteps = (run.body.steps as any[]).filter((s) => s.type === 'http');
      expect(httpSteps.map((s) => s.key).sort(), runId).toEqual(Object.keys(HTTP_STEPS).sort());
      for (const step of httpSteps) expect(step.status, `${runId}:${step.key}`).toBe('succeeded');

      // The receiver saw one distinct key per http step of the run: the same set.
      const seen = new Set(requests.filter((d) => d.key?.startsWith(`${runId}:`)).map((d) => d.key!.slice(runId.length + 1)));
      expect([...seen].sort(), runId).toEqual(Object.keys(HTTP_STEPS).sort());

      for (const step of httpSteps) {
        const stepKey = `${runId}:${step.key}`;
        const deliveries = perKey.get(stepKey)!;
        // Every delivery of the key went to the step's own URL with the body of this run.
        for (const delivery of deliveries) expect(delivery.path, stepKey).toBe(HTTP_STEPS[step.key]!(n));
        // No delivery after the step's completion was stored.
        const completedAt = Date.parse(step.completed_at);
        expect(Number.isFinite(completedAt), stepKey).toBe(true);
        const late = deliveries.filter((d) => d.at > completedAt + CLOCK_TOLERANCE_MS);
        expect(
          late.map((d) => `${d.path} at ${new Date(d.at).toISOString()}`),
          `${stepKey} re-sent after its completion was stored at ${step.completed_at}`,
        ).toEqual([]);
      }

      // Each step completed once: a step completed twice would hide a re-send behind its later completed_at.
      const events = await runEvents(base, key, workflowId, runId);
      expect(events.at(-1)?.type, runId).toBe('run.completed');
      const completions = new Map<string, number>();
      for (const event of events.filter((e) => e.type === 'step.completed')) completions.set(event.data.key, (completions.get(event.data.key) ?? 0) + 1);
      for (const stepKey of Object.keys(HTTP_STEPS)) expect(completions.get(stepKey), `${runId}:${stepKey} step.completed events`).toBe(1);
      expect(events.filter((e) => e.type === 'run.completed'), runId).toHaveLength(1);
    }
  });
}

describe('workflow runs survive repeated kill -9 (sqlite, local queue)', { timeout: 170_000 }, () => {
  crashSuite(sqliteBackend);
});

describe('workflow runs survive repeated kill -9 (postgres, bullmq)', { timeout: 170_000 }, () => {
  crashSuite(postgresBackend);
});
