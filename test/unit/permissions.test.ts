import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { tempDir } from '../support/services.js';
import { registerAuth } from '../../src/http/plugins/auth.js';
import { platformRoutes } from '../../src/http/routes/platform.js';
import { contextRoutes } from '../../src/http/routes/context.js';
import { agentRoutes } from '../../src/http/routes/agents.js';
import { workflowRoutes } from '../../src/http/routes/workflows.js';
import { modelRoutes } from '../../src/http/routes/models.js';
import { analyticsRoutes } from '../../src/http/routes/analytics.js';
import { eventRoutes } from '../../src/http/routes/events.js';
import { toolSigningRoutes } from '../../src/http/routes/tool-signing.js';
import { openAiCompatRoutes } from '../../src/http/routes/openai-compat.js';
import type { Authenticator } from '../../src/platform/authenticate.js';
import { MemoryRateLimiter } from '../../src/limits/memory-rate-limiter.js';
import {
  allows, completePermissions, parsePermissions, permissionAreas, requiredPermission, withinPermissions,
} from '../../src/platform/permissions.js';

/** Registering routes reads the settings; every other dependency is used by handlers only, and none runs here. */
const config = loadConfig({ dataDir: tempDir(), logLevel: 'silent' }, {});
const unusedDeps: any = new Proxy(() => unusedDeps, {
  get: (_, name) => {
    if (name === 'config') return config;
    if (name === 'uploadLimits') return { maxUploadBytes: config.bodyLimitBytes, maxFileBytes: config.bodyLimitBytes };
    return name === 'then' ? undefined : unusedDeps;
  },
});

async function appWithAuth(): Promise<{ app: FastifyInstance; routes: Array<{ method: string; url: string; isPublic: boolean }> }> {
  const app = Fastify();
  const routes: Array<{ method: string; url: string; isPublic: boolean }> = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, isPublic: Boolean(route.config?.public) });
  });
  registerAuth(app, { authenticator: {} as Authenticator, rateLimiter: new MemoryRateLimiter() });
  return { app, routes };
}

describe('the permission table', () => {
  it('resolves every registered /v1 route to a permission or to the open routes', async () => {
    const { app, routes } = await appWithAuth();
    for (const register of [platformRoutes, contextRoutes, agentRoutes, workflowRoutes, modelRoutes, analyticsRoutes, eventRoutes, toolSigningRoutes, openAiCompatRoutes]) {
      await app.register(async (scope) => register(scope, unusedDeps));
    }
    await app.ready();
    const secured = routes.filter((route) => route.url.startsWith('/v1/') && !route.isPublic);
    expect(secured.length).toBeGreaterThan(40);
    const unresolved = secured.filter((route) => requiredPermission(route.method, route.url) === undefined);
    expect(unresolved).toEqual([]);
    await app.close();
  });

  it('refuses to register a /v1 route it does not know', async () => {
    const { app } = await appWithAuth();
    expect(() => app.get('/v1/unknown_things', async () => ({}))).toThrow(/permission/);
    await app.close();
  });

  it('maps methods and prefixes to areas and levels', () => {
    expect(requiredPermission('GET', '/v1/agents/:id')).toEqual({ area: 'agents', access: 'read' });
    expect(requiredPermission('HEAD', '/v1/threads/:id/messages')).toEqual({ area: 'agents', access: 'read' });
    expect(requiredPermission('POST', '/v1/agents/:id/runs')).toEqual({ area: 'agents', access: 'write' });
    expect(requiredPermission('POST', '/v1/context/query')).toEqual({ area: 'context', access: 'read' });
    expect(requiredPermission('POST', '/v1/context/sources')).toEqual({ area: 'context', access: 'write' });
    expect(requiredPermission('GET', '/v1/requests/:id')).toEqual({ area: 'analytics', access: 'read' });
    expect(requiredPermission('DELETE', '/v1/webhook_endpoints/:id')).toEqual({ area: 'webhooks', access: 'write' });
    expect(requiredPermission('PATCH', '/v1/budgets/:id')).toEqual({ area: 'budgets', access: 'write' });
    expect(requiredPermission('DELETE', '/v1/api_keys/:id')).toEqual({ area: 'api_keys', access: 'write' });
    // OpenAI-compatible completions run agents (or models): they need agents:write, reading a response agents:read.
    expect(requiredPermission('POST', '/v1/chat/completions')).toEqual({ area: 'agents', access: 'write' });
    expect(requiredPermission('POST', '/v1/responses')).toEqual({ area: 'agents', access: 'write' });
    expect(requiredPermission('GET', '/v1/responses/:id')).toEqual({ area: 'agents', access: 'read' });
    for (const url of ['/v1/workspace', '/v1/models', '/v1/models/:id', '/v1/status', '/v1/openapi.json']) {
      expect(requiredPermission('GET', url)).toBe('open');
    }
    expect(requiredPermission('POST', '/v1/workspace')).toBeUndefined();
    expect(requiredPermission('GET', '/v1/agentsx')).toBeUndefined();
  });

  it('orders levels: write includes read, and a key grants at most its own', () => {
    const reader = completePermissions(Object.fromEntries(permissionAreas.map((area) => [area, 'read'])));
    expect(allows(reader, { area: 'events', access: 'read' })).toBe(true);
    expect(allows(reader, { area: 'events', access: 'write' })).toBe(false);
    expect(allows(completePermissions({}), { area: 'events', access: 'read' })).toBe(false);
    expect(allows(null, { area: 'events', access: 'write' })).toBe(true);
    expect(withinPermissions(completePermissions({ agents: 'read' }), reader)).toBe(true);
    expect(withinPermissions(completePermissions({ agents: 'write' }), reader)).toBe(false);
    expect(withinPermissions(null, reader)).toBe(false);
    expect(withinPermissions(reader, null)).toBe(true);
    expect(parsePermissions('{"agents":"write","unknown":"write"}')).toEqual(completePermissions({ agents: 'write' }));
  });
});
