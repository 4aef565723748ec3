import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import {
  createAiSdkEmbedder,
  createOpenAICompatibleEmbedder,
  createOpenAIEmbedder,
} from '../../src/context/embedders/ai-sdk-embedder.js';
import { createLocalHashEmbedder, LOCAL_HASH_DIMENSIONS, LOCAL_HASH_MODEL } from '../../src/context/embedders/local-hash-embedder.js';
import { createEmbedderRegistry } from '../../src/context/embedders/registry.js';
import { EmbeddingError, type Embedder } from '../../src/context/ports.js';
import { fakeEmbedding, startFakeOpenAI, type FakeOpenAI } from '../fixtures/fake-openai.js';

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}

function norm(v: Float32Array | number[]): number {
  let sum = 0;
  for (const x of v) sum += x * x;
  return Math.sqrt(sum);
}

async function embedOne(embedder: Embedder, text: string): Promise<Float32Array> {
  const [vector] = await embedder.embed([text]);
  return vector!;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('local hash embedder (kairo/hash-384)', () => {
  const embedder = createLocalHashEmbedder();

  it('describes itself', () => {
    expect(embedder.model).toBe('kairo/hash-384');
    expect(LOCAL_HASH_MODEL).toBe('kairo/hash-384');
    expect(embedder.dimensions).toBe(384);
    expect(embedder.maxBatchSize).toBeGreaterThanOrEqual(1024);
  });

  it('is deterministic across calls and instances, and keeps input order', async () => {
    const texts = ['Pricing for the Enterprise plan', 'Refund policy', 'Größe der Datei über 10 MB', '日本語のテキスト'];
    const first = await embedder.embed(texts);
    const again = await createLocalHashEmbedder().embed(texts);
    const reversed = await embedder.embed([...texts].reverse());
    expect(first).toHaveLength(texts.length);
    for (let i = 0; i < texts.length; i++) {
      expect(first[i]).toBeInstanceOf(Float32Array);
      expect(first[i]!.length).toBe(LOCAL_HASH_DIMENSIONS);
      expect(Array.from(again[i]!)).toEqual(Array.from(first[i]!));
      expect(Array.from(reversed[texts.length - 1 - i]!)).toEqual(Array.from(first[i]!));
    }
  });

  it('returns unit vectors for text and zero vectors for text without words', async () => {
    const [text, empty, punctuation] = await embedder.embed(['hello world', '', ' ... !!! — ']);
    expect(norm(text!)).toBeCloseTo(1, 5);
    expect(norm(empty!)).toBe(0);
    expect(norm(punctuation!)).toBe(0);
  });

  it('gives any string a finite vector of norm 1 or 0', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 200 }), async (text) => {
        const vector = await embedOne(embedder, text);
        expect(vector.length).toBe(384);
        expect(vector.every(Number.isFinite)).toBe(true);
        const n = norm(vector);
        expect(n === 0 || Math.abs(n - 1) < 1e-5).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('is case-insensitive and ignores punctuation', async () => {
    const a = await embedOne(embedder, 'Reset your PASSWORD, please.');
    const b = await embedOne(embedder, 'reset your password please');
    expect(cosine(a, b)).toBeGreaterThan(0.999);
  });

  it('scores similar texts higher than unrelated ones', async () => {
    const cases: Array<[anchor: string, similar: string, unrelated: string]> = [
      ['How do I reset my password?', 'Steps to reset a forgotten password', 'Quarterly revenue grew in Europe'],
      ['The enterprise plan includes SSO and audit logs', 'Enterprise plans come with SSO and audit logging', 'Our office dog is called Biscuit'],
      ['invoice payment failed', 'failed invoice payments', 'weather forecast tomorrow'],
      ['Die Größe der Datei ist begrenzt', 'Dateigröße begrenzt: die Größe der Datei', 'Le chat dort sur le canapé'],
    ];
    for (const [anchor, similar, unrelated] of cases) {
      const [va, vs, vu] = await embedder.embed([anchor, similar, unrelated]);
      expect(cosine(va!, vs!), `${anchor} ~ ${similar}`).toBeGreaterThan(cosine(va!, vu!) + 0.1);
    }
  });

  it('rewards shared word fragments (character trigrams), so inflections still match', async () => {
    const [a, b, c] = await embedder.embed(['configuration', 'configurations', 'banana']);
    expect(cosine(a!, b!)).toBeGreaterThan(0.5);
    expect(cosine(a!, b!)).toBeGreaterThan(cosine(a!, c!));
  });

  it('refuses an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(embedder.embed(['x'], { signal: controller.signal })).rejects.toThrow('stop');
  });

  it('embeds a few thousand chunks quickly (prints throughput, asserts nothing about time)', async () => {
    const words = 'the customer asked about pricing plans refunds invoices enterprise security audit logs retrieval context'.split(' ');
    const texts = Array.from({ length: 5000 }, (_, i) =>
      Array.from({ length: 40 }, (_, j) => words[(i * 7 + j * 13) % words.length]).join(' '),
    );
    const started = performance.now();
    const vectors = await embedder.embed(texts.slice(0, 2048));
    vectors.push(...(await embedder.embed(texts.slice(2048))));
    const seconds = (performance.now() - started) / 1000;
    expect(vectors).toHaveLength(5000);
    console.log(`kairo/hash-384: ${Math.round(5000 / seconds)} chunks/s (40-word chunks)`);
  });
});

describe('AI SDK embedder against the fake OpenAI server', () => {
  let fake: FakeOpenAI;
  const apiKey = 'sk-test-fake-key';
  const fastRetry = { 'retry-after-ms': '1' };

  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey });
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('embeds through the openai provider with a base URL, normalised, in order', async () => {
    const embedder = createOpenAIEmbedder({ apiKey, baseUrl: fake.url, modelName: 'text-embedding-3-small', dimensions: 1536 });
    expect(embedder.model).toBe('openai/text-embedding-3-small');
    const texts = ['alpha beta', 'gamma delta', 'alpha beta gamma'];
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(3);
    for (const [i, vector] of vectors.entries()) {
      expect(vector.length).toBe(1536);
      expect(norm(vector)).toBeCloseTo(1, 5);
      expect(Array.from(vector)).toEqual(Array.from(new Float32Array(fakeEmbedding(texts[i]!, 1536))));
    }
    expect(fake.requests).toHaveLength(1);
    const request = fake.requests[0]!;
    expect(request.path).toBe('/v1/embeddings');
    expect(request.headers.authorization).toBe(`Bearer ${apiKey}`);
    expect(request.body).toMatchObject({ model: 'text-embedding-3-small', input: texts, dimensions: 1536 });
    expect(fake.embeddedTexts).toEqual(texts);
  });

  it('shortens text-embedding-3 vectors via the dimensions parameter', async () => {
    const embedder = createOpenAIEmbedder({ apiKey, baseUrl: fake.url, modelName: 'text-embedding-3-large', dimensions: 256 });
    const [vector] = await embedder.embed(['short']);
    expect(vector!.length).toBe(256);
    expect(fake.requests[0]!.body).toMatchObject({ dimensions: 256 });
  });

  it('embeds through the openai-compatible provider without a dimensions parameter', async () => {
    const embedder = createOpenAICompatibleEmbedder({
      name: 'compatible',
      baseUrl: fake.url,
      apiKey,
      modelName: 'nomic-embed-text',
      dimensions: 768,
    });
    expect(embedder.model).toBe('compatible/nomic-embed-text');
    const vectors = await embedder.embed(['one text']);
    expect(vectors[0]!.length).toBe(768);
    expect(norm(vectors[0]!)).toBeCloseTo(1, 5);
    const body = fake.requests[0]!.body as Record<string, unknown>;
    expect(body.model).toBe('nomic-embed-text');
    expect(body).not.toHaveProperty('dimensions');
  });

  it('normalises vectors the server returns at other lengths', async () => {
    const raw = await startFakeOpenAI({ unnormalizedEmbeddings: true });
    try {
      const embedder = createOpenAICompatibleEmbedder({ name: 'compatible', baseUrl: raw.url, modelName: 'm', dimensions: 64 });
      const [vector] = await embedder.embed(['several words of text here']);
      expect(norm(fakeEmbedding('several words of text here', 64, false))).toBeGreaterThan(1.5);
      expect(norm(vector!)).toBeCloseTo(1, 5);
    } finally {
      await raw.close();
    }
  });

  it('splits large inputs into batches of maxBatchSize and keeps order', async () => {
    const embedder = createOpenAICompatibleEmbedder(
      { name: 'compatible', baseUrl: fake.url, apiKey, modelName: 'small', dimensions: 64 },
      { maxBatchSize: 96 },
    );
    expect(embedder.maxBatchSize).toBe(96);
    const texts = Array.from({ length: 200 }, (_, i) => `text number ${i} word${i}`);
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(200);
    expect(fake.requests.map((request) => ((request.body as { input: string[] }).input).length)).toEqual([96, 96, 8]);
    expect(fake.embeddedTexts).toEqual(texts);
    expect(Array.from(vectors[150]!)).toEqual(Array.from(new Float32Array(fakeEmbedding(texts[150]!, 64))));
  });

  it('returns [] for no texts without calling the provider', async () => {
    const embedder = createOpenAIEmbedder({ apiKey, baseUrl: fake.url, modelName: 'text-embedding-3-small', dimensions: 1536 });
    expect(await embedder.embed([])).toEqual([]);
    expect(fake.requests).toHaveLength(0);
  });

  it('a 500 that persists becomes a retryable EmbeddingError after the retries', async () => {
    const embedder = createOpenAIEmbedder(
      { apiKey, baseUrl: fake.url, modelName: 'text-embedding-3-small', dimensions: 1536 },
      { maxRetries: 2 },
    );
    fake.enqueue(...Array.from({ length: 3 }, () => ({ kind: 'error' as const, status: 500, headers: fastRetry })));
    const error = await rejection(embedder.embed(['x']));
    expect(error).toBeInstanceOf(EmbeddingError);
    expect((error as EmbeddingError).retryable).toBe(true);
    expect((error as EmbeddingError).message).toMatch(/openai\/text-embedding-3-small.*500.*3 attempts/);
    expect(fake.requests).toHaveLength(3);
  });

  it('a transient 500 or 429 is retried and succeeds', async () => {
    const embedder = createOpenAIEmbedder({ apiKey, baseUrl: fake.url, modelName: 'text-embedding-3-small', dimensions: 1536 });
    fake.enqueue({ kind: 'error', status: 500, headers: fastRetry }, { kind: 'error', status: 429, headers: fastRetry });
    const vectors = await embedder.embed(['after retries']);
    expect(vectors[0]!.length).toBe(1536);
    expect(fake.requests).toHaveLength(3);
  });

  it('a 429 with retries disabled is a retryable EmbeddingError', async () => {
    const embedder = createOpenAIEmbedder(
      { apiKey, baseUrl: fake.url, modelName: 'text-embedding-3-small', dimensions: 1536 },
      { maxRetries: 0 },
    );
    fake.enqueue({ kind: 'error', status: 429 });
    const error = await rejection(embedder.embed(['x']));
    expect(error).toBeInstanceOf(EmbeddingError);
    expect((error as EmbeddingError).retryable).toBe(true);
    expect(fake.requests).toHaveLength(1);
  });

  it('a 400 is a non-retryable EmbeddingError, not retried', async () => {
    const embedder = createOpenAIEmbedder({ apiKey, baseUrl: fake.url, modelName: 'text-embedding-3-small', dimensions: 1536 });
    fake.enqueue({ kind: 'error', status: 400, body: { error: { message: 'Input too long', type: 'invalid_request_error', param: 'input', code: null } } });
    const error = await rejection(embedder.embed(['x']));
    expect(error).toBeInstanceOf(EmbeddingError);
    expect((error as EmbeddingError).retryable).toBe(false);
    expect((error as EmbeddingError).message).toMatch(/400.*Input too long/);
    expect(fake.requests).toHaveLength(1);
  });

  it('a wrong API key is a non-retryable error that does not echo the key', async () => {
    const embedder = createOpenAIEmbedder({ apiKey: 'sk-wrong-key-1234', baseUrl: fake.url, modelName: 'text-embedding-3-small', dimensions: 1536 });
    const error = await rejection(embedder.embed(['x']));
    expect(error).toBeInstanceOf(EmbeddingError);
    expect((error as EmbeddingError).retryable).toBe(false);
    expect((error as EmbeddingError).message).toMatch(/401/);
    expect((error as EmbeddingError).message).not.toContain('sk-wrong-key-1234');
  });

  it('a dimension mismatch is a non-retryable EmbeddingError naming both dimensions', async () => {
    // The fake answers unknown models with 64 dimensions.
    const embedder = createOpenAICompatibleEmbedder({ name: 'compatible', baseUrl: fake.url, apiKey, modelName: 'mystery', dimensions: 768 });
    const error = await rejection(embedder.embed(['x']));
    expect(error).toBeInstanceOf(EmbeddingError);
    expect((error as EmbeddingError).retryable).toBe(false);
    expect((error as EmbeddingError).message).toMatch(/compatible\/mystery.*64.*768/);
  });

  it('a call slower than timeoutMs is a retryable timeout', async () => {
    const embedder = createOpenAIEmbedder(
      { apiKey, baseUrl: fake.url, modelName: 'text-embedding-3-small', dimensions: 1536 },
      { timeoutMs: 150 },
    );
    fake.enqueue({ kind: 'delay', ms: 1000 });
    const error = await rejection(embedder.embed(['slow']));
    expect(error).toBeInstanceOf(EmbeddingError);
    expect((error as EmbeddingError).retryable).toBe(true);
    expect((error as EmbeddingError).message).toMatch(/timed out/);
  });

  it("rethrows the caller's abort reason", async () => {
    const embedder = createOpenAIEmbedder({ apiKey, baseUrl: fake.url, modelName: 'text-embedding-3-small', dimensions: 1536 });
    fake.enqueue({ kind: 'delay', ms: 1000 });
    const controller = new AbortController();
    const reason = new Error('job cancelled');
    setTimeout(() => controller.abort(reason), 50);
    const error = await rejection(embedder.embed(['slow'], { signal: controller.signal }));
    expect(error).toBe(reason);
  });

  it('refuses a bad dimension or batch size at construction', () => {
    const embeddingModel = 'openai/text-embedding-3-small';
    expect(() => createAiSdkEmbedder({ model: 'x', dimensions: 0, embeddingModel })).toThrow(TypeError);
    expect(() => createAiSdkEmbedder({ model: 'x', dimensions: 8, embeddingModel, maxBatchSize: 0 })).toThrow(TypeError);
  });
});

describe('embedder registry', () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ embeddingDimensions: { 'nomic-embed-text': 768 } });
  });
  afterAll(async () => {
    await fake.close();
  });

  it('always has the local embedder, and it is the default', () => {
    const registry = createEmbedderRegistry(loadConfig({}, {}));
    expect(registry.defaultModel).toBe('kairo/hash-384');
    expect(registry.list()).toEqual([{ model: 'kairo/hash-384', dimensions: 384, provider: 'kairo' }]);
    expect(registry.get('kairo/hash-384')?.dimensions).toBe(384);
    expect(registry.get('openai/text-embedding-3-small')).toBeUndefined();
    expect(registry.get('nope')).toBeUndefined();
  });

  it('adds the configured remote models, which embed through their providers', async () => {
    const config = loadConfig(
      {},
      {
        KAIRO_OPENAI_API_KEY: 'sk-registry',
        KAIRO_OPENAI_BASE_URL: fake.url,
        KAIRO_OPENAI_COMPATIBLE_BASE_URL: fake.url,
        KAIRO_OPENAI_COMPATIBLE_NAME: 'ollama',
        KAIRO_EMBEDDING_MODELS: 'openai/text-embedding-3-small,ollama/nomic-embed-text:768',
        KAIRO_DEFAULT_EMBEDDING_MODEL: 'ollama/nomic-embed-text',
      },
    );
    const registry = createEmbedderRegistry(config);
    expect(registry.defaultModel).toBe('ollama/nomic-embed-text');
    expect(registry.list()).toEqual([
      { model: 'kairo/hash-384', dimensions: 384, provider: 'kairo' },
      { model: 'openai/text-embedding-3-small', dimensions: 1536, provider: 'openai' },
      { model: 'ollama/nomic-embed-text', dimensions: 768, provider: 'ollama' },
    ]);
    const openai = registry.get('openai/text-embedding-3-small')!;
    const ollama = registry.get('ollama/nomic-embed-text')!;
    expect((await openai.embed(['a']))[0]!.length).toBe(1536);
    expect((await ollama.embed(['b']))[0]!.length).toBe(768);
    expect(fake.requests.map((request) => (request.body as { model: string }).model)).toEqual(['text-embedding-3-small', 'nomic-embed-text']);
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer sk-registry');
    expect(fake.requests[1]!.headers.authorization).toBeUndefined();
  });

  it('an OpenAI key alone makes text-embedding-3-small and -large available', () => {
    const registry = createEmbedderRegistry(loadConfig({}, { KAIRO_OPENAI_API_KEY: 'sk-x' }));
    expect(registry.list().map((entry) => entry.model)).toEqual([
      'kairo/hash-384',
      'openai/text-embedding-3-small',
      'openai/text-embedding-3-large',
    ]);
    expect(registry.get('openai/text-embedding-3-large')?.dimensions).toBe(3072);
  });
});
