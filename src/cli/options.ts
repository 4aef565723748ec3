import type { Command } from 'commander';
import type { ConfigFlags } from '../config.js';

/** Options every command that opens the database accepts. */
export function withStorageOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'data directory for the embedded SQLite database (env KAIRO_DATA_DIR)')
    .option('--database-url <url>', 'PostgreSQL URL; use it instead of SQLite (env KAIRO_DATABASE_URL)')
    .option('--database-schema <name>', 'PostgreSQL schema (env KAIRO_DATABASE_SCHEMA)');
}

/**
 * Model provider and outbound settings for processes that run jobs or serve requests. Provider
 * API keys are read from the environment only (KAIRO_OPENAI_API_KEY,
 * KAIRO_OPENAI_COMPATIBLE_API_KEY), never from flags, which other users can see in `ps`.
 */
export function withRuntimeOptions(command: Command): Command {
  return command
    .option('--openai-base-url <url>', 'OpenAI API base URL (env KAIRO_OPENAI_BASE_URL)')
    .option('--openai-compatible-base-url <url>', 'base URL of an OpenAI-compatible server such as Ollama or vLLM (env KAIRO_OPENAI_COMPATIBLE_BASE_URL)')
    .option('--openai-compatible-name <name>', 'provider id for that server in model ids (env KAIRO_OPENAI_COMPATIBLE_NAME, default compatible)')
    .option('--embedding-models <list>', 'embedding models, e.g. openai/text-embedding-3-small:1536,compatible/nomic-embed-text:768 (env KAIRO_EMBEDDING_MODELS)')
    .option('--default-embedding-model <id>', 'embedding model of new sources (env KAIRO_DEFAULT_EMBEDDING_MODEL, default kairo/hash-384)')
    .option('--outbound-allow-cidrs <list>', 'private address ranges URL sources and tools may reach, e.g. 10.0.0.0/8 (env KAIRO_OUTBOUND_ALLOW_CIDRS)')
    .option('--anthropic-base-url <url>', 'Anthropic API base URL (env KAIRO_ANTHROPIC_BASE_URL; key: KAIRO_ANTHROPIC_API_KEY)')
    .option('--google-base-url <url>', 'Google Generative AI base URL (env KAIRO_GOOGLE_BASE_URL; key: KAIRO_GOOGLE_API_KEY)')
    .option('--chat-models <list>', 'extra chat models, e.g. compatible/llama3.1:8b:128000;tools=yes (env KAIRO_CHAT_MODELS)')
    .option('--refresh-scheduler-interval <ms>', 'how often to look for due source refreshes (env KAIRO_REFRESH_SCHEDULER_INTERVAL_MS, default 15000)')
    .option('--job-lease <ms>', 'how long a crashed process keeps its jobs and workflow runs claimed (env KAIRO_JOB_LEASE_MS, default 30000)')
    .option('--workflow-scheduler-interval <ms>', 'how often to look for due workflow schedules (env KAIRO_WORKFLOW_SCHEDULER_INTERVAL_MS, default 1000)')
    .option('--worker-concurrency <n>', 'jobs one process runs at once (env KAIRO_WORKER_CONCURRENCY, default 8)')
    .option('--redis-prefix <prefix>', 'prefix of every Redis key (env KAIRO_REDIS_PREFIX, default kairo)')
    .option('--shutdown-timeout <ms>', 'how long to wait for in-flight work on shutdown (env KAIRO_SHUTDOWN_TIMEOUT_MS)')
    .option('--analytics <on|off>', 'traces, rollups and the request log (env KAIRO_ANALYTICS, default on)')
    .option('--trace-retention-days <days>', 'days spans, run events and minute rollups are kept (env KAIRO_TRACE_RETENTION_DAYS, default 30)')
    .option('--request-log-retention-days <days>', 'days the request log is kept (env KAIRO_REQUEST_LOG_RETENTION_DAYS, default 7)')
    .option('--rollup-retention-days <days>', 'days hour and day rollups are kept (env KAIRO_ROLLUP_RETENTION_DAYS, default 395)')
    .option('--event-retention-days <days>', 'days events are kept (env KAIRO_EVENT_RETENTION_DAYS, default 30)')
    .option('--webhook-retry-speedup <n>', 'divide webhook retry delays and failure windows by n, for tests (env KAIRO_WEBHOOK_RETRY_SPEEDUP, default 1)')
    .option('--model-prices <list>', 'price overrides in USD per million tokens, e.g. openai/gpt-4o;in=2.5;out=10;cached=1.25 (env KAIRO_MODEL_PRICES)')
    .option('--metrics-port <port>', 'serve Prometheus /metrics on this operator port (env KAIRO_METRICS_PORT; off by default)')
    .option('--metrics-host <host>', 'address of the metrics port (env KAIRO_METRICS_HOST, default 127.0.0.1)')
    .option('--otlp-endpoint <url>', 'export traces over OTLP/HTTP to this base URL (env OTEL_EXPORTER_OTLP_ENDPOINT)')
    .option('--otel-service-name <name>', 'service.name of exported traces (env OTEL_SERVICE_NAME, default kairo)')
    .option('--compute-workers <n>', 'worker processes for parsing, chunking and local embedding; 0 does that work in the server process, without limits (env KAIRO_COMPUTE_WORKERS, default 2 to 4 by CPUs)')
    .option('--compute-heap-mb <mb>', 'heap limit of each worker process (env KAIRO_COMPUTE_HEAP_MB, default 512)')
    .option('--document-timeout <ms>', 'longest parse or chunking of one document (env KAIRO_DOCUMENT_TIMEOUT_MS, default 60000)')
    .option('--max-file-bytes <bytes>', 'largest uploaded file (env KAIRO_MAX_FILE_BYTES, default 33554432)')
    .option('--max-upload-bytes <bytes>', 'largest ingest request, all files together (env KAIRO_MAX_UPLOAD_BYTES, default 67108864)')
    .option('--max-pdf-pages <n>', 'most pages of a PDF (env KAIRO_MAX_PDF_PAGES, default 2000)')
    .option('--max-csv-cells <n>', 'most cells of a CSV or TSV file (env KAIRO_MAX_CSV_CELLS, default 2000000)')
    .option('--max-document-chars <n>', 'most characters of text one document may yield (env KAIRO_MAX_DOCUMENT_CHARS, default 5000000)')
    .option('--max-map-items <n>', 'most items a workflow map step may iterate (env KAIRO_MAX_MAP_ITEMS, default 10000)')
    .option('--max-workflow-data-bytes <bytes>', 'largest workflow run input and step output as JSON (env KAIRO_MAX_WORKFLOW_DATA_BYTES, default 1048576)')
    .option('--max-event-loop-delay <ms>', 'answer 503 server_busy while the event loop lags more than this (env KAIRO_MAX_EVENT_LOOP_DELAY_MS, default 1000, 0 off)')
    .option('--max-heap-used <bytes>', 'answer 503 server_busy while the heap holds more than this (env KAIRO_MAX_HEAP_USED_BYTES, default 90 % of the heap limit, 0 off)');
}

/** Commander's option names → config keys. */
export function toFlags(options: Record<string, unknown>): ConfigFlags {
  const flags: ConfigFlags = {};
  const map: Record<string, keyof ConfigFlags> = {
    host: 'host', port: 'port', data: 'dataDir', tlsCert: 'tlsCert', tlsKey: 'tlsKey', trustProxy: 'trustProxy',
    databaseUrl: 'databaseUrl', databaseSchema: 'databaseSchema', redisUrl: 'redisUrl', logLevel: 'logLevel',
    logRequests: 'logRequests', role: 'role', bodyLimit: 'bodyLimitBytes', shutdownTimeout: 'shutdownTimeoutMs',
    openaiBaseUrl: 'openaiBaseUrl', openaiCompatibleBaseUrl: 'openaiCompatibleBaseUrl', openaiCompatibleName: 'openaiCompatibleName',
    embeddingModels: 'embeddingModels', defaultEmbeddingModel: 'defaultEmbeddingModel', outboundAllowCidrs: 'outboundAllowCidrs',
    anthropicBaseUrl: 'anthropicBaseUrl', googleBaseUrl: 'googleBaseUrl', chatModels: 'chatModels', redisPrefix: 'redisPrefix',
    refreshSchedulerInterval: 'refreshSchedulerIntervalMs', jobLease: 'jobLeaseMs', workflowSchedulerInterval: 'workflowSchedulerIntervalMs',
    workerConcurrency: 'workerConcurrency', analytics: 'analytics', traceRetentionDays: 'traceRetentionDays',
    requestLogRetentionDays: 'requestLogRetentionDays', rollupRetentionDays: 'rollupRetentionDays', eventRetentionDays: 'eventRetentionDays', webhookRetrySpeedup: 'webhookRetrySpeedup', modelPrices: 'modelPrices',
    metricsPort: 'metricsPort', metricsHost: 'metricsHost', otlpEndpoint: 'otlpTracesUrl', otelServiceName: 'otelServiceName',
    computeWorkers: 'computeWorkers', computeHeapMb: 'computeHeapMb', documentTimeout: 'documentTimeoutMs', maxFileBytes: 'maxFileBytes',
    maxUploadBytes: 'maxUploadBytes', maxPdfPages: 'maxPdfPages', maxCsvCells: 'maxCsvCells', maxDocumentChars: 'maxDocumentChars',
    maxEventLoopDelay: 'maxEventLoopDelayMs', maxHeapUsed: 'maxHeapUsedBytes', maxMapItems: 'maxMapItems', maxWorkflowDataBytes: 'maxWorkflowDataBytes',
  };
  for (const [option, key] of Object.entries(map)) {
    const value = options[option];
    if (value !== undefined) flags[key] = value as string | boolean;
  }
  return flags;
}
