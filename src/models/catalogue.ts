import { ConfigError, type ChatModelSetting, type Config } from '../config.js';
import { BUILTIN_MODELS, DECLARED_MODEL_DEFAULTS, SIMULATOR_MODEL, type ModelSpec } from './builtin-models.js';
import type { ModelCatalogue, ModelInfo } from './ports.js';
import { createSimulatorModel, SIMULATOR_MODEL_ID, type SimulatorOptions } from './simulator.js';
import { createProviders } from './providers.js';
import type { LanguageModelV3 } from '@ai-sdk/provider';


/** The config settings the catalogue reads. */
export type ModelCatalogueConfig = Pick<
  Config,
  | 'openaiApiKey'
  | 'openaiBaseUrl'
  | 'openaiCompatibleBaseUrl'
  | 'openaiCompatibleApiKey'
  | 'openaiCompatibleName'
  | 'anthropicApiKey'
  | 'anthropicBaseUrl'
  | 'googleApiKey'
  | 'googleBaseUrl'
  | 'chatModels'
  | 'modelPrices'
>;

export interface ModelCatalogueOptions {
  /** Latency settings of the test-mode simulator (default: none). */
  simulator?: Omit<SimulatorOptions, 'servingAs'>;
  /** `fetch` for the providers' HTTP calls (tests, proxies); default the global one. */
  fetch?: typeof globalThis.fetch;
}

/** A live-mode model that cannot be called: unknown id, or its provider is not configured. */
export class ModelCatalogueError extends Error {
  constructor(
    readonly code: 'unknown_model' | 'model_unavailable',
    readonly model: string,
    message: string,
  ) {
    super(message);
    this.name = 'ModelCatalogueError';
  }
}

/**
 * The chat models KAIRO knows: the built-in list (OpenAI, Anthropic, Google), the models the
 * operator declared in `KAIRO_CHAT_MODELS` (which may override a built-in entry), and the
 * simulator `kairo/simulator`. A model is `available` when its provider is configured (the
 * simulator always is). Providers are built once, lazily; nothing touches the network until a
 * model is called.
 */
export function createModelCatalogue(config: ModelCatalogueConfig, options: ModelCatalogueOptions = {}): ModelCatalogue {
  const configured: Record<string, boolean> = {
    kairo: true,
    openai: config.openaiApiKey !== undefined,
    anthropic: config.anthropicApiKey !== undefined,
    google: config.googleApiKey !== undefined,
    [config.openaiCompatibleName]: config.openaiCompatibleBaseUrl !== undefined,
  };

  const specs = new Map<string, ModelSpec>(BUILTIN_MODELS.map((spec) => [spec.id, spec]));
  for (const setting of config.chatModels) specs.set(setting.id, declaredSpec(setting, specs.get(setting.id)));
  specs.delete(SIMULATOR_MODEL_ID);
  specs.set(SIMULATOR_MODEL_ID, SIMULATOR_MODEL);

  for (const price of config.modelPrices) {
    const spec = specs.get(price.id);
    if (!spec) throw new ConfigError(`Invalid --model-prices / KAIRO_MODEL_PRICES: "${price.id}" is not a model of the catalogue (GET /v1/models lists them).`);
    specs.set(price.id, {
      ...spec,
      pricing: { input: price.input ?? spec.pricing.input, output: price.output ?? spec.pricing.output, cachedInput: price.cachedInput ?? spec.pricing.cachedInput },
    });
  }

  const models = new Map<string, ModelInfo>();
  for (const spec of specs.values()) models.set(spec.id, freeze({ ...spec, available: configured[spec.provider] === true }));

  const simulators = new Map<string, LanguageModelV3>();
  const live = new Map<string, LanguageModelV3>();
  const providers = createProviders(config, options.fetch);

  const simulatorFor = (id: string): LanguageModelV3 => {
    let model = simulators.get(id);
    if (!model) {
      model = createSimulatorModel({ ...options.simulator, servingAs: id });
      simulators.set(id, model);
    }
    return model;
  };

  return {
    list() {
      return [...models.values()];
    },
    get(id) {
      return models.get(id);
    },
    languageModel(id, livemode) {
      if (!livemode) return simulatorFor(id);
      const info = models.get(id);
      if (!info) {
        throw new ModelCatalogueError('unknown_model', id, `Unknown model "${id}". GET /v1/models lists the models of this server.`);
      }
      if (info.provider === 'kairo') return simulatorFor(id);
      if (!info.available) {
        throw new ModelCatalogueError(
          'model_unavailable',
          id,
          `Model "${id}" is not available: its provider ${info.provider} is not configured on this server (${providerSetting(info.provider, config)}).`,
        );
      }
      let model = live.get(id);
      if (!model) {
        model = providers.languageModel(info.provider, info.providerModelId);
        live.set(id, model);
      }
      return model;
    },
  };
}

/** A declared model, over the built-in entry it overrides when there is one. */
function declaredSpec(setting: ChatModelSetting, base: ModelSpec | undefined): ModelSpec {
  const pricing = {
    input: setting.inputPrice ?? base?.pricing.input ?? 0,
    output: setting.outputPrice ?? base?.pricing.output ?? 0,
    cachedInput: setting.cachedInputPrice ?? base?.pricing.cachedInput ?? setting.inputPrice ?? base?.pricing.input ?? 0,
  };
  return {
    id: setting.id,
    provider: setting.provider,
    providerModelId: setting.model,
    displayName: base?.displayName ?? setting.model,
    contextWindow: setting.contextWindow,
    maxOutputTokens: Math.min(setting.contextWindow, setting.maxOutputTokens ?? base?.maxOutputTokens ?? DECLARED_MODEL_DEFAULTS.maxOutputTokens),
    pricing,
    capabilities: {
      tools: setting.tools ?? base?.capabilities.tools ?? DECLARED_MODEL_DEFAULTS.tools,
      streaming: true,
      vision: setting.vision ?? base?.capabilities.vision ?? DECLARED_MODEL_DEFAULTS.vision,
      jsonOutput: base?.capabilities.jsonOutput ?? true,
    },
    quality: setting.quality ?? base?.quality ?? DECLARED_MODEL_DEFAULTS.quality,
    speed: setting.speed ?? base?.speed ?? DECLARED_MODEL_DEFAULTS.speed,
    strengths: setting.strengths ?? base?.strengths ?? [],
  };
}

function providerSetting(provider: string, config: ModelCatalogueConfig): string {
  if (provider === 'openai') return 'set KAIRO_OPENAI_API_KEY';
  if (provider === 'anthropic') return 'set KAIRO_ANTHROPIC_API_KEY';
  if (provider === 'google') return 'set KAIRO_GOOGLE_API_KEY';
  if (provider === config.openaiCompatibleName) return 'set KAIRO_OPENAI_COMPATIBLE_BASE_URL';
  return 'unknown provider';
}

function freeze(info: ModelInfo): ModelInfo {
  Object.freeze(info.pricing);
  Object.freeze(info.capabilities);
  Object.freeze(info.strengths);
  return Object.freeze(info);
}
