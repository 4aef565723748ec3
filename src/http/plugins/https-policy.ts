import type { FastifyInstance } from 'fastify';
import { KairoError } from '../../errors.js';

/**
 * Behind a trusted proxy, only requests the proxy received over HTTPS are served
 * (`X-Forwarded-Proto: https`). Answered with 403 rather than a redirect: by the time a redirect
 * is sent, the API key has already crossed the network in clear text.
 */
export function registerHttpsPolicy(app: FastifyInstance, options: { trustProxy: boolean }): void {
  if (!options.trustProxy) return;
  app.addHook('onRequest', async (request) => {
    if (request.protocol !== 'https') throw new KairoError('https_required');
  });
}
