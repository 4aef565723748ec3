import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ListOf, toList } from '../schemas.js';
import type { AppDeps } from '../deps.js';

const ModelObject = Type.Object({
  object: Type.Literal('model'),
  id: Type.String(),
  created: Type.Integer({ description: 'Unix seconds when this server started serving the model (the OpenAI clients\' field).' }),
  owned_by: Type.String({ description: 'The provider, as OpenAI\'s clients read it.' }),
  provider: Type.String(),
  display_name: Type.String(),
  context_window: Type.Integer(),
  max_output_tokens: Type.Integer(),
  pricing: Type.Object({ input: Type.Number(), output: Type.Number(), cached_input: Type.Number() }, { description: 'USD per million tokens.' }),
  capabilities: Type.Object({ tools: Type.Boolean(), streaming: Type.Boolean(), vision: Type.Boolean(), json_output: Type.Boolean() }),
  quality: Type.Integer(),
  speed: Type.Integer(),
  strengths: Type.Array(Type.String()),
  available: Type.Boolean({ description: 'Usable in live mode (its provider is configured). Test mode runs every model on the simulator.' }),
});

/** `GET /v1/models`: the catalogue with capabilities, context windows and prices. */
export async function modelRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/v1/models', {
    schema: { operationId: 'models.list', description: 'The model catalogue: capabilities, context window and prices per million tokens. Any key may call it.', tags: ['Models'], summary: 'Available models: capabilities, context window, prices', response: { 200: ListOf(ModelObject) } },
  }, async () => {
    const created = Math.floor(deps.startedAt / 1000);
    return toList(
      deps.catalogue.list().map((m) => ({
        object: 'model' as const,
        id: m.id,
        created,
        owned_by: m.provider,
        provider: m.provider,
        display_name: m.displayName,
        context_window: m.contextWindow,
        max_output_tokens: m.maxOutputTokens,
        pricing: { input: m.pricing.input, output: m.pricing.output, cached_input: m.pricing.cachedInput },
        capabilities: { tools: m.capabilities.tools, streaming: m.capabilities.streaming, vision: m.capabilities.vision, json_output: m.capabilities.jsonOutput },
        quality: m.quality,
        speed: m.speed,
        strengths: m.strengths,
        available: m.available,
      })),
      false,
    );
  });
}
