import type { FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';
import type { Store } from '../store/port.js';
import type { Queue } from '../queue/port.js';
import type { ConcurrencyLimiter, RateLimiter } from '../limits/port.js';
import type { AgentsModule } from '../agents/agents-module.js';
import type { WorkflowsModule } from '../workflows/workflows-module.js';
import type { ModelCatalogue } from '../models/ports.js';
import type { ContextService } from '../context/context-service.js';
import type { AnalyticsModule } from '../analytics/analytics-module.js';
import type { PlatformModule } from '../platform/platform-module.js';
import type { EventsModule } from '../events/events-module.js';
import type { WebhooksModule } from '../webhooks/webhooks-module.js';
import type { BudgetsModule } from '../budgets/budgets-module.js';
import type { OpenAiCompat } from '../openai-compat/openai-compat.js';

/** Everything the HTTP layer needs, built by the composition root (src/main.ts). */
export interface AppDeps {
  config: Config;
  store: Store;
  queue: Queue;
  rateLimiter: RateLimiter;
  concurrency: ConcurrencyLimiter;
  platform: PlatformModule;
  events: EventsModule;
  webhooks: WebhooksModule;
  budgets: BudgetsModule;
  context: ContextService;
  agents: AgentsModule;
  workflows: WorkflowsModule;
  analytics: AnalyticsModule;
  openaiCompat: OpenAiCompat;
  catalogue: ModelCatalogue;
  version: string;
  startedAt: number;
  /** Extra Fastify server options (the TLS listener passes `https`). */
  serverOptions?: Partial<FastifyServerOptions> & Record<string, unknown>;
}
