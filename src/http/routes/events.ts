import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { eventView } from '../../events/events.js';
import { EVENT_TYPE_ITEM, parseEventTypes } from '../../events/event-types.js';
import { authOf } from '../plugins/auth.js';
import { IdParams, ListOf, PaginationQuery, StrictObject, Timestamp, toList } from '../schemas.js';
import type { AppDeps } from '../deps.js';

const EventObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('event'),
  type: Type.String({ description: 'What happened, e.g. `agent.run.completed` (docs/events.md lists every type).' }),
  created_at: Timestamp,
  livemode: Type.Boolean(),
  request_id: Type.Union([Type.String(), Type.Null()], { description: 'The API request that caused the change; null for background work.' }),
  data: Type.Object({
    object: Type.Object({ id: Type.String() }, { additionalProperties: true, description: 'The object as it was right after the change.' }),
    previous_attributes: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'The fields that changed, with their values before.' })),
  }),
});

const time = (value: string | undefined): number | undefined => (value === undefined ? undefined : Date.parse(value));

/** Events: what changed in the workspace, newest first. */
export async function eventRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { events } = deps.events;
  const tags = ['Events'];

  app.get('/v1/events', {
    schema: {
      operationId: 'events.list',
      tags, summary: 'List events, newest first',
      description: 'Every state change of runs, documents, sources and API keys, written with the change itself. Kept 30 days by default. Also the audit trail of key changes.',
      querystring: StrictObject({
        ...PaginationQuery.properties,
        type: Type.Optional(Type.String({
          maxLength: 1000, pattern: `^(${EVENT_TYPE_ITEM})(,(${EVENT_TYPE_ITEM})){0,29}$`,
          description: 'Comma-separated event types (up to 30); `*` selects every type and `agent.run.*` every type under a prefix.',
        })),
        object_id: Type.Optional(Type.String({ pattern: '^[a-z]+_[0-9a-z]{26}$', description: 'Only events about this object or about objects that belong to it (e.g. an agent\'s runs).' })),
        start: Type.Optional(Type.String({ format: 'date-time', description: 'Only events created at or after this time.' })),
        end: Type.Optional(Type.String({ format: 'date-time', description: 'Only events created before this time.' })),
      }),
      response: { 200: ListOf(EventObject) },
    },
  }, async (request) => {
    const q = request.query;
    const page = await events.list(
      authOf(request).scope,
      { types: parseEventTypes(q.type, 'type'), objectId: q.object_id, createdFrom: time(q.start), createdTo: time(q.end) },
      { limit: q.limit ?? 20, after: q.after, before: q.before },
    );
    return toList(page.data.map(eventView), page.hasMore);
  });

  app.get('/v1/events/:id', {
    schema: { operationId: 'events.retrieve', description: 'One event with the object as it was after the change.', tags, summary: 'Get an event', params: IdParams('An event id (evt_…).'), response: { 200: EventObject } },
  }, async (request) => eventView(await events.get(authOf(request).scope, request.params.id)));
}
