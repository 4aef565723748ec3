/**
 * Parsers of the settings that hold lists (models, prices, address ranges, headers) and the
 * types they produce. Each error names its setting through `describe`.
 */
import ipaddr from 'ipaddr.js';
import type { Config } from './config.js';
import { ConfigError } from './config-error.js';

/** Kinds of task a request asks of a model: `strengths=` in KAIRO_CHAT_MODELS names them, and the "auto" router matches them. */
export type TaskKind = 'chat' | 'extraction' | 'code' | 'reasoning' | 'summarization' | 'classification';

/** Public model id of the built-in embedder, and the dimension of its vectors. */
export const LOCAL_HASH_MODEL = 'kairo/hash-384';
export const LOCAL_HASH_DIMENSIONS = 384;

/** How a setting is named in errors: its flag and environment variable. */
export type DescribeSetting = (key: keyof Config) => string;

/** One operator price override (`KAIRO_MODEL_PRICES`); unset prices keep the catalogue's. */
export interface ModelPriceSetting {
  id: string;
  input?: number;
  output?: number;
  cachedInput?: number;
}

/** One configured remote embedding model. */
export interface EmbeddingModelSetting {
  /** Public id, `provider/model`, e.g. `openai/text-embedding-3-small`. */
  id: string;
  /** `openai` or the configured OpenAI-compatible provider name. */
  provider: string;
  /** The model name as the provider knows it (may contain `/` and `:`). */
  model: string;
  dimensions: number;
}

/** One operator-declared chat model (`KAIRO_CHAT_MODELS`); unset fields take catalogue defaults. */
export interface ChatModelSetting {
  /** Public id, `provider/model`, e.g. `compatible/llama3.1:8b`. */
  id: string;
  /** `openai`, `anthropic`, `google` or the configured OpenAI-compatible provider name. */
  provider: string;
  /** The model name as the provider knows it (may contain `/` and `:`). */
  model: string;
  contextWindow: number;
  maxOutputTokens?: number;
  /** USD per million tokens. */
  inputPrice?: number;
  outputPrice?: number;
  cachedInputPrice?: number;
  tools?: boolean;
  vision?: boolean;
  /** Ordinals 1–5. */
  quality?: number;
  speed?: number;
  strengths?: TaskKind[];
}

/** Every task kind, for validating `strengths=` (a Record so a new kind cannot be forgotten). */
const taskKinds: Record<TaskKind, true> = {
  chat: true,
  extraction: true,
  code: true,
  reasoning: true,
  summarization: true,
  classification: true,
};

/** Largest context window accepted for a declared chat model. */
const MAX_CONTEXT_WINDOW = 100_000_000;

/** Dimensions of OpenAI's embedding models, so `openai/<model>` may omit `:dimensions`. */
const knownOpenAIDimensions: Record<string, number> = {
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
};

/** Largest embedding dimension accepted (pgvector's `vector` type stops at 16000). */
const MAX_EMBEDDING_DIMENSIONS = 16_000;


/**
 * The traces URL as the OTLP exporter specification derives it: a signal-specific endpoint is
 * used as it is; the general endpoint gets `/v1/traces` appended.
 */
export function otlpTracesUrl(general: string | undefined, tracesOnly: string | undefined): string | undefined {
  if (tracesOnly !== undefined && tracesOnly !== '') {
    try {
      const parsed = new URL(tracesOnly);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw new ConfigError('Invalid OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: not an http(s) URL.');
    }
    return tracesOnly;
  }
  if (general === undefined) return undefined;
  return `${general.replace(/\/+$/, '')}/v1/traces`;
}

/** `key1=value1,key2=value2` with percent-encoded values, as OTEL_EXPORTER_OTLP_HEADERS is written. */
export function parseOtlpHeaders(value: string | undefined, describe: DescribeSetting): Record<string, string> {
  const headers: Record<string, string> = {};
  if (value === undefined) return headers;
  for (const item of value.split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    const name = eq < 0 ? '' : item.slice(0, eq).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new ConfigError(`Invalid ${describe('otlpHeaders')}: write headers as name=value,name=value.`);
    try {
      headers[name.toLowerCase()] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      throw new ConfigError(`Invalid ${describe('otlpHeaders')}: the value of ${name} is not percent-encoded text.`);
    }
  }
  return headers;
}

/**
 * Parse `provider/model;in=2.5;out=10;cached=1.25, …`: USD per million tokens for input,
 * output and cached input. Prices left out keep the catalogue's. Which ids exist is checked when
 * the catalogue is built.
 */
export function parseModelPrices(value: string | undefined, describe: DescribeSetting): ModelPriceSetting[] {
  if (value === undefined) return [];
  const fail = (message: string): never => {
    throw new ConfigError(`Invalid ${describe('modelPrices')}: ${message}`);
  };
  const entries: ModelPriceSetting[] = [];
  for (const item of value.split(',')) {
    const entry = item.trim();
    if (entry === '') continue;
    const [id, ...attributes] = entry.split(';').map((part) => part.trim());
    if (!/^[^/\s]+\/\S+$/.test(id!)) fail(`"${entry}" does not start with a model id (provider/model).`);
    if (entries.some((e) => e.id === id)) fail(`"${id}" is listed twice.`);
    const setting: ModelPriceSetting = { id: id! };
    for (const attribute of attributes) {
      if (attribute === '') continue;
      const [key, raw] = attribute.split('=').map((part) => part.trim());
      const price = Number(raw);
      if (raw === undefined || raw === '' || !Number.isFinite(price) || price < 0 || price > 10_000) {
        fail(`"${id}": ${attribute} is not a price in USD per million tokens (0 to 10000).`);
      }
      const field = ({ in: 'input', out: 'output', cached: 'cachedInput' } as const)[key as 'in' | 'out' | 'cached'];
      if (field === undefined) fail(`"${id}": unknown attribute "${key}" (use in, out, cached).`);
      if (setting[field!] !== undefined) fail(`"${id}": ${key} is given twice.`);
      setting[field!] = price;
    }
    if (setting.input === undefined && setting.output === undefined && setting.cachedInput === undefined) fail(`"${id}" sets no price (in=, out=, cached=).`);
    entries.push(setting);
  }
  return entries;
}

/**
 * Parse `provider/model[:dimensions],…`. The provider is the text before the first `/`; the
 * dimension is a trailing `:<digits>` (so Ollama tags such as `nomic-embed-text:latest` survive)
 * and may be left out for OpenAI's own models. `kairo/hash-384` is built in and skipped, which
 * lets an operator with an OpenAI key opt out of the default remote models. Without the setting,
 * an OpenAI key makes text-embedding-3-small and -large available.
 */
export function parseEmbeddingModels(
  value: string | undefined,
  describe: DescribeSetting,
  context: { openaiApiKey: string | undefined; openaiCompatibleBaseUrl: string | undefined; openaiCompatibleName: string },
): EmbeddingModelSetting[] {
  if (value === undefined) {
    if (context.openaiApiKey === undefined) return [];
    return [
      { id: 'openai/text-embedding-3-small', provider: 'openai', model: 'text-embedding-3-small', dimensions: 1536 },
      { id: 'openai/text-embedding-3-large', provider: 'openai', model: 'text-embedding-3-large', dimensions: 3072 },
    ];
  }
  const fail = (message: string): never => {
    throw new ConfigError(`Invalid ${describe('embeddingModels')}: ${message}`);
  };
  const entries: EmbeddingModelSetting[] = [];
  for (const item of value.split(',')) {
    const entry = item.trim();
    if (entry === '') continue;
    const match = /^([^/\s]+)\/(\S+?)(?::(\d+))?$/.exec(entry);
    if (!match) fail(`"${entry}" is not provider/model:dimensions.`);
    const [, provider, model, digits] = match!;
    const id = `${provider}/${model}`;
    if (provider === 'kairo') {
      if (id !== LOCAL_HASH_MODEL || (digits !== undefined && Number(digits) !== LOCAL_HASH_DIMENSIONS)) {
        fail(`"${entry}": the only kairo/ model is the built-in ${LOCAL_HASH_MODEL} (${LOCAL_HASH_DIMENSIONS} dimensions).`);
      }
      continue;
    }
    if (provider === 'openai') {
      if (context.openaiApiKey === undefined) fail(`"${id}" needs ${describe('openaiApiKey')}.`);
    } else if (provider === context.openaiCompatibleName) {
      if (context.openaiCompatibleBaseUrl === undefined) fail(`"${id}" needs ${describe('openaiCompatibleBaseUrl')}.`);
    } else {
      fail(`"${entry}": unknown provider "${provider}" (use openai or ${context.openaiCompatibleName}, see ${describe('openaiCompatibleName')}).`);
    }
    const dimensions = digits !== undefined ? Number(digits) : provider === 'openai' ? knownOpenAIDimensions[model!] : undefined;
    if (dimensions === undefined) fail(`"${entry}" needs its dimension, e.g. ${id}:768.`);
    if (!Number.isInteger(dimensions) || dimensions! < 1 || dimensions! > MAX_EMBEDDING_DIMENSIONS) {
      fail(`"${entry}": the dimension must be a whole number from 1 to ${MAX_EMBEDDING_DIMENSIONS}.`);
    }
    if (entries.some((existing) => existing.id === id)) fail(`"${id}" is listed twice.`);
    entries.push({ id, provider: provider!, model: model!, dimensions: dimensions! });
  }
  return entries;
}

/**
 * Parse `provider/model:context[;key=value…],…`: the context window is the trailing `:<digits>`
 * of the id part (required, so Ollama tags such as `llama3.1:8b` survive), then optional
 * attributes: `in`, `out`, `cached` (USD per million tokens), `max_output`, `tools` and `vision`
 * (yes/no), `quality` and `speed` (1–5), `strengths` (task kinds joined by `+`). The provider must
 * be configured. A built-in id may be declared to override its catalogue entry.
 */
export function parseChatModels(
  value: string | undefined,
  describe: DescribeSetting,
  context: {
    openaiApiKey: string | undefined;
    anthropicApiKey: string | undefined;
    googleApiKey: string | undefined;
    openaiCompatibleBaseUrl: string | undefined;
    openaiCompatibleName: string;
  },
): ChatModelSetting[] {
  if (value === undefined) return [];
  const fail = (message: string): never => {
    throw new ConfigError(`Invalid ${describe('chatModels')}: ${message}`);
  };
  const needs: Record<string, [keyof Config, string | undefined]> = {
    openai: ['openaiApiKey', context.openaiApiKey],
    anthropic: ['anthropicApiKey', context.anthropicApiKey],
    google: ['googleApiKey', context.googleApiKey],
    [context.openaiCompatibleName]: ['openaiCompatibleBaseUrl', context.openaiCompatibleBaseUrl],
  };
  const entries: ChatModelSetting[] = [];
  for (const item of value.split(',')) {
    const entry = item.trim();
    if (entry === '') continue;
    const [head, ...attributes] = entry.split(';').map((part) => part.trim());
    const match = /^([^/\s]+)\/(\S+):(\d+)$/.exec(head!);
    if (!match) {
      if (/^[^/\s]+\/\S+$/.test(head!)) fail(`"${entry}" needs its context window, e.g. ${head}:128000.`);
      fail(`"${entry}" is not provider/model:context_window.`);
    }
    const [, provider, model, digits] = match!;
    const id = `${provider}/${model}`;
    if (provider === 'kairo') fail(`"${id}": kairo/ models are built in.`);
    const need = needs[provider!];
    if (need === undefined) {
      fail(
        `"${entry}": unknown provider "${provider}" (use openai, anthropic, google or ${context.openaiCompatibleName}, see ${describe('openaiCompatibleName')}).`,
      );
    }
    if (need![1] === undefined) fail(`"${id}" needs ${describe(need![0])}.`);
    const contextWindow = Number(digits);
    if (!Number.isSafeInteger(contextWindow) || contextWindow < 1 || contextWindow > MAX_CONTEXT_WINDOW) {
      fail(`"${entry}": the context window must be a whole number from 1 to ${MAX_CONTEXT_WINDOW}.`);
    }
    if (entries.some((existing) => existing.id === id)) fail(`"${id}" is listed twice.`);
    const setting: ChatModelSetting = { id, provider: provider!, model: model!, contextWindow };

    const seen = new Set<string>();
    for (const attribute of attributes) {
      if (attribute === '') continue;
      const eq = attribute.indexOf('=');
      const key = eq < 0 ? attribute : attribute.slice(0, eq).trim();
      const raw = eq < 0 ? '' : attribute.slice(eq + 1).trim();
      if (seen.has(key)) fail(`"${id}": ${key} is given twice.`);
      seen.add(key);
      const price = (): number => {
        const parsed = Number(raw);
        if (raw === '' || !Number.isFinite(parsed) || parsed < 0 || parsed > 10_000) {
          fail(`"${id}": ${key}=${raw} is not a price in USD per million tokens (0 to 10000).`);
        }
        return parsed;
      };
      const whole = (min: number, max: number): number => {
        const parsed = Number(raw);
        if (raw === '' || !Number.isInteger(parsed) || parsed < min || parsed > max) {
          fail(`"${id}": ${key}=${raw} is not a whole number from ${min} to ${max}.`);
        }
        return parsed;
      };
      const flag = (): boolean => {
        const text = raw.toLowerCase();
        if (['yes', 'true', '1', 'on'].includes(text)) return true;
        if (['no', 'false', '0', 'off'].includes(text)) return false;
        return fail(`"${id}": ${key}=${raw} is not yes or no.`);
      };
      switch (key) {
        case 'in':
          setting.inputPrice = price();
          break;
        case 'out':
          setting.outputPrice = price();
          break;
        case 'cached':
          setting.cachedInputPrice = price();
          break;
        case 'max_output':
          setting.maxOutputTokens = whole(1, contextWindow);
          break;
        case 'tools':
          setting.tools = flag();
          break;
        case 'vision':
          setting.vision = flag();
          break;
        case 'quality':
          setting.quality = whole(1, 5);
          break;
        case 'speed':
          setting.speed = whole(1, 5);
          break;
        case 'strengths': {
          const kinds = raw.split('+').map((kind) => kind.trim()).filter((kind) => kind !== '');
          for (const kind of kinds) {
            if (!Object.hasOwn(taskKinds, kind)) fail(`"${id}": unknown strength "${kind}" (use ${Object.keys(taskKinds).join(', ')}).`);
          }
          setting.strengths = [...new Set(kinds)] as TaskKind[];
          break;
        }
        default:
          fail(`"${id}": unknown attribute "${key}" (use in, out, cached, max_output, tools, vision, quality, speed, strengths).`);
      }
    }
    entries.push(setting);
  }
  return entries;
}

/** Parse comma-separated CIDRs (a bare address means just that address), normalised. */
export function parseCidrs(value: string | undefined, describe: DescribeSetting): string[] {
  if (value === undefined) return [];
  const cidrs: string[] = [];
  for (const item of value.split(',')) {
    const entry = item.trim();
    if (entry === '') continue;
    let cidr = entry;
    if (!entry.includes('/') && ipaddr.isValid(entry)) {
      cidr = `${entry}/${ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128}`;
    }
    if (!ipaddr.isValidCIDR(cidr) || (cidr.includes('.') && !cidr.includes(':') && !ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr))) {
      throw new ConfigError(`Invalid ${describe('outboundAllowCidrs')}: "${entry}" is not a CIDR such as 127.0.0.0/8 or ::1/128.`);
    }
    const [address, bits] = ipaddr.parseCIDR(cidr);
    cidrs.push(`${address.toString()}/${bits}`);
  }
  return cidrs;
}
