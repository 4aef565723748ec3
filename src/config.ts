import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { LOCAL_HASH_DIMENSIONS, LOCAL_HASH_MODEL } from './context/embedders/local-hash-embedder.js';
import type { TaskKind } from './models/ports.js';

/** Where a setting came from, used to name it in error messages. */
type Source = { flag: string; env: string };

/** The one parsed configuration object. Built once at start and passed down. */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  trustProxy: boolean;
  databaseUrl: string | undefined;
  databaseSchema: string | undefined;
  redisUrl: string | undefined;
  /** Prefix of every Redis key KAIRO writes (queues, limits), so several deployments can share a server. */
  redisPrefix: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logRequests: boolean;
  bodyLimitBytes: number;
  /** Start the in-process job worker alongside the API (embedded mode, `serve --role all`). */
  role: 'all' | 'api';
  /** Milliseconds a server waits for in-flight requests on shutdown before closing sockets. */
  shutdownTimeoutMs: number;
  /** OpenAI API key (secret: kept only here, never logged or echoed in errors). */
  openaiApiKey: string | undefined;
  /** OpenAI base URL (default the public API); for proxies and OpenAI-shaped gateways. */
  openaiBaseUrl: string | undefined;
  /** Base URL of an OpenAI-compatible server (Ollama, vLLM, …), including `/v1`. */
  openaiCompatibleBaseUrl: string | undefined;
  /** API key for the OpenAI-compatible server, if it wants one (secret). */
  openaiCompatibleApiKey: string | undefined;
  /** Provider id of the OpenAI-compatible server, the prefix of its model ids (`compatible/…`). */
  openaiCompatibleName: string;
  /** Remote embedding models the operator made available (the built-in one is always there). */
  embeddingModels: EmbeddingModelSetting[];
  /** Model new context sources use when they name none. */
  defaultEmbeddingModel: string;
  /** Anthropic API key (secret). */
  anthropicApiKey: string | undefined;
  /** Anthropic base URL (default `https://api.anthropic.com/v1`), for proxies. */
  anthropicBaseUrl: string | undefined;
  /** Google Gemini API key (secret). */
  googleApiKey: string | undefined;
  /** Gemini API base URL (default `https://generativelanguage.googleapis.com/v1beta`), for proxies. */
  googleBaseUrl: string | undefined;
  /** Chat models the operator declared beside the built-in catalogue (local models, newer ones). */
  chatModels: ChatModelSetting[];
  /** CIDRs outbound fetches may reach although private, loopback or link-local. */
  outboundAllowCidrs: string[];
  /** How often each process looks for context sources due for a scheduled refresh (ms). */
  refreshSchedulerIntervalMs: number;
  /**
   * How long a job (and a workflow run) stays claimed by a process without renewal: after a
   * crash, its work is picked up again this long after the last renewal (ms).
   */
  jobLeaseMs: number;
  /** How often each process looks for workflow schedules that are due (ms). */
  workflowSchedulerIntervalMs: number;
  /** Jobs (background runs, workflow advances, ingestion) one process runs at once. */
  workerConcurrency: number;
  /** Traces, rollups and the request log (off: runs keep no spans and analytics stays empty). */
  analytics: boolean;
  /** Days spans and run event logs are kept (minute rollups too). */
  traceRetentionDays: number;
  /** Days the request log is kept. */
  requestLogRetentionDays: number;
  /** Days hour and day rollups are kept. */
  rollupRetentionDays: number;
  /** Operator prices that override the catalogue's (USD per million tokens), by model id. */
  modelPrices: ModelPriceSetting[];
  /** The operator port serving Prometheus `/metrics` (never the API's port); undefined: no metrics endpoint. */
  metricsPort: number | undefined;
  metricsHost: string;
  /** OTLP/HTTP endpoint traces are exported to (the standard OTEL_EXPORTER_OTLP_* variables). */
  otlpTracesUrl: string | undefined;
  /** Headers sent with every OTLP export (secret values: never logged). */
  otlpHeaders: Record<string, string>;
  /** `service.name` of exported traces. */
  otelServiceName: string;
}

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

/** Raw values as given on the command line (strings or booleans). */
export type ConfigFlags = Partial<Record<keyof Config, string | boolean | number | undefined>>;

/** A setting that cannot be used; the message names the flag and environment variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const sources: Record<keyof Config, Source> = {
  host: { flag: '--host', env: 'KAIRO_HOST' },
  port: { flag: '--port', env: 'KAIRO_PORT' },
  dataDir: { flag: '--data', env: 'KAIRO_DATA_DIR' },
  tlsCert: { flag: '--tls-cert', env: 'KAIRO_TLS_CERT' },
  tlsKey: { flag: '--tls-key', env: 'KAIRO_TLS_KEY' },
  trustProxy: { flag: '--trust-proxy', env: 'KAIRO_TRUST_PROXY' },
  databaseUrl: { flag: '--database-url', env: 'KAIRO_DATABASE_URL' },
  databaseSchema: { flag: '--database-schema', env: 'KAIRO_DATABASE_SCHEMA' },
  redisUrl: { flag: '--redis-url', env: 'KAIRO_REDIS_URL' },
  redisPrefix: { flag: '--redis-prefix', env: 'KAIRO_REDIS_PREFIX' },
  logLevel: { flag: '--log-level', env: 'KAIRO_LOG_LEVEL' },
  logRequests: { flag: '--log-requests', env: 'KAIRO_LOG_REQUESTS' },
  bodyLimitBytes: { flag: '--body-limit', env: 'KAIRO_BODY_LIMIT' },
  role: { flag: '--role', env: 'KAIRO_ROLE' },
  shutdownTimeoutMs: { flag: '--shutdown-timeout', env: 'KAIRO_SHUTDOWN_TIMEOUT_MS' },
  openaiApiKey: { flag: '--openai-api-key', env: 'KAIRO_OPENAI_API_KEY' },
  openaiBaseUrl: { flag: '--openai-base-url', env: 'KAIRO_OPENAI_BASE_URL' },
  openaiCompatibleBaseUrl: { flag: '--openai-compatible-base-url', env: 'KAIRO_OPENAI_COMPATIBLE_BASE_URL' },
  openaiCompatibleApiKey: { flag: '--openai-compatible-api-key', env: 'KAIRO_OPENAI_COMPATIBLE_API_KEY' },
  openaiCompatibleName: { flag: '--openai-compatible-name', env: 'KAIRO_OPENAI_COMPATIBLE_NAME' },
  embeddingModels: { flag: '--embedding-models', env: 'KAIRO_EMBEDDING_MODELS' },
  defaultEmbeddingModel: { flag: '--default-embedding-model', env: 'KAIRO_DEFAULT_EMBEDDING_MODEL' },
  anthropicApiKey: { flag: '--anthropic-api-key', env: 'KAIRO_ANTHROPIC_API_KEY' },
  anthropicBaseUrl: { flag: '--anthropic-base-url', env: 'KAIRO_ANTHROPIC_BASE_URL' },
  googleApiKey: { flag: '--google-api-key', env: 'KAIRO_GOOGLE_API_KEY' },
  googleBaseUrl: { flag: '--google-base-url', env: 'KAIRO_GOOGLE_BASE_URL' },
  chatModels: { flag: '--chat-models', env: 'KAIRO_CHAT_MODELS' },
  outboundAllowCidrs: { flag: '--outbound-allow-cidrs', env: 'KAIRO_OUTBOUND_ALLOW_CIDRS' },
  refreshSchedulerIntervalMs: { flag: '--refresh-scheduler-interval', env: 'KAIRO_REFRESH_SCHEDULER_INTERVAL_MS' },
  jobLeaseMs: { flag: '--job-lease', env: 'KAIRO_JOB_LEASE_MS' },
  workflowSchedulerIntervalMs: { flag: '--workflow-scheduler-interval', env: 'KAIRO_WORKFLOW_SCHEDULER_INTERVAL_MS' },
  workerConcurrency: { flag: '--worker-concurrency', env: 'KAIRO_WORKER_CONCURRENCY' },
  analytics: { flag: '--analytics', env: 'KAIRO_ANALYTICS' },
  traceRetentionDays: { flag: '--trace-retention-days', env: 'KAIRO_TRACE_RETENTION_DAYS' },
  requestLogRetentionDays: { flag: '--request-log-retention-days', env: 'KAIRO_REQUEST_LOG_RETENTION_DAYS' },
  rollupRetentionDays: { flag: '--rollup-retention-days', env: 'KAIRO_ROLLUP_RETENTION_DAYS' },
  modelPrices: { flag: '--model-prices', env: 'KAIRO_MODEL_PRICES' },
  metricsPort: { flag: '--metrics-port', env: 'KAIRO_METRICS_PORT' },
  metricsHost: { flag: '--metrics-host', env: 'KAIRO_METRICS_HOST' },
  otlpTracesUrl: { flag: '--otlp-endpoint', env: 'OTEL_EXPORTER_OTLP_ENDPOINT' },
  otlpHeaders: { flag: '--otlp-headers', env: 'OTEL_EXPORTER_OTLP_HEADERS' },
  otelServiceName: { flag: '--otel-service-name', env: 'OTEL_SERVICE_NAME' },
};

function describe(key: keyof Config): string {
  return `${sources[key].flag} / ${sources[key].env}`;
}

/**
 * Build the configuration: command-line flag, then `KAIRO_*` environment variable, then default.
 * Throws ConfigError naming the first bad setting.
 */
export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const raw = (key: keyof Config): string | boolean | number | undefined => {
    const flag = flags[key];
    if (flag !== undefined) return flag;
    const fromEnv = env[sources[key].env];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };

  const str = (key: keyof Config, fallback?: string): string | undefined => {
    const value = raw(key);
    if (value === undefined) return fallback;
    return String(value);
  };

  const int = (key: keyof Config, fallback: number, min: number, max: number): number => {
    const value = raw(key);
    if (value === undefined) return fallback;
    const parsed = typeof value === 'number' ? value : Number(String(value));
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new ConfigError(`Invalid ${describe(key)}: "${value}" is not a whole number from ${min} to ${max}.`);
    }
    return parsed;
  };

  const bool = (key: keyof Config, fallback = false): boolean => {
    const value = raw(key);
    if (value === undefined) return fallback;
    if (typeof value === 'boolean') return value;
    const text = String(value).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(text)) return true;
    if (['0', 'false', 'no', 'off'].includes(text)) return false;
    throw new ConfigError(`Invalid ${describe(key)}: "${value}" is not true or false.`);
  };

  const oneOf = <T extends string>(key: keyof Config, allowed: readonly T[], fallback: T): T => {
    const value = str(key);
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      throw new ConfigError(`Invalid ${describe(key)}: "${value}" must be one of ${allowed.join(', ')}.`);
    }
    return value as T;
  };

  const url = (key: keyof Config, protocols: string[]): string | undefined => {
    const value = str(key);
    if (value === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(`Invalid ${describe(key)}: not a URL.`);
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(`Invalid ${describe(key)}: the scheme must be ${protocols.join(' or ')}.`);
    }
    return value;
  };

  const tlsCert = str('tlsCert');
  const tlsKey = str('tlsKey');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError(`Invalid ${describe(tlsCert ? 'tlsKey' : 'tlsCert')}: --tls-cert and --tls-key go together.`);
  }

  const databaseSchema = str('databaseSchema');
  if (databaseSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema)) {
    throw new ConfigError(`Invalid ${describe('databaseSchema')}: use lowercase letters, digits and underscores.`);
  }

  const openaiApiKey = str('openaiApiKey');
  const openaiCompatibleBaseUrl = url('openaiCompatibleBaseUrl', ['http:', 'https:']);
  const openaiCompatibleName = str('openaiCompatibleName', 'compatible')!;
  if (
    !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(openaiCompatibleName) ||
    ['openai', 'kairo', 'anthropic', 'google'].includes(openaiCompatibleName)
  ) {
    throw new ConfigError(
      `Invalid ${describe('openaiCompatibleName')}: "${openaiCompatibleName}" must be lowercase letters, digits, ".", "_" or "-", and not openai, anthropic, google or kairo.`,
    );
  }

  const embeddingModels = parseEmbeddingModels(str('embeddingModels'), {
    openaiApiKey,
    openaiCompatibleBaseUrl,
    openaiCompatibleName,
  });
  const available = [LOCAL_HASH_MODEL, ...embeddingModels.map((entry) => entry.id)];
  const defaultEmbeddingModel = str('defaultEmbeddingModel', LOCAL_HASH_MODEL)!;
  if (!available.includes(defaultEmbeddingModel)) {
    throw new ConfigError(
      `Invalid ${describe('defaultEmbeddingModel')}: "${defaultEmbeddingModel}" is not an available embedding model (available: ${available.join(', ')}).`,
    );
  }

  const anthropicApiKey = str('anthropicApiKey');
  const googleApiKey = str('googleApiKey');
  const chatModels = parseChatModels(str('chatModels'), {
    openaiApiKey,
    anthropicApiKey,
    googleApiKey,
    openaiCompatibleBaseUrl,
    openaiCompatibleName,
  });

  function redisPrefix(value: string): string {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) throw new ConfigError(`Invalid ${describe('redisPrefix')}: use 1–64 letters, digits, "_", "." or "-".`);
    return value;
  }

  return {
    host: str('host', '127.0.0.1')!,
    port: int('port', 8080, 0, 65535),
    dataDir: path.resolve(str('dataDir', './data')!),
    tlsCert,
    tlsKey,
    trustProxy: bool('trustProxy'),
    databaseUrl: url('databaseUrl', ['postgres:', 'postgresql:']),
    databaseSchema,
    redisUrl: url('redisUrl', ['redis:', 'rediss:']),
    redisPrefix: redisPrefix(str('redisPrefix', 'kairo')!),
    logLevel: oneOf('logLevel', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    logRequests: bool('logRequests'),
    bodyLimitBytes: int('bodyLimitBytes', 1024 * 1024, 1024, 100 * 1024 * 1024),
    role: oneOf('role', ['all', 'api'] as const, 'all'),
    shutdownTimeoutMs: int('shutdownTimeoutMs', 10_000, 0, 600_000),
    openaiApiKey,
    openaiBaseUrl: url('openaiBaseUrl', ['http:', 'https:']),
    openaiCompatibleBaseUrl,
    openaiCompatibleApiKey: str('openaiCompatibleApiKey'),
    openaiCompatibleName,
    embeddingModels,
    defaultEmbeddingModel,
    anthropicApiKey,
    anthropicBaseUrl: url('anthropicBaseUrl', ['http:', 'https:']),
    googleApiKey,
    googleBaseUrl: url('googleBaseUrl', ['http:', 'https:']),
    chatModels,
    outboundAllowCidrs: parseCidrs(str('outboundAllowCidrs')),
    refreshSchedulerIntervalMs: int('refreshSchedulerIntervalMs', 15_000, 100, 3_600_000),
    jobLeaseMs: int('jobLeaseMs', 30_000, 1_000, 3_600_000),
    workflowSchedulerIntervalMs: int('workflowSchedulerIntervalMs', 1_000, 100, 3_600_000),
    workerConcurrency: int('workerConcurrency', 8, 1, 1_000),
    analytics: bool('analytics', true),
    traceRetentionDays: int('traceRetentionDays', 30, 1, 3_650),
    requestLogRetentionDays: int('requestLogRetentionDays', 7, 1, 3_650),
    rollupRetentionDays: int('rollupRetentionDays', 395, 1, 3_650),
    modelPrices: parseModelPrices(str('modelPrices')),
    metricsPort: raw('metricsPort') === undefined ? undefined : int('metricsPort', 0, 0, 65535),
    metricsHost: str('metricsHost', '127.0.0.1')!,
    // The flag wins over both variables; the traces-only variable over the general one.
    otlpTracesUrl: otlpTracesUrl(url('otlpTracesUrl', ['http:', 'https:']), flags.otlpTracesUrl === undefined ? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT : undefined),
    otlpHeaders: parseOtlpHeaders(str('otlpHeaders')),
    otelServiceName: str('otelServiceName', 'kairo')!,
  };
}

/**
 * The traces URL as the OTLP exporter specification derives it: a signal-specific endpoint is
 * used as it is; the general endpoint gets `/v1/traces` appended.
 */
function otlpTracesUrl(general: string | undefined, tracesOnly: string | undefined): string | undefined {
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
function parseOtlpHeaders(value: string | undefined): Record<string, string> {
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
function parseModelPrices(value: string | undefined): ModelPriceSetting[] {
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
function parseEmbeddingModels(
  value: string | undefined,
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
function parseChatModels(
  value: string | undefined,
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
function parseCidrs(value: string | undefined): string[] {
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
