import { KairoError } from '../errors.js';
import { isId, newId } from '../ids.js';
import type { ContextSource, Page, PageRequest, Scope, SourceType, Store } from '../store/port.js';
import type { EmbedderRegistry } from './ports.js';
import type { StorageUsage } from './storage-usage.js';

/** Settings of an `http` source: a JSON endpoint flattened into documents. */
export interface HttpSourceConfig {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body: string | null;
  /** Dot path to the array of items in the response (empty: the response itself). */
  itemsPath: string | null;
  idField: string | null;
  titleField: string | null;
  /** Fields that make the document text (empty: every field). */
  textFields: string[];
  /** Fields copied into document metadata for filtering. */
  metadataFields: string[];
}

export interface SourceInput {
  name: string;
  type: SourceType;
  description?: string | null;
  embeddingModel?: string;
  chunking?: { maxTokens?: number; overlapTokens?: number };
  urls?: string[];
  http?: Partial<HttpSourceConfig> & { url: string };
  refreshIntervalSeconds?: number | null;
  metadata?: Record<string, string>;
}

/**
 * A change of an `http` source's settings: the fields given replace the stored ones; each header
 * given replaces the stored one of that name (null removes it); `body: null` removes the body.
 * A header or body sent back as `"[redacted]"` (as responses show them) keeps the stored value.
 */
export type HttpSourceUpdate = Partial<Omit<HttpSourceConfig, 'headers' | 'body'>> & {
  headers?: Record<string, string | null>;
  body?: string | null;
};

/** How responses show write-only values. */
export const REDACTED = '[redacted]';

export interface SourceUpdate {
  name?: string;
  description?: string | null;
  urls?: string[];
  http?: HttpSourceUpdate;
  refreshIntervalSeconds?: number | null;
  metadata?: Record<string, string>;
}

export const DEFAULT_CHUNK_MAX_TOKENS = 512;
export const DEFAULT_CHUNK_OVERLAP_TOKENS = 64;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

function checkName(name: string): void {
  if (!NAME_PATTERN.test(name) || name.startsWith('src_')) {
    throw new KairoError('parameter_invalid', {
      message: 'Invalid name: use 1–100 letters, digits, "_", "." or "-", starting with a letter or digit (and not "src_").',
      param: 'name',
    });
  }
}

function checkUrl(value: string, param: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new KairoError('parameter_invalid', { message: `Invalid ${param}: not a URL.`, param });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new KairoError('parameter_invalid', { message: `Invalid ${param}: only http and https URLs can be fetched.`, param });
  }
  if (url.username || url.password) {
    throw new KairoError('parameter_invalid', { message: `Invalid ${param}: credentials in URLs are not allowed; use headers.`, param });
  }
}

function typeConfig(type: SourceType, input: { urls?: string[] | undefined; http?: Partial<HttpSourceConfig> | undefined }): Record<string, unknown> {
  if (type === 'documents') {
    if (input.urls !== undefined) throw new KairoError('parameter_invalid', { message: 'urls is only for sources of type url.', param: 'urls' });
    if (input.http !== undefined) throw new KairoError('parameter_invalid', { message: 'http is only for sources of type http.', param: 'http' });
    return {};
  }
  if (type === 'url') {
    if (input.http !== undefined) throw new KairoError('parameter_invalid', { message: 'http is only for sources of type http.', param: 'http' });
    if (!input.urls || input.urls.length === 0) throw new KairoError('parameter_missing', { message: 'A url source needs urls.', param: 'urls' });
    input.urls.forEach((u, i) => checkUrl(u, `urls[${i}]`));
    return { urls: [...new Set(input.urls)] };
  }
  if (input.urls !== undefined) throw new KairoError('parameter_invalid', { message: 'urls is only for sources of type url.', param: 'urls' });
  if (!input.http) throw new KairoError('parameter_missing', { message: 'An http source needs http.url.', param: 'http' });
  if (input.http.url === undefined) throw new KairoError('parameter_missing', { message: 'An http source needs http.url.', param: 'http.url' });
  checkUrl(input.http.url, 'http.url');
  const config: HttpSourceConfig = {
    url: input.http.url,
    method: input.http.method ?? 'GET',
    headers: input.http.headers ?? {},
    body: input.http.body ?? null,
    itemsPath: input.http.itemsPath ?? null,
    idField: input.http.idField ?? null,
    titleField: input.http.titleField ?? null,
    textFields: input.http.textFields ?? [],
    metadataFields: input.http.metadataFields ?? [],
  };
  return config as unknown as Record<string, unknown>;
}

/** Most headers an http source keeps. */
const MAX_HTTP_HEADERS = 20;

/** An http source's stored settings with a change merged over them (see HttpSourceUpdate). */
function mergeHttp(current: HttpSourceConfig, update: HttpSourceUpdate): Partial<HttpSourceConfig> {
  const { headers: headerChanges, body, ...fields } = update;
  const merged: Partial<HttpSourceConfig> = { ...current, ...definedOnly(fields) };
  if (headerChanges !== undefined) {
    const headers = { ...current.headers };
    for (const [name, value] of Object.entries(headerChanges)) {
      // Header names are case-insensitive: the one given replaces the stored one however spelled.
      const stored = Object.keys(headers).find((key) => key.toLowerCase() === name.toLowerCase());
      if (value === REDACTED) {
        if (stored === undefined) throw new KairoError('parameter_invalid', { message: `http.headers.${name} is "${REDACTED}" but the source has no such header to keep.`, param: `http.headers.${name}` });
        continue;
      }
      if (stored !== undefined) delete headers[stored];
      if (value !== null) headers[name] = value;
    }
    if (Object.keys(headers).length > MAX_HTTP_HEADERS) {
      throw new KairoError('parameter_invalid', { message: `An http source keeps at most ${MAX_HTTP_HEADERS} headers (remove one with null).`, param: 'http.headers' });
    }
    merged.headers = headers;
  }
  if (body !== undefined && body !== REDACTED) merged.body = body;
  if (body === REDACTED && current.body === null) throw new KairoError('parameter_invalid', { message: `http.body is "${REDACTED}" but the source has no body to keep.`, param: 'http.body' });
  return merged;
}

/** The fields that were given (a partial update leaves the others as they are). */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkRefresh(type: SourceType, seconds: number | null | undefined): number | null {
  if (seconds === undefined || seconds === null) return null;
  if (type === 'documents') {
    throw new KairoError('parameter_invalid', {
      message: 'refresh_interval_seconds is only for url and http sources.',
      param: 'refresh_interval_seconds',
    });
  }
  return seconds;
}

/** Context sources of a workspace: create, read, change, delete. */
export class SourceService {
  constructor(
    private readonly store: Store,
    private readonly embedders: EmbedderRegistry,
    private readonly now: () => number = Date.now,
    private readonly storage?: StorageUsage,
  ) {}

  async create(scope: Scope, input: SourceInput): Promise<ContextSource> {
    checkName(input.name);
    const model = input.embeddingModel ?? this.embedders.defaultModel;
    const embedder = this.embedders.get(model);
    if (!embedder) {
      const available = this.embedders.list().map((m) => m.model).join(', ');
      throw new KairoError('parameter_invalid', { message: `Unknown embedding_model "${model}". Available: ${available}.`, param: 'embedding_model' });
    }
    const maxTokens = input.chunking?.maxTokens ?? DEFAULT_CHUNK_MAX_TOKENS;
    const overlapTokens = input.chunking?.overlapTokens ?? Math.min(DEFAULT_CHUNK_OVERLAP_TOKENS, Math.floor(maxTokens / 4));
    if (overlapTokens * 2 >= maxTokens) {
      throw new KairoError('parameter_invalid', { message: 'chunking.overlap_tokens must be less than half of max_tokens.', param: 'chunking.overlap_tokens' });
    }
    const refreshIntervalSeconds = checkRefresh(input.type, input.refreshIntervalSeconds);
    const config = typeConfig(input.type, input);
    const now = this.now();
    if (await this.store.contextSources.getByName(scope, input.name)) throw this.nameTaken(input.name);
    const source: ContextSource = {
      id: newId('src'),
      scope,
      name: input.name,
      type: input.type,
      description: input.description ?? null,
      embeddingModel: model,
      embeddingDimensions: embedder.dimensions,
      chunkMaxTokens: maxTokens,
      chunkOverlapTokens: overlapTokens,
      config,
      metadata: input.metadata ?? {},
      refreshIntervalSeconds,
      lastRefreshAt: null,
      // Fetched sources are refreshed once right after creation.
      nextRefreshAt: input.type === 'documents' ? null : now,
      lastRefreshError: null,
      refreshLockedUntil: null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      return await this.store.contextSources.create(source);
    } catch (error) {
      if (await this.store.contextSources.getByName(scope, input.name)) throw this.nameTaken(input.name);
      throw error;
    }
  }

  /** A source by id (`src_…`) or by name. */
  async resolve(scope: Scope, idOrName: string, param = 'id'): Promise<ContextSource> {
    const source = isId('src', idOrName)
      ? await this.store.contextSources.get(scope, idOrName)
      : await this.store.contextSources.getByName(scope, idOrName);
    if (!source) throw new KairoError('resource_missing', { message: `No such context source: '${idOrName}'.`, param });
    return source;
  }

  list(scope: Scope, page: PageRequest): Promise<Page<ContextSource>> {
    return this.store.contextSources.list(scope, page);
  }

  async update(scope: Scope, idOrName: string, update: SourceUpdate): Promise<{ source: ContextSource; refetch: boolean }> {
    const source = await this.resolve(scope, idOrName);
    if (update.name !== undefined && update.name !== source.name) {
      checkName(update.name);
      if (await this.store.contextSources.getByName(scope, update.name)) throw this.nameTaken(update.name);
    }
    // Build the new row from a fresh read: a refresh that finished meanwhile has moved its
    // bookkeeping (lock, last and next refresh), which must not be written back stale.
    const current = (await this.store.contextSources.get(scope, source.id)) ?? source;
    const now = this.now();
    const next: ContextSource = { ...current, updatedAt: now };
    if (update.name !== undefined) next.name = update.name;
    if (update.description !== undefined) next.description = update.description;
    if (update.metadata !== undefined) next.metadata = update.metadata;
    let refetch = false;
    if (update.urls !== undefined || update.http !== undefined) {
      // `http` is merged into the current settings: headers and body are write-only (shown
      // redacted), so a client changing items_path could not send them back. The merged
      // settings are checked whole, as on create.
      const http = update.http && current.type === 'http' ? mergeHttp(current.config as unknown as HttpSourceConfig, update.http) : update.http;
      next.config = typeConfig(current.type, { urls: update.urls, http: http as Partial<HttpSourceConfig> | undefined });
      next.nextRefreshAt = now;
      refetch = true;
    }
    if (update.refreshIntervalSeconds !== undefined) {
      next.refreshIntervalSeconds = checkRefresh(current.type, update.refreshIntervalSeconds);
      // A source never fetched yet keeps its pending first fetch.
      if (!refetch && current.lastRefreshAt !== null) {
        next.nextRefreshAt = next.refreshIntervalSeconds === null ? null : current.lastRefreshAt + next.refreshIntervalSeconds * 1000;
      }
    }
    try {
      return { source: await this.store.contextSources.update(next), refetch };
    } catch (error) {
      if (update.name && (await this.store.contextSources.getByName(scope, update.name))) throw this.nameTaken(update.name);
      throw error;
    }
  }

  /** Deletes the source, its documents, chunks and index entries in one transaction. */
  async delete(scope: Scope, idOrName: string): Promise<ContextSource> {
    const source = await this.resolve(scope, idOrName);
    await this.store.transaction(async (tx) => {
      await tx.contextChunks.deleteForSource(source.id);
      await tx.contextSources.delete(scope, source.id);
    });
    this.storage?.changed(scope.workspaceId);
    return source;
  }

  private nameTaken(name: string): KairoError {
    return new KairoError('source_name_taken', { message: `A context source named '${name}' already exists in this workspace.`, param: 'name' });
  }
}
