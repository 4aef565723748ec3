import type { Config } from '../../config.js';
import type { Embedder, EmbedderRegistry } from '../ports.js';
import { providerEmbedder, type AiSdkEmbedderOptions } from './ai-sdk-embedder.js';
import { createProviders } from '../../models/providers.js';
import { createLocalHashEmbedder } from './local-hash-embedder.js';

/** The config settings the registry reads. */
export type EmbedderRegistryConfig = Pick<
  Config,
  | 'openaiApiKey'
  | 'openaiBaseUrl'
  | 'openaiCompatibleBaseUrl'
  | 'openaiCompatibleApiKey'
  | 'openaiCompatibleName'
  | 'embeddingModels'
  | 'defaultEmbeddingModel'
>;

/**
 * Every embedding model the operator made available: the built-in `kairo/hash-384` always, plus
 * each configured remote model (OpenAI, or the OpenAI-compatible server). Embedders are built
 * here once; none makes a network call until asked to embed.
 */
export function createEmbedderRegistry(
  config: EmbedderRegistryConfig,
  options: Pick<AiSdkEmbedderOptions, 'maxRetries' | 'timeoutMs' | 'maxBatchSize'> = {},
): EmbedderRegistry {
  const entries = new Map<string, { embedder: Embedder; provider: string }>();
  const local = createLocalHashEmbedder();
  entries.set(local.model, { embedder: local, provider: 'kairo' });

  const providers = createProviders(config);
  for (const setting of config.embeddingModels) {
    if (entries.has(setting.id)) continue;
    if (setting.provider === 'openai' && !config.openaiApiKey) throw new Error(`Embedding model ${setting.id} needs an OpenAI API key.`);
    if (setting.provider === config.openaiCompatibleName && !config.openaiCompatibleBaseUrl) {
      throw new Error(`Embedding model ${setting.id} needs an OpenAI-compatible base URL.`);
    }
    if (setting.provider !== 'openai' && setting.provider !== config.openaiCompatibleName) {
      throw new Error(`Embedding model ${setting.id}: unknown provider ${setting.provider}.`);
    }
    const embedder = providerEmbedder(providers, setting.provider, setting.model, setting.dimensions, setting.id, options);
    entries.set(setting.id, { embedder, provider: setting.provider });
  }

  if (!entries.has(config.defaultEmbeddingModel)) {
    throw new Error(`The default embedding model ${config.defaultEmbeddingModel} is not configured.`);
  }

  return {
    defaultModel: config.defaultEmbeddingModel,
    get(model) {
      return entries.get(model)?.embedder;
    },
    list() {
      return [...entries.values()].map(({ embedder, provider }) => ({
        model: embedder.model,
        dimensions: embedder.dimensions,
        provider,
      }));
    },
  };
}
