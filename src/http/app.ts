import Fastify, { LogController, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { KairoError } from '../errors.js';
import { newId } from '../ids.js';
import { Authenticator } from '../platform/authenticate.js';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from './error-handler.js';
import { registerAuth } from './plugins/auth.js';
import { registerHttpsPolicy } from './plugins/https-policy.js';
import { registerIdempotency } from './plugins/idempotency.js';
import { registerOpenApi } from './openapi.js';
import { lazyRequestLoggerFactory } from './request-logger.js';
import { platformRoutes } from './routes/platform.js';
import { contextRoutes } from './routes/context.js';
import { agentRoutes } from './routes/agents.js';
import { workflowRoutes } from './routes/workflows.js';
import { modelRoutes } from './routes/models.js';
import { analyticsRoutes } from './routes/analytics.js';
import { eventRoutes } from './routes/events.js';
import { webhookRoutes } from './routes/webhooks.js';
import { budgetRoutes } from './routes/budgets.js';
import { toolSigningRoutes } from './routes/tool-signing.js';
import { mcpRoutes } from './routes/mcp.js';
import { openAiCompatRoutes } from './routes/openai-compat.js';
import { registerRequestAccounting } from './plugins/request-accounting.js';
import { registerConsolePage } from './console-page.js';
import { registerLoadShedding } from './plugins/load-shedding.js';
import type { AppDeps } from './deps.js';


function ajvFor(coerce: boolean): Ajv {
  const ajv = new Ajv({
    // Bodies are taken as sent: no coercion, no silent removal of unknown fields.
    coerceTypes: coerce ? 'array' : false,
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
    strict: false,
  });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv;
}

/** Builds the Fastify app (without listening). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.secret'], censor: '[redacted]' },
    },
    logController: new LogController({ disableRequestLogging: !config.logRequests }),
    // Each request's child logger (bound to its request id) is made only if the request logs.
    childLoggerFactory: lazyRequestLoggerFactory,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    genReqId: () => newId('req'),
    requestIdHeader: false,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Errors raised before routing (bad URL encoding, over-long path parameter, over-size headers)
    // are answered in the standard error shape too.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    ...deps.serverOptions,
  });

  const bodyAjv = ajvFor(false);
  const queryAjv = ajvFor(true);
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema as object) as any,
  );

  let closing = false;
  app.addHook('onClose', async () => {
    closing = true;
  });
  app.addHook('preClose', async () => {
    closing = true;
  });

  // Callback-style, as are the other per-request hooks on the read path: an async hook costs a
  // promise and a microtask on every request, and this one never waits for anything.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    if (closing) {
      reply.header('Connection', 'close');
      done(new KairoError('service_unavailable'));
      return;
    }
    done();
  });
  // A POST with no body is an empty object, as with Stripe (only routes that take a body pay for this).
  const emptyBody = async (request: FastifyRequest) => {
    if (request.body === undefined) request.body = {};
  };
  app.addHook('onRoute', (route) => {
    if (!route.schema?.body) return;
    const existing = route.preValidation === undefined ? [] : Array.isArray(route.preValidation) ? route.preValidation : [route.preValidation];
    route.preValidation = [emptyBody, ...existing];
  });

  // JSON only (docs/api.md): without Fastify's default text/plain parser, any other media type is a 415.
  app.removeContentTypeParser('text/plain');
  registerErrorHandling(app);
  const load = await registerLoadShedding(app, { maxEventLoopDelayMs: config.maxEventLoopDelayMs, maxHeapUsedBytes: config.maxHeapUsedBytes });
  registerHttpsPolicy(app, { trustProxy: config.trustProxy });
  registerAuth(app, { authenticator: new Authenticator(deps.store), rateLimiter: deps.rateLimiter });
  registerRequestAccounting(app, deps.analytics.requests);
  registerIdempotency(app, { store: deps.store });
  await registerOpenApi(app, deps.version);
  await app.register(async (scope) => platformRoutes(scope, { ...deps, load }));
  await app.register(async (scope) => contextRoutes(scope, deps));
  await app.register(async (scope) => agentRoutes(scope, deps));
  await app.register(async (scope) => workflowRoutes(scope, deps));
  await app.register(async (scope) => modelRoutes(scope, deps));
  await app.register(async (scope) => analyticsRoutes(scope, deps));
  await app.register(async (scope) => eventRoutes(scope, deps));
  await app.register(async (scope) => webhookRoutes(scope, deps));
  await app.register(async (scope) => budgetRoutes(scope, deps));
  await app.register(async (scope) => toolSigningRoutes(scope, deps));
  await app.register(async (scope) => mcpRoutes(scope, deps));
  await app.register(async (scope) => openAiCompatRoutes(scope, deps));
  await app.register(async (scope) => registerConsolePage(scope));
  return app;
}
