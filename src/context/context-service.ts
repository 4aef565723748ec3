import type { JobContext, Queue } from '../queue/port.js';
import type { AreaModule, AreaRunning, BackgroundErrors } from '../area-module.js';
import type { Store } from '../store/port.js';
import { RetryLaterError, UnrecoverableError } from '../errors.js';
import type { RunSlots } from '../platform/run-slots.js';
import { EmbeddingError, type EmbedderRegistry, type SafeFetcher } from './ports.js';
import { SourceService } from './sources.js';
import { DocumentIndexer } from './indexer.js';
import { INDEX_DOCUMENT_JOB, IngestService, indexingFailure, type IndexJob } from './ingest.js';
import type { DocumentWork } from './document-work.js';
import { REFRESH_SOURCE_JOB, RefreshService, type RefreshJob } from './refresh.js';
import { RetrievalService } from './retrieval.js';
import { StorageUsage } from './storage-usage.js';
import { DocumentService } from './documents.js';

export interface ContextDeps {
  store: Store;
  queue: Queue;
  embedders: EmbedderRegistry;
  fetcher: SafeFetcher;
  /** Parsing, chunking and built-in embedding in the compute pool's worker processes. */
  work: DocumentWork;
  /** Largest uploaded file and largest ingest request, in bytes. */
  uploadLimits: UploadLimits;
  /** The per-workspace cap on background ingestion jobs running at once. */
  ingestionSlots: RunSlots;
  now?: () => number;
  /** How often to look for due scheduled refreshes (default 15 s). */
  schedulerIntervalMs?: number;
}

/** How long a background ingestion job of a workspace at its cap waits before it looks for a slot again (plus up to as much again, so waiting jobs spread out). */
const INGESTION_SLOT_RETRY_MS = 1000;

/** How much one ingest request may upload. */
export interface UploadLimits {
  maxFileBytes: number;
  maxUploadBytes: number;
}

/** The context area: sources, ingestion, indexing, live refresh and retrieval. */
export class ContextService implements AreaModule {
  readonly sources: SourceService;
  readonly indexer: DocumentIndexer;
  readonly ingest: IngestService;
  readonly documents: DocumentService;
  readonly refresh: RefreshService;
  readonly retrieval: RetrievalService;
  readonly embedders: EmbedderRegistry;
  readonly work: DocumentWork;
  readonly uploadLimits: UploadLimits;
  readonly storage: StorageUsage;

  constructor(private readonly deps: ContextDeps) {
    const now = deps.now ?? Date.now;
    this.embedders = deps.embedders;
    this.work = deps.work;
    this.uploadLimits = deps.uploadLimits;
    this.storage = new StorageUsage(deps.store, undefined, now);
    this.sources = new SourceService(deps.store, deps.embedders, now, this.storage);
    this.indexer = new DocumentIndexer(deps.store, deps.embedders, deps.work, now);
    this.documents = new DocumentService(deps.store, this.storage);
    this.ingest = new IngestService(deps.store, deps.queue, this.indexer, deps.work, now, this.storage);
    this.refresh = new RefreshService(deps.store, deps.queue, this.ingest, deps.fetcher, now);
    this.retrieval = new RetrievalService(deps.store, this.sources, deps.embedders);
  }

  /** Registers the background jobs of the context area (call before queue.start()). */
  registerJobs(queue: Queue): void {
    queue.register<IndexJob>(INDEX_DOCUMENT_JOB, async (job) => {
      // Jobs queued before the payload named the workspace look it up.
      const workspaceId = job.payload.workspaceId ?? (await this.deps.store.contextDocuments.getById(job.payload.documentId))?.scope.workspaceId;
      return this.inIngestionSlot(workspaceId, () => this.indexJob(job));
    });
    queue.register<RefreshJob>(REFRESH_SOURCE_JOB, async (job) => {
      const workspaceId = job.payload.workspaceId ?? (await this.deps.store.contextSources.getById(job.payload.sourceId))?.scope.workspaceId;
      return this.inIngestionSlot(workspaceId, async () => {
        const outcome = await this.refresh.refresh(job.payload.sourceId, job.signal, job.payload.due === undefined ? {} : { due: job.payload.due });
        // Another refresh of the source is running: try again after it (the queue backs off).
        if (!outcome.ran && !outcome.stale) throw new Error('A refresh of this source is already running.');
        return outcome;
      });
    });
  }

  /** Runs a background ingestion job in one of its workspace's slots; at the plan's cap, the job waits its turn. */
  private async inIngestionSlot<T>(workspaceId: string | undefined, work: () => Promise<T>): Promise<T> {
    const workspace = workspaceId === undefined ? undefined : await this.deps.store.workspaces.get(workspaceId);
    // A document or source deleted meanwhile: the job finds that out itself.
    if (!workspace) return work();
    const slot = await this.deps.ingestionSlots.acquire(workspace);
    if (!slot) throw new RetryLaterError(this.deps.ingestionSlots.fullMessage(workspace), INGESTION_SLOT_RETRY_MS * (1 + Math.random()));
    try {
      return await work();
    } finally {
      await slot.release();
    }
  }

  private async indexJob(job: JobContext<IndexJob>) {
    const { documentId, version } = job.payload;
    try {
      const outcome = await this.indexer.index(documentId, { version, signal: job.signal });
      return outcome ? { chunks: outcome.chunks, embedded: outcome.embedded } : { skipped: true };
    } catch (error) {
      const failure = indexingFailure(error);
      if (!failure) {
        // An accepted document must end indexed or failed, never stay "indexing": on the last
        // attempt, say why it failed (unless the queue is only stopping; a restart retries it).
        if (job.attempt >= job.maxAttempts && !job.signal.aborted) {
          await this.indexer.markFailed(documentId, 'indexing_failed', 'The document could not be indexed; ingest it again.', version).catch(() => {});
        }
        throw error;
      }
      if (error instanceof EmbeddingError && error.retryable && job.attempt < job.maxAttempts) throw error;
      await this.indexer.markFailed(documentId, failure.code, failure.message, version);
      throw new UnrecoverableError(failure.message);
    }
  }

  /** Enqueues due scheduled refreshes now and periodically. */
  start(onError: BackgroundErrors): AreaRunning {
    const report = onError('scheduled refreshes not enqueued');
    const tick = () => void this.refresh.enqueueDue().catch(report);
    tick();
    const timer = setInterval(tick, this.deps.schedulerIntervalMs ?? 15_000);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
}
