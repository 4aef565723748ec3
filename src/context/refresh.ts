import { KairoError } from '../errors.js';
import { recordEvents } from '../events/events.js';
import type { Queue } from '../queue/port.js';
import type { ContextSource, Store } from '../store/port.js';
import { FetchError, type SafeFetcher } from './ports.js';
import type { HttpSourceConfig } from './sources.js';
import type { IngestItem, IngestService } from './ingest.js';
import { sourceView } from './views.js';

export const REFRESH_SOURCE_JOB = 'context.refresh_source';

/** A refresh job's payload: `due` is set for a scheduled refresh. */
export interface RefreshJob {
  sourceId: string;
  workspaceId?: string;
  due?: number | null;
}
/** A refresh holds its source's lock this long at most (a crashed refresher's lock lapses). */
const REFRESH_LOCK_MS = 10 * 60 * 1000;
const MAX_HTTP_ITEMS = 10_000;
/** A refresh that finds another one running waits for it by retrying (2 s, 4 s, 8 s, …). */
const REFRESH_JOB_OPTIONS = { maxAttempts: 8, backoffMs: 2_000 };

/** What one refresh did. */
export interface RefreshOutcome {
  /** False when another refresh of the source holds its lock (try again later). */
  ran: boolean;
  /** A scheduled refresh whose due time has passed already: another one ran (or replaced) it. */
  stale: boolean;
  fetched: number;
  unchanged: number;
  updated: number;
  removed: number;
  error: string | null;
}

function at(value: unknown, path: string | null): unknown {
  if (!path) return value;
  let current = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function scalar(value: unknown): string | number | boolean | undefined {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return undefined;
}

/** `key: value` lines, nested keys as dot paths: readable for people and for models. */
function flatten(value: unknown, prefix = '', lines: string[] = []): string[] {
  if (value === null || typeof value !== 'object') {
    if (value !== undefined && value !== null && value !== '') lines.push(prefix ? `${prefix}: ${String(value)}` : String(value));
    return lines;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, lines));
    return lines;
  }
  for (const [key, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${key}` : key, lines);
  return lines;
}

/** Items of an http source's JSON response, as documents. */
export function itemsToDocuments(json: unknown, config: HttpSourceConfig): IngestItem[] {
  const found = at(json, config.itemsPath);
  const items = Array.isArray(found) ? found : found === undefined ? [] : [found];
  return items.slice(0, MAX_HTTP_ITEMS).map((item, index) => {
    const record = item !== null && typeof item === 'object' ? (item as Record<string, unknown>) : { value: item };
    const id = config.idField ? scalar(at(record, config.idField)) : undefined;
    const title = config.titleField ? scalar(at(record, config.titleField)) : undefined;
    const picked = config.textFields.length > 0 ? Object.fromEntries(config.textFields.map((f) => [f, at(record, f)])) : record;
    const metadata: Record<string, string | number | boolean> = {};
    for (const field of config.metadataFields) {
      const value = scalar(at(record, field));
      if (value !== undefined) metadata[field] = value;
    }
    return {
      externalId: id !== undefined ? String(id) : `item-${index}`,
      title: title !== undefined ? String(title) : undefined,
      text: flatten(picked).join('\n'),
      contentType: 'text/plain',
      metadata,
      url: config.url,
    };
  });
}

/**
 * Live sources: fetches a url or http source and brings its documents up to date. Conditional
 * GET and content hashes keep it incremental: unchanged pages and items are not re-embedded. A
 * lock on the source makes sure two refreshes of one source never run at once, even across
 * processes.
 */
export class RefreshService {
  constructor(
    private readonly store: Store,
    private readonly queue: Queue,
    private readonly ingest: IngestService,
    private readonly fetcher: SafeFetcher,
    private readonly now: () => number = Date.now,
  ) {}

  /** Queues a refresh now (an explicit request: it runs even if one ran a moment ago). */
  async request(source: ContextSource): Promise<string> {
    this.checkRefreshable(source);
    return this.queue.enqueue(REFRESH_SOURCE_JOB, { sourceId: source.id, workspaceId: source.scope.workspaceId } satisfies RefreshJob, REFRESH_JOB_OPTIONS);
  }

  /**
   * Queues the refresh due at the source's `nextRefreshAt`. The job id names the due time, so
   * the scheduler of every process (and a create or update that just set the time) queue it once.
   */
  async requestDue(source: ContextSource): Promise<string> {
    this.checkRefreshable(source);
    // A lock still set on a due source is one whose refresher died (dueForRefresh skips live
    // locks). Its due job may have given up meanwhile; naming the dead lock in the id lets the
    // due time be queued again, once, instead of never.
    const lock = source.refreshLockedUntil !== null ? `_lock${source.refreshLockedUntil}` : '';
    return this.queue.enqueue(REFRESH_SOURCE_JOB, { sourceId: source.id, workspaceId: source.scope.workspaceId, due: source.nextRefreshAt } satisfies RefreshJob, {
      ...REFRESH_JOB_OPTIONS,
      jobId: `refresh_${source.id}_due${source.nextRefreshAt}${lock}`,
    });
  }

  /** Queues every refresh whose time has come. */
  async enqueueDue(limit = 100): Promise<number> {
    const due = await this.store.contextSources.dueForRefresh(this.now(), limit);
    for (const source of due) await this.requestDue(source);
    return due.length;
  }

  private checkRefreshable(source: ContextSource): void {
    if (source.type === 'documents') {
      throw new KairoError('parameter_invalid', { message: 'Only url and http sources can be refreshed; push documents to update a documents source.', param: 'id' });
    }
  }

  /**
   * Fetches the source and brings its documents up to date. With `due` (a scheduled refresh),
   * does nothing when the source's next refresh time is no longer that time: the refresh due
   * then ran already (another process, a retry) or was replaced by a newer request.
   */
  async refresh(sourceId: string, signal?: AbortSignal, options: { due?: number | null } = {}): Promise<RefreshOutcome> {
    const outcome: RefreshOutcome = { ran: false, stale: false, fetched: 0, unchanged: 0, updated: 0, removed: 0, error: null };
    const isStale = (source: ContextSource | undefined) => options.due !== undefined && (!source || source.nextRefreshAt !== options.due);
    if (isStale(await this.store.contextSources.getById(sourceId))) return { ...outcome, stale: true };
    const start = this.now();
    if (!(await this.store.contextSources.lockRefresh(sourceId, start, start + REFRESH_LOCK_MS))) return outcome;
    let source: ContextSource | undefined;
    let handBack = false;
    try {
      source = await this.store.contextSources.getById(sourceId);
      // The due refresh finished between the first look and the lock: hand the lock back untouched.
      if (source && isStale(source)) {
        handBack = true;
        await this.store.contextSources.update({ ...source, refreshLockedUntil: null });
        return { ...outcome, stale: true };
      }
      outcome.ran = true;
      if (!source) return outcome;
      const failures: string[] = [];
      const items = source.type === 'url' ? await this.fetchPages(source, outcome, failures, signal) : await this.fetchItems(source, outcome, signal);
      const prepared = [];
      const seen = new Set<string>();
      for (const item of items) {
        const label = item.url ?? item.externalId ?? '?';
        if (item.externalId !== undefined && seen.has(item.externalId)) {
          failures.push(`${label}: more than one item has the id '${item.externalId}'; the first was kept.`);
          continue;
        }
        if (item.externalId !== undefined) seen.add(item.externalId);
        if (item.text === undefined && item.bytes === undefined) continue;
        // One page that cannot be parsed (empty, unsupported type) keeps its previous version and
        // does not hold back the others.
        try {
          prepared.push(...(await this.ingest.prepare(source.scope, [item], 'items')));
        } catch (error) {
          if (!(error instanceof KairoError)) throw error;
          failures.push(`${label}: ${error.message}`);
        }
      }
      const result = await this.ingest.ingest(source.scope, source, prepared, { background: false });
      for (const document of result.documents) {
        if (document.status === 'failed') failures.push(`${document.url ?? document.externalId ?? document.id}: ${document.errorMessage ?? document.errorCode}`);
      }
      outcome.updated = result.changed;
      outcome.unchanged = Math.max(0, items.length - result.changed - failures.length);
      outcome.removed = await this.removeVanished(source, items);
      if (failures.length > 0) {
        const what = source.type === 'url' ? 'pages' : 'items';
        outcome.error = `${failures.length} of ${items.length} ${what} failed (their previous versions are kept): ${failures.slice(0, 5).join(' ')}${failures.length > 5 ? ' …' : ''}`;
      }
    } catch (error) {
      outcome.error = error instanceof Error ? error.message : String(error);
    } finally {
      const finished = this.now();
      const interval = source?.refreshIntervalSeconds;
      if (!handBack) {
        await this.store.transaction(async (tx) => {
          await tx.contextSources.finishRefresh(sourceId, { at: finished, error: outcome.error, nextRefreshAt: interval ? finished + interval * 1000 : null });
          const refreshed = await tx.contextSources.getById(sourceId);
          if (!refreshed) return;
          const counts = await tx.contextDocuments.countBySource(sourceId);
          const type = outcome.error === null ? 'context.source.refreshed' : 'context.source.refresh_failed';
          await recordEvents(tx, refreshed.scope, [{ type, object: sourceView(refreshed, counts, finished) }], finished);
        });
      }
    }
    return outcome;
  }

  private async fetchPages(source: ContextSource, outcome: RefreshOutcome, failures: string[], signal?: AbortSignal): Promise<IngestItem[]> {
    const urls = (source.config.urls as string[] | undefined) ?? [];
    const items: IngestItem[] = [];
    for (const url of urls) {
      const previous = await this.store.contextDocuments.getByExternalId(source.id, url);
      // Ask "changed since?" only about a page whose last version was indexed: a page that failed
      // (or is still queued) must come back whole, else a 304 would leave it unindexed forever.
      const validators = previous?.status === 'indexed' ? { etag: previous.etag, lastModified: previous.lastModified } : {};
      let response;
      try {
        response = await this.fetcher.fetch(url, { ...validators, signal });
      } catch (error) {
        if (!(error instanceof FetchError)) throw error;
        // This page keeps its previous version (listed, so not removed); the others go on.
        failures.push(error.message.includes(url) ? error.message : `${url}: ${error.message}`);
        items.push({ externalId: url });
        continue;
      }
      outcome.fetched++;
      if (response.notModified && previous) {
        // Keep the document: listed so it is not removed, with no content to re-parse.
        items.push({ externalId: url });
        continue;
      }
      items.push({
        externalId: url,
        url: response.url,
        bytes: response.body,
        contentType: response.headers['content-type']?.split(';')[0]?.trim() || 'text/html',
        filename: new URL(response.url).pathname.split('/').pop() || undefined,
        etag: response.headers.etag ?? null,
        lastModified: response.headers['last-modified'] ?? null,
      });
    }
    return items;
  }

  private async fetchItems(source: ContextSource, outcome: RefreshOutcome, signal?: AbortSignal): Promise<IngestItem[]> {
    const config = source.config as unknown as HttpSourceConfig;
    const response = await this.fetcher.fetch(config.url, {
      method: config.method,
      headers: { accept: 'application/json', ...config.headers, ...(config.body ? { 'content-type': 'application/json' } : {}) },
      body: config.body ?? undefined,
      signal,
    });
    outcome.fetched++;
    let json: unknown;
    try {
      json = JSON.parse(response.body.toString('utf8'));
    } catch {
      throw new FetchError('bad_status', `The endpoint ${config.url} did not return JSON.`, response.status);
    }
    return itemsToDocuments(json, config);
  }

  /** Deletes documents whose page or item is no longer in the source. */
  private async removeVanished(source: ContextSource, items: IngestItem[]): Promise<number> {
    const keep = new Set(items.map((i) => i.externalId));
    let removed = 0;
    for (const document of await this.store.contextDocuments.listAllIds(source.id)) {
      if (document.externalId !== null && keep.has(document.externalId)) continue;
      await this.store.transaction(async (tx) => {
        await tx.contextChunks.deleteForDocument(document.id);
        await tx.contextDocuments.delete(document.id);
      });
      removed++;
    }
    return removed;
  }
}
