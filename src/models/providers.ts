import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { EmbeddingModelV3, LanguageModelV3 } from '@ai-sdk/provider';
import type { Config } from '../config.js';

/** Public endpoints, passed explicitly so the SDKs never fall back to their own env variables. */
export const PROVIDER_DEFAULT_BASE_URLS = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com/v1',
  google: 'https://generativelanguage.googleapis.com/v1beta',
} as const;

/** The provider settings of the config; a provider without its key (or base URL) is not configured. */
export type ProviderConfig = Partial<Pick<
  Config,
  | 'openaiApiKey'
  | 'openaiBaseUrl'
  | 'openaiCompatibleBaseUrl'
  | 'openaiCompatibleApiKey'
  | 'anthropicApiKey'
  | 'anthropicBaseUrl'
  | 'googleApiKey'
  | 'googleBaseUrl'
>> & Pick<Config, 'openaiCompatibleName'>;

/** The configured AI SDK providers, as chat and embedding models. */
export interface Providers {
  languageModel(provider: string, modelId: string): LanguageModelV3;
  embeddingModel(provider: string, modelId: string): EmbeddingModelV3;
}

/**
 * The AI SDK providers of the config, each built on first use and shared by chat models (the
 * model catalogue) and embedding models (context). Throws for a provider that is not configured.
 */
export function createProviders(config: ProviderConfig, fetchImpl?: typeof globalThis.fetch): Providers {
  const withFetch = fetchImpl ? { fetch: fetchImpl } : {};
  let openai: ReturnType<typeof createOpenAI> | undefined;
  let anthropic: ReturnType<typeof createAnthropic> | undefined;
  let google: ReturnType<typeof createGoogleGenerativeAI> | undefined;
  let compatible: ReturnType<typeof createOpenAICompatible> | undefined;
  const missing = (provider: string) => new Error(`No provider ${provider} is configured.`);

  const openaiProvider = () => {
    if (!config.openaiApiKey) throw missing('openai');
    return (openai ??= createOpenAI({ apiKey: config.openaiApiKey, baseURL: config.openaiBaseUrl ?? PROVIDER_DEFAULT_BASE_URLS.openai, ...withFetch }));
  };
  const compatibleProvider = (provider: string) => {
    if (provider !== config.openaiCompatibleName || !config.openaiCompatibleBaseUrl) throw missing(provider);
    return (compatible ??= createOpenAICompatible({
      name: config.openaiCompatibleName,
      baseURL: config.openaiCompatibleBaseUrl,
      ...(config.openaiCompatibleApiKey ? { apiKey: config.openaiCompatibleApiKey } : {}),
      // Token counts on streamed answers too (stream_options.include_usage).
      includeUsage: true,
      ...withFetch,
    }));
  };

  return {
    languageModel(provider, modelId) {
      switch (provider) {
        case 'openai':
          // Chat Completions, which every OpenAI-shaped gateway serves (not the Responses API).
          return openaiProvider().chat(modelId);
        case 'anthropic':
          if (!config.anthropicApiKey) throw missing(provider);
          anthropic ??= createAnthropic({ apiKey: config.anthropicApiKey, baseURL: config.anthropicBaseUrl ?? PROVIDER_DEFAULT_BASE_URLS.anthropic, ...withFetch });
          return anthropic.languageModel(modelId);
        case 'google':
          if (!config.googleApiKey) throw missing(provider);
          google ??= createGoogleGenerativeAI({ apiKey: config.googleApiKey, baseURL: config.googleBaseUrl ?? PROVIDER_DEFAULT_BASE_URLS.google, ...withFetch });
          return google.languageModel(modelId);
        default:
          return compatibleProvider(provider).chatModel(modelId);
      }
    },
    embeddingModel(provider, modelId) {
      if (provider === 'openai') return openaiProvider().embedding(modelId);
      return compatibleProvider(provider).embeddingModel(modelId);
    },
  };
}
