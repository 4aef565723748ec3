import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { waitFor } from '../support/site.js';

/**
 * Load shedding through the real server: past the heap threshold (set to one byte here, so the
 * process is always over it once measured) every request but `/v1/status` is refused at once
 * with 503 `server_busy` and Retry-After, and the status says why.
 */
describe('load shedding', () => {
  let server: TestServer;
  let ws: TestWorkspace;

  beforeAll(async () => {
    server = await startTestServer('sqlite', { maxHeapUsedBytes: 1 });
    ws = await server.workspace('free');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers 503 server_busy with Retry-After while over the threshold, and /v1/status reports it', async () => {
    // The load is measured once a second.
    const refused = await waitFor(() => call(server.url, 'GET', '/v1/workspace', { key: ws.testKey }), (r) => r.status === 503, 5_000);
    expect(refused.body.error).toMatchObject({ type: 'api_error', code: 'server_busy' });
    expect(refused.body.error.request_id).toMatch(/^req_/);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect((await call(server.url, 'POST', '/v1/agents', { key: ws.testKey, body: { name: 'a', model: 'auto' } })).status).toBe(503);

    const status = await call(server.url, 'GET', '/v1/status');
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ status: 'degraded', load: { status: 'shedding' } });
    expect(status.body.load.heap_used_bytes).toBeGreaterThan(1);
    expect(status.body.load.compute).toMatchObject({ running: 0, queued: 0 });
    expect(status.body.load.compute.workers).toBeGreaterThanOrEqual(1);
  });
});
