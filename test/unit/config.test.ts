import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigFlags } from '../../src/config.js';

function configError(flags: ConfigFlags, env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(flags, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig: existing settings', () => {
  it('keeps its defaults', () => {
    const config = loadConfig({}, {});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      dataDir: path.resolve('./data'),
      trustProxy: false,
      logLevel: 'info',
      bodyLimitBytes: 1024 * 1024,
      role: 'all',
      shutdownTimeoutMs: 10_000,
    });
  });

  it('prefers a flag over the environment over the default', () => {
    expect(loadConfig({ port: 9000 }, { KAIRO_PORT: '9001' }).port).toBe(9000);
    expect(loadConfig({}, { KAIRO_PORT: '9001' }).port).toBe(9001);
    expect(loadConfig({}, { KAIRO_PORT: '' }).port).toBe(8080);
  });
});

describe('loadConfig: model providers and embeddings', () => {
  it('defaults to the built-in embedder only, no keys, no outbound exceptions', () => {
    const config = loadConfig({}, {});
    expect(config.openaiApiKey).toBeUndefined();
    expect(config.openaiBaseUrl).toBeUndefined();
    expect(config.openaiCompatibleBaseUrl).toBeUndefined();
    expect(config.openaiCompatibleApiKey).toBeUndefined();
    expect(config.openaiCompatibleName).toBe('compatible');
    expect(config.embeddingModels).toEqual([]);
    expect(config.defaultEmbeddingModel).toBe('kairo/hash-384');
    expect(config.outboundAllowCidrs).toEqual([]);
  });

  it('reads keys and URLs from flags and environment', () => {
    const config = loadConfig(
      { openaiApiKey: 'sk-flag' },
      {
        KAIRO_OPENAI_API_KEY: 'sk-env',
        KAIRO_OPENAI_BASE_URL: 'https://proxy.example.com/v1',
        KAIRO_OPENAI_COMPATIBLE_BASE_URL: 'http://127.0.0.1:11434/v1',
        KAIRO_OPENAI_COMPATIBLE_API_KEY: 'ollama-key',
        KAIRO_OPENAI_COMPATIBLE_NAME: 'ollama',
      },
    );
    expect(config.openaiApiKey).toBe('sk-flag');
    expect(config.openaiBaseUrl).toBe('https://proxy.example.com/v1');
    expect(config.openaiCompatibleBaseUrl).toBe('http://127.0.0.1:11434/v1');
    expect(config.openaiCompatibleApiKey).toBe('ollama-key');
    expect(config.openaiCompatibleName).toBe('ollama');
  });

  it('an OpenAI key makes text-embedding-3-small and -large available by default', () => {
    const config = loadConfig({}, { KAIRO_OPENAI_API_KEY: 'sk-x' });
    expect(config.embeddingModels).toEqual([
      { id: 'openai/text-embedding-3-small', provider: 'openai', model: 'text-embedding-3-small', dimensions: 1536 },
      { id: 'openai/text-embedding-3-large', provider: 'openai', model: 'text-embedding-3-large', dimensions: 3072 },
    ]);
    expect(config.defaultEmbeddingModel).toBe('kairo/hash-384');
  });

  it('parses provider/model:dimensions lists, with model names containing / and :', () => {
    const config = loadConfig(
      {},
      {
        KAIRO_OPENAI_API_KEY: 'sk-x',
        KAIRO_OPENAI_COMPATIBLE_BASE_URL: 'http://127.0.0.1:11434/v1',
        KAIRO_EMBEDDING_MODELS:
          ' openai/text-embedding-3-small:1536 , openai/text-embedding-3-large:1024,compatible/nomic-embed-text:latest:768,compatible/BAAI/bge-small-en-v1.5:384,openai/text-embedding-ada-002,',
        KAIRO_DEFAULT_EMBEDDING_MODEL: 'compatible/nomic-embed-text:latest',
      },
    );
    expect(config.embeddingModels).toEqual([
      { id: 'openai/text-embedding-3-small', provider: 'openai', model: 'text-embedding-3-small', dimensions: 1536 },
      { id: 'openai/text-embedding-3-large', provider: 'openai', model: 'text-embedding-3-large', dimensions: 1024 },
      { id: 'compatible/nomic-embed-text:latest', provider: 'compatible', model: 'nomic-embed-text:latest', dimensions: 768 },
      { id: 'compatible/BAAI/bge-small-en-v1.5', provider: 'compatible', model: 'BAAI/bge-small-en-v1.5', dimensions: 384 },
      { id: 'openai/text-embedding-ada-002', provider: 'openai', model: 'text-embedding-ada-002', dimensions: 1536 },
    ]);
    expect(config.defaultEmbeddingModel).toBe('compatible/nomic-embed-text:latest');
  });

  it('uses the configured compatible provider name as the model prefix', () => {
    const config = loadConfig(
      { openaiCompatibleName: 'vllm', embeddingModels: 'vllm/e5-large:1024', defaultEmbeddingModel: 'vllm/e5-large' },
      { KAIRO_OPENAI_COMPATIBLE_BASE_URL: 'http://127.0.0.1:8000/v1' },
    );
    expect(config.embeddingModels).toEqual([{ id: 'vllm/e5-large', provider: 'vllm', model: 'e5-large', dimensions: 1024 }]);
    expect(config.defaultEmbeddingModel).toBe('vllm/e5-large');
  });

  it('listing only kairo/hash-384 opts out of the default OpenAI models', () => {
    const config = loadConfig({}, { KAIRO_OPENAI_API_KEY: 'sk-x', KAIRO_EMBEDDING_MODELS: 'kairo/hash-384:384' });
    expect(config.embeddingModels).toEqual([]);
  });

  it('refuses bad embedding model lists, naming the setting', () => {
    const withKeys = { KAIRO_OPENAI_API_KEY: 'sk-secret-value', KAIRO_OPENAI_COMPATIBLE_BASE_URL: 'http://127.0.0.1:11434/v1' };
    const cases: Array<[string, RegExp, NodeJS.ProcessEnv?]> = [
      ['nomic-embed-text', /not provider\/model:dimensions/],
      ['openai/', /not provider\/model:dimensions/],
      ['mystery/model:8', /unknown provider "mystery"/],
      ['compatible/nomic-embed-text', /needs its dimension/],
      ['openai/custom-model', /needs its dimension/],
      ['compatible/m:0', /dimension must be a whole number from 1 to 16000/],
      ['compatible/m:16001', /dimension must be a whole number/],
      ['openai/text-embedding-3-small,openai/text-embedding-3-small:1536', /listed twice/],
      ['kairo/hash-384:512', /built-in kairo\/hash-384/],
      ['kairo/other:8', /built-in kairo\/hash-384/],
      ['openai/text-embedding-3-small', /needs --openai-api-key \/ KAIRO_OPENAI_API_KEY/, {}],
      ['compatible/m:8', /needs --openai-compatible-base-url \/ KAIRO_OPENAI_COMPATIBLE_BASE_URL/, {}],
    ];
    for (const [value, message, env] of cases) {
      const error = configError({}, { ...(env ?? withKeys), KAIRO_EMBEDDING_MODELS: value });
      expect(error.message, value).toMatch(/--embedding-models \/ KAIRO_EMBEDDING_MODELS/);
      expect(error.message, value).toMatch(message);
      expect(error.message).not.toContain('sk-secret-value');
    }
  });

  it('refuses a default embedding model that is not available', () => {
    const error = configError({}, { KAIRO_DEFAULT_EMBEDDING_MODEL: 'openai/text-embedding-3-small' });
    expect(error.message).toMatch(/--default-embedding-model \/ KAIRO_DEFAULT_EMBEDDING_MODEL/);
    expect(error.message).toMatch(/available: kairo\/hash-384/);
  });

  it('refuses bad base URLs and provider names', () => {
    expect(configError({}, { KAIRO_OPENAI_BASE_URL: 'not a url' }).message).toMatch(/--openai-base-url \/ KAIRO_OPENAI_BASE_URL/);
    expect(configError({}, { KAIRO_OPENAI_BASE_URL: 'ftp://x/v1' }).message).toMatch(/http: or https:/);
    expect(configError({}, { KAIRO_OPENAI_COMPATIBLE_BASE_URL: 'file:///x' }).message).toMatch(/KAIRO_OPENAI_COMPATIBLE_BASE_URL/);
    for (const name of ['openai', 'kairo', 'Has Space', 'UPPER', 'a/b']) {
      expect(configError({}, { KAIRO_OPENAI_COMPATIBLE_NAME: name }).message, name).toMatch(/--openai-compatible-name \/ KAIRO_OPENAI_COMPATIBLE_NAME/);
    }
  });

  it('never puts an API key into an error message', () => {
    const secret = 'sk-proj-very-secret-0123456789';
    const error = configError({}, { KAIRO_OPENAI_API_KEY: secret, KAIRO_OPENAI_BASE_URL: 'nope', KAIRO_DEFAULT_EMBEDDING_MODEL: 'x/y' });
    expect(error.message).not.toContain(secret);
    const other = configError({}, { KAIRO_OPENAI_API_KEY: secret, KAIRO_DEFAULT_EMBEDDING_MODEL: 'x/y' });
    expect(other.message).not.toContain(secret);
  });
});

describe('loadConfig: outbound allow list', () => {
  it('parses comma-separated CIDRs, bare addresses as single hosts', () => {
    const config = loadConfig({}, { KAIRO_OUTBOUND_ALLOW_CIDRS: '127.0.0.0/8, ::1/128,10.1.0.0/16,192.168.1.5,fd00::1,' });
    expect(config.outboundAllowCidrs).toEqual(['127.0.0.0/8', '::1/128', '10.1.0.0/16', '192.168.1.5/32', 'fd00::1/128']);
    expect(loadConfig({ outboundAllowCidrs: '127.0.0.0/8' }, { KAIRO_OUTBOUND_ALLOW_CIDRS: '10.0.0.0/8' }).outboundAllowCidrs).toEqual([
      '127.0.0.0/8',
    ]);
  });

  it('refuses anything that is not a CIDR, naming the setting', () => {
    for (const value of ['localhost', '10.0.0.0/33', '::1/129', '300.1.1.1/8', '127.1/8', '10.0.0.0/', '/8', '10.0.0.0/8/8']) {
      const error = configError({}, { KAIRO_OUTBOUND_ALLOW_CIDRS: value });
      expect(error.message, value).toMatch(/--outbound-allow-cidrs \/ KAIRO_OUTBOUND_ALLOW_CIDRS/);
    }
  });
});

describe('loadConfig: analytics, retention, prices and exporters', () => {
  it('turns analytics on with 30, 7 and 395 days of retention, no metrics port and no export by default', () => {
    expect(loadConfig({}, {})).toMatchObject({
      analytics: true, traceRetentionDays: 30, requestLogRetentionDays: 7, rollupRetentionDays: 395, modelPrices: [],
      metricsPort: undefined, metricsHost: '127.0.0.1', otlpTracesUrl: undefined, otlpHeaders: {}, otelServiceName: 'kairo',
    });
    expect(loadConfig({}, { KAIRO_ANALYTICS: 'off' }).analytics).toBe(false);
    expect(loadConfig({ analytics: 'on' }, { KAIRO_ANALYTICS: 'off' }).analytics).toBe(true);
    expect(loadConfig({}, { KAIRO_METRICS_PORT: '9464', KAIRO_TRACE_RETENTION_DAYS: '90' })).toMatchObject({ metricsPort: 9464, traceRetentionDays: 90 });
    expect(configError({}, { KAIRO_ANALYTICS: 'sometimes' }).message).toMatch(/--analytics \/ KAIRO_ANALYTICS/);
    expect(configError({}, { KAIRO_TRACE_RETENTION_DAYS: '0' }).message).toMatch(/--trace-retention-days \/ KAIRO_TRACE_RETENTION_DAYS/);
  });

  it('parses price overrides and refuses malformed ones, naming the setting', () => {
    expect(loadConfig({}, { KAIRO_MODEL_PRICES: 'openai/gpt-4o;in=2.5;out=10;cached=1.25, anthropic/claude-sonnet-4;out=14' }).modelPrices).toEqual([
      { id: 'openai/gpt-4o', input: 2.5, output: 10, cachedInput: 1.25 },
      { id: 'anthropic/claude-sonnet-4', output: 14 },
    ]);
    for (const value of ['gpt-4o;in=1', 'openai/gpt-4o', 'openai/gpt-4o;in=-1', 'openai/gpt-4o;in=abc', 'openai/gpt-4o;speed=3', 'openai/gpt-4o;in=1;in=2', 'openai/x;in=1,openai/x;out=1']) {
      expect(configError({}, { KAIRO_MODEL_PRICES: value }).message, value).toMatch(/--model-prices \/ KAIRO_MODEL_PRICES/);
    }
  });

  it('derives the OTLP traces URL and headers as the exporter specification does', () => {
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/' }).otlpTracesUrl).toBe('http://127.0.0.1:4318/v1/traces');
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom' }).otlpTracesUrl).toBe('http://b:4318/custom');
    expect(loadConfig({ otlpTracesUrl: 'http://c:4318' }, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/custom' }).otlpTracesUrl).toBe('http://c:4318/v1/traces');
    expect(loadConfig({}, { OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc, x-tenant=kairo' }).otlpHeaders).toEqual({ authorization: 'Bearer abc', 'x-tenant': 'kairo' });
    expect(configError({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x' }).message).toMatch(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(configError({}, { OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign' }).message).toMatch(/OTEL_EXPORTER_OTLP_HEADERS/);
  });
});
