import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { JobRecord, RunEvent } from '../../src/store/port.js';
import { call, type ApiResponse } from '../support/server.js';
import { tempDir } from '../support/services.js';
import { freePort, killAllCli, spawnCli, type CliProcess } from '../support/cli.js';

/** The lease of the local queue (LocalQueue's default; `kairo serve` has no setting for it). */
const QUEUE_LEASE_MS = 30_000;
/** RunEngine: a wait run not touched for 30 s is abandoned; the sweeper looks every 15 s. */
const ABANDONED_AFTER_MS = 30_000;
const SWEEP_EVERY_MS = 15_000;
const TERMINAL = ['completed', 'failed', 'cancelled'];

/**
 * Agent runs survive kill -9 of the real CLI: a background run that was executing is run again
 * by the restarted process once its job's lease expires, and a wait run that was executing (its
 * client's connection died with the server) is marked failed `run_interrupted` by the sweeper.
 * Neither stays queued or running.
 */
describe('agent runs survive kill -9 and restart', { timeout: 100_000 }, () => {
  let dir: string;
  let port: number;
  let base: string;
  let server: CliProcess | undefined;
  let key: string;
  let agentId: string;

  const start = async (): Promise<CliProcess> => {
    const proc = spawnCli(['serve', '--data', dir, '--port', String(port), '--log-level', 'warn']);
    await proc.waitFor(/listening on (\S+)/);
    return proc;
  };
  const getRun = (runId: string) => call(base, 'GET', `/v1/agents/${agentId}/runs/${runId}`, { key });

  /** Polls until `done`, or returns the last value at the deadline (the caller's expect fails then). */
  async function poll<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, everyMs = 200): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (done(value) || Date.now() > deadline) return value;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }

  /** The run's event log and job, read through a second connection (WAL lets it read beside the server). */
  async function readDatabase(runIds: string[]): Promise<{ events: Map<string, RunEvent[]>; jobs: Map<string, JobRecord | undefined> }> {
    const store = await openSqliteStore({ dataDir: dir });
    try {
      const events = new Map<string, RunEvent[]>();
      const jobs = new Map<string, JobRecord | undefined>();
      for (const id of runIds) {
        events.set(id, await store.runEvents.events(id, 0, 1000));
        jobs.set(id, await store.jobs.get(`run_${id}`));
      }
      return { events, jobs };
    } finally {
      await store.close();
    }
  }

  beforeAll(async () => {
    dir = tempDir('kairo-agent-restart-');
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await killAllCli();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finishes or fails every run that was executing when the server was killed', async () => {
    server = await start();
    key = (await server.waitFor(/^ {2}test key: (sk_test_\S+)$/m))[1]!;
    const agent = await call(base, 'POST', '/v1/agents', { key, body: { name: 'Survivor' } });
    expect(agent.status).toBe(201);
    agentId = agent.body.id;

    // A background run executing a slow model call (`slow 3000` on a line of its own).
    const background = await call(base, 'POST', `/v1/agents/${agentId}/runs`, { key, body: { input: 'Take your time.\nslow 3000', background: true } });
    expect(background.status).toBe(202);
    const backgroundId: string = background.body.id;
    const running = await poll(() => getRun(backgroundId), (r) => r.body.status !== 'queued', 10_000, 50);
    expect(running.body.status).toBe('running');

    // A wait run in flight: its client holds the connection open while the model is slow.
    const waitCall: Promise<ApiResponse | Error> = call(base, 'POST', `/v1/agents/${agentId}/runs`, { key, body: { input: 'slow 20000' } }).catch((error: Error) => error);
    const listed = await poll(
      () => call(base, 'GET', `/v1/agents/${agentId}/runs?limit=10`, { key }),
      (r) => r.body.data.some((run: any) => run.mode === 'wait' && run.status === 'running'),
      10_000,
      50,
    );
    const waitRun = listed.body.data.find((run: any) => run.mode === 'wait');
    expect(waitRun?.status).toBe('running');
    const waitId: string = waitRun.id;

    await server.kill9();
    const killedAt = Date.now();
    expect((await server.exited()).signal).toBe('SIGKILL');
    // The wait run's client learns nothing but a dropped connection.
    expect(await waitCall).toBeInstanceOf(Error);

    // While it is down, both runs are still marked running: nobody finished them.
    const down = await readDatabase([backgroundId, waitId]);
    expect(down.jobs.get(backgroundId)).toMatchObject({ state: 'active', attempts: 1 });
    expect(down.events.get(backgroundId)!.map((e) => e.type)).toEqual(['run.created', 'run.started']);

    server = await start();
    expect(server.stdout()).not.toMatch(/key: sk_/);

    // Both are settled in parallel: the job's lease must expire (≤ 30 s after the kill, then the
    // 3 s model call), the sweeper must see the wait run silent for 30 s (≤ 45 s after the kill).
    const deadline = Math.max(QUEUE_LEASE_MS + 3_000, ABANDONED_AFTER_MS + SWEEP_EVERY_MS) + 10_000;
    const settled = (r: ApiResponse) => TERMINAL.includes(r.body?.status);
    const [backgroundDone, waitDone] = await Promise.all([
      poll(() => getRun(backgroundId), settled, deadline - (Date.now() - killedAt), 250),
      poll(() => getRun(waitId), settled, deadline - (Date.now() - killedAt), 250),
    ]);
    const elapsed = Date.now() - killedAt;

    // The background run ran again on the restarted process and completed (or failed saying why).
    expect(['completed', 'failed']).toContain(backgroundDone.body.status);
    if (backgroundDone.body.status === 'completed') {
      expect(backgroundDone.body.output).toContain('Simulated answer to "Take your time."');
      expect(backgroundDone.body.usage.output_tokens).toBeGreaterThan(0);
      expect(backgroundDone.body.steps.some((s: any) => s.type === 'model_call' && s.status === 'ok')).toBe(true);
    } else {
      expect(backgroundDone.body.error).toEqual({ code: expect.any(String), message: expect.stringMatching(/\S/) });
    }

    // The wait run cannot be resumed (its client is gone): it failed, and says why.
    expect(waitDone.body.status).toBe('failed');
    expect(waitDone.body.error).toEqual({ code: 'run_interrupted', message: expect.stringContaining('stopped before it finished') });
    expect(elapsed).toBeLessThan(ABANDONED_AFTER_MS + SWEEP_EVERY_MS + 5_000);

    // The logs end with the terminal event, in order, without duplicates; the job ran twice.
    const after = await readDatabase([backgroundId, waitId]);
    for (const [id, events] of after.events) {
      const seqs = events.map((e) => e.seq);
      expect(seqs, id).toEqual(seqs.map((_, i) => i + 1));
      expect(events.at(-1)!.type, id).toBe(id === backgroundId ? `run.${backgroundDone.body.status}` : 'run.failed');
      expect(events.filter((e) => ['run.completed', 'run.failed', 'run.cancelled'].includes(e.type)), id).toHaveLength(1);
    }
    expect(after.jobs.get(backgroundId)).toMatchObject({ state: 'completed', attempts: 2 });
    expect(JSON.parse(after.jobs.get(backgroundId)!.result!)).toEqual({ status: backgroundDone.body.status });
    expect(after.jobs.get(waitId)).toBeUndefined();

    // The restarted server runs new work normally.
    const fresh = await call(base, 'POST', `/v1/agents/${agentId}/runs`, { key, body: { input: 'Still there?' } });
    expect(fresh.status).toBe(200);
    expect(fresh.body.status).toBe('completed');
  });
});
