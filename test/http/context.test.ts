import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/site.js';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { startFakeOpenAI } from '../fixtures/fake-openai.js';
import { minimalPdf } from '../support/documents.js';

type Fake = Awaited<ReturnType<typeof startFakeOpenAI>>;

/** A loopback site whose pages and JSON feed the tests change, counting conditional requests. */
async function startSite() {
  const pages = new Map<string, { body: string; type: string; etag: string }>();
  const log: Array<{ path: string; ifNoneMatch: string | undefined; status: number }> = [];
  const server = http.createServer((req, res) => {
    const page = pages.get(req.url ?? '');
    const ifNoneMatch = req.headers['if-none-match'];
    let status = 404;
    if (page && ifNoneMatch === page.etag) status = 304;
    else if (page) status = 200;
    log.push({ path: req.url ?? '', ifNoneMatch, status });
    if (status === 200) {
      res.writeHead(200, { 'content-type': page!.type, etag: page!.etag });
      res.end(page!.body);
    } else {
      res.writeHead(status);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let version = 0;
  return {
    url,
    log,
    set(path: string, body: string, type = 'text/html') {
      pages.set(path, { body, type, etag: `"v${++version}"` });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}


describe.each(backends)('context API on %s', (backend) => {
  let server: TestServer;
  let ws: TestWorkspace;
  let fake: Fake;
  let site: Awaited<ReturnType<typeof startSite>>;
  const post = (path: string, body: unknown, key = ws.liveKey) => call(server.url, 'POST', path, { key, body });
  const get = (path: string, key = ws.liveKey) => call(server.url, 'GET', path, { key });

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    site = await startSite();
    server = await startTestServer(backend, {
      outboundAllowCidrs: '127.0.0.0/8',
      openaiCompatibleBaseUrl: fake.url,
      openaiCompatibleName: 'fake',
      embeddingModels: 'fake/embed-small:64',
    });
    ws = await server.workspace('enterprise');
  });
  afterAll(async () => {
    await server?.close();
    await site?.close();
    await fake?.close();
  });

  it('creates the seed example source and rejects bad sources', async () => {
    const crm = await post('/v1/context/sources', { name: 'crm' });
    expect(crm.status).toBe(201);
    expect(crm.body).toMatchObject({ object: 'context_source', name: 'crm', type: 'documents', embedding_model: 'kairo/hash-384', embedding_dimensions: 384, livemode: true });
    expect(crm.body.id).toMatch(/^src_/);
    expect((await get('/v1/context/sources/crm')).body.id).toBe(crm.body.id);
    expect((await get(`/v1/context/sources/${crm.body.id}`)).body.name).toBe('crm');

    const taken = await post('/v1/context/sources', { name: 'crm' });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toMatchObject({ code: 'source_name_taken', param: 'name' });
    const model = await post('/v1/context/sources', { name: 'x1', embedding_model: 'nope/nothing' });
    expect(model.body.error).toMatchObject({ code: 'parameter_invalid', param: 'embedding_model' });
    const urls = await post('/v1/context/sources', { name: 'x2', urls: ['https://example.com'] });
    expect(urls.body.error).toMatchObject({ param: 'urls' });
    const missing = await post('/v1/context/sources', { name: 'x3', type: 'url' });
    expect(missing.body.error).toMatchObject({ code: 'parameter_missing', param: 'urls' });
    // The other mode does not see live sources.
    expect((await get('/v1/context/sources/crm', ws.testKey)).status).toBe(404);
  });

  it('ingests JSON documents, answers hybrid queries with filters, and replaces by external_id', async () => {
    await post('/v1/context/sources', { name: 'handbook', metadata: { team: 'support' } });
    const ingest = await post('/v1/context/sources/handbook/documents', {
      documents: [
        { external_id: 'refunds', title: 'Refund policy', text: '# Refunds\n\nCustomers can request a refund within 30 days of purchase. Refunds go back to the original card.', metadata: { region: 'emea', year: 2024 } },
        { external_id: 'shipping', title: 'Shipping', text: '# Shipping\n\nOrders ship within two business days. Express delivery is available in most countries.', metadata: { region: 'us', year: 2023 } },
        { external_id: 'security', title: 'Security', text: '# Security\n\nAll data is encrypted at rest with AES-256 and in transit with TLS 1.3.', metadata: { region: 'emea', year: 2022 } },
      ],
    });
    expect(ingest.status).toBe(201);
    expect(ingest.body.data).toHaveLength(3);
    for (const d of ingest.body.data) expect(d).toMatchObject({ object: 'context_document', status: 'indexed', version: 1, error: null });
    expect(ingest.body.data[0].chunk_count).toBeGreaterThan(0);

    const q = await post('/v1/context/query', { query: 'how do I get a refund', sources: ['handbook'] });
    expect(q.status).toBe(200);
    expect(q.body.data[0].document.external_id).toBe('refunds');
    expect(q.body.data[0].source).toMatchObject({ name: 'handbook' });
    expect(q.body.data[0].scores.vector).not.toBeNull();

    const emea = await post('/v1/context/query', { query: 'policy delivery encrypted', sources: ['handbook'], filter: { region: 'emea' } });
    expect(emea.body.data.length).toBeGreaterThan(0);
    expect(emea.body.data.every((h: any) => h.metadata.region === 'emea')).toBe(true);
    const range = await post('/v1/context/query', { query: 'refund shipping security', filter: { year: { gte: 2023 } }, top_k: 10 });
    expect(new Set(range.body.data.map((h: any) => h.document.external_id))).toEqual(new Set(['refunds', 'shipping']));
    const inList = await post('/v1/context/query', { query: 'refund shipping security', filter: { region: { in: ['us'] } } });
    expect(inList.body.data.map((h: any) => h.document.external_id)).toEqual(['shipping']);
    const keyword = await post('/v1/context/query', { query: 'AES-256', mode: 'keyword' });
    expect(keyword.body.data[0].document.external_id).toBe('security');
    expect(keyword.body.data[0].scores.vector).toBeNull();

    const unchanged = await post('/v1/context/sources/handbook/documents', {
      documents: [{ external_id: 'refunds', title: 'Refund policy', text: '# Refunds\n\nCustomers can request a refund within 30 days of purchase. Refunds go back to the original card.', metadata: { region: 'emea', year: 2024 } }],
    });
    expect(unchanged.body.data[0]).toMatchObject({ id: ingest.body.data[0].id, version: 1 });

    const replaced = await post('/v1/context/sources/handbook/documents', {
      documents: [{ external_id: 'refunds', title: 'Refund policy', text: '# Refunds\n\nRefunds are issued as store credit, valid for one year.', metadata: { region: 'emea', year: 2025 } }],
    });
    expect(replaced.body.data[0]).toMatchObject({ id: ingest.body.data[0].id, version: 2, status: 'indexed' });
    const after = await post('/v1/context/query', { query: 'original card', sources: ['handbook'], mode: 'keyword' });
    expect(after.body.data.map((h: any) => h.text).join(' ')).not.toContain('original card');
    const credit = await post('/v1/context/query', { query: 'store credit', sources: ['handbook'] });
    expect(credit.body.data[0].text).toContain('store credit');

    const listed = await get('/v1/context/sources/handbook/documents?status=indexed');
    expect(listed.body.data).toHaveLength(3);
    const source = await get('/v1/context/sources/handbook');
    expect(source.body.counts).toMatchObject({ documents: 3, indexed: 3 });
  });

  it('packs a context window within the token budget, with citations', async () => {
    const long = Array.from({ length: 40 }, (_, i) => `Paragraph ${i} explains the onboarding checklist step ${i} for new engineers in detail.`).join('\n\n');
    await post('/v1/context/sources', { name: 'onboarding', chunking: { max_tokens: 64, overlap_tokens: 8 } });
    await post('/v1/context/sources/onboarding/documents', { documents: [{ external_id: 'guide', title: 'Guide', text: long }] });
    for (const budget of [60, 200, 500]) {
      const res = await post('/v1/context/query', { query: 'onboarding checklist step', sources: ['onboarding'], top_k: 30, max_tokens: budget });
      expect(res.status).toBe(200);
      expect(res.body.window.token_count).toBeLessThanOrEqual(budget);
      expect(res.body.window.citations.length).toBeGreaterThan(0);
      expect(res.body.window.text).toContain('[1] Guide');
      const again = await post('/v1/context/query', { query: 'onboarding checklist step', sources: ['onboarding'], top_k: 30, max_tokens: budget });
      expect(again.body.window.text).toBe(res.body.window.text);
    }
  });

  it('ingests files of every supported type and refuses bad files without writing anything', async () => {
    await post('/v1/context/sources', { name: 'files' });
    const form = new FormData();
    form.append('metadata', JSON.stringify({ kind: 'upload' }));
    form.append('file', new Blob(['Plain text about zebras.'], { type: 'text/plain' }), 'notes.txt');
    form.append('file', new Blob(['# Lions\n\nLions live in prides.'], { type: 'text/markdown' }), 'lions.md');
    form.append('file', new Blob(['<html><head><title>Owls</title></head><body><article><h1>Owls</h1><p>Owls hunt at night and see well in the dark.</p></article><script>evil()</script></body></html>'], { type: 'text/html' }), 'owls.html');
    form.append('file', new Blob([minimalPdf(['Penguins cannot fly', 'but they swim fast'])], { type: 'application/pdf' }), 'penguins.pdf');
    form.append('file', new Blob([JSON.stringify({ animal: 'otter', habitat: { type: 'river' } })], { type: 'application/json' }), 'otter.json');
    form.append('file', new Blob(['animal,food\nkoala,eucalyptus\npanda,bamboo\n'], { type: 'text/csv' }), 'diet.csv');
    const response = await fetch(`${server.url}/v1/context/sources/files/documents`, { method: 'POST', headers: { authorization: `Bearer ${ws.liveKey}` }, body: form });
    const body: any = await response.json();
    expect(response.status).toBe(201);
    expect(body.data.map((d: any) => d.status)).toEqual(Array(6).fill('indexed'));
    expect(body.data.map((d: any) => d.external_id)).toEqual(['notes.txt', 'lions.md', 'owls.html', 'penguins.pdf', 'otter.json', 'diet.csv']);
    expect(body.data[0].metadata).toEqual({ kind: 'upload' });
    for (const [query, file] of [['zebras', 'notes.txt'], ['prides', 'lions.md'], ['owls hunt at night', 'owls.html'], ['penguins swim', 'penguins.pdf'], ['otter river', 'otter.json'], ['panda bamboo', 'diet.csv']]) {
      const res = await post('/v1/context/query', { query, sources: ['files'], top_k: 1 });
      expect(res.body.data[0]?.document.external_id, query).toBe(file);
    }
    const owl = await post('/v1/context/query', { query: 'evil', sources: ['files'], mode: 'keyword' });
    expect(owl.body.data).toHaveLength(0);

    const before = (await get('/v1/context/sources/files')).body.counts.documents;
    const bad = async (name: string, bytes: string | Uint8Array, type: string) => {
      const f = new FormData();
      f.append('file', new Blob(['fine text'], { type: 'text/plain' }), 'fine.txt');
      f.append('file', new Blob([bytes], { type }), name);
      const r = await fetch(`${server.url}/v1/context/sources/files/documents`, { method: 'POST', headers: { authorization: `Bearer ${ws.liveKey}` }, body: f });
      return { status: r.status, body: (await r.json()) as any };
    };
    const png = await bad('image.png', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]), 'image/png');
    expect(png.status).toBe(415);
    expect(png.body.error).toMatchObject({ code: 'unsupported_file_type', param: 'files[1]' });
    const pdf = await bad('broken.pdf', '%PDF-1.4 this is not really a pdf', 'application/pdf');
    expect(pdf.status).toBe(400);
    expect(pdf.body.error.code).toBe('document_unreadable');
    const empty = await bad('empty.txt', '', 'text/plain');
    expect(empty.body.error.code).toBe('document_empty');
    expect((await get('/v1/context/sources/files')).body.counts.documents).toBe(before);
  });

  it('indexes in the background through the queue, and deletes documents', async () => {
    await post('/v1/context/sources', { name: 'bg' });
    const queued = await post('/v1/context/sources/bg/documents', { background: true, documents: [{ external_id: 'a', text: 'Background indexing of the giraffe manual.' }] });
    expect(queued.status).toBe(202);
    expect(queued.body.data[0].status).toBe('queued');
    const id = queued.body.data[0].id;
    const done = await waitFor(() => get(`/v1/context/sources/bg/documents/${id}`), (r) => r.body.status === 'indexed');
    expect(done.body.status).toBe('indexed');
    expect((await post('/v1/context/query', { query: 'giraffe', sources: ['bg'] })).body.data).toHaveLength(1);
    const deleted = await call(server.url, 'DELETE', `/v1/context/sources/bg/documents/${id}`, { key: ws.liveKey });
    expect(deleted.body).toEqual({ object: 'context_document', id, deleted: true });
    expect((await post('/v1/context/query', { query: 'giraffe', sources: ['bg'] })).body.data).toHaveLength(0);
    expect((await get(`/v1/context/sources/bg/documents/${id}`)).status).toBe(404);
  });

  it('records an embedder failure on the document and keeps the source queryable', async () => {
    await post('/v1/context/sources', { name: 'remote', embedding_model: 'fake/embed-small' });
    const ok = await post('/v1/context/sources/remote/documents', { documents: [{ external_id: 'ok', text: 'The walrus sleeps on ice floes.' }] });
    expect(ok.body.data[0].status).toBe('indexed');
    for (let i = 0; i < 5; i++) fake.enqueue({ kind: 'error', status: 500 });
    const failed = await post('/v1/context/sources/remote/documents', { documents: [{ external_id: 'bad', text: 'The narwhal has a long tusk.' }] });
    expect(failed.status).toBe(201);
    expect(failed.body.data[0]).toMatchObject({ status: 'failed', error: { code: 'embedding_failed' } });
    fake.reset();
    const q = await post('/v1/context/query', { query: 'walrus ice', sources: ['remote'] });
    expect(q.status).toBe(200);
    expect(q.body.data[0].document.external_id).toBe('ok');
  });

  it('fetches url sources with conditional GET and re-embeds only what changed', async () => {
    site.set('/a.html', '<html><head><title>Alpha</title></head><body><article><h1>Alpha</h1><p>The alpha page talks about marmots in the Alps.</p></article></body></html>');
    site.set('/b.html', '<html><head><title>Beta</title></head><body><article><h1>Beta</h1><p>The beta page talks about beavers building dams.</p></article></body></html>');
    const created = await post('/v1/context/sources', { name: 'site', type: 'url', urls: [`${site.url}/a.html`, `${site.url}/b.html`], embedding_model: 'fake/embed-small', refresh_interval_seconds: 3600 });
    expect(created.status).toBe(201);
    const first = await waitFor(() => get('/v1/context/sources/site'), (r) => r.body.counts.indexed === 2 && !r.body.refresh.running);
    expect(first.body.counts.indexed).toBe(2);
    expect(first.body.refresh.last_error).toBeNull();
    expect(first.body.refresh.next_refresh_at).not.toBeNull();
    const marmots = await post('/v1/context/query', { query: 'marmots', sources: ['site'] });
    expect(marmots.body.data[0].document.title).toBe('Alpha');

    const embeddedBefore = fake.embeddedTexts.length;
    site.log.length = 0;
    site.set('/b.html', '<html><head><title>Beta</title></head><body><article><h1>Beta</h1><p>The beta page now talks about otters instead.</p></article></body></html>');
    const refreshed = await post('/v1/context/sources/site/refresh', {});
    expect(refreshed.status).toBe(202);

    await waitFor(() => post('/v1/context/query', { query: 'otters', sources: ['site'], mode: 'keyword' }), (r) => r.body.data.length > 0);
    await waitFor(() => get('/v1/context/sources/site'), (r) => !r.body.refresh.running);
    expect(site.log.find((l) => l.path === '/a.html')).toMatchObject({ status: 304 });
    expect(site.log.find((l) => l.path === '/b.html')).toMatchObject({ status: 200 });
    // Only the changed page's chunks (and no query-time embeddings beyond one per query) were embedded.
    const embeddedForRefresh = fake.embeddedTexts.slice(embeddedBefore).filter((t) => !['otters', 'marmots'].includes(t));
    expect(embeddedForRefresh.length).toBeGreaterThan(0);
    expect(embeddedForRefresh.every((t) => t.includes('otters') || t.includes('Beta'))).toBe(true);
  });

  it('turns a JSON endpoint into documents with metadata, and removes vanished items', async () => {
    const feed = (items: unknown[]) => site.set('/feed.json', JSON.stringify({ data: { items } }), 'application/json');
    feed([
      { id: 1, name: 'Acme Corp', stage: 'lead', notes: 'Interested in the enterprise plan.' },
      { id: 2, name: 'Globex', stage: 'customer', notes: 'Renewal due in March.' },
    ]);
    const created = await post('/v1/context/sources', {
      name: 'crm-live', type: 'http',
      http: { url: `${site.url}/feed.json`, items_path: 'data.items', id_field: 'id', title_field: 'name', text_fields: ['name', 'notes'], metadata_fields: ['stage'], headers: { authorization: 'Bearer secret-token' } },
    });
    expect(created.status).toBe(201);
    expect(created.body.http.headers).toEqual({ authorization: '[redacted]' });
    expect(created.text).not.toContain('secret-token');
    await waitFor(() => get('/v1/context/sources/crm-live'), (r) => r.body.counts.indexed === 2);
    const leads = await post('/v1/context/query', { query: 'enterprise plan', sources: ['crm-live'], filter: { stage: 'lead' } });
    expect(leads.body.data[0].document).toMatchObject({ title: 'Acme Corp', external_id: '1' });

    feed([{ id: 2, name: 'Globex', stage: 'customer', notes: 'Renewal due in March.' }]);
    await post('/v1/context/sources/crm-live/refresh', {});
    const after = await waitFor(() => get('/v1/context/sources/crm-live'), (r) => r.body.counts.documents === 1 && !r.body.refresh.running);
    expect(after.body.counts.documents).toBe(1);
  });

  it('refuses private addresses unless the operator allows them', async () => {
    const strict = await startTestServer('sqlite');
    try {
      const key = (await strict.workspace('enterprise')).liveKey;
      site.set('/private.html', '<html><body><p>Should never be fetched.</p></body></html>');
      const created = await call(strict.url, 'POST', '/v1/context/sources', { key, body: { name: 'private', type: 'url', urls: [`${site.url}/private.html`] } });
      expect(created.status).toBe(201);
      const source = await waitFor(() => call(strict.url, 'GET', '/v1/context/sources/private', { key }), (r) => r.body.refresh.last_error !== null);
      expect(source.body.refresh.last_error).toMatch(/block|private|not allowed/i);
      expect(source.body.counts.documents).toBe(0);
      expect(site.log.some((l) => l.path === '/private.html')).toBe(false);
    } finally {
      await strict.close();
    }
  });

  it('deletes a source with everything in it', async () => {
    await post('/v1/context/sources', { name: 'temp' });
    await post('/v1/context/sources/temp/documents', { documents: [{ text: 'Temporary notes about hedgehogs.' }] });
    const deleted = await call(server.url, 'DELETE', '/v1/context/sources/temp', { key: ws.liveKey });
    expect(deleted.body).toMatchObject({ object: 'context_source', name: 'temp', deleted: true });
    expect((await get('/v1/context/sources/temp')).status).toBe(404);
    const q = await post('/v1/context/query', { query: 'hedgehogs' });
    expect(q.body.data.some((h: any) => h.text.includes('hedgehogs'))).toBe(false);
  });
});
