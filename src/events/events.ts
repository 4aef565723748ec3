import { KairoError } from '../errors.js';
import { isId, newId } from '../ids.js';
import type { EventFilter, Page, PageRequest, Repos, Scope, Store, StoredEvent } from '../store/port.js';
import { toTimestamp } from '../timestamps.js';
import type { EventType } from './event-types.js';

/** A change to report: what happened, to which object (as the API shows it), and what caused it. */
export interface NewEvent {
  type: EventType;
  /** The object as the API shows it after the change. */
  object: { id: string } & Record<string, unknown>;
  /** The fields that changed, with their values before (as the API shows them). */
  previousAttributes?: Record<string, unknown>;
  /** An object the event's object belongs to (a run's agent, a document's source), for filtering. */
  relatedId?: string | null;
  /** The API request that made the change; null or absent for background work. */
  requestId?: string | null;
}

/**
 * Writes events with the change they report: pass the transaction that makes the change, so an
 * event exists exactly when its change committed.
 */
export async function recordEvents(repos: Pick<Repos, 'events'>, scope: Scope, events: NewEvent[], now = Date.now()): Promise<StoredEvent[]> {
  const stored = events.map((event): StoredEvent => ({
    id: newId('evt'),
    scope,
    type: event.type,
    createdAt: now,
    requestId: event.requestId ?? null,
    objectId: event.object.id,
    relatedId: event.relatedId ?? null,
    payload: { object: event.object, ...(event.previousAttributes ? { previous_attributes: event.previousAttributes } : {}) },
  }));
  await repos.events.insert(stored);
  return stored;
}

/** An event as the API shows it (and as webhooks will deliver it). */
export function eventView(event: StoredEvent) {
  return {
    id: event.id,
    object: 'event' as const,
    type: event.type,
    created_at: toTimestamp(event.createdAt),
    livemode: event.scope.livemode,
    request_id: event.requestId,
    data: event.payload,
  };
}

/** Reading a workspace's events. */
export class EventService {
  constructor(private readonly store: Store) {}

  list(scope: Scope, filter: EventFilter, page: PageRequest): Promise<Page<StoredEvent>> {
    return this.store.events.list(scope, filter, page);
  }

  async get(scope: Scope, id: string): Promise<StoredEvent> {
    const event = isId('evt', id) ? await this.store.events.get(scope, id) : undefined;
    if (!event) throw new KairoError('resource_missing', { param: 'id', message: `No such event: '${id}'.` });
    return event;
  }
}
