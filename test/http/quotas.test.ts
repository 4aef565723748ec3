import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { minimalPdf } from '../support/documents.js';

/**
 * Storage quotas by plan, through the real server on a free workspace: documents per source and
 * bytes stored. Over a quota the request is refused with 403 quota_exceeded and nothing of it
 * is kept; replacing a document counts it once; GET /v1/workspace shows the quotas.
 */
describe('storage quotas', () => {
  let server: TestServer;
  let ws: TestWorkspace;
  const post = (path: string, body: unknown) => call(server.url, 'POST', path, { key: ws.testKey, body });
  const get = (path: string) => call(server.url, 'GET', path, { key: ws.testKey });
  const upload = async (source: string, name: string, bytes: Uint8Array) => {
    const form = new FormData();
    form.append('file', new Blob([bytes], { type: 'application/pdf' }), name);
    const response = await fetch(`${server.url}/v1/context/sources/${source}/documents`, { method: 'POST', headers: { authorization: `Bearer ${ws.testKey}` }, body: form });
    return { status: response.status, body: (await response.json()) as any };
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    ws = await server.workspace('free');
  });
  afterAll(async () => {
    await server?.close();
  });

  it('shows the quotas of the plan', async () => {
    const workspace = await get('/v1/workspace');
    expect(workspace.body.limits).toMatchObject({ storage_bytes: 100 * 1024 * 1024, documents_per_source: 1000, concurrent_ingestion_jobs: 2 });
    expect(workspace.body.usage).toMatchObject({ storage_bytes: 0, concurrent_ingestion_jobs: 0 });
  });

  it('runs at most the plan\'s number of background ingestion jobs of a workspace at once; the others wait their turn', async () => {
    const enterprise = await server.workspace('enterprise');
    /** The most documents of the source seen indexing at one time, polling until all are indexed. */
    const mostIndexingAtOnce = async (key: string, source: string) => {
      const documents = Array.from({ length: 6 }, (_, i) => ({ external_id: `manual-${i}`, text: `Chapter ${i}. ${'The pump needs priming before first use. '.repeat(8000)}` }));
      const sent = await call(server.url, 'POST', '/v1/context/sources', { key, body: { name: source } });
      expect(sent.status).toBe(201);
      expect((await call(server.url, 'POST', `/v1/context/sources/${source}/documents`, { key, body: { documents, background: true } })).status).toBe(202);
      let most = 0;
      for (;;) {
        const list = await call(server.url, 'GET', `/v1/context/sources/${source}/documents?limit=100`, { key });
        const statuses = (list.body.data as Array<{ status: string }>).map((d) => d.status);
        most = Math.max(most, statuses.filter((s) => s === 'indexing').length);
        if (statuses.every((s) => s === 'indexed')) return most;
        expect(statuses).not.toContain('failed');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    // The same work on an unlimited plan does run more at once: the cap is what holds the free one.
    expect(await mostIndexingAtOnce(enterprise.testKey, 'manuals')).toBeGreaterThan(2);
    const free = await mostIndexingAtOnce(ws.testKey, 'manuals');
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThanOrEqual(2);
    expect((await get('/v1/workspace')).body.usage.concurrent_ingestion_jobs).toBe(0);
    expect((await call(server.url, 'DELETE', '/v1/context/sources/manuals', { key: ws.testKey })).status).toBe(200);
  }, 120_000);

  it('holds a source to its plan\'s number of documents; a replacement counts once', async () => {
    expect((await post('/v1/context/sources', { name: 'many' })).status).toBe(201);
    for (let start = 0; start < 1000; start += 100) {
      const documents = Array.from({ length: 100 }, (_, i) => ({ external_id: `note-${start + i}`, text: `Note ${start + i}.` }));
      expect((await post('/v1/context/sources/many/documents', { documents, background: true })).status).toBe(202);
    }
    const over = await post('/v1/context/sources/many/documents', { documents: [{ external_id: 'note-1000', text: 'One too many.' }] });
    expect(over.status).toBe(403);
    expect(over.body.error).toMatchObject({ type: 'permission_error', code: 'quota_exceeded', param: 'documents' });
    expect(over.body.error.message).toContain('1000');
    const replaced = await post('/v1/context/sources/many/documents', { documents: [{ external_id: 'note-7', text: 'Note 7, amended.' }] });
    expect(replaced.status).toBe(201);
    expect((await get('/v1/context/sources/many')).body.counts.documents).toBe(1000);
  }, 60_000);

  it('holds the workspace to its plan\'s stored bytes, keeping nothing of a refused request', async () => {
    expect((await post('/v1/context/sources', { name: 'big' })).status).toBe(201);
    // Large files with little text: three fit in 100 MiB, the fourth does not.
    const pdf = (i: number) => minimalPdf([`Scan ${i}`], 30 * 1024 * 1024);
    for (let i = 0; i < 3; i++) expect((await upload('big', `scan-${i}.pdf`, pdf(i))).status).toBe(201);
    const over = await upload('big', 'scan-3.pdf', pdf(3));
    expect(over.status).toBe(403);
    expect(over.body.error.code).toBe('quota_exceeded');
    expect(over.body.error.message).toContain(String(100 * 1024 * 1024));
    expect((await get('/v1/context/sources/big')).body.counts.documents).toBe(3);
    const stored = (await get('/v1/workspace')).body.usage.storage_bytes;
    expect(stored).toBeGreaterThan(90 * 1024 * 1024);
    expect(stored).toBeLessThanOrEqual(100 * 1024 * 1024);
    const documents = (await get('/v1/context/sources/big/documents')).body.data;
    expect((await call(server.url, 'DELETE', `/v1/context/sources/big/documents/${documents[0].id}`, { key: ws.testKey })).status).toBe(200);
    expect((await get('/v1/workspace')).body.usage.storage_bytes).toBe(stored - documents[0].size_bytes);
  }, 120_000);
});
