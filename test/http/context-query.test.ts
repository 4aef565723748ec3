import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { countTokens } from '../../src/context/tokens.js';
import { redisDatabaseUrl } from '../support/site.js';

/**
 * Query through the real server: every metadata filter operator, sources by name and id, and the
 * token-budgeted context window over several documents (budget, dedupe, grouping, citations).
 */
describe.each(backends)('context query on %s', (backend) => {
  let server: TestServer;
  let ws: TestWorkspace;
  let catalogId: string;
  const post = (path: string, body: unknown) => call(server.url, 'POST', path, { key: ws.liveKey, body });
  const query = async (body: Record<string, unknown>): Promise<string[]> => {
    const response = await post('/v1/context/query', { query: 'catalog entry', sources: ['catalog'], top_k: 20, ...body });
    expect(response.status, JSON.stringify(body)).toBe(200);
    return response.body.data.map((h: any) => h.document.external_id).sort();
  };

  beforeAll(async () => {
    server = await startTestServer(backend, backend === 'sqlite' ? {} : { redisUrl: redisDatabaseUrl(6) });
    ws = await server.workspace('enterprise');
    catalogId = (await post('/v1/context/sources', { name: 'catalog' })).body.id;
    const entries: Array<[string, string, Record<string, string | number | boolean>]> = [
      ['a', 'Catalog entry about antelopes.', { region: 'emea', year: 2021, tier: 'gold', active: true }],
      ['b', 'Catalog entry about bison.', { region: 'us', year: 2022, tier: 'silver', active: false }],
      ['c', 'Catalog entry about cassowaries.', { region: 'apac', year: 2023, tier: 'bronze', active: true }],
      ['d', 'Catalog entry about dingoes.', { region: 'emea', year: 2024, tier: 'silver' }],
      ['e', 'Catalog entry about emus.', { region: 'us', year: 2025, tier: 'gold', active: true }],
    ];
    const ingested = await post('/v1/context/sources/catalog/documents', { documents: entries.map(([id, text, metadata]) => ({ external_id: id, text, metadata })) });
    expect(ingested.status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('filters on metadata with every operator, in every mode', async () => {
    for (const mode of ['hybrid', 'vector', 'keyword']) {
      const cases: Array<[unknown, string[]]> = [
        [{ region: 'emea' }, ['a', 'd']],
        [{ region: { eq: 'us' } }, ['b', 'e']],
        [{ region: { ne: 'us' } }, ['a', 'c', 'd']],
        [{ year: { gt: 2022 } }, ['c', 'd', 'e']],
        [{ year: { gte: 2022, lt: 2024 } }, ['b', 'c']],
        [{ year: { lte: 2021 } }, ['a']],
        [{ tier: { in: ['gold', 'bronze'] } }, ['a', 'c', 'e']],
        [{ tier: { nin: ['gold'] } }, ['b', 'c', 'd']],
        [{ tier: { gte: 'gold', lte: 'silver' } }, ['a', 'b', 'd', 'e']],
        [{ active: true }, ['a', 'c', 'e']],
        [{ active: false }, ['b']],
        // A missing field is not equal to anything, and is never in a range.
        [{ active: { ne: true } }, ['b', 'd']],
        [{ region: 'us', active: true }, ['e']],
        [{ color: 'red' }, []],
        // Values are compared as sent: "2021" is not 2021.
        [{ year: '2021' }, []],
        [{ year: { gt: '2000' } }, []],
      ];
      for (const [filter, expected] of cases) {
        expect(await query({ mode, filter }), `${mode} ${JSON.stringify(filter)}`).toEqual(expected);
      }
    }
    // The candidate pool grows with a filter: a low-ranked match is still found with top_k 1.
    const only = await post('/v1/context/query', { query: 'antelopes bison dingoes emus catalog', sources: ['catalog'], top_k: 1, filter: { region: 'apac' } });
    expect(only.body.data.map((h: any) => h.document.external_id)).toEqual(['c']);
    expect(only.body.data[0].metadata).toEqual({ region: 'apac', year: 2023, tier: 'bronze', active: true });

    for (const filter of [{ year: { between: [1, 2] } }, { year: { in: 'gold' } }, { year: null }, { year: { gt: true } }]) {
      const refused = await post('/v1/context/query', { query: 'catalog', filter });
      expect(refused.status, JSON.stringify(filter)).toBe(400);
      expect(refused.body.error.param, JSON.stringify(filter)).toMatch(/^filter/);
    }
  });

  it('takes sources by name and id, and returns references with every hit', async () => {
    const other = await post('/v1/context/sources', { name: 'other-animals' });
    await post('/v1/context/sources/other-animals/documents', { documents: [{ external_id: 'z', title: 'Zebras', text: 'Catalog entry about zebras.', metadata: { region: 'africa' } }] });
    const both = await post('/v1/context/query', { query: 'catalog entry zebras', sources: [catalogId, 'other-animals'], top_k: 20 });
    expect(new Set(both.body.data.map((h: any) => h.source.name))).toEqual(new Set(['catalog', 'other-animals']));
    const zebra = both.body.data.find((h: any) => h.document.external_id === 'z');
    expect(zebra).toMatchObject({
      object: 'context_chunk', text: expect.stringContaining('zebras'), position: 0, heading: null,
      source: { id: other.body.id, name: 'other-animals' }, document: { title: 'Zebras', external_id: 'z', url: null }, metadata: { region: 'africa' },
    });
    expect(zebra.score).toBeGreaterThan(0);
    expect(zebra.scores.vector_rank).toBeGreaterThan(0);
    const one = await post('/v1/context/query', { query: 'catalog entry', sources: ['other-animals'] });
    expect(one.body.data.map((h: any) => h.document.external_id)).toEqual(['z']);
    const missing = await post('/v1/context/query', { query: 'catalog', sources: ['catalog', 'src_01h2xcejqtf2nbrexx3vqjhp41'] });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing', param: 'sources[1]' });
    expect((await post('/v1/context/query', { query: 'catalog entry' })).body.data.length).toBeGreaterThanOrEqual(6);
  });

  it('packs a window within the budget: no repeated text, grouped by document, numbered citations', async () => {
    await post('/v1/context/sources', { name: 'manuals', chunking: { max_tokens: 64, overlap_tokens: 8 } });
    const manual = (topic: string) =>
      `# ${topic} manual\n\n` + Array.from({ length: 6 }, (_, i) => `## Step ${i}\n\nStep ${i} of the ${topic} manual explains calibration of the sensor array.`).join('\n\n');
    await post('/v1/context/sources/manuals/documents', {
      documents: [
        { external_id: 'alpha', title: 'Alpha', text: manual('alpha') },
        { external_id: 'alpha-copy', title: 'Alpha', text: manual('alpha') },
        { external_id: 'beta', title: 'Beta', text: manual('beta') },
      ],
    });
    const ask = (max_tokens: number) => post('/v1/context/query', { query: 'calibration of the sensor array', sources: ['manuals'], top_k: 40, max_tokens });

    for (const budget of [40, 120, 300, 2_000]) {
      const response = await ask(budget);
      const { window, data } = response.body;
      expect(window.max_tokens).toBe(budget);
      expect(window.token_count).toBeLessThanOrEqual(budget);
      expect(countTokens(window.text)).toBe(window.token_count);
      const citations = window.citations as any[];
      expect(citations.length).toBeGreaterThan(0);
      expect(citations.map((c) => c.index)).toEqual(citations.map((_, i) => i + 1));
      const blocks = window.text.split(/\n\n(?=\[\d+\] )/);
      expect(blocks).toHaveLength(citations.length);
      const hitById = new Map(data.map((h: any) => [h.id, h]));
      const texts = citations.map((c, i) => {
        const hit: any = hitById.get(c.chunk_id);
        expect(hit, `citation ${c.index} is one of the hits`).toBeDefined();
        expect(blocks[i]).toBe(`[${c.index}] ${hit.document.title} — ${hit.heading}\n${hit.text}`);
        expect(c).toMatchObject({ document_id: hit.document.id, source_id: hit.source.id, title: hit.document.title, external_id: hit.document.external_id });
        return hit.text;
      });
      // The copy's chunks have the same text as the original's: each text once.
      expect(new Set(texts).size).toBe(texts.length);
      // Grouped: a document's chunks are together and in document order.
      const docs = citations.map((c) => c.document_id);
      const runs = docs.filter((d, i) => i === 0 || docs[i - 1] !== d);
      expect(new Set(runs).size).toBe(runs.length);
      for (let i = 1; i < citations.length; i++) {
        if (docs[i] === docs[i - 1]) expect((hitById.get(citations[i].chunk_id) as any).position).toBeGreaterThan((hitById.get(citations[i - 1].chunk_id) as any).position);
      }
      // Same query, same window.
      expect((await ask(budget)).body.window).toEqual(window);
    }
    const big = (await ask(2_000)).body.window;
    expect(big.citations.length).toBe(12);
    const tiny = await ask(5);
    expect(tiny.body.window).toEqual({ text: '', token_count: 0, max_tokens: 5, citations: [] });
    expect(tiny.body.data.length).toBeGreaterThan(0);
    expect((await post('/v1/context/query', { query: 'calibration', sources: ['manuals'] })).body.window).toBeNull();
  });
});
