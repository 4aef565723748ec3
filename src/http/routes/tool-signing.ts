import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ToolSigningSecret } from '../../agents/tool-signing-secret.js';
import { authOf } from '../plugins/auth.js';
import { Nullable, StrictObject, toNullableTimestamp } from '../schemas.js';
import type { AppDeps } from '../deps.js';

const SigningSecretObject = Type.Object({
  object: Type.Literal('tool_signing_secret'),
  livemode: Type.Boolean(),
  secret: Type.String({ description: '`whsec_…`: verify the `webhook-signature` of http tool calls with it (Standard Webhooks).' }),
  created_at: Nullable('string', { format: 'date-time', description: 'null for a secret made before rotation existed.' }),
  previous_secret_expires_at: Nullable('string', { format: 'date-time', description: 'Until then the replaced secret signs every call too.' }),
});

function view(secret: ToolSigningSecret, livemode: boolean) {
  return {
    object: 'tool_signing_secret' as const,
    livemode,
    secret: secret.secret,
    created_at: secret.createdAt === 0 ? null : toNullableTimestamp(secret.createdAt),
    previous_secret_expires_at: toNullableTimestamp(secret.previousExpiresAt),
  };
}

/** The secret that signs `http` tool calls (one per workspace and mode): read it, rotate it. */
export async function toolSigningRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/v1/tool_signing_secret', {
    schema: {
      operationId: 'tool_signing_secret.retrieve',
      tags: ['Agents'],
      summary: 'The secret that signs http tool calls',
      description: 'One per workspace and mode (the mode of the calling key), made on first use. Receivers verify each call\'s `webhook-signature` with it.',
      response: { 200: SigningSecretObject },
    },
  }, async (request) => {
    const auth = authOf(request);
    return view(await deps.agents.signingSecrets.get(auth.scope), auth.livemode);
  });

  app.post('/v1/tool_signing_secret/rotate', {
    schema: {
      operationId: 'tool_signing_secret.rotate',
      tags: ['Agents'],
      summary: 'Replace the secret that signs http tool calls',
      description: 'For `overlap_seconds` (default 86400, at most 7 days; 0: none) the replaced secret signs every call too, beside the new one, so receivers can switch without missing a call.',
      body: StrictObject({ overlap_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 24 * 3600 })) }),
      response: { 200: SigningSecretObject },
    },
  }, async (request) => {
    const auth = authOf(request);
    return view(await deps.agents.signingSecrets.rotate(auth.scope, request.body.overlap_seconds ?? 86_400), auth.livemode);
  });
}
