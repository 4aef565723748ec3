import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { webhookDeliveryView, webhookEndpointView } from '../../webhooks/views.js';
import { authOf } from '../plugins/auth.js';
import { IdParams, ListOf, Nullable, PaginationQuery, StrictObject, Timestamp, toList } from '../schemas.js';
import type { AppDeps } from '../deps.js';

const Status = Type.Union([Type.Literal('enabled'), Type.Literal('disabled')], { description: 'A disabled endpoint receives nothing; KAIRO disables one whose deliveries all failed for its mode\'s window.' });

const EndpointObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('webhook_endpoint'),
  url: Type.String(),
  enabled_events: Type.Array(Type.String(), { description: 'Event types this endpoint receives; `*` and `agent.run.*` style wildcards.' }),
  description: Type.Union([Type.String(), Type.Null()]),
  status: Status,
  livemode: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
  secret: Type.Optional(Type.String({ description: 'The signing secret (`whsec_…`), in the create and rotate_secret responses only.' })),
});

const DeliveryObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('webhook_delivery'),
  endpoint_id: Type.String(),
  event_id: Type.String(),
  event_type: Type.String(),
  attempt: Type.Integer({ description: '1 for the first attempt of the event to this endpoint; retries and redeliveries count on.' }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  response_status: Nullable('integer', { description: 'The HTTP status the endpoint answered; null without an answer.' }),
  latency_ms: Nullable('integer', { description: 'How long the attempt took; null while pending.' }),
  error: Nullable('string', { description: 'Why the attempt failed.' }),
  created_at: Timestamp,
  next_attempt_at: Nullable('string', { format: 'date-time', description: 'Pending: when the attempt is due. Failed: when the retry is due, null if none.' }),
});

const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'An http(s) URL with a public address (unless the operator allows private ranges).' });
const EnabledEvents = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 100, description: 'Event types; `*` for all, `agent.run.*` for every type under a prefix.' });
const Description = Type.Union([Type.String({ maxLength: 500 }), Type.Null()]);

/** Webhook endpoints: where events are delivered, signed (docs/events.md#webhooks). */
export async function webhookRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { endpoints } = deps.webhooks;
  const tags = ['Webhooks'];
  const params = IdParams('A webhook endpoint id (we_…).');

  app.post('/v1/webhook_endpoints', {
    schema: {
      operationId: 'webhook_endpoints.create',
      tags, summary: 'Create a webhook endpoint',
      description: 'Events of the types it enables are delivered to it as they happen, signed with its secret, which is in this response only.',
      body: StrictObject({ url: Url, enabled_events: EnabledEvents, description: Type.Optional(Description) }),
      response: { 201: EndpointObject },
    },
  }, async (request, reply) => {
    const { body } = request;
    const created = await endpoints.create(authOf(request).scope, { url: body.url, enabledEvents: body.enabled_events, description: body.description });
    return reply.code(201).send(webhookEndpointView(created.endpoint, created.secret));
  });

  app.get('/v1/webhook_endpoints', {
    schema: { operationId: 'webhook_endpoints.list', description: 'The webhook endpoints of the workspace and mode, newest first. Secrets are not shown.', tags, summary: 'List webhook endpoints, newest first', querystring: PaginationQuery, response: { 200: ListOf(EndpointObject) } },
  }, async (request) => {
    const q = request.query;
    const page = await endpoints.list(authOf(request).scope, { limit: q.limit ?? 20, after: q.after, before: q.before });
    return toList(page.data.map((e) => webhookEndpointView(e)), page.hasMore);
  });

  app.get('/v1/webhook_endpoints/:id', {
    schema: { operationId: 'webhook_endpoints.retrieve', description: 'The endpoint\'s URL, event types and status, without its secret.', tags, summary: 'Get a webhook endpoint', params, response: { 200: EndpointObject } },
  }, async (request) => webhookEndpointView(await endpoints.get(authOf(request).scope, request.params.id)));

  app.patch('/v1/webhook_endpoints/:id', {
    schema: {
      operationId: 'webhook_endpoints.update',
      tags, summary: 'Update a webhook endpoint',
      description: 'Fields sent are changed; status `enabled` re-enables a disabled endpoint.',
      params,
      body: StrictObject({ url: Type.Optional(Url), enabled_events: Type.Optional(EnabledEvents), description: Type.Optional(Description), status: Type.Optional(Status) }),
      response: { 200: EndpointObject },
    },
  }, async (request) => {
    const { body } = request;
    const endpoint = await endpoints.update(authOf(request).scope, request.params.id, {
      url: body.url, enabledEvents: body.enabled_events, description: body.description, status: body.status,
    });
    return webhookEndpointView(endpoint);
  });

  app.delete('/v1/webhook_endpoints/:id', {
    schema: {
      operationId: 'webhook_endpoints.delete', description: 'No event is delivered to the endpoint any more; its delivery attempts are deleted with it.',
      tags, summary: 'Delete a webhook endpoint and its delivery attempts', params,
      response: { 200: Type.Object({ object: Type.Literal('webhook_endpoint'), id: Type.String(), deleted: Type.Literal(true) }) },
    },
  }, async (request) => {
    const endpoint = await endpoints.delete(authOf(request).scope, request.params.id);
    return { object: 'webhook_endpoint' as const, id: endpoint.id, deleted: true as const };
  });

  app.post('/v1/webhook_endpoints/:id/rotate_secret', {
    schema: {
      operationId: 'webhook_endpoints.rotate_secret',
      tags, summary: 'Rotate a webhook endpoint\'s secret',
      description: 'Returns the new secret (this response only). The previous one also signs for `expire_previous_in_seconds` (default 24 h, 0: stops now): deliveries carry both signatures meanwhile.',
      params,
      body: StrictObject({ expire_previous_in_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 24 * 60 * 60 })) }),
      response: { 200: EndpointObject },
    },
  }, async (request) => {
    const rotated = await endpoints.rotateSecret(authOf(request).scope, request.params.id, request.body.expire_previous_in_seconds);
    return webhookEndpointView(rotated.endpoint, rotated.secret);
  });

  app.get('/v1/webhook_endpoints/:id/deliveries', {
    schema: {
      operationId: 'webhook_endpoints.deliveries.list', description: 'Each attempt to deliver an event to the endpoint, newest first: its status, the HTTP status the endpoint answered, latency and error.',
      tags, summary: 'List a webhook endpoint\'s delivery attempts, newest first',
      params,
      querystring: StrictObject({
        ...PaginationQuery.properties,
        event_id: Type.Optional(Type.String({ pattern: '^evt_[0-9a-z]{26}$', description: 'Only attempts of this event.' })),
      }),
      response: { 200: ListOf(DeliveryObject) },
    },
  }, async (request) => {
    const q = request.query;
    const page = await endpoints.deliveries(authOf(request).scope, request.params.id, { eventId: q.event_id }, { limit: q.limit ?? 20, after: q.after, before: q.before });
    return toList(page.data.map(webhookDeliveryView), page.hasMore);
  });

  app.post('/v1/events/:id/redeliver', {
    schema: {
      operationId: 'events.redeliver',
      tags, summary: 'Deliver an event again',
      description: 'Queues one more attempt (not retried) to every enabled endpoint that receives the event\'s type, or to `endpoint_id` only, which must.',
      params: IdParams('An event id (evt_…).'),
      body: StrictObject({ endpoint_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })) }),
      response: { 202: ListOf(DeliveryObject) },
    },
  }, async (request, reply) => {
    const queued = await endpoints.redeliver(authOf(request).scope, request.params.id, request.body.endpoint_id);
    return reply.code(202).send(toList(queued.map(webhookDeliveryView), false));
  });
}
