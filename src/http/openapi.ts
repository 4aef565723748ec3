import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { ErrorCode } from '../errors.js';
import { ErrorResponse } from './schemas.js';
import { OpenAiErrorResponse } from './openai-errors.js';
import { completeOperation, documentPath, routeFacts, sharedComponents, type RouteFacts } from './openapi-operations.js';
import { registerDocsPage } from './docs-page.js';
import { addExamples } from './openapi-examples.js';

/** The areas of the API, in the order the reference shows them; every operation names one as its tag. */
export const apiTags = [
  { name: 'Agents', description: 'Agents: a model, instructions, tools and context, versioned on every configuration change. Also the secret that signs http tool calls.' },
  { name: 'Runs', description: 'Running an agent: wait for the result, stream its events, or run it in the background; cancel it, answer its tool calls and approvals, read its thread.' },
  { name: 'Workflows', description: 'Workflows of steps (agents, tools, branches, approvals) with cron schedules, and their runs.' },
  { name: 'Context', description: 'Context sources and their documents, indexed for retrieval by agents, and search over them.' },
  { name: 'Models', description: 'The model catalogue: capabilities, context windows and prices.' },
  { name: 'Analytics', description: 'Usage, costs, latency and per-model figures over time, run traces, and the request log.' },
  { name: 'Events', description: 'What changed in the workspace, written with the change.' },
  { name: 'Webhooks', description: 'Endpoints that receive events as they happen, signed and retried.' },
  { name: 'Budgets', description: 'USD or token limits per day or month for the workspace, a key or an agent.' },
  { name: 'API keys', description: 'Secret keys, standard or restricted to some areas, with an optional rate limit of their own.' },
  { name: 'MCP', description: 'The Model Context Protocol endpoint: agents and workflows as tools, context sources as resources, for any MCP client.' },
  { name: 'Platform', description: 'The workspace of the calling key: its plan, limits and usage.' },
  { name: 'Status', description: 'Health and uptime of the service; needs no API key.' },
  { name: 'OpenAI compatibility', description: 'OpenAI\'s Chat Completions and Responses APIs over agents and models, for OpenAI clients; errors in OpenAI\'s shape (docs/openai-compatibility.md).' },
];

/**
 * The OpenAPI 3.1 document is generated from the route schemas (one source of truth) and served
 * at /v1/openapi.json; /docs renders it. What the schemas do not say per route — security,
 * headers, the event-stream variant, every error response with its codes — is derived from each
 * route's method, path and config when the document is built (src/http/openapi-operations.ts),
 * so a new route gets it all by declaring its operationId and tags. Must be registered before the routes.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  app.addSchema(ErrorResponse);
  app.addSchema(OpenAiErrorResponse);

  const routes = new Map<string, RouteFacts>();
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/')) return;
    const schema = (route.schema ??= {}) as Record<string, any>;
    // What Fastify serializes error bodies with; the document lists the statuses one by one instead.
    const errors = { $ref: 'ErrorResponse#', description: 'Error in the standard shape.' };
    schema.response = { ...(schema.response ?? {}), '4xx': errors, '5xx': errors };
    for (const facts of routeFacts(route)) routes.set(`${facts.method} ${documentPath(facts.url)}`, facts);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'KAIRO API',
        version,
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
        description:
          'Versioned REST API for KAIRO agents, workflows, context and analytics. ' +
          'Authenticate with `Authorization: Bearer sk_live_…` or `sk_test_…`. ' +
          'Every error has the shape of `ErrorResponse`; its `code` is stable (the codes of each status are listed per operation).',
      },
      servers: [{ url: '/' }],
      tags: apiTags,
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'sk_live_… or sk_test_…' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });

  let document: Record<string, any> | undefined;
  const completeDocument = () => {
    if (document) return document;
    const generated = structuredClone(app.swagger()) as Record<string, any>;
    const codes = new Set<ErrorCode>();
    const tags = new Set(apiTags.map((tag) => tag.name));
    for (const [path, item] of Object.entries<Record<string, any>>(generated.paths ?? {})) {
      for (const [method, operation] of Object.entries<Record<string, any>>(item)) {
        const facts = routes.get(`${method.toUpperCase()} ${path}`);
        if (facts) for (const code of completeOperation(operation, facts)) codes.add(code);
        describeMultipartBody(operation);
        addExamples(operation);
        // A tag no area above describes still gets listed, so that the reference shows its operations.
        for (const tag of operation.tags ?? []) {
          if (!tags.has(tag)) generated.tags.push({ name: tag });
          tags.add(tag);
        }
      }
    }
    generated.components = { ...generated.components, ...sharedComponents(codes) };
    document = generated;
    return document;
  };

  app.get('/v1/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => completeDocument());
  registerDocsPage(app);
}

/**
 * A route that takes files says what its `multipart/form-data` parts are in `x-multipart-body`
 * (its JSON body schema serves the JSON variant only), so that clients generated from the
 * document send file parts.
 */
function describeMultipartBody(operation: Record<string, any>): void {
  const parts = operation['x-multipart-body'];
  if (parts === undefined) return;
  delete operation['x-multipart-body'];
  const content = operation.requestBody?.content;
  // A new media type object: the generator shares one between both media types.
  if (content?.['multipart/form-data']) content['multipart/form-data'] = { ...content['multipart/form-data'], schema: parts };
}
