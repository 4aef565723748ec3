import { APICallError, RetryError, embedMany, type EmbeddingModel } from 'ai';
import { EmbeddingError, type Embedder } from '../ports.js';
import { createProviders, type Providers } from '../../models/providers.js';

/** Options shared by every AI SDK–backed embedder. */
export interface AiSdkEmbedderOptions {
  /** Public model id, e.g. `openai/text-embedding-3-small`; used in errors and by the registry. */
  model: string;
  /** The dimension the operator configured; every returned vector must have it. */
  dimensions: number;
  /** The AI SDK embedding model that does the calls. */
  embeddingModel: EmbeddingModel;
  /** Provider options passed to every call (e.g. `{ openai: { dimensions } }`). */
  providerOptions?: Parameters<typeof embedMany>[0]['providerOptions'];
  /** Texts per provider request; larger `embed` calls are split. Default 96. */
  maxBatchSize?: number;
  /** Retries per request for retryable failures (429, 5xx, network); AI SDK backoff. Default 2. */
  maxRetries?: number;
  /** Time limit for one `embed` call, retries included. Default 60 s. */
  timeoutMs?: number;
}

/**
 * An Embedder over the Vercel AI SDK's `embedMany`. Vectors are L2-normalised and checked
 * against the configured dimension. Failures become EmbeddingError with `retryable` taken from
 * the SDK's `APICallError.isRetryable` (429, 5xx and network errors yes; other 4xx no); a timeout
 * is retryable; a dimension mismatch or malformed response is not. When the caller's signal
 * aborts, its reason is thrown unchanged.
 */
export function createAiSdkEmbedder(options: AiSdkEmbedderOptions): Embedder {
  const { model, dimensions, embeddingModel, providerOptions } = options;
  const maxBatchSize = options.maxBatchSize ?? 96;
  const maxRetries = options.maxRetries ?? 2;
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (!Number.isInteger(dimensions) || dimensions < 1) throw new TypeError(`${model}: dimensions must be a positive integer`);
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) throw new TypeError(`${model}: maxBatchSize must be a positive integer`);

  return {
    model,
    dimensions,
    maxBatchSize,
    async embed(texts, embedOptions) {
      const callerSignal = embedOptions?.signal;
      callerSignal?.throwIfAborted();
      if (texts.length === 0) return [];
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;

      const vectors: Float32Array[] = [];
      for (let start = 0; start < texts.length; start += maxBatchSize) {
        const batch = texts.slice(start, start + maxBatchSize);
        let embeddings: number[][];
        try {
          const result = await embedMany({
            model: embeddingModel,
            values: batch,
            maxRetries,
            abortSignal: signal,
            maxParallelCalls: 1,
            ...(providerOptions ? { providerOptions } : {}),
          });
          embeddings = result.embeddings;
        } catch (error) {
          if (callerSignal?.aborted) throw callerSignal.reason;
          if (timeout.aborted) {
            throw new EmbeddingError(`Embedding with ${model} timed out after ${timeoutMs} ms.`, true, { cause: error });
          }
          throw toEmbeddingError(model, error);
        }
        if (embeddings.length !== batch.length) {
          throw new EmbeddingError(
            `Embedding model ${model} returned ${embeddings.length} vectors for ${batch.length} texts.`,
            false,
          );
        }
        for (const embedding of embeddings) vectors.push(normalise(model, dimensions, embedding));
      }
      return vectors;
    },
  };
}

/** Settings for an embedder on OpenAI's API (or an Azure/OpenAI-shaped proxy via `baseUrl`). */
export interface OpenAIEmbedderSettings {
  apiKey: string;
  baseUrl?: string | undefined;
  /** Model name as the provider knows it, e.g. `text-embedding-3-small`. */
  modelName: string;
  dimensions: number;
  /** Public id; default `openai/<modelName>`. */
  model?: string;
}

/**
 * An embedder on OpenAI's embeddings API. For `text-embedding-3*` models the configured
 * dimension is sent as `dimensions`, so a shortened vector (e.g. 3-large at 1024) works.
 */
export function createOpenAIEmbedder(
  settings: OpenAIEmbedderSettings,
  options: Pick<AiSdkEmbedderOptions, 'maxBatchSize' | 'maxRetries' | 'timeoutMs'> = {},
): Embedder {
  const providers = createProviders({ openaiApiKey: settings.apiKey, openaiBaseUrl: settings.baseUrl, openaiCompatibleName: 'compatible' });
  return providerEmbedder(providers, 'openai', settings.modelName, settings.dimensions, settings.model ?? `openai/${settings.modelName}`, options);
}

/** Settings for an embedder on any OpenAI-compatible server (Ollama, vLLM, LM Studio, TEI…). */
export interface OpenAICompatibleEmbedderSettings {
  /** Provider id, the prefix of public model ids (e.g. `compatible`). */
  name: string;
  baseUrl: string;
  apiKey?: string | undefined;
  modelName: string;
  dimensions: number;
  /** Public id; default `<name>/<modelName>`. */
  model?: string;
}

/** An embedder on an OpenAI-compatible `/embeddings` endpoint; no `dimensions` parameter is sent. */
export function createOpenAICompatibleEmbedder(
  settings: OpenAICompatibleEmbedderSettings,
  options: Pick<AiSdkEmbedderOptions, 'maxBatchSize' | 'maxRetries' | 'timeoutMs'> = {},
): Embedder {
  const providers = createProviders({ openaiCompatibleName: settings.name, openaiCompatibleBaseUrl: settings.baseUrl, openaiCompatibleApiKey: settings.apiKey });
  return providerEmbedder(providers, settings.name, settings.modelName, settings.dimensions, settings.model ?? `${settings.name}/${settings.modelName}`, options);
}

/**
 * An embedder on a configured provider's embedding model. OpenAI's `text-embedding-3*` models are
 * sent the configured dimension as `dimensions`, so a shortened vector (3-large at 1024) works;
 * other providers get no `dimensions` parameter.
 */
export function providerEmbedder(
  providers: Providers,
  provider: string,
  modelName: string,
  dimensions: number,
  model: string,
  options: Pick<AiSdkEmbedderOptions, 'maxBatchSize' | 'maxRetries' | 'timeoutMs'> = {},
): Embedder {
  const supportsDimensions = provider === 'openai' && modelName.startsWith('text-embedding-3');
  return createAiSdkEmbedder({
    model,
    dimensions,
    embeddingModel: providers.embeddingModel(provider, modelName),
    ...(supportsDimensions ? { providerOptions: { openai: { dimensions } } } : {}),
    ...options,
  });
}

function normalise(model: string, dimensions: number, embedding: number[]): Float32Array {
  if (embedding.length !== dimensions) {
    throw new EmbeddingError(
      `Embedding model ${model} returned ${embedding.length}-dimensional vectors but is configured for ${dimensions}; ` +
        'fix the dimension in KAIRO_EMBEDDING_MODELS.',
      false,
    );
  }
  let norm = 0;
  for (const value of embedding) {
    if (!Number.isFinite(value)) throw new EmbeddingError(`Embedding model ${model} returned a non-finite value.`, false);
    norm += value * value;
  }
  const out = new Float32Array(dimensions);
  if (norm === 0) return out;
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < dimensions; i++) out[i] = embedding[i]! * scale;
  return out;
}

/** Map an AI SDK failure to EmbeddingError, keeping the SDK's retry verdict. */
function toEmbeddingError(model: string, error: unknown): EmbeddingError {
  // After retries the SDK wraps the attempts; the last one decides.
  const last = RetryError.isInstance(error) ? error.lastError : error;
  const attempts = RetryError.isInstance(error) ? ` after ${error.errors.length} attempts` : '';
  if (APICallError.isInstance(last)) {
    const status = last.statusCode !== undefined ? ` (HTTP ${last.statusCode})` : '';
    return new EmbeddingError(`Embedding with ${model} failed${status}${attempts}: ${last.message}`, last.isRetryable, {
      cause: error,
    });
  }
  const message = last instanceof Error ? last.message : String(last);
  return new EmbeddingError(`Embedding with ${model} failed${attempts}: ${message}`, false, { cause: error });
}
