import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { waitFor } from '../support/site.js';
import { manyPagePdf } from '../support/documents.js';

/**
 * The limits on what one document may cost, through the real server with small settings: each
 * is refused with a 4xx naming the setting (or, for work done in the background, a failed
 * document with the code), nothing is stored, and the server goes on serving.
 */
describe('context ingestion limits', () => {
  let server: TestServer;
  let ws: TestWorkspace;
  const post = (path: string, body: unknown) => call(server.url, 'POST', path, { key: ws.testKey, body });
  const get = (path: string) => call(server.url, 'GET', path, { key: ws.testKey });
  const upload = async (source: string, files: Array<[string, string | Uint8Array, string]>) => {
    const form = new FormData();
    for (const [name, bytes, type] of files) form.append('file', new Blob([bytes], { type }), name);
    const response = await fetch(`${server.url}/v1/context/sources/${source}/documents`, {
      method: 'POST', headers: { authorization: `Bearer ${ws.testKey}` }, body: form,
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const documentCount = async (source: string) => (await get(`/v1/context/sources/${source}`)).body.counts.documents;

  beforeAll(async () => {
    server = await startTestServer('sqlite', {
      maxFileBytes: 20_000,
      maxUploadBytes: 30_000,
      maxPdfPages: 10,
      maxCsvCells: 100,
      maxDocumentChars: 5_000,
    });
    ws = await server.workspace('enterprise');
    expect((await post('/v1/context/sources', { name: 'limits' })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a file over the per-file limit and a request over the per-request limit, storing nothing', async () => {
    const big = await upload('limits', [['ok.txt', 'A small file.', 'text/plain'], ['big.txt', 'b'.repeat(20_001), 'text/plain']]);
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({ type: 'invalid_request_error', code: 'document_too_large', param: 'files[1]' });
    expect(big.body.error.message).toContain('--max-file-bytes');

    const many = await upload('limits', [['one.txt', 'o'.repeat(15_000), 'text/plain'], ['two.txt', 't'.repeat(15_001), 'text/plain']]);
    expect(many.status).toBe(413);
    expect(many.body.error).toMatchObject({ code: 'body_too_large', param: 'files[1]' });
    expect(many.body.error.message).toContain('--max-upload-bytes');

    const json = await post('/v1/context/sources/limits/documents', { documents: [{ text: 'j'.repeat(20_001) }] });
    expect(json.status).toBe(413);
    expect(json.body.error).toMatchObject({ code: 'document_too_large', param: 'documents[0].text' });
    const body = await post('/v1/context/sources/limits/documents', { documents: [{ text: 'a'.repeat(15_000) }, { text: 'b'.repeat(16_000) }] });
    expect(body.status).toBe(413);
    expect(body.body.error.code).toBe('body_too_large');
    expect(await documentCount('limits')).toBe(0);
  });

  it('counts a PDF\'s pages before reading any', async () => {
    const ten = await upload('limits', [['ten.pdf', manyPagePdf(10, 'Ten pages of ibex facts.'), 'application/pdf']]);
    expect(ten.status).toBe(201);
    expect(ten.body.data[0]).toMatchObject({ status: 'indexed' });

    const eleven = await upload('limits', [['eleven.pdf', manyPagePdf(11), 'application/pdf']]);
    expect(eleven.status).toBe(413);
    expect(eleven.body.error).toMatchObject({ code: 'document_too_large', param: 'files[0]' });
    expect(eleven.body.error.message).toMatch(/11 pages.*--max-pdf-pages/);
  });

  it('stops reading a CSV past its cell limit, and refuses text past the character limit', async () => {
    const rows = (n: number) => ['a,b,c,d', ...Array.from({ length: n }, (_, i) => `${i},x,y,z`)].join('\n');
    expect((await upload('limits', [['fits.csv', rows(24), 'text/csv']])).status).toBe(201);
    const wide = await upload('limits', [['wide.csv', rows(25), 'text/csv']]);
    expect(wide.status).toBe(413);
    expect(wide.body.error).toMatchObject({ code: 'document_too_large', param: 'files[0]' });
    expect(wide.body.error.message).toContain('--max-csv-cells');

    const long = await post('/v1/context/sources/limits/documents', { documents: [{ text: 'word '.repeat(1_200) }] });
    expect(long.status).toBe(413);
    expect(long.body.error).toMatchObject({ code: 'document_too_large', param: 'documents[0].text' });
    expect(long.body.error.message).toContain('--max-document-chars');
    expect(await documentCount('limits')).toBe(2);
  });
});

/**
 * Work that outgrows a worker — its memory or its time — fails that document with a clear code;
 * the worker is replaced and the next document is indexed as usual.
 */
describe('context work that outgrows a worker', () => {
  let memory: TestServer;
  let time: TestServer;
  let ws: { memory: TestWorkspace; time: TestWorkspace };
  const post = (server: TestServer, key: string, path: string, body: unknown) => call(server.url, 'POST', path, { key, body });

  beforeAll(async () => {
    memory = await startTestServer('sqlite', { computeWorkers: 1, computeHeapMb: 64, documentTimeoutMs: 60_000 });
    time = await startTestServer('sqlite', { computeWorkers: 1, documentTimeoutMs: 1_000, maxDocumentChars: 50_000_000 });
    ws = { memory: await memory.workspace('enterprise'), time: await time.workspace('enterprise') };
    expect((await post(memory, ws.memory.testKey, '/v1/context/sources', { name: 'heavy' })).status).toBe(201);
    expect((await post(time, ws.time.testKey, '/v1/context/sources', { name: 'slow' })).status).toBe(201);
  });
  afterAll(async () => {
    await memory?.close();
    await time?.close();
  });

  it('fails a document that needs more memory than a worker has, and goes on', async () => {
    // Two million small objects: far more than a 64 MB heap holds once parsed.
    const json = `[${'{"k":1},'.repeat(2_000_000)}{"k":1}]`;
    const heavy = await post(memory, ws.memory.testKey, '/v1/context/sources/heavy/documents', { documents: [{ text: json, content_type: 'application/json' }] });
    expect(heavy.status).toBe(413);
    expect(heavy.body.error).toMatchObject({ code: 'document_too_large', param: 'documents[0].text' });
    expect(heavy.body.error.message).toContain('--compute-heap-mb');

    const next = await post(memory, ws.memory.testKey, '/v1/context/sources/heavy/documents', { documents: [{ text: 'The worker came back for this one.' }] });
    expect(next.status).toBe(201);
    expect(next.body.data[0].status).toBe('indexed');
    expect((await call(memory.url, 'GET', '/v1/status')).status).toBe(200);
  }, 90_000);

  it('fails a document whose chunking takes longer than allowed, in the background, with document_timeout', async () => {
    // About 20 MB: counting its millions of tokens takes the chunker about 2 s, while parsing it
    // as plain text (in the request) takes about a quarter of the 1 s allowed.
    const text = Array.from({ length: 240_000 }, (_, i) => `Paragraph ${i} talks about ibexes, dams and the keeper of lighthouse number ${i}.`).join('\n\n');
    const accepted = await post(time, ws.time.testKey, '/v1/context/sources/slow/documents', { documents: [{ text }], background: true });
    expect(accepted.status).toBe(202);
    const id = accepted.body.data[0].id;
    const failed = await waitFor(() => call(time.url, 'GET', `/v1/context/sources/slow/documents/${id}`, { key: ws.time.testKey }), (r) => r.body.status === 'failed', 30_000);
    expect(failed.body.error).toMatchObject({ code: 'document_timeout' });
    expect(failed.body.error.message).toContain('--document-timeout');
  }, 60_000);
});
