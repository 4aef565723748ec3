import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { ConfigError } from './config-error.js';
import {
  LOCAL_HASH_MODEL, otlpTracesUrl, parseChatModels, parseCidrs, parseEmbeddingModels, parseModelPrices, parseOtlpHeaders,
  type ChatModelSetting, type EmbeddingModelSetting, type ModelPriceSetting,
} from './config-parsers.js';

export { ConfigError } from './config-error.js';
export type { ChatModelSetting, EmbeddingModelSetting, ModelPriceSetting } from './config-parsers.js';

const MIB = 1024 * 1024;

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
  /** Days events are kept (GET /v1/events). */
  eventRetentionDays: number;
  /** Divides the webhook retry delays and failure windows (1 in production; tests compress them). */
  webhookRetrySpeedup: number;
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
  /** Worker processes for heavy work (parsing, chunking, local embedding), shared fairly between workspaces; 0: in the server process, unbounded. */
  computeWorkers: number;
  /** Heap limit of each worker process (MB): a document that needs more fails with `document_too_large`. */
  computeHeapMb: number;
  /** How long parsing or chunking one document may take before it fails with `document_timeout` (ms). */
  documentTimeoutMs: number;
  /** Largest uploaded file (bytes). */
  maxFileBytes: number;
  /** Largest ingest request: every file of a multipart upload together, or the JSON body (bytes). */
  maxUploadBytes: number;
  /** Most pages of a PDF. */
  maxPdfPages: number;
  /** Most cells (rows × columns) of a CSV or TSV file. */
  maxCsvCells: number;
  /** Most characters of text one document may yield after parsing. */
  maxDocumentChars: number;
  /** Most items a workflow `map` step may iterate. */
  maxMapItems: number;
  /** Largest workflow run input and step output, as JSON (bytes). */
  maxWorkflowDataBytes: number;
  /** Mean event-loop delay (ms) above which new requests get 503 `server_busy`; 0: never. */
  maxEventLoopDelayMs: number;
  /** Heap in use (bytes) above which new requests get 503 `server_busy`; 0: never. */
  maxHeapUsedBytes: number;
}

/** Raw values as given on the command line (strings or booleans). */
export type ConfigFlags = Partial<Record<keyof Config, string | boolean | number | undefined>>;

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
  eventRetentionDays: { flag: '--event-retention-days', env: 'KAIRO_EVENT_RETENTION_DAYS' },
  webhookRetrySpeedup: { flag: '--webhook-retry-speedup', env: 'KAIRO_WEBHOOK_RETRY_SPEEDUP' },
  modelPrices: { flag: '--model-prices', env: 'KAIRO_MODEL_PRICES' },
  metricsPort: { flag: '--metrics-port', env: 'KAIRO_METRICS_PORT' },
  metricsHost: { flag: '--metrics-host', env: 'KAIRO_METRICS_HOST' },
  otlpTracesUrl: { flag: '--otlp-endpoint', env: 'OTEL_EXPORTER_OTLP_ENDPOINT' },
  otlpHeaders: { flag: '--otlp-headers', env: 'OTEL_EXPORTER_OTLP_HEADERS' },
  otelServiceName: { flag: '--otel-service-name', env: 'OTEL_SERVICE_NAME' },
  computeWorkers: { flag: '--compute-workers', env: 'KAIRO_COMPUTE_WORKERS' },
  computeHeapMb: { flag: '--compute-heap-mb', env: 'KAIRO_COMPUTE_HEAP_MB' },
  documentTimeoutMs: { flag: '--document-timeout', env: 'KAIRO_DOCUMENT_TIMEOUT_MS' },
  maxFileBytes: { flag: '--max-file-bytes', env: 'KAIRO_MAX_FILE_BYTES' },
  maxUploadBytes: { flag: '--max-upload-bytes', env: 'KAIRO_MAX_UPLOAD_BYTES' },
  maxPdfPages: { flag: '--max-pdf-pages', env: 'KAIRO_MAX_PDF_PAGES' },
  maxCsvCells: { flag: '--max-csv-cells', env: 'KAIRO_MAX_CSV_CELLS' },
  maxDocumentChars: { flag: '--max-document-chars', env: 'KAIRO_MAX_DOCUMENT_CHARS' },
  maxMapItems: { flag: '--max-map-items', env: 'KAIRO_MAX_MAP_ITEMS' },
  maxWorkflowDataBytes: { flag: '--max-workflow-data-bytes', env: 'KAIRO_MAX_WORKFLOW_DATA_BYTES' },
  maxEventLoopDelayMs: { flag: '--max-event-loop-delay', env: 'KAIRO_MAX_EVENT_LOOP_DELAY_MS' },
  maxHeapUsedBytes: { flag: '--max-heap-used', env: 'KAIRO_MAX_HEAP_USED_BYTES' },
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

  const embeddingModels = parseEmbeddingModels(str('embeddingModels'), describe, {
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
  const chatModels = parseChatModels(str('chatModels'), describe, {
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
    outboundAllowCidrs: parseCidrs(str('outboundAllowCidrs'), describe),
    refreshSchedulerIntervalMs: int('refreshSchedulerIntervalMs', 15_000, 100, 3_600_000),
    jobLeaseMs: int('jobLeaseMs', 30_000, 1_000, 3_600_000),
    workflowSchedulerIntervalMs: int('workflowSchedulerIntervalMs', 1_000, 100, 3_600_000),
    workerConcurrency: int('workerConcurrency', 8, 1, 1_000),
    analytics: bool('analytics', true),
    traceRetentionDays: int('traceRetentionDays', 30, 1, 3_650),
    requestLogRetentionDays: int('requestLogRetentionDays', 7, 1, 3_650),
    rollupRetentionDays: int('rollupRetentionDays', 395, 1, 3_650),
    eventRetentionDays: int('eventRetentionDays', 30, 1, 3_650),
    webhookRetrySpeedup: int('webhookRetrySpeedup', 1, 1, 100_000),
    modelPrices: parseModelPrices(str('modelPrices'), describe),
    metricsPort: raw('metricsPort') === undefined ? undefined : int('metricsPort', 0, 0, 65535),
    metricsHost: str('metricsHost', '127.0.0.1')!,
    // The flag wins over both variables; the traces-only variable over the general one.
    otlpTracesUrl: otlpTracesUrl(url('otlpTracesUrl', ['http:', 'https:']), flags.otlpTracesUrl === undefined ? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT : undefined),
    otlpHeaders: parseOtlpHeaders(str('otlpHeaders'), describe),
    otelServiceName: str('otelServiceName', 'kairo')!,
    computeWorkers: int('computeWorkers', Math.min(4, Math.max(2, os.availableParallelism())), 0, 256),
    computeHeapMb: int('computeHeapMb', 512, 64, 65_536),
    documentTimeoutMs: int('documentTimeoutMs', 60_000, 100, 3_600_000),
    maxFileBytes: int('maxFileBytes', 32 * MIB, 1024, 4096 * MIB),
    maxUploadBytes: int('maxUploadBytes', 64 * MIB, 1024, 4096 * MIB),
    maxPdfPages: int('maxPdfPages', 2_000, 1, 1_000_000),
    maxCsvCells: int('maxCsvCells', 2_000_000, 1, 1_000_000_000),
    maxDocumentChars: int('maxDocumentChars', 5_000_000, 1_000, 1_000_000_000),
    maxMapItems: int('maxMapItems', 10_000, 1, 10_000_000),
    maxWorkflowDataBytes: int('maxWorkflowDataBytes', MIB, 1024, 1024 * MIB),
    maxEventLoopDelayMs: int('maxEventLoopDelayMs', 1_000, 0, 600_000),
    maxHeapUsedBytes: int('maxHeapUsedBytes', Math.floor(0.9 * v8.getHeapStatistics().heap_size_limit), 0, Number.MAX_SAFE_INTEGER),
  };
}
