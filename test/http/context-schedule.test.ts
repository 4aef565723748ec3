import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { REFRESH_SOURCE_JOB } from '../../src/context/refresh.js';
import { htmlPage, redisDatabaseUrl, startSite, waitFor, type TestSite } from '../support/site.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Scheduled refresh through the real server with a fast scheduler (100 ms). On PostgreSQL two
 * servers share one database and one queue, as in cluster mode: every process's scheduler sees
 * a due source, yet the refresh runs once per due time, and never two at once.
 */
describe.each(backends)('scheduled context refresh on %s', (backend) => {
  let servers: TestServer[] = [];
  let site: TestSite;
  let ws: TestWorkspace;
  const flags = {
    outboundAllowCidrs: '127.0.0.0/8',
    refreshSchedulerIntervalMs: 100,
    ...(backend === 'sqlite' ? {} : { redisUrl: redisDatabaseUrl(5) }),
  };
  const on = (i: number) => servers[i % servers.length]!;
  const get = (path: string, i = 0) => call(on(i).url, 'GET', path, { key: ws.liveKey });
  const post = (path: string, body: unknown, i = 0) => call(on(i).url, 'POST', path, { key: ws.liveKey, body });
  const store = () => servers[0]!.kairo.store;
  const refreshedAfter = (name: string, since: string | null, timeoutMs = 10_000) =>
    waitFor(
      () => get(`/v1/context/sources/${name}`),
      (r) => r.body.refresh.last_refreshed_at !== null && r.body.refresh.last_refreshed_at !== since && !r.body.refresh.running,
      timeoutMs,
    );
  /** Writes the refresh bookkeeping straight into the database, as time passing (or a crash) would. */
  const setRefreshState = async (id: string, state: { nextRefreshAt: number; refreshLockedUntil?: number | null }) => {
    const source = (await store().contextSources.getById(id))!;
    await store().contextSources.update({ ...source, refreshLockedUntil: null, ...state });
  };

  beforeAll(async () => {
    site = await startSite();
    const first = await startTestServer(backend, flags);
    servers = [first];
    if (backend !== 'sqlite') servers.push(await startTestServer(backend, flags, { schema: first.schema! }));
    ws = await first.workspace('enterprise');
  });
  afterAll(async () => {
    for (const server of [...servers].reverse()) await server.close();
    await site?.close();
  });

  it('runs each due refresh once, however many schedulers see it', async () => {
    site.set('/due.html', { body: htmlPage('Due', 'Lemurs leap between trees.'), delayMs: 150 });
    const created = await post('/v1/context/sources', { name: 'due', type: 'url', urls: [`${site.url}/due.html`], refresh_interval_seconds: 60 });
    expect(created.status).toBe(201);
    let source = await refreshedAfter('due', null);
    // Schedulers tick every 100 ms: give them time to (wrongly) queue the first fetch again.
    await pause(400);
    expect(site.hits('/due.html')).toHaveLength(1);
    const last = Date.parse(source.body.refresh.last_refreshed_at);
    expect(Date.parse(source.body.refresh.next_refresh_at)).toBe(last + 60_000);

    for (let round = 2; round <= 3; round++) {
      await setRefreshState(created.body.id, { nextRefreshAt: Date.now() - 1_000 });
      source = await refreshedAfter('due', source.body.refresh.last_refreshed_at, 5_000);
      await pause(400);
      expect(site.hits('/due.html'), `round ${round}`).toHaveLength(round);
      const at = Date.parse((await get('/v1/context/sources/due', round)).body.refresh.last_refreshed_at);
      expect((await get('/v1/context/sources/due', round)).body.refresh).toMatchObject({ running: false, last_error: null, next_refresh_at: new Date(at + 60_000).toISOString() });
    }
    // Unchanged page: a conditional GET would be used if the site sent validators; the content
    // hash keeps the document at its first version either way.
    const [doc] = (await get('/v1/context/sources/due/documents')).body.data;
    expect(doc).toMatchObject({ version: 1, status: 'indexed' });
    expect(site.maxConcurrent('/due.html')).toBe(1);
  });

  it('never runs two refreshes of one source at once; a second request waits for the first', async () => {
    site.set('/slow.html', { body: htmlPage('Slow', 'Sloths move slowly.'), delayMs: 400 });
    await post('/v1/context/sources', { name: 'slow', type: 'url', urls: [`${site.url}/slow.html`], refresh_interval_seconds: 60 });
    await refreshedAfter('slow', null);
    const hits = site.hits('/slow.html').length;

    // Two explicit refreshes at once (through each server when there are two); none is due.
    const [a, b] = await Promise.all([post('/v1/context/sources/slow/refresh', {}, 0), post('/v1/context/sources/slow/refresh', {}, 1)]);
    expect([a.status, b.status]).toEqual([202, 202]);
    const during = await waitFor(() => get('/v1/context/sources/slow'), (r) => r.body.refresh.running, 3_000, 20);
    expect(during.body.refresh.running).toBe(true);
    // The second waits for the lock: it runs after the first (the queue retries it after 2 s).
    await waitFor(async () => site.hits('/slow.html').length, (n) => n >= hits + 2, 10_000);
    await waitFor(() => get('/v1/context/sources/slow'), (r) => !r.body.refresh.running, 3_000);
    await pause(300);
    expect(site.hits('/slow.html').length - hits).toBe(2);
    expect(site.maxConcurrent('/slow.html')).toBe(1);
    expect((await get('/v1/context/sources/slow', 1)).body.refresh).toMatchObject({ running: false, last_error: null });
  });

  it('queues a due time again when the process refreshing it died, once its lock lapses', async () => {
    site.set('/orphan.html', { body: htmlPage('Orphan', 'Okapis hide in forests.') });
    const created = await post('/v1/context/sources', { name: 'orphan', type: 'url', urls: [`${site.url}/orphan.html`], refresh_interval_seconds: 60 });
    const first = await refreshedAfter('orphan', null);
    const hits = site.hits('/orphan.html').length;

    // A refresher took the source's lock for the refresh due at `due` and died; its job gave up
    // (here: a finished job holding that due time's id) and the lock has since lapsed.
    const due = Date.now() - 60_000;
    await on(0).kairo.queue.enqueue(REFRESH_SOURCE_JOB, { sourceId: 'src_gone', due }, { jobId: `refresh_${created.body.id}_due${due}` });
    await setRefreshState(created.body.id, { nextRefreshAt: due, refreshLockedUntil: Date.now() - 1_000 });

    const again = await refreshedAfter('orphan', first.body.refresh.last_refreshed_at, 5_000);
    expect(again.body.refresh).toMatchObject({ running: false, last_error: null });
    expect(Date.parse(again.body.refresh.next_refresh_at)).toBeGreaterThan(Date.now() + 50_000);
    await pause(400);
    expect(site.hits('/orphan.html').length - hits).toBe(1);
  });
});

describe('refresh scheduler setting', () => {
  it('defaults to 15 s and takes KAIRO_REFRESH_SCHEDULER_INTERVAL_MS within 100 ms … 1 h', () => {
    expect(loadConfig({}, {}).refreshSchedulerIntervalMs).toBe(15_000);
    expect(loadConfig({}, { KAIRO_REFRESH_SCHEDULER_INTERVAL_MS: '250' }).refreshSchedulerIntervalMs).toBe(250);
    expect(loadConfig({ refreshSchedulerIntervalMs: 1_000 }, { KAIRO_REFRESH_SCHEDULER_INTERVAL_MS: '250' }).refreshSchedulerIntervalMs).toBe(1_000);
    for (const bad of ['99', '3600001', '1.5', 'soon']) {
      expect(() => loadConfig({}, { KAIRO_REFRESH_SCHEDULER_INTERVAL_MS: bad }), bad).toThrow(ConfigError);
    }
    expect(() => loadConfig({}, { KAIRO_REFRESH_SCHEDULER_INTERVAL_MS: '5' })).toThrow(/KAIRO_REFRESH_SCHEDULER_INTERVAL_MS/);
  });
});
