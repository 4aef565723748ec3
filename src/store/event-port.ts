/** The storage port of events: what changed in a workspace, written with the change itself. */
import type { Page, PageRequest, Scope } from './platform-port.js';

/**
 * One state change a customer cares about. `payload` is the event's `data` as the API shows it
 * (the object as it was then, and its previous attributes where useful), rendered when the
 * change was made so that reading or delivering it later shows that moment, not today's object.
 */
export interface StoredEvent {
  id: string;
  scope: Scope;
  type: string;
  createdAt: number;
  /** The request that caused the change, if a request did. */
  requestId: string | null;
  /** The id of the object the event is about (`data.object.id`). */
  objectId: string;
  /** An object it belongs to (a run's agent or workflow, a document's source), for filtering. */
  relatedId: string | null;
  payload: EventData;
}

/** An event's `data`: the object right after the change, and the changed fields' values before it. */
export interface EventData {
  object: { id: string } & Record<string, unknown>;
  previous_attributes?: Record<string, unknown>;
}

/** Which events a list holds (every field narrows it). */
export interface EventFilter {
  /** Exact types, or prefixes ending in `.` for wildcards (`agent.run.` for `agent.run.*`); any of them. */
  types?: Array<{ exact: string } | { prefix: string }>;
  /** Created in [createdFrom, createdTo). */
  createdFrom?: number;
  createdTo?: number;
  /** Events about this object or about objects that belong to it. */
  objectId?: string;
}

export interface EventRepo {
  /** Writes events (call inside the transaction of the change they report). */
  insert(events: StoredEvent[]): Promise<void>;
  /** Events of any workspace by id (for background delivery); those no longer kept are left out. */
  getMany(ids: string[]): Promise<StoredEvent[]>;
  get(scope: Scope, id: string): Promise<StoredEvent | undefined>;
  /** Newest first. */
  list(scope: Scope, filter: EventFilter, page: PageRequest): Promise<Page<StoredEvent>>;
  /** Deletes up to `limit` events created before `before`; returns how many. */
  purge(before: number, limit: number): Promise<number>;
}
