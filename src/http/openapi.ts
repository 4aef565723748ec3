import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { ErrorResponse } from './schemas.js';

/**
 * The OpenAPI 3.1 document is generated from the route schemas (one source of truth) and served
 * at /v1/openapi.json; /docs renders it. Must be registered before the routes.
 */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  app.addSchema(ErrorResponse);

  // Every authenticated route documents its security and the standard error responses.
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/v1/')) return;
    const schema = (route.schema ??= {}) as Record<string, any>;
    const errors = { $ref: 'ErrorResponse#', description: 'Error in the standard shape.' };
    schema.response = { ...(schema.response ?? {}), '4xx': errors, '5xx': errors };
    if (!route.config?.public) schema.security = [{ bearerAuth: [] }];
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'KAIRO API',
        version,
        description:
          'Versioned REST API for KAIRO agents, workflows, context and analytics. ' +
          'Authenticate with `Authorization: Bearer sk_live_…` or `sk_test_…`.',
      },
      servers: [{ url: '/' }],
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'sk_live_… or sk_test_…' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  app.get('/v1/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
}
