import { APICallError, generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigFlags } from '../../src/config.js';
import { createModelCatalogue, ModelCatalogueError } from '../../src/models/catalogue.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fixtures/fake-openai.js';

const BUILTIN_IDS = [
  'openai/gpt-4o',
  'openai/gpt-4o-mini',
  'openai/gpt-4.1',
  'openai/gpt-4.1-mini',
  'openai/o3-mini',
  'anthropic/claude-sonnet-4',
  'anthropic/claude-3-5-haiku',
  'google/gemini-2.5-pro',
  'google/gemini-2.5-flash',
];

function configError(flags: ConfigFlags, env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(flags, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function catalogueError(run: () => unknown): ModelCatalogueError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ModelCatalogueError);
    return error as ModelCatalogueError;
  }
  throw new Error('expected a ModelCatalogueError');
}

describe('catalogue: contents and availability', () => {
  it('lists the built-in models and the simulator with prices, limits and capabilities', () => {
    const catalogue = createModelCatalogue(loadConfig({}, {}));
    const ids = catalogue.list().map((model) => model.id);
    for (const id of BUILTIN_IDS) expect(ids).toContain(id);
    expect(ids.at(-1)).toBe('kairo/simulator');
    for (const model of catalogue.list()) {
      expect(model.id).toBe(`${model.provider}/${model.id.slice(model.provider.length + 1)}`);
      expect(model.contextWindow).toBeGreaterThan(model.maxOutputTokens - 1);
      expect(model.quality).toBeGreaterThanOrEqual(1);
      expect(model.quality).toBeLessThanOrEqual(5);
      expect(model.speed).toBeGreaterThanOrEqual(1);
      expect(model.speed).toBeLessThanOrEqual(5);
      expect(model.pricing.cachedInput).toBeLessThanOrEqual(model.pricing.input);
      expect(Object.isFrozen(model)).toBe(true);
    }
    expect(catalogue.get('openai/gpt-4o-mini')).toMatchObject({
      provider: 'openai',
      providerModelId: 'gpt-4o-mini',
      contextWindow: 128_000,
      pricing: { input: 0.15, output: 0.6, cachedInput: 0.075 },
      capabilities: { tools: true, streaming: true },
    });
    expect(catalogue.get('openai/o3-mini')!.strengths).toContain('reasoning');
    expect(catalogue.get('openai/o3-mini')!.capabilities.vision).toBe(false);
    expect(catalogue.get('kairo/simulator')).toMatchObject({ provider: 'kairo', pricing: { input: 0, output: 0, cachedInput: 0 }, available: true });
    expect(catalogue.get('nope/model')).toBeUndefined();
  });

  it('marks a model available exactly when its provider is configured', () => {
    const none = createModelCatalogue(loadConfig({}, {}));
    expect(none.list().filter((model) => model.available).map((model) => model.id)).toEqual(['kairo/simulator']);

    const all = createModelCatalogue(
      loadConfig({}, { KAIRO_OPENAI_API_KEY: 'sk-o', KAIRO_ANTHROPIC_API_KEY: 'sk-a', KAIRO_GOOGLE_API_KEY: 'g-k' }),
    );
    expect(all.list().every((model) => model.available)).toBe(true);

    const anthropicOnly = createModelCatalogue(loadConfig({}, { KAIRO_ANTHROPIC_API_KEY: 'sk-a' }));
    const available = anthropicOnly.list().filter((model) => model.available).map((model) => model.id);
    expect(available).toEqual(['anthropic/claude-sonnet-4', 'anthropic/claude-3-5-haiku', 'kairo/simulator']);
  });

  it('adds declared chat models on the compatible provider, and lets a declaration override a built-in', () => {
    const catalogue = createModelCatalogue(
      loadConfig(
        {},
        {
          KAIRO_OPENAI_API_KEY: 'sk-o',
          KAIRO_OPENAI_COMPATIBLE_BASE_URL: 'http://127.0.0.1:11434/v1',
          KAIRO_CHAT_MODELS:
            'compatible/llama3.1:8b:131072, compatible/qwen2.5-coder:32b:32768;in=0.2;out=0.6;tools=no;quality=3;speed=2;strengths=code+reasoning, openai/gpt-4o-mini:128000;in=0.1',
        },
      ),
    );
    expect(catalogue.get('compatible/llama3.1:8b')).toEqual({
      id: 'compatible/llama3.1:8b',
      provider: 'compatible',
      providerModelId: 'llama3.1:8b',
      displayName: 'llama3.1:8b',
      contextWindow: 131_072,
      maxOutputTokens: 4096,
      pricing: { input: 0, output: 0, cachedInput: 0 },
      capabilities: { tools: true, streaming: true, vision: false, jsonOutput: true },
      quality: 2,
      speed: 3,
      strengths: [],
      available: true,
    });
    expect(catalogue.get('compatible/qwen2.5-coder:32b')).toMatchObject({
      contextWindow: 32_768,
      pricing: { input: 0.2, output: 0.6, cachedInput: 0.2 },
      capabilities: { tools: false },
      quality: 3,
      speed: 2,
      strengths: ['code', 'reasoning'],
    });
    // The override keeps what it does not restate.
    expect(catalogue.get('openai/gpt-4o-mini')).toMatchObject({
      displayName: 'GPT-4o mini',
      pricing: { input: 0.1, output: 0.6, cachedInput: 0.075 },
      maxOutputTokens: 16_384,
    });
    expect(catalogue.list().filter((model) => model.id === 'openai/gpt-4o-mini')).toHaveLength(1);
  });
});

describe('catalogue: language models', () => {
  it('gives the simulator in test mode, whatever the id', async () => {
    const catalogue = createModelCatalogue(loadConfig({}, {}));
    for (const id of ['openai/gpt-4o', 'anthropic/claude-sonnet-4', 'kairo/simulator', 'nope/unknown']) {
      const model = catalogue.languageModel(id, false);
      expect(model.provider).toBe('kairo');
      expect(model.modelId).toBe('simulator');
    }
    expect(catalogue.languageModel('openai/gpt-4o', false)).toBe(catalogue.languageModel('openai/gpt-4o', false));
    const { text, providerMetadata } = await generateText({ model: catalogue.languageModel('openai/gpt-4o', false), prompt: 'hi' });
    expect(text).toBe('Simulated answer to "hi".');
    expect(providerMetadata).toEqual({ kairo: { simulated: true, servingAs: 'openai/gpt-4o' } });
  });

  it('lets `fail … for <model>` fail one stand-in so fallbacks can be tested', async () => {
    const catalogue = createModelCatalogue(loadConfig({}, {}));
    const prompt = 'fail 503 for openai/gpt-4o\nhello';
    const error = await generateText({ model: catalogue.languageModel('openai/gpt-4o', false), prompt, maxRetries: 0 }).catch((e: unknown) => e);
    expect(APICallError.isInstance(error)).toBe(true);
    const fallback = await generateText({ model: catalogue.languageModel('google/gemini-2.5-flash', false), prompt, maxRetries: 0 });
    expect(fallback.text).toBe('Simulated answer to "hello".');
  });

  it('refuses unknown and unavailable models in live mode, naming the fix', () => {
    const catalogue = createModelCatalogue(loadConfig({}, {}));
    const unknown = catalogueError(() => catalogue.languageModel('nope/model', true));
    expect(unknown.code).toBe('unknown_model');
    expect(unknown.model).toBe('nope/model');
    const unavailable = catalogueError(() => catalogue.languageModel('anthropic/claude-sonnet-4', true));
    expect(unavailable.code).toBe('model_unavailable');
    expect(unavailable.message).toContain('KAIRO_ANTHROPIC_API_KEY');
    expect(catalogue.languageModel('kairo/simulator', true).modelId).toBe('simulator');
  });

  it('builds the real providers in live mode without any network call', () => {
    const catalogue = createModelCatalogue(
      loadConfig({}, { KAIRO_OPENAI_API_KEY: 'sk-o', KAIRO_ANTHROPIC_API_KEY: 'sk-a', KAIRO_GOOGLE_API_KEY: 'g-k' }),
    );
    const openai = catalogue.languageModel('openai/gpt-4o', true);
    expect([openai.provider, openai.modelId]).toEqual(['openai.chat', 'gpt-4o']);
    const anthropic = catalogue.languageModel('anthropic/claude-sonnet-4', true);
    expect([anthropic.provider, anthropic.modelId]).toEqual(['anthropic.messages', 'claude-sonnet-4-20250514']);
    const google = catalogue.languageModel('google/gemini-2.5-flash', true);
    expect([google.provider, google.modelId]).toEqual(['google.generative-ai', 'gemini-2.5-flash']);
    expect(catalogue.languageModel('openai/gpt-4o', true)).toBe(openai);
  });
});

describe('catalogue: live calls against the fake OpenAI-compatible server', () => {
  let fake: FakeOpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: 'fake-key' });
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => fake.reset());

  function liveCatalogue() {
    return createModelCatalogue(
      loadConfig(
        {},
        {
          KAIRO_OPENAI_COMPATIBLE_BASE_URL: fake.url,
          KAIRO_OPENAI_COMPATIBLE_API_KEY: 'fake-key',
          KAIRO_OPENAI_COMPATIBLE_NAME: 'local',
          KAIRO_CHAT_MODELS: 'local/llama3.1:8b:131072',
          KAIRO_OPENAI_API_KEY: 'fake-key',
          KAIRO_OPENAI_BASE_URL: fake.url,
        },
      ),
    );
  }

  it('completes a chat on a declared compatible model', async () => {
    const model = liveCatalogue().languageModel('local/llama3.1:8b', true);
    expect(model.provider).toBe('local.chat');
    const result = await generateText({ model, prompt: 'Hello from KAIRO' });
    expect(result.text).toBe('Echo: Hello from KAIRO');
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    const request = fake.requests.at(-1)!;
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe('Bearer fake-key');
    expect((request.body as { model: string }).model).toBe('llama3.1:8b');
  });

  it('streams with usage, and runs tool calls', async () => {
    const model = liveCatalogue().languageModel('local/llama3.1:8b', true);
    const streamed = streamText({ model, prompt: 'stream me' });
    expect(await streamed.text).toBe('Echo: stream me');
    expect((await streamed.usage).outputTokens).toBeGreaterThan(0);
    expect((fake.requests.at(-1)!.body as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true });

    fake.enqueue({ kind: 'tool_calls', calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] }, { kind: 'text', text: 'Sunny in Paris.' });
    const result = await generateText({
      model,
      prompt: 'weather?',
      tools: {
        get_weather: tool({
          inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
          execute: async ({ city }) => ({ city, sky: 'sunny' }),
        }),
      },
      stopWhen: stepCountIs(3),
    });
    expect(result.steps[0]!.toolCalls[0]!.input).toEqual({ city: 'Paris' });
    expect(result.text).toBe('Sunny in Paris.');
  });

  it('calls OpenAI models through Chat Completions at the configured base URL', async () => {
    const model = liveCatalogue().languageModel('openai/gpt-4o-mini', true);
    const result = await generateText({ model, prompt: 'Hi OpenAI' });
    expect(result.text).toBe('Echo: Hi OpenAI');
    expect((fake.requests.at(-1)!.body as { model: string }).model).toBe('gpt-4o-mini');
  });

  it('surfaces provider errors as APICallError with the retry verdict', async () => {
    const model = liveCatalogue().languageModel('local/llama3.1:8b', true);
    fake.enqueue({ kind: 'error', status: 429 });
    const limited = await generateText({ model, prompt: 'x', maxRetries: 0 }).catch((e: unknown) => e);
    expect(APICallError.isInstance(limited)).toBe(true);
    expect((limited as APICallError).isRetryable).toBe(true);
    fake.enqueue({ kind: 'error', status: 400 });
    const bad = await generateText({ model, prompt: 'x', maxRetries: 0 }).catch((e: unknown) => e);
    expect((bad as APICallError).isRetryable).toBe(false);
  });
});

describe('config: model provider settings', () => {
  it('reads the Anthropic and Google settings, flag over environment', () => {
    const config = loadConfig(
      { anthropicApiKey: 'sk-flag' },
      {
        KAIRO_ANTHROPIC_API_KEY: 'sk-env',
        KAIRO_ANTHROPIC_BASE_URL: 'https://anthropic-proxy.example.com/v1',
        KAIRO_GOOGLE_API_KEY: 'g-env',
        KAIRO_GOOGLE_BASE_URL: 'https://gemini-proxy.example.com/v1beta',
      },
    );
    expect(config.anthropicApiKey).toBe('sk-flag');
    expect(config.anthropicBaseUrl).toBe('https://anthropic-proxy.example.com/v1');
    expect(config.googleApiKey).toBe('g-env');
    expect(config.googleBaseUrl).toBe('https://gemini-proxy.example.com/v1beta');
    expect(loadConfig({}, {})).toMatchObject({
      anthropicApiKey: undefined,
      anthropicBaseUrl: undefined,
      googleApiKey: undefined,
      googleBaseUrl: undefined,
      chatModels: [],
    });
  });

  it('rejects bad base URLs, naming the setting', () => {
    expect(configError({}, { KAIRO_ANTHROPIC_BASE_URL: 'not a url' }).message).toBe(
      'Invalid --anthropic-base-url / KAIRO_ANTHROPIC_BASE_URL: not a URL.',
    );
    expect(configError({}, { KAIRO_GOOGLE_BASE_URL: 'ftp://x.example.com' }).message).toContain('--google-base-url / KAIRO_GOOGLE_BASE_URL');
  });

  it('parses KAIRO_CHAT_MODELS', () => {
    const config = loadConfig(
      {},
      {
        KAIRO_OPENAI_COMPATIBLE_BASE_URL: 'http://127.0.0.1:11434/v1',
        KAIRO_GOOGLE_API_KEY: 'g',
        KAIRO_CHAT_MODELS:
          ' compatible/meta-llama/Llama-3.1-8B-Instruct:131072 ,, compatible/qwen2.5:14b:32768; in=0.25 ; out=1; cached=0.1; max_output=8192; vision=yes; strengths=code+code+chat, google/gemini-2.0-flash:1048576;quality=3;speed=5',
      },
    );
    expect(config.chatModels).toEqual([
      { id: 'compatible/meta-llama/Llama-3.1-8B-Instruct', provider: 'compatible', model: 'meta-llama/Llama-3.1-8B-Instruct', contextWindow: 131_072 },
      {
        id: 'compatible/qwen2.5:14b',
        provider: 'compatible',
        model: 'qwen2.5:14b',
        contextWindow: 32_768,
        inputPrice: 0.25,
        outputPrice: 1,
        cachedInputPrice: 0.1,
        maxOutputTokens: 8192,
        vision: true,
        strengths: ['code', 'chat'],
      },
      { id: 'google/gemini-2.0-flash', provider: 'google', model: 'gemini-2.0-flash', contextWindow: 1_048_576, quality: 3, speed: 5 },
    ]);
    expect(loadConfig({ chatModels: 'compatible/a:1000', openaiCompatibleBaseUrl: 'http://127.0.0.1:1/v1' }, {}).chatModels).toHaveLength(1);
  });

  it.each([
    [{ KAIRO_CHAT_MODELS: 'compatible/llama3' }, '"compatible/llama3" needs its context window, e.g. compatible/llama3:128000.'],
    [{ KAIRO_CHAT_MODELS: 'llama3:8000' }, '"llama3:8000" is not provider/model:context_window.'],
    [{ KAIRO_CHAT_MODELS: 'compatible/llama3:8000' }, '"compatible/llama3" needs --openai-compatible-base-url / KAIRO_OPENAI_COMPATIBLE_BASE_URL.'],
    [{ KAIRO_CHAT_MODELS: 'anthropic/claude-opus-4:200000' }, '"anthropic/claude-opus-4" needs --anthropic-api-key / KAIRO_ANTHROPIC_API_KEY.'],
    [{ KAIRO_CHAT_MODELS: 'mistral/large:128000' }, 'unknown provider "mistral"'],
    [{ KAIRO_CHAT_MODELS: 'kairo/simulator:1000' }, 'kairo/ models are built in'],
    [{ KAIRO_CHAT_MODELS: 'google/a:0', KAIRO_GOOGLE_API_KEY: 'g' }, 'the context window must be a whole number from 1 to 100000000'],
    [{ KAIRO_CHAT_MODELS: 'google/a:1000,google/a:2000', KAIRO_GOOGLE_API_KEY: 'g' }, '"google/a" is listed twice.'],
    [{ KAIRO_CHAT_MODELS: 'google/a:1000;in=-1', KAIRO_GOOGLE_API_KEY: 'g' }, 'in=-1 is not a price'],
    [{ KAIRO_CHAT_MODELS: 'google/a:1000;max_output=2000', KAIRO_GOOGLE_API_KEY: 'g' }, 'max_output=2000 is not a whole number from 1 to 1000'],
    [{ KAIRO_CHAT_MODELS: 'google/a:1000;quality=9', KAIRO_GOOGLE_API_KEY: 'g' }, 'quality=9 is not a whole number from 1 to 5'],
    [{ KAIRO_CHAT_MODELS: 'google/a:1000;tools=maybe', KAIRO_GOOGLE_API_KEY: 'g' }, 'tools=maybe is not yes or no'],
    [{ KAIRO_CHAT_MODELS: 'google/a:1000;strengths=poetry', KAIRO_GOOGLE_API_KEY: 'g' }, 'unknown strength "poetry"'],
    [{ KAIRO_CHAT_MODELS: 'google/a:1000;colour=red', KAIRO_GOOGLE_API_KEY: 'g' }, 'unknown attribute "colour"'],
    [{ KAIRO_CHAT_MODELS: 'google/a:1000;in=1;in=2', KAIRO_GOOGLE_API_KEY: 'g' }, 'in is given twice'],
  ])('rejects %j', (env, message) => {
    const error = configError({}, env);
    expect(error.message.startsWith('Invalid --chat-models / KAIRO_CHAT_MODELS: ')).toBe(true);
    expect(error.message).toContain(message);
  });

  it('keeps provider names for the built-in providers', () => {
    for (const name of ['anthropic', 'google', 'openai', 'kairo']) {
      expect(configError({}, { KAIRO_OPENAI_COMPATIBLE_NAME: name }).message).toContain('--openai-compatible-name / KAIRO_OPENAI_COMPATIBLE_NAME');
    }
  });
});

describe('price overrides and costs', () => {
  it('applies KAIRO_MODEL_PRICES over the catalogue, keeping the prices it leaves out', () => {
    const catalogue = createModelCatalogue(loadConfig({}, { KAIRO_MODEL_PRICES: 'openai/gpt-4o;in=3;cached=0.1' }));
    expect(catalogue.get('openai/gpt-4o')!.pricing).toEqual({ input: 3, output: 10, cachedInput: 0.1 });
    expect(catalogue.get('openai/gpt-4o-mini')!.pricing).toEqual({ input: 0.15, output: 0.6, cachedInput: 0.075 });
  });

  it('refuses an override of a model the catalogue does not have', () => {
    expect(() => createModelCatalogue(loadConfig({}, { KAIRO_MODEL_PRICES: 'openai/gpt-9;in=1' }))).toThrow(ConfigError);
    expect(() => createModelCatalogue(loadConfig({}, { KAIRO_MODEL_PRICES: 'openai/gpt-9;in=1' }))).toThrow(/KAIRO_MODEL_PRICES: "openai\/gpt-9"/);
  });

  it('prices a call at its tokens: cached input at the cached price, test mode notionally', async () => {
    const { callCost, SIMULATOR_NOTIONAL_PRICING } = await import('../../src/models/pricing.js');
    const catalogue = createModelCatalogue(loadConfig({}, {}));
    const tokens = { inputTokens: 1000, cachedInputTokens: 400, outputTokens: 200 };
    expect(callCost(catalogue, 'openai/gpt-4o', tokens, true)).toBeCloseTo((600 * 2.5 + 400 * 1.25 + 200 * 10) / 1e6, 15);
    expect(callCost(catalogue, 'openai/gpt-4o', tokens, false)).toBeCloseTo((600 * 2.5 + 400 * 1.25 + 200 * 10) / 1e6, 15);
    expect(callCost(catalogue, 'kairo/simulator', tokens, true)).toBe(0);
    const notional = SIMULATOR_NOTIONAL_PRICING;
    expect(callCost(catalogue, 'kairo/simulator', tokens, false)).toBeCloseTo((600 * notional.input + 400 * notional.cachedInput + 200 * notional.output) / 1e6, 15);
    expect(callCost(catalogue, 'nobody/knows', tokens, true)).toBe(0);
  });
});
