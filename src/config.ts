import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { LOCAL_HASH_DIMENSIONS, LOCAL_HASH_MODEL } from './context/embedders/local-hash-embedder.js';

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
  /** CIDRs outbound fetches may reach although private, loopback or link-local. */
  outboundAllowCidrs: string[];
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
  outboundAllowCidrs: { flag: '--outbound-allow-cidrs', env: 'KAIRO_OUTBOUND_ALLOW_CIDRS' },
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

  const bool = (key: keyof Config): boolean => {
    const value = raw(key);
    if (value === undefined) return false;
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
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(openaiCompatibleName) || ['openai', 'kairo'].includes(openaiCompatibleName)) {
    throw new ConfigError(
      `Invalid ${describe('openaiCompatibleName')}: "${openaiCompatibleName}" must be lowercase letters, digits, ".", "_" or "-", and not openai or kairo.`,
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
    outboundAllowCidrs: parseCidrs(str('outboundAllowCidrs')),
  };
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
