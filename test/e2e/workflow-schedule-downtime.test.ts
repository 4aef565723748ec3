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
    await sleep(1_500);
    const fires = await scheduled(kairo.url);

    expect(new Set(fires).size).toBe(fires.length);
    const beforeStop = fires.filter((t) => t <= stoppedAt);
    const whileDown = fires.filter((t) => t > stoppedAt && t <= restartedAt - 1_000);
    const afterRestart = fires.filter((t) => t > restartedAt - 1_000);
    expect(beforeStop.length).toBeGreaterThanOrEqual(1);
    // About four due times passed while it was down: none of them fired on its own…
    expect(whileDown).toEqual([]);
    // …and the catch-up run is for the latest due time before the restart (within a second of it).
    expect(afterRestart.length).toBeGreaterThanOrEqual(1);
    expect(afterRestart[0]!).toBeLessThanOrEqual(restartedAt);
    // Then the schedule goes on, one run per second.
    for (let i = 1; i < afterRestart.length; i++) expect(afterRestart[i]! - afterRestart[i - 1]!).toBe(1_000);
  });
});
