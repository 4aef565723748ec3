import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fixtures/fake-openai.js';
import { htmlPage, redisDatabaseUrl, startSite, waitFor, type TestSite } from '../support/site.js';

/** `## Part i` sections: the chunker cuts one chunk per section. */
const sections = (count: number, line: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => `## Part ${i}\n\n${line(i)}`).join('\n\n');

/**
 * Ingestion through the real server: replacing documents (by id and external id) atomically,
 * embedder failures (whole request, mid-batch, retryable in the background), incremental
 * re-embedding, large and oversize input; and fetching url sources (conditional GET,
 * redirects, size cap, recovery of a page that failed).
 */
describe.each(backends)('context ingestion on %s', (backend) => {
  let server: TestServer;
  let fake: FakeOpenAI;
  let site: TestSite;
  let ws: TestWorkspace;
  const post = (path: string, body: unknown, key = ws.liveKey) => call(server.url, 'POST', path, { key, body });
  const get = (path: string, key = ws.liveKey) => call(server.url, 'GET', path, { key });
  const keyword = async (source: string, query: string): Promise<string[]> =>
    (await post('/v1/context/query', { query, sources: [source], mode: 'keyword', top_k: 50 })).body.data.map((h: any) => h.text);
  const documentOf = (source: string, id: string) => get(`/v1/context/sources/${source}/documents/${id}`);
  const untilStatus = (source: string, id: string, status: string, timeoutMs = 15_000) =>
    waitFor(() => documentOf(source, id), (r) => r.body.status === status, timeoutMs);
  /** Waits for a refresh that finished after `since` (an RFC 3339 time, or null for the first). */
  const refreshedAfter = (name: string, since: string | null) =>
    waitFor(
      () => get(`/v1/context/sources/${name}`),
      (r) => r.body.refresh.last_refreshed_at !== null && r.body.refresh.last_refreshed_at !== since && !r.body.refresh.running,
    );
  const refreshNow = async (name: string) => {
    const before = (await get(`/v1/context/sources/${name}`)).body.refresh.last_refreshed_at;
    expect((await post(`/v1/context/sources/${name}/refresh`, {})).status).toBe(202);
    return refreshedAfter(name, before);
  };
  const upload = async (source: string, files: Array<[string, string | Uint8Array, string]>) => {
    const form = new FormData();
    for (const [name, bytes, type] of files) form.append('file', new Blob([bytes], { type }), name);
    const response = await fetch(`${server.url}/v1/context/sources/${source}/documents`, {
      method: 'POST', headers: { authorization: `Bearer ${ws.liveKey}` }, body: form,
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    site = await startSite();
    server = await startTestServer(backend, {
      outboundAllowCidrs: '127.0.0.0/8',
      openaiCompatibleBaseUrl: fake.url,
      openaiCompatibleName: 'fake',
      embeddingModels: 'fake/embed-small:64',
      ...(backend === 'sqlite' ? {} : { redisUrl: redisDatabaseUrl(4) }),
    });
    ws = await server.workspace('enterprise');
  });
  afterAll(async () => {
    await server?.close();
    await site?.close();
    await fake?.close();
  });

  it('replaces a document by its id, and refuses items that would be ambiguous', async () => {
    await post('/v1/context/sources', { name: 'by-id' });
    await post('/v1/context/sources', { name: 'elsewhere' });
    const first = await post('/v1/context/sources/by-id/documents', { documents: [{ text: 'Version one mentions the lighthouse keeper.' }] });
    const doc = first.body.data[0];
    expect(doc).toMatchObject({ version: 1, external_id: null, status: 'indexed' });

    const replaced = await post('/v1/context/sources/by-id/documents', { documents: [{ id: doc.id, title: 'Harbour', text: 'Version two mentions the harbour master.' }] });
    expect(replaced.status).toBe(201);
    expect(replaced.body.data[0]).toMatchObject({ id: doc.id, version: 2, status: 'indexed', title: 'Harbour', created_at: doc.created_at });
    expect(await keyword('by-id', 'lighthouse')).toEqual([]);
    expect(await keyword('by-id', 'harbour')).toEqual([expect.stringContaining('harbour master')]);
    expect((await get('/v1/context/sources/by-id')).body.counts).toMatchObject({ documents: 1, indexed: 1 });
    const same = await post('/v1/context/sources/by-id/documents', { documents: [{ id: doc.id, title: 'Harbour', text: 'Version two mentions the harbour master.' }] });
    expect(same.body.data[0].version).toBe(2);

    const other = (await post('/v1/context/sources/elsewhere/documents', { documents: [{ external_id: 'x', text: 'Elsewhere.' }] })).body.data[0];
    for (const id of [other.id, 'doc_01h2xcejqtf2nbrexx3vqjhp41', 'nope']) {
      const missing = await post('/v1/context/sources/by-id/documents', { documents: [{ text: 'ok' }, { id, text: 'Stolen.' }] });
      expect(missing.status, id).toBe(400);
      expect(missing.body.error, id).toMatchObject({ code: 'resource_missing', param: 'documents[1].id' });
    }
    expect((await get('/v1/context/sources/by-id')).body.counts.documents).toBe(1);

    // An id may take a new external id, but not one another document holds.
    const named = await post('/v1/context/sources/by-id/documents', { documents: [{ id: doc.id, external_id: 'harbour', text: 'Version three mentions the harbour pilot.' }] });
    expect(named.body.data[0]).toMatchObject({ id: doc.id, external_id: 'harbour', version: 3 });
    await post('/v1/context/sources/by-id/documents', { documents: [{ external_id: 'beacon', text: 'A beacon document.' }] });
    const clash = await post('/v1/context/sources/by-id/documents', { documents: [{ id: doc.id, external_id: 'beacon', text: 'Clash.' }] });
    expect(clash.status).toBe(400);
    expect(clash.body.error).toMatchObject({ code: 'parameter_invalid', param: 'documents[0].external_id' });
    expect((await documentOf('by-id', doc.id)).body).toMatchObject({ version: 3, external_id: 'harbour' });

    // One document once per request: a second item with its id or external id is refused whole.
    const twice = await post('/v1/context/sources/by-id/documents', { documents: [{ external_id: 'dup', text: 'one' }, { external_id: 'dup', text: 'two' }] });
    expect(twice.status).toBe(400);
    expect(twice.body.error).toMatchObject({ code: 'parameter_invalid', param: 'documents[1].external_id' });
    const twiceById = await post('/v1/context/sources/by-id/documents', { documents: [{ id: doc.id, text: 'one' }, { id: doc.id, text: 'two' }] });
    expect(twiceById.body.error).toMatchObject({ code: 'parameter_invalid', param: 'documents[1].id' });
    const files = await upload('by-id', [['same.txt', 'first', 'text/plain'], ['same.txt', 'second', 'text/plain']]);
    expect(files.status).toBe(400);
    expect(files.body.error.param).toBe('files[1]');
    expect((await get('/v1/context/sources/by-id')).body.counts.documents).toBe(2);
  });

  it('keeps the old version searchable until the new one is committed', async () => {
    await post('/v1/context/sources', { name: 'swap', embedding_model: 'fake/embed-small' });
    const v1 = (await post('/v1/context/sources/swap/documents', { documents: [{ external_id: 'doc', text: 'The old version talks about walruses.' }] })).body.data[0];
    expect(v1.status).toBe('indexed');

    fake.enqueue({ kind: 'delay', ms: 700, endpoint: 'embeddings' });
    const queued = await post('/v1/context/sources/swap/documents', { background: true, documents: [{ external_id: 'doc', text: 'The new version talks about penguins.' }] });
    expect(queued.status).toBe(202);
    expect(queued.body.data[0]).toMatchObject({ id: v1.id, version: 2, status: 'queued' });
    const indexing = await untilStatus('swap', v1.id, 'indexing');
    expect(indexing.body.status).toBe('indexing');
    // Mid-way, readers see the whole old version and nothing of the new one.
    expect(await keyword('swap', 'walruses')).toEqual([expect.stringContaining('walruses')]);
    expect(await keyword('swap', 'penguins')).toEqual([]);

    const indexed = await untilStatus('swap', v1.id, 'indexed');
    expect(indexed.body).toMatchObject({ version: 2, chunk_count: 1 });
    expect(await keyword('swap', 'walruses')).toEqual([]);
    expect(await keyword('swap', 'penguins')).toEqual([expect.stringContaining('penguins')]);
  });

  it('a replace whose embedding fails keeps the previous version searchable and says why', async () => {
    await post('/v1/context/sources', { name: 'swap-fail', embedding_model: 'fake/embed-small' });
    const v1 = (await post('/v1/context/sources/swap-fail/documents', { documents: [{ external_id: 'doc', text: 'The stable version describes reindeer.' }] })).body.data[0];

    fake.enqueue({ kind: 'error', status: 400, endpoint: 'embeddings' });
    const failed = await post('/v1/context/sources/swap-fail/documents', { documents: [{ external_id: 'doc', text: 'The broken version describes caribou.' }] });
    expect(failed.status).toBe(201);
    expect(failed.body.data[0]).toMatchObject({ id: v1.id, version: 2, status: 'failed', error: { code: 'embedding_failed' } });
    expect(failed.body.data[0].error.message).toMatch(/fake\/embed-small.*HTTP 400/);
    expect(await keyword('swap-fail', 'reindeer')).toEqual([expect.stringContaining('reindeer')]);
    expect(await keyword('swap-fail', 'caribou')).toEqual([]);
    const listed = await get('/v1/context/sources/swap-fail/documents?status=failed');
    expect(listed.body.data.map((d: any) => d.id)).toEqual([v1.id]);
    expect((await get('/v1/context/sources/swap-fail')).body.counts).toMatchObject({ documents: 1, failed: 1, indexed: 0 });

    // The same content sent again is indexed now (a failed document is never "unchanged").
    const retried = await post('/v1/context/sources/swap-fail/documents', { documents: [{ external_id: 'doc', text: 'The broken version describes caribou.' }] });
    expect(retried.body.data[0]).toMatchObject({ status: 'indexed', version: 3, error: null });
    expect(await keyword('swap-fail', 'reindeer')).toEqual([]);
    expect(await keyword('swap-fail', 'caribou')).toEqual([expect.stringContaining('caribou')]);
  });

  it('stores nothing of a document whose embedder fails mid-batch, and the queue retries retryable failures', async () => {
    await post('/v1/context/sources', { name: 'batches', embedding_model: 'fake/embed-small', chunking: { max_tokens: 32, overlap_tokens: 0 } });
    await post('/v1/context/sources/batches/documents', { documents: [{ external_id: 'anchor', text: 'The anchor document mentions a lonely kiwi.' }] });
    // 130 chunks: two requests to the embedding model (96 + 34).
    const text = sections(130, (i) => `Widget ${i} is catalogued under code w${i}x.`);

    fake.enqueue({ kind: 'ok', endpoint: 'embeddings' }, { kind: 'error', status: 400, endpoint: 'embeddings' });
    const embeddedBefore = fake.embeddedTexts.length;
    const queued = await post('/v1/context/sources/batches/documents', { background: true, documents: [{ external_id: 'big', text }] });
    expect(queued.status).toBe(202);
    const doc = queued.body.data[0];
    const failed = await untilStatus('batches', doc.id, 'failed');
    expect(failed.body).toMatchObject({ status: 'failed', chunk_count: 0, error: { code: 'embedding_failed' } });
    expect(fake.embeddedTexts.length - embeddedBefore).toBe(96);
    expect(await server.kairo.store.contextChunks.listForDocument(doc.id)).toEqual([]);
    expect(await keyword('batches', 'w7x')).toEqual([]);
    // The rest of the source is still there and queryable, in every mode.
    for (const mode of ['hybrid', 'vector', 'keyword']) {
      const q = await post('/v1/context/query', { query: 'lonely kiwi', sources: ['batches'], mode });
      expect(q.body.data[0]?.document.external_id, mode).toBe('anchor');
    }

    // A retryable failure (5xx after the SDK's own retries) is retried by the queue with backoff.
    const busy = { kind: 'error', status: 503, endpoint: 'embeddings', headers: { 'retry-after-ms': '1' } } as const;
    fake.enqueue({ kind: 'ok', endpoint: 'embeddings' }, busy, busy, busy);
    const again = await post('/v1/context/sources/batches/documents', { background: true, documents: [{ external_id: 'big', text }] });
    expect(again.body.data[0]).toMatchObject({ id: doc.id, version: 2, status: 'queued' });
    const indexed = await untilStatus('batches', doc.id, 'indexed');
    expect(indexed.body).toMatchObject({ chunk_count: 130, error: null });
    expect((await server.kairo.queue.getJob(`index_${doc.id}_v2`))?.attempts).toBe(2);
    expect(await server.kairo.store.contextChunks.listForDocument(doc.id)).toHaveLength(130);
    expect(await keyword('batches', 'w7x')).toEqual([expect.stringContaining('w7x')]);
  });

  it('re-embeds only the chunk whose paragraph changed', async () => {
    await post('/v1/context/sources', { name: 'incremental', embedding_model: 'fake/embed-small', chunking: { max_tokens: 64, overlap_tokens: 8 } });
    const words = ['amber', 'birch', 'cedar', 'delta', 'ember', 'fjord', 'grove', 'heath', 'inlet', 'jetty'];
    const guide = (changed?: string) => `# Guide\n\n${sections(10, (i) => (i === 5 && changed) || `The ${words[i]} paragraph ${i} describes a distinct subject.`)}`;

    let before = fake.embeddedTexts.length;
    const v1 = (await post('/v1/context/sources/incremental/documents', { documents: [{ external_id: 'guide', text: guide() }] })).body.data[0];
    expect(v1).toMatchObject({ status: 'indexed', chunk_count: 10 });
    expect(fake.embeddedTexts.length - before).toBe(10);

    before = fake.embeddedTexts.length;
    const unchanged = (await post('/v1/context/sources/incremental/documents', { documents: [{ external_id: 'guide', text: guide() }] })).body.data[0];
    expect(unchanged.version).toBe(1);
    expect(fake.embeddedTexts.length - before).toBe(0);

    before = fake.embeddedTexts.length;
    const v2 = (await post('/v1/context/sources/incremental/documents', { documents: [{ external_id: 'guide', text: guide('The fjord paragraph now covers glaciers instead.') }] })).body.data[0];
    expect(v2).toMatchObject({ id: v1.id, version: 2, status: 'indexed', chunk_count: 10 });
    const embedded = fake.embeddedTexts.slice(before);
    expect(embedded).toHaveLength(1);
    expect(embedded[0]).toContain('glaciers');
    expect(await keyword('incremental', 'glaciers')).toHaveLength(1);
    expect(await server.kairo.store.contextChunks.listForDocument(v1.id)).toHaveLength(10);
  });

  it('indexes input over 200,000 characters in the background', async () => {
    await post('/v1/context/sources', { name: 'large' });
    const text = Array.from({ length: 3_200 }, (_, i) => `Paragraph ${i} of the very long ledger records entry number ${i}.`).join('\n\n') + '\n\nThe final entry names the zebu.';
    expect(text.length).toBeGreaterThan(200_000);
    for (const background of [undefined, false]) {
      const response = await post('/v1/context/sources/large/documents', { ...(background === undefined ? {} : { background }), documents: [{ external_id: `ledger-${background}`, text }] });
      expect(response.status, `background: ${background}`).toBe(202);
      expect(response.body.data[0].status).toBe('queued');
      const done = await untilStatus('large', response.body.data[0].id, 'indexed');
      expect(done.body.chunk_count).toBeGreaterThan(50);
    }
    const q = await post('/v1/context/query', { query: 'zebu', sources: ['large'], mode: 'keyword' });
    expect(q.body.data[0].text).toContain('zebu');
    // Small input is indexed before the response.
    const small = await post('/v1/context/sources/large/documents', { documents: [{ text: 'A small note.' }] });
    expect(small.status).toBe(201);
    expect(small.body.data[0].status).toBe('indexed');
  });

  it('refuses an oversize upload with 413 and writes nothing', async () => {
    await post('/v1/context/sources', { name: 'oversize' });
    // One byte over the default 32 MiB per file (and per JSON document).
    const huge = new Uint8Array(32 * 1024 * 1024 + 1).fill(0x61);
    const multipart = await upload('oversize', [['small.txt', 'A small file that must not be kept.', 'text/plain'], ['huge.txt', huge, 'text/plain']]);
    expect(multipart.status).toBe(413);
    expect(multipart.body.error).toMatchObject({ code: 'document_too_large', param: 'files[1]' });
    expect(multipart.body.error.message).toContain('--max-file-bytes');
    const json = await post('/v1/context/sources/oversize/documents', { documents: [{ text: 'small' }, { text: 'a'.repeat(32 * 1024 * 1024 + 1) }] });
    expect(json.status).toBe(413);
    expect(json.body.error).toMatchObject({ code: 'document_too_large', param: 'documents[1].text' });
    expect((await get('/v1/context/sources/oversize')).body.counts.documents).toBe(0);
    expect((await get('/v1/context/sources/oversize/documents')).body.data).toEqual([]);
  });

  it('asks with If-Modified-Since for a page served with Last-Modified only, and re-embeds nothing on 304', async () => {
    const lastModified = 'Wed, 01 Jan 2025 00:00:00 GMT';
    site.set('/dated.html', { body: htmlPage('Dated', 'Ibexes climb steep dams.'), lastModified });
    await post('/v1/context/sources', { name: 'dated', type: 'url', urls: [`${site.url}/dated.html`], embedding_model: 'fake/embed-small' });
    await refreshedAfter('dated', null);
    const [doc] = (await get('/v1/context/sources/dated/documents')).body.data;
    expect(doc).toMatchObject({ status: 'indexed', version: 1 });
    expect(site.hits('/dated.html')[0]).toMatchObject({ ifModifiedSince: undefined, ifNoneMatch: undefined, status: 200 });

    const embeddedBefore = fake.embeddedTexts.length;
    await refreshNow('dated');
    expect(site.hits('/dated.html')[1]).toMatchObject({ ifModifiedSince: lastModified, ifNoneMatch: undefined, status: 304 });
    expect(fake.embeddedTexts.length).toBe(embeddedBefore);
    expect((await documentOf('dated', doc.id)).body).toMatchObject({ version: 1, status: 'indexed' });

    const later = 'Thu, 02 Jan 2025 00:00:00 GMT';
    site.set('/dated.html', { body: htmlPage('Dated', 'Ibexes now graze in meadows.'), lastModified: later });
    const refreshed = await refreshNow('dated');
    expect(refreshed.body.refresh.last_error).toBeNull();
    expect(site.hits('/dated.html')[2]).toMatchObject({ ifModifiedSince: lastModified, status: 200 });
    expect((await documentOf('dated', doc.id)).body).toMatchObject({ version: 2, status: 'indexed' });
    expect(await keyword('dated', 'meadows')).toHaveLength(1);
    await refreshNow('dated');
    expect(site.hits('/dated.html')[3]).toMatchObject({ ifModifiedSince: later, status: 304 });
  });

  it('follows redirects on allowed addresses but refuses one that leads to a blocked address', async () => {
    site.set('/target.html', { body: htmlPage('Target', 'Gazelles sprint across the savanna.') });
    site.set('/moved.html', { redirect: `${site.url}/target.html` });
    site.set('/metadata.html', { redirect: 'http://169.254.169.254/latest/meta-data/' });
    site.set('/private.html', { redirect: 'http://10.0.0.1/admin' });
    site.set('/loop.html', { redirect: `${site.url}/loop.html` });
    await post('/v1/context/sources', { name: 'redirects', type: 'url', urls: [`${site.url}/moved.html`, `${site.url}/metadata.html`, `${site.url}/private.html`, `${site.url}/loop.html`] });
    const source = await refreshedAfter('redirects', null);
    expect(source.body.counts).toMatchObject({ documents: 1, indexed: 1 });
    const [doc] = (await get('/v1/context/sources/redirects/documents')).body.data;
    expect(doc).toMatchObject({ external_id: `${site.url}/moved.html`, url: `${site.url}/target.html` });
    expect(source.body.refresh.last_error).toMatch(/3 of 4 pages failed/);
    expect(source.body.refresh.last_error).toMatch(/More than 5 redirects/);
    // The first request and five redirects, then it stops.
    expect(site.hits('/loop.html')).toHaveLength(6);
    expect(source.body.refresh.last_error).toContain('169.254.169.254');
    expect(source.body.refresh.last_error).toContain('10.0.0.1');
    expect(source.body.refresh.last_error).toMatch(/non-public|private/);
  });

  it('a page over the size cap fails with a clear error and keeps its previous version; the other pages go on', async () => {
    site.set('/heavy.html', { body: htmlPage('Heavy', 'Rhinos wallow in mud.'), etag: '"h1"' });
    site.set('/light.html', { body: htmlPage('Light', 'Hummingbirds hover.'), etag: '"l1"' });
    await post('/v1/context/sources', { name: 'capped', type: 'url', urls: [`${site.url}/heavy.html`, `${site.url}/light.html`] });
    expect((await refreshedAfter('capped', null)).body.counts.indexed).toBe(2);

    site.set('/heavy.html', { body: Buffer.alloc(11 * 1024 * 1024, 'a'), etag: '"h2"' });
    site.set('/light.html', { body: htmlPage('Light', 'Hummingbirds now sip nectar.'), etag: '"l2"' });
    const failed = await refreshNow('capped');
    expect(failed.body.refresh.last_error).toMatch(/1 of 2 pages failed/);
    expect(failed.body.refresh.last_error).toContain(`${site.url}/heavy.html`);
    expect(failed.body.refresh.last_error).toMatch(/limit (is|of) 10485760/);
    expect(failed.body.counts).toMatchObject({ documents: 2, indexed: 2 });
    expect(await keyword('capped', 'rhinos')).toHaveLength(1);
    expect(await keyword('capped', 'nectar')).toHaveLength(1);

    site.set('/heavy.html', { body: htmlPage('Heavy', 'Rhinos now rest in shade.'), etag: '"h3"' });
    const recovered = await refreshNow('capped');
    expect(recovered.body.refresh.last_error).toBeNull();
    expect(await keyword('capped', 'shade')).toHaveLength(1);
    expect(await keyword('capped', 'mud')).toEqual([]);
  });

  it('fetches a page whose indexing failed in full at the next refresh, and indexes it', async () => {
    site.set('/flaky.html', { body: htmlPage('Flaky', 'Meerkats stand guard.'), etag: '"m1"' });
    fake.enqueue({ kind: 'error', status: 400, endpoint: 'embeddings' });
    await post('/v1/context/sources', { name: 'flaky', type: 'url', urls: [`${site.url}/flaky.html`], embedding_model: 'fake/embed-small' });
    const first = await refreshedAfter('flaky', null);
    expect(first.body.counts).toMatchObject({ documents: 1, failed: 1 });
    expect(first.body.refresh.last_error).toMatch(/1 of 1 pages failed.*HTTP 400/);

    const second = await refreshNow('flaky');
    // No validators: a 304 would have left the page unindexed for good.
    expect(site.hits('/flaky.html')[1]).toMatchObject({ ifNoneMatch: undefined, status: 200 });
    expect(second.body.counts).toMatchObject({ documents: 1, indexed: 1 });
    expect(second.body.refresh.last_error).toBeNull();
    expect(await keyword('flaky', 'meerkats')).toHaveLength(1);
  });

  it('refreshes an http source item by item: only changed items are embedded, a bad item or a failing endpoint loses nothing', async () => {
    const feed = (items: unknown) => site.set('/items.json', { type: 'application/json', body: typeof items === 'string' ? items : JSON.stringify({ items }) });
    const item = (id: number, note: string, extra: Record<string, unknown> = {}) => ({ id, name: `Account ${id}`, note, ...extra });
    feed([item(1, 'Prefers email.'), item(2, 'Renews in June.'), item(3, 'Asked about invoices.')]);
    await post('/v1/context/sources', {
      name: 'accounts', type: 'http', embedding_model: 'fake/embed-small',
      http: { url: `${site.url}/items.json`, items_path: 'items', id_field: 'id', title_field: 'name', text_fields: ['name', 'note'] },
    });
    const first = await refreshedAfter('accounts', null);
    expect(first.body.counts).toMatchObject({ documents: 3, indexed: 3 });
    expect(first.body.refresh.last_error).toBeNull();

    let before = fake.embeddedTexts.length;
    feed([item(1, 'Prefers email.'), item(2, 'Renews in September.'), item(3, 'Asked about invoices.')]);
    await refreshNow('accounts');
    expect(fake.embeddedTexts.slice(before)).toEqual([expect.stringContaining('Renews in September')]);
    expect(await keyword('accounts', 'September')).toHaveLength(1);

    // An item with no text fails alone; the others are brought up to date.
    before = fake.embeddedTexts.length;
    feed([item(1, 'Prefers phone calls.'), item(2, 'Renews in September.'), item(3, 'Asked about invoices.'), { id: 4 }]);
    const partial = await refreshNow('accounts');
    expect(partial.body.refresh.last_error).toMatch(/1 of 4 items failed/);
    expect(fake.embeddedTexts.slice(before)).toEqual([expect.stringContaining('phone calls')]);
    expect(partial.body.counts).toMatchObject({ documents: 3, indexed: 3 });

    // A failing endpoint, or one that stops answering JSON, fails the refresh but removes nothing.
    feed('<html>maintenance</html>');
    const notJson = await refreshNow('accounts');
    expect(notJson.body.refresh.last_error).toMatch(/did not return JSON/);
    expect(notJson.body.counts.documents).toBe(3);
    site.set('/items.json', { redirect: `${site.url}/nowhere.json` });
    const gone = await refreshNow('accounts');
    expect(gone.body.refresh.last_error).toMatch(/HTTP 404/);
    expect(gone.body.counts).toMatchObject({ documents: 3, indexed: 3 });
    expect(await keyword('accounts', 'invoices')).toHaveLength(1);
  });
});
