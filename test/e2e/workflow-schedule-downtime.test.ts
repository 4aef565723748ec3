import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startKairo, type Kairo } from '../../src/main.js';
import { createWorkspace } from '../../src/platform/workspaces.js';
import { createApiKey } from '../../src/platform/api-keys.js';
import { call } from '../support/server.js';
import { tempDir } from '../support/services.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The documented missed-times policy: due times that pass while KAIRO is down collapse into one
 * run, for the latest of them, when it starts again; the schedule then goes on as before.
 */
describe('workflow schedules across downtime', () => {
  const dataDir = tempDir();
  let kairo: Kairo | undefined;
  const start = () => startKairo(loadConfig({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent', workflowSchedulerIntervalMs: 200 }, {}));

  afterAll(async () => {
    await kairo?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('fires one run for the latest missed due time after a restart, and none for the others', async () => {
    kairo = await start();
    const ws = await createWorkspace(kairo.store, { name: 'downtime', plan: 'pro' });
    const key = (await createApiKey(kairo.store, { workspaceId: ws.id, livemode: false })).secret;
    const created = await call(kairo.url, 'POST', '/v1/workflows', {
      key, body: { name: 'every second', steps: [{ id: 'tick', type: 'transform', expression: 'run.trigger' }], schedule: { cron: '* * * * * *', input: {} } },
    });
    expect(created.status).toBe(201);
    const workflowId = created.body.id as string;
    const scheduled = async (base: string) => {
      const res = await call(base, 'GET', `/v1/workflows/${workflowId}/runs?trigger=schedule&limit=100`, { key });
      expect(res.status).toBe(200);
      return (res.body.data as Array<{ scheduled_for: string }>).map((r) => Date.parse(r.scheduled_for)).sort((a, b) => a - b);
    };

    await sleep(2_500);
    await kairo.close();
    const stoppedAt = Date.now();
    await sleep(4_000);
    const restartedAt = Date.now();
    kairo = await start();
    // The scheduler's first look happened while starting: every due time up to now had passed.
    const upAt = Date.now();
    await sleep(1_500);
    const fires = await scheduled(kairo.url);

    expect(new Set(fires).size).toBe(fires.length);
    expect(fires.filter((t) => t <= stoppedAt).length).toBeGreaterThanOrEqual(1);
    const afterStop = fires.filter((t) => t > stoppedAt);
    expect(afterStop.length).toBeGreaterThanOrEqual(1);
    // The first run after the stop is the catch-up: for a due time that had passed when the server
    // came back (not the next one to come)…
    expect(afterStop[0]!).toBeLessThanOrEqual(upAt);
    // …and for the latest of the about four that passed while it was down, none of the others.
    expect(afterStop[0]!).toBeGreaterThanOrEqual(restartedAt - 1_000);
    // Then the schedule goes on, on whole seconds (a tick that comes late under load may itself
    // collapse two due times, by the same policy).
    expect(afterStop.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < afterStop.length; i++) expect(afterStop[i]! - afterStop[i - 1]!).toBeGreaterThanOrEqual(1_000);
    for (const t of afterStop) expect(t % 1_000).toBe(0);
  });
});
