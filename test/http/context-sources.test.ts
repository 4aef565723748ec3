import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fixtures/fake-openai.js';
import { htmlPage, redisDatabaseUrl, startSite, waitFor, type TestSite } from '../support/site.js';

/**
 * Context sources through the real server: listing and paging, PATCH of every changeable field
 * (a url or http change fetches again), get and delete by name and id with everything under
 * them, the embedding model list, and the wall between test and live mode.
 */
describe.each(backends)('context sources on %s', (backend) => {
  let server: TestServer;
  let fake: FakeOpenAI;
  let site: TestSite;
  let ws: TestWorkspace;
  const post = (path: string, body: unknown, key = ws.liveKey) => call(server.url, 'POST', path, { key, body });
  const patch = (path: string, body: unknown, key = ws.liveKey) => call(server.url, 'PATCH', path, { key, body });
  const get = (path: string, key = ws.liveKey) => call(server.url, 'GET', path, { key });
  const del = (path: string, key = ws.liveKey) => call(server.url, 'DELETE', path, { key });
  const settled = (name: string, done: (body: any) => boolean = () => true) =>
    waitFor(() => get(`/v1/context/sources/${name}`), (r) => r.body.refresh.last_refreshed_at !== null && !r.body.refresh.running && done(r.body));

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    site = await startSite();
    server = await startTestServer(backend, {
      outboundAllowCidrs: '127.0.0.0/8',
      openaiCompatibleBaseUrl: fake.url,
      openaiCompatibleName: 'fake',
      embeddingModels: 'fake/embed-small:64',
      ...(backend === 'sqlite' ? {} : { redisUrl: redisDatabaseUrl(3) }),
    });
    ws = await server.workspace('enterprise');
  });
  afterAll(async () => {
    await server?.close();
    await site?.close();
    await fake?.close();
  });

  it('lists sources newest first, a page at a time in both directions', async () => {
    const own = await server.workspace('enterprise');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post('/v1/context/sources', { name: `page-${i}` }, own.liveKey)).body.id);
    const newestFirst = [...ids].reverse();

    const first = await get('/v1/context/sources?limit=2', own.liveKey);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ object: 'list', has_more: true, first_id: newestFirst[0], last_id: newestFirst[1] });
    expect(first.body.data.map((s: any) => s.id)).toEqual(newestFirst.slice(0, 2));
    const second = await get(`/v1/context/sources?limit=2&after=${first.body.last_id}`, own.liveKey);
    expect(second.body.data.map((s: any) => s.id)).toEqual(newestFirst.slice(2, 4));
    expect(second.body.has_more).toBe(true);
    const third = await get(`/v1/context/sources?limit=2&after=${second.body.last_id}`, own.liveKey);
    expect(third.body.data.map((s: any) => s.id)).toEqual(newestFirst.slice(4));
    expect(third.body.has_more).toBe(false);
    const back = await get(`/v1/context/sources?limit=2&before=${second.body.first_id}`, own.liveKey);
    expect(back.body.data.map((s: any) => s.id)).toEqual(newestFirst.slice(0, 2));
    expect((await get('/v1/context/sources', own.liveKey)).body.data).toHaveLength(5);
    expect((await get('/v1/context/sources?limit=0', own.liveKey)).status).toBe(400);
    expect((await get('/v1/context/sources?limit=101', own.liveKey)).status).toBe(400);

    // The other mode and other workspaces see none of them.
    expect((await get('/v1/context/sources', own.testKey)).body.data).toEqual([]);
    expect((await get('/v1/context/sources?limit=100')).body.data.some((s: any) => ids.includes(s.id))).toBe(false);
  });

  it('changes name, description, metadata and refresh interval; the name stays unique', async () => {
    const created = await post('/v1/context/sources', { name: 'before', description: 'first', metadata: { team: 'a' } });
    await post('/v1/context/sources', { name: 'taken' });
    await post('/v1/context/sources/before/documents', { documents: [{ text: 'Quokkas smile for photographs.' }] });

    const renamed = await patch('/v1/context/sources/before', { name: 'after', description: 'second', metadata: { team: 'b', tier: 'gold' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: created.body.id, name: 'after', description: 'second', metadata: { team: 'b', tier: 'gold' } });
    expect(Date.parse(renamed.body.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.body.updated_at));
    expect((await get('/v1/context/sources/before')).status).toBe(404);
    expect((await get('/v1/context/sources/after')).body.id).toBe(created.body.id);
    // Documents and queries follow the source under its new name.
    expect((await post('/v1/context/query', { query: 'quokkas', sources: ['after'] })).body.data[0].source).toEqual({ id: created.body.id, name: 'after' });
    expect((await post('/v1/context/query', { query: 'quokkas', sources: ['before'] })).body.error).toMatchObject({ code: 'resource_missing', param: 'sources[0]' });

    const cleared = await patch(`/v1/context/sources/${created.body.id}`, { description: null });
    expect(cleared.body).toMatchObject({ name: 'after', description: null, metadata: { team: 'b', tier: 'gold' } });
    // Renaming to its own name is no change; to a taken one is a conflict.
    expect((await patch('/v1/context/sources/after', { name: 'after' })).status).toBe(200);
    const conflict = await patch('/v1/context/sources/after', { name: 'taken' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toMatchObject({ code: 'source_name_taken', param: 'name' });
    expect((await get('/v1/context/sources/after')).body.name).toBe('after');

    for (const [body, param] of [
      [{ name: 'bad name!' }, 'name'],
      [{ name: 'src_lookslikeanid' }, 'name'],
      [{ embedding_model: 'fake/embed-small' }, 'embedding_model'],
      [{ chunking: { max_tokens: 100 } }, 'chunking'],
      [{ type: 'url' }, 'type'],
      [{ urls: ['https://example.com/'] }, 'urls'],
      [{ refresh_interval_seconds: 3600 }, 'refresh_interval_seconds'],
    ] as const) {
      const refused = await patch('/v1/context/sources/after', body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error.param, JSON.stringify(body)).toBe(param);
    }
    expect((await patch('/v1/context/sources/nothing-here', { description: 'x' })).status).toBe(404);

    // A url source's interval can change, within 60 s … 30 days, or be switched off.
    site.set('/interval.html', { body: htmlPage('Interval', 'Armadillos roll into balls.') });
    await post('/v1/context/sources', { name: 'interval', type: 'url', urls: [`${site.url}/interval.html`] });
    const fetched = await settled('interval');
    expect(fetched.body.refresh_interval_seconds).toBeNull();
    expect(fetched.body.refresh.next_refresh_at).toBeNull();
    const hourly = await patch('/v1/context/sources/interval', { refresh_interval_seconds: 3600 });
    expect(hourly.body.refresh_interval_seconds).toBe(3600);
    expect(Date.parse(hourly.body.refresh.next_refresh_at)).toBe(Date.parse(fetched.body.refresh.last_refreshed_at) + 3600_000);
    expect((await patch('/v1/context/sources/interval', { refresh_interval_seconds: 59 })).body.error.param).toBe('refresh_interval_seconds');
    const off = await patch('/v1/context/sources/interval', { refresh_interval_seconds: null });
    expect(off.body).toMatchObject({ refresh_interval_seconds: null, refresh: { next_refresh_at: null } });
  });

  it('fetches again when urls change, and drops the pages no longer listed', async () => {
    site.set('/one.html', { body: htmlPage('One', 'Pangolins are covered in scales.') });
    site.set('/two.html', { body: htmlPage('Two', 'Axolotls regrow their limbs.') });
    await post('/v1/context/sources', { name: 'pages', type: 'url', urls: [`${site.url}/one.html`] });
    await settled('pages', (b) => b.counts.indexed === 1);

    const changed = await patch('/v1/context/sources/pages', { urls: [`${site.url}/two.html`] });
    expect(changed.status).toBe(200);
    expect(changed.body.urls).toEqual([`${site.url}/two.html`]);
    const after = await waitFor(() => post('/v1/context/query', { query: 'axolotls regrow', sources: ['pages'], mode: 'keyword' }), (r) => r.body.data.length > 0);
    expect(after.body.data[0].document.url).toBe(`${site.url}/two.html`);
    const source = await settled('pages', (b) => b.counts.documents === 1);
    expect(source.body.counts).toMatchObject({ documents: 1, indexed: 1 });
    expect((await post('/v1/context/query', { query: 'pangolins scales', sources: ['pages'], mode: 'keyword' })).body.data).toEqual([]);
    // urls of a url source may not be emptied, nor replaced by http settings.
    expect((await patch('/v1/context/sources/pages', { urls: [] })).status).toBe(400);
    expect((await patch('/v1/context/sources/pages', { http: { url: `${site.url}/feed.json` } })).body.error.param).toBe('http');
    expect((await patch('/v1/context/sources/pages', { urls: ['ftp://example.com/file'] })).body.error.param).toBe('urls[0]');
  });

  it('merges a change of http settings, keeping the write-only headers', async () => {
    site.set('/crm.json', {
      type: 'application/json',
      body: JSON.stringify({ old: [{ id: 'a', note: 'Old layout item about tapirs.' }], data: { items: [{ id: 'b', note: 'New layout item about okapis.', stage: 'won' }] } }),
    });
    const created = await post('/v1/context/sources', {
      name: 'crm-http', type: 'http',
      http: { url: `${site.url}/crm.json`, items_path: 'old', id_field: 'id', headers: { authorization: 'Bearer s3cret' }, metadata_fields: ['stage'] },
    });
    expect(created.status).toBe(201);
    await settled('crm-http', (b) => b.counts.indexed === 1);

    const hits = site.hits('/crm.json').length;
    // Only the fields given change: the url and everything else stay as stored.
    const changed = await patch('/v1/context/sources/crm-http', { http: { items_path: 'data.items' } });
    expect(changed.status, changed.text).toBe(200);
    expect(changed.body.http.url).toBe(`${site.url}/crm.json`);
    expect(changed.body.http).toMatchObject({ items_path: 'data.items', id_field: 'id', headers: { authorization: '[redacted]' }, metadata_fields: ['stage'] });
    expect(changed.text).not.toContain('s3cret');
    const source = await settled('crm-http', (b) => b.counts.documents === 1 && site.hits('/crm.json').length > hits);
    expect(source.body.refresh.last_error).toBeNull();
    expect(site.hits('/crm.json').slice(hits).every((h) => h.authorization === 'Bearer s3cret')).toBe(true);
    const okapis = await post('/v1/context/query', { query: 'okapis', sources: ['crm-http'], filter: { stage: 'won' } });
    expect(okapis.body.data[0].document.external_id).toBe('b');
    expect((await post('/v1/context/query', { query: 'tapirs', sources: ['crm-http'], mode: 'keyword' })).body.data).toEqual([]);

    // Headers merge by name: one given is added or replaced (whatever its case), null removes one,
    // and "[redacted]" (as responses show them) keeps the stored value.
    const storedHeaders = async () => ((await server.kairo.store.contextSources.get({ workspaceId: ws.id, livemode: true }, created.body.id))!.config as any).headers;
    const added = await patch('/v1/context/sources/crm-http', { http: { headers: { 'x-tenant': 'acme', Authorization: '[redacted]' } } });
    expect(added.status, added.text).toBe(200);
    expect(added.body.http.headers).toEqual({ authorization: '[redacted]', 'x-tenant': '[redacted]' });
    expect(await storedHeaders()).toEqual({ authorization: 'Bearer s3cret', 'x-tenant': 'acme' });
    const rotated = await patch('/v1/context/sources/crm-http', { http: { headers: { Authorization: 'Bearer n3w', 'x-tenant': null }, body: null } });
    expect(rotated.body.http).toMatchObject({ headers: { Authorization: '[redacted]' }, body: null, items_path: 'data.items' });
    expect(await storedHeaders()).toEqual({ Authorization: 'Bearer n3w' });
    // The merged settings are checked whole.
    for (const [http, param] of [
      [{ url: 'ftp://example.com/export' }, 'http.url'],
      [{ headers: { 'x-missing': '[redacted]' } }, 'http.headers.x-missing'],
      [{ headers: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x-h${i}`, 'v'])) }, 'http.headers'],
      [{ nope: 1 }, 'http.nope'],
    ] as const) {
      const refused = await patch('/v1/context/sources/crm-http', { http });
      expect(refused.status, JSON.stringify(http)).toBe(400);
      expect(refused.body.error.param, JSON.stringify(http)).toBe(param);
    }
    expect(await storedHeaders()).toEqual({ Authorization: 'Bearer n3w' });
  });

  it('refuses to refresh a documents source, or to push documents into a fetched one', async () => {
    await post('/v1/context/sources', { name: 'pushed' });
    const refused = await post('/v1/context/sources/pushed/refresh', {});
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'parameter_invalid', param: 'id' });
    expect((await post('/v1/context/sources/nowhere/refresh', {})).status).toBe(404);

    site.set('/fetched.html', { body: htmlPage('Fetched', 'Capybaras are large rodents.') });
    await post('/v1/context/sources', { name: 'fetched', type: 'url', urls: [`${site.url}/fetched.html`] });
    const pushed = await post('/v1/context/sources/fetched/documents', { documents: [{ text: 'not allowed here' }] });
    expect(pushed.status).toBe(400);
    expect(pushed.body.error.param).toBe('id');
    await settled('fetched');
  });

  it('gets and deletes by name or id; deleting removes documents and chunks from every query', async () => {
    const byName = await post('/v1/context/sources', { name: 'doomed-a' });
    const byId = await post('/v1/context/sources', { name: 'doomed-b' });
    const keep = await post('/v1/context/sources', { name: 'survivor' });
    const text = (animal: string) => `The ${animal} is catalogued in the doomed archive of marsupials.`;
    const a = await post('/v1/context/sources/doomed-a/documents', { documents: [{ external_id: 'a', text: text('wombat'), metadata: { shelf: 1 } }] });
    const b = await post(`/v1/context/sources/${byId.body.id}/documents`, { documents: [{ external_id: 'b', text: text('numbat') }] });
    await post('/v1/context/sources/survivor/documents', { documents: [{ external_id: 'c', text: text('quoll') }] });
    expect((await get(`/v1/context/sources/${byName.body.id}`)).body.name).toBe('doomed-a');
    expect((await get('/v1/context/sources/doomed-b')).body.id).toBe(byId.body.id);
    expect((await post('/v1/context/query', { query: 'doomed archive marsupials', top_k: 50 })).body.data.length).toBeGreaterThanOrEqual(3);

    const deletedByName = await del('/v1/context/sources/doomed-a');
    expect(deletedByName.body).toEqual({ object: 'context_source', id: byName.body.id, name: 'doomed-a', deleted: true });
    const deletedById = await del(`/v1/context/sources/${byId.body.id}`);
    expect(deletedById.body).toMatchObject({ id: byId.body.id, deleted: true });
    for (const path of ['doomed-a', byName.body.id, 'doomed-b', byId.body.id]) {
      expect((await get(`/v1/context/sources/${path}`)).status).toBe(404);
      expect((await del(`/v1/context/sources/${path}`)).status).toBe(404);
      expect((await get(`/v1/context/sources/${path}/documents`)).status).toBe(404);
    }
    for (const mode of ['hybrid', 'vector', 'keyword']) {
      const q = await post('/v1/context/query', { query: 'doomed archive marsupials wombat numbat', mode, top_k: 100 });
      expect(q.status).toBe(200);
      const sourceIds = new Set(q.body.data.map((h: any) => h.source.id));
      expect(sourceIds.has(byName.body.id) || sourceIds.has(byId.body.id), mode).toBe(false);
      expect(q.body.data.some((h: any) => h.source.id === keep.body.id), mode).toBe(true);
    }
    // Nothing is left behind in the store.
    const store = server.kairo.store;
    for (const doc of [a.body.data[0], b.body.data[0]]) {
      expect(await store.contextDocuments.getById(doc.id)).toBeUndefined();
      expect(await store.contextChunks.listForDocument(doc.id)).toEqual([]);
    }
    // The name is free again.
    expect((await post('/v1/context/sources', { name: 'doomed-a' })).status).toBe(201);
  });

  it('lists the embedding models a source can use', async () => {
    const models = await get('/v1/context/embedding_models');
    expect(models.status).toBe(200);
    expect(models.body).toMatchObject({ object: 'list', has_more: false });
    expect(models.body.data).toEqual(expect.arrayContaining([
      { object: 'embedding_model', id: 'kairo/hash-384', dimensions: 384, provider: 'kairo', default: true },
      { object: 'embedding_model', id: 'fake/embed-small', dimensions: 64, provider: 'fake', default: false },
    ]));
    expect(models.body.data.filter((m: any) => m.default)).toHaveLength(1);
    const remote = await post('/v1/context/sources', { name: 'remote-model', embedding_model: 'fake/embed-small' });
    expect(remote.body).toMatchObject({ embedding_model: 'fake/embed-small', embedding_dimensions: 64 });
    const unknown = await post('/v1/context/sources', { name: 'unknown-model', embedding_model: 'fake/embed-large' });
    expect(unknown.body.error).toMatchObject({ code: 'parameter_invalid', param: 'embedding_model' });
    expect(unknown.body.error.message).toContain('kairo/hash-384');
  });

  it('keeps test-mode and live-mode sources, documents and results apart', async () => {
    const live = await post('/v1/context/sources', { name: 'modes' }, ws.liveKey);
    const test = await post('/v1/context/sources', { name: 'modes' }, ws.testKey);
    expect(live.status).toBe(201);
    expect(test.status).toBe(201);
    expect(live.body.livemode).toBe(true);
    expect(test.body.livemode).toBe(false);
    expect(test.body.id).not.toBe(live.body.id);
    const liveDoc = await post('/v1/context/sources/modes/documents', { documents: [{ text: 'Live secret: the flamingo project ships in May.' }] }, ws.liveKey);
    const testDoc = await post('/v1/context/sources/modes/documents', { documents: [{ text: 'Test fixture: the flamingo sandbox resets nightly.' }] }, ws.testKey);
    expect(liveDoc.body.data[0].livemode).toBe(true);
    expect(testDoc.body.data[0].livemode).toBe(false);

    for (const mode of ['hybrid', 'vector', 'keyword']) {
      const asTest = await post('/v1/context/query', { query: 'flamingo', mode, top_k: 100 }, ws.testKey);
      expect(asTest.body.data.length, mode).toBeGreaterThan(0);
      expect(asTest.body.data.every((h: any) => h.source.id === test.body.id), mode).toBe(true);
      const asLive = await post('/v1/context/query', { query: 'flamingo', mode, sources: ['modes'], top_k: 100 }, ws.liveKey);
      expect(asLive.body.data.map((h: any) => h.text), mode).toEqual([expect.stringContaining('Live secret')]);
    }
    // Ids of the other mode do not exist for this key.
    expect((await get(`/v1/context/sources/${live.body.id}`, ws.testKey)).status).toBe(404);
    // …and one named in a body is a missing reference.
    expect((await post('/v1/context/query', { query: 'flamingo', sources: [live.body.id] }, ws.testKey)).body.error).toMatchObject({ code: 'resource_missing', param: 'sources[0]' });
    expect((await get(`/v1/context/sources/modes/documents/${liveDoc.body.data[0].id}`, ws.testKey)).status).toBe(404);
    expect((await del(`/v1/context/sources/modes/documents/${liveDoc.body.data[0].id}`, ws.testKey)).status).toBe(404);
    expect((await post('/v1/context/sources/modes/documents', { documents: [{ id: liveDoc.body.data[0].id, text: 'hijack' }] }, ws.testKey)).status).toBe(400);
    expect((await patch(`/v1/context/sources/${live.body.id}`, { description: 'x' }, ws.testKey)).status).toBe(404);
    expect((await del(`/v1/context/sources/${live.body.id}`, ws.testKey)).status).toBe(404);
    // Deleting the test source leaves the live one whole.
    expect((await del('/v1/context/sources/modes', ws.testKey)).status).toBe(200);
    expect((await get('/v1/context/sources/modes', ws.liveKey)).body.counts).toMatchObject({ documents: 1, indexed: 1 });
  });
});
