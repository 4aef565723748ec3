import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ProcessPool } from './compute/process-pool.js';
import { computeTasks } from './compute-tasks.js';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { ConfigError, type Config } from './config.js';
import type { Store } from './store/port.js';
import type { Queue } from './queue/port.js';
import { openStore } from './store/open-store.js';
import { openQueue } from './queue/open-queue.js';
import { openLimits } from './limits/open-limits.js';
import { checkRedis } from './redis/check-redis.js';
import { RedisHealth, isConnectionError } from './redis/redis-health.js';
import { serviceAddress } from './net/service-address.js';
import { buildApp } from './http/app.js';
import { checkTransportPolicy, listen, type Listener } from './http/listen.js';
import { bootstrapIfEmpty, type Bootstrap } from './platform/workspaces.js';
import { PlatformModule } from './platform/platform-module.js';
import type { AreaModule, AreaRunning } from './area-module.js';
import { version } from './version.js';
import { ContextService } from './context/context-service.js';
import { DocumentWork } from './context/document-work.js';
import { createEmbedderRegistry } from './context/embedders/registry.js';
import { createSafeFetcher } from './net/safe-fetch.js';
import { AgentsModule } from './agents/agents-module.js';
import { createModelCatalogue } from './models/catalogue.js';
import { createModelRouter } from './models/router.js';
import { OpenAiCompat } from './openai-compat/openai-compat.js';
import { INGESTION_SLOTS, RunSlots } from './platform/run-slots.js';
import type { ConcurrencyLimiter } from './limits/port.js';
import { WorkflowsModule } from './workflows/workflows-module.js';
import { ExpressionEvaluator } from './workflows/expression-evaluator.js';
import { AnalyticsModule } from './analytics/analytics-module.js';
import { EventsModule } from './events/events-module.js';
import { WebhooksModule } from './webhooks/webhooks-module.js';
import { BudgetsModule } from './budgets/budgets-module.js';
import type { ModelCatalogue } from './models/ports.js';

/** A running KAIRO server (API, and in embedded mode the job worker too). */
export interface Kairo {
  url: string;
  port: number;
  store: Store;
  queue: Queue;
  logger: FastifyBaseLogger;
  /** The default workspace and keys when this start created them (first start on an empty database). */
  bootstrap: Bootstrap | undefined;
  /** Where Prometheus metrics are served (the operator's metrics port), when enabled. */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

/**
 * Composition root: config → store → queue → limits → app → listener. With role `all` (the
 * default) this process also runs queued jobs; with role `api` separate `kairo worker`
 * processes do.
 */
export async function startKairo(config: Config): Promise<Kairo> {
  checkTransportPolicy(config);
  // Built first: a bad model setting fails the start before anything is opened.
  const catalogue = createModelCatalogue(config);
  const startedAt = Date.now();
  // Read before anything is opened, so a bad TLS file fails the start without side effects.
  const https = config.tlsCert && config.tlsKey ? { cert: readFile(config.tlsCert), key: readFile(config.tlsKey) } : undefined;
  if (config.redisUrl) await checkRedis(config.redisUrl);
  let app: FastifyInstance | undefined;
  // To stderr until the app, and its logger, exists.
  const warn = (message: string, error?: unknown) => (app ? app.log.warn(error === undefined ? {} : { err: error }, message) : console.error(message));
  /** Background errors, except those that only say Redis is unreachable: RedisHealth logs the outage once. */
  const onError = (what: string) => (error: unknown) => {
    if (!isConnectionError(error)) warn(what, error);
  };
  const store = await openStore(config);
  const watchRedis = redisWatcher(config, (message) => warn(message));
  const queue = openQueue({ store, redisUrl: config.redisUrl, prefix: config.redisPrefix, leaseMs: config.jobLeaseMs, onError: onError('queue'), watch: watchRedis });
  const limits = openLimits({ redisUrl: config.redisUrl, prefix: `${config.redisPrefix}:limits:`, watch: watchRedis });
  const { platform, events, webhooks, budgets, context, agents, workflows, analytics, openaiCompat, fetcher, compute, jobs, areas } = openAreas(config, store, queue, limits.concurrency, catalogue, onError('analytics'));
  const opened = [limits, fetcher, compute, store];

  let listening: Listener | undefined;
  let bootstrap: Bootstrap | undefined;
  const running: AreaRunning[] = [];
  try {
    app = await buildApp({
      config, store, queue, rateLimiter: limits.rateLimiter, concurrency: limits.concurrency, platform, events, webhooks, budgets, context, agents, workflows, analytics, openaiCompat, catalogue, version, startedAt,
      serverOptions: https ? { https } : {},
    });
    listening = await listen(app, config);
    for (const area of areas) area.registerJobs(jobs);
    for (const area of areas) running.push(await area.start(onError));
    // Only once listening: a start that fails (port taken, bad certificate) must not create
    // keys that are then never shown.
    bootstrap = await bootstrapIfEmpty(store);
  } catch (error) {
    await (listening ?? app)?.close().catch(() => {});
    await shutdown(running, queue, 0, opened).catch(() => {});
    throw error;
  }
  const listener = listening;
  if (config.role === 'all') await queue.start({ concurrency: config.workerConcurrency });

  let closing: Promise<void> | undefined;
  return {
    url: listener.url,
    port: listener.port,
    store,
    queue,
    logger: app.log,
    bootstrap,
    metricsUrl: analytics.metricsUrl,
    close() {
      closing ??= (async () => {
        await listener.close();
        await shutdown(running, queue, config.shutdownTimeoutMs, opened);
      })();
      return closing;
    },
  };
}

/** A worker process (cluster mode): runs queued jobs, serves no HTTP. */
export async function startWorker(config: Config, log: (message: string) => void): Promise<{ close(): Promise<void> }> {
  const catalogue = createModelCatalogue(config);
  if (config.redisUrl) await checkRedis(config.redisUrl);
  /** Background errors, except those that only say Redis is unreachable: RedisHealth logs the outage once. */
  const onError = (what: string) => (error: unknown) => {
    if (!isConnectionError(error)) log(`${what}: ${String(error)}`);
  };
  const store = await openStore(config);
  const watchRedis = redisWatcher(config, log);
  const queue = openQueue({ store, redisUrl: config.redisUrl, prefix: config.redisPrefix, leaseMs: config.jobLeaseMs, onError: onError('queue'), watch: watchRedis });
  const limits = openLimits({ redisUrl: config.redisUrl, prefix: `${config.redisPrefix}:limits:`, watch: watchRedis });
  const { jobs, areas, fetcher, compute } = openAreas(config, store, queue, limits.concurrency, catalogue, onError('analytics'));
  const opened = [limits, fetcher, compute, store];
  const running: AreaRunning[] = [];
  try {
    for (const area of areas) area.registerJobs(jobs);
    for (const area of areas) running.push(await area.start(onError));
  } catch (error) {
    await shutdown(running, queue, 0, opened).catch(() => {});
    throw error;
  }
  await queue.start({ concurrency: config.workerConcurrency });
  return { close: () => shutdown(running, queue, config.shutdownTimeoutMs, opened) };
}

/**
 * Stops the areas' background work, lets the queue finish the jobs it holds (up to `timeoutMs`),
 * then closes the areas (after the jobs: runs that finished while the queue drained are still
 * counted and exported), the queue and everything else opened, in order.
 */
async function shutdown(running: AreaRunning[], queue: Queue, timeoutMs: number, opened: Array<{ close(): Promise<void> }>): Promise<void> {
  for (const area of [...running].reverse()) area.stop();
  await queue.stop(timeoutMs);
  for (const area of [...running].reverse()) await area.close?.();
  await queue.close();
  for (const resource of opened) await resource.close();
}

/**
 * In cluster mode, follows Redis on every client the queue and the limiters open, logging each
 * loss and return once (see RedisHealth).
 */
function redisWatcher(config: Config, log: (message: string) => void): ((client: Redis) => void) | undefined {
  if (!config.redisUrl) return undefined;
  const health = new RedisHealth(serviceAddress(config.redisUrl, 6379), log);
  return (client) => health.watch(client);
}

/**
 * The platform, events, webhooks, budgets, context, analytics, agents and workflows areas, sharing one outbound fetcher (one
 * connection pool under the operator's address policy) that the caller closes on shutdown.
 */
function openAreas(config: Config, store: Store, queue: Queue, concurrency: ConcurrencyLimiter, catalogue: ModelCatalogue, onError: (error: unknown) => void) {
  const analytics = new AnalyticsModule({ config, store, queue, catalogue, version, onError });
  const jobs = analytics.jobs;
  const fetcher = createSafeFetcher({ allowCidrs: config.outboundAllowCidrs });
  const compute = new ProcessPool({
    script: computeWorkerScript(),
    size: config.computeWorkers,
    inline: computeTasks,
    heapMb: config.computeHeapMb,
    timeoutMs: config.documentTimeoutMs,
    maxQueuedPerTenant: MAX_QUEUED_PER_WORKSPACE,
  });
  const context = new ContextService({
    store,
    queue: jobs,
    embedders: createEmbedderRegistry(config),
    fetcher,
    work: new DocumentWork(compute, {
      heapMb: config.computeHeapMb,
      timeoutMs: config.documentTimeoutMs,
      limits: { maxPdfPages: config.maxPdfPages, maxCsvCells: config.maxCsvCells, maxDocumentChars: config.maxDocumentChars },
    }),
    uploadLimits: { maxFileBytes: config.maxFileBytes, maxUploadBytes: config.maxUploadBytes },
    ingestionSlots: new RunSlots(concurrency, undefined, onError, INGESTION_SLOTS),
    schedulerIntervalMs: config.refreshSchedulerIntervalMs,
  });
  const slots = new RunSlots(concurrency);
  const budgets = new BudgetsModule({ store });
  // Runs' final transactions also report the budget thresholds they reach.
  const observer = budgets.gate.observe(analytics.observer);
  // One router for agents and OpenAI-compatible completions, so both learn from every model call.
  const router = createModelRouter(catalogue);
  const agents = new AgentsModule({
    store,
    queue: jobs,
    catalogue,
    router,
    context,
    slots,
    fetcher,
    outboundAllowCidrs: config.outboundAllowCidrs,
    spans: analytics.spans,
    observer,
    budgets: budgets.gate,
  });
  const workflows = new WorkflowsModule({
    store, queue: jobs, slots, fetcher, agents, spans: analytics.spans, observer, leaseMs: config.jobLeaseMs,
    expressions: new ExpressionEvaluator(compute, config.computeHeapMb, config.maxWorkflowDataBytes),
    limits: { maxMapItems: config.maxMapItems, maxWorkflowDataBytes: config.maxWorkflowDataBytes },
    schedulerIntervalMs: config.workflowSchedulerIntervalMs, advanceInRequest: config.role === 'all',
  });
  const platform = new PlatformModule({ store, queue });
  const events = new EventsModule({ store, queue, retentionDays: config.eventRetentionDays });
  const webhooks = new WebhooksModule({
    store, queue: jobs, outboundAllowCidrs: config.outboundAllowCidrs, retentionDays: config.eventRetentionDays, retrySpeedup: config.webhookRetrySpeedup,
  });
  const areas: AreaModule[] = [
    platform,
    events,
    webhooks,
    budgets,
    context,
    agents,
    workflows,
    analytics,
  ];
  const openaiCompat = new OpenAiCompat({ store, agents, catalogue, router, budgets: budgets.gate, observer });
  return { platform, events, webhooks, budgets, context, agents, workflows, analytics, openaiCompat, fetcher, compute, jobs, areas };
}

/** Heavy tasks one workspace may have waiting for a worker process; past it, they are refused with 503 `server_busy`. */
const MAX_QUEUED_PER_WORKSPACE = 64;

/** The compute pool's worker entry: the TypeScript source when running from source (tests, benchmarks), else the built file. */
function computeWorkerScript(): string {
  return fileURLToPath(new URL(`./compute-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
}

function readFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new ConfigError(`Cannot read TLS file ${file}: ${(error as Error).message}`);
  }
}
