import { KairoError } from '../errors.js';
import { ComputeError, type ProcessPool, type PoolStats } from '../compute/process-pool.js';
import type { Scope } from '../store/port.js';
import { DocumentParseError, type ChunkingOptions, type DocumentFailureCode, type ParsedDocument, type ParseLimits, type TextChunk } from './ports.js';

/** One document to parse in a worker: its bytes, or the temporary file an upload was streamed to. */
export interface ParseTask {
  bytes?: Uint8Array;
  file?: string;
  contentType: string | undefined;
  filename: string | undefined;
  limits: ParseLimits;
}

export type ParseTaskResult = { ok: true; title: string | null; text: string } | { ok: false; code: DocumentFailureCode; message: string };

/** A document's chunks with the SHA-256 of each one's embedding input, and their vectors when the built-in model embedded them. */
export interface ChunkedText {
  chunks: Array<TextChunk & { hash: string }>;
  vectors?: Float32Array[];
}

/** A document to parse: its bytes, or the file an upload was streamed to, and what the client said of it. */
export interface ParseInput {
  bytes?: Buffer | undefined;
  file?: string | undefined;
  contentType?: string | undefined;
  filename?: string | undefined;
}

/** Small documents of one request up to this many bytes together go to a worker in one task. */
const BATCH_MAX_BYTES = 1024 * 1024;

function parsedOrError(result: ParseTaskResult): ParsedDocument | DocumentParseError {
  return result.ok ? { title: result.title, text: result.text } : new DocumentParseError(result.code, result.message);
}

export interface DocumentWorkOptions {
  /** The pool's heap limit and task time, to name them in errors. */
  heapMb: number;
  timeoutMs: number;
  limits: ParseLimits;
}

/**
 * The heavy part of ingestion — parsing, chunking, token counting, built-in embedding — done in
 * the compute pool's worker processes, queued fairly per workspace. A document that needs more
 * memory or time than a worker allows fails as `document_too_large` or `document_timeout`; the
 * worker is replaced and the server goes on. The pool is shared with other areas and closed by
 * whoever made it.
 */
export class DocumentWork {
  constructor(
    private readonly pool: ProcessPool,
    private readonly options: DocumentWorkOptions,
  ) {}

  /** Parses a document; throws DocumentParseError for anything about the input (including its size and time). */
  async parse(scope: Scope, input: ParseInput): Promise<ParsedDocument> {
    const outcome = parsedOrError(await this.run<ParseTaskResult>(scope, 'parse', [this.task(input)]));
    if (outcome instanceof DocumentParseError) throw outcome;
    return outcome;
  }

  private task(input: ParseInput): ParseTask {
    return { bytes: input.bytes, file: input.file, contentType: input.contentType, filename: input.filename, limits: this.options.limits };
  }

  /**
   * Parses documents in order until the first that fails: its DocumentParseError ends the list.
   * Small documents go to a worker together, one round trip for all; should that batch outgrow a
   * worker, they are parsed one by one, so that the failure names its document.
   */
  async parseAll(scope: Scope, inputs: ParseInput[]): Promise<Array<ParsedDocument | DocumentParseError>> {
    const small = inputs.length > 1 && inputs.every((input) => input.bytes !== undefined) && inputs.reduce((sum, input) => sum + input.bytes!.length, 0) <= BATCH_MAX_BYTES;
    if (small) {
      try {
        const results = await this.run<ParseTaskResult[]>(scope, 'parseMany', [inputs.map((input) => this.task(input))]);
        const outcomes = results.map(parsedOrError);
        const failed = outcomes.findIndex((outcome) => outcome instanceof DocumentParseError);
        return failed < 0 ? outcomes : outcomes.slice(0, failed + 1);
      } catch (error) {
        if (!(error instanceof DocumentParseError)) throw error;
      }
    }
    const outcomes: Array<ParsedDocument | DocumentParseError> = [];
    for (const input of inputs) {
      const outcome = parsedOrError(await this.run<ParseTaskResult>(scope, 'parse', [this.task(input)]).catch((error: unknown) => {
        if (error instanceof DocumentParseError) return { ok: false as const, code: error.code, message: error.message };
        throw error;
      }));
      outcomes.push(outcome);
      if (outcome instanceof DocumentParseError) break;
    }
    return outcomes;
  }

  /** Chunks several documents of one source in one task (when together they are small), else one by one. */
  async chunkAll(scope: Scope, texts: string[], options: ChunkingOptions, embedLocally: boolean): Promise<ChunkedText[]> {
    if (texts.length > 1 && texts.reduce((sum, text) => sum + text.length, 0) <= BATCH_MAX_BYTES) {
      return this.run<ChunkedText[]>(scope, 'chunkMany', [texts, { maxTokens: options.maxTokens, overlapTokens: options.overlapTokens }, embedLocally]);
    }
    const results: ChunkedText[] = [];
    for (const text of texts) results.push(await this.chunk(scope, text, options, embedLocally));
    return results;
  }

  /** Cuts a document's text into chunks (and embeds them with the built-in model when `embedLocally`). */
  chunk(scope: Scope, text: string, options: ChunkingOptions, embedLocally: boolean): Promise<ChunkedText> {
    return this.run<ChunkedText>(scope, 'chunk', [text, { maxTokens: options.maxTokens, overlapTokens: options.overlapTokens }, embedLocally]);
  }

  stats(): PoolStats {
    return this.pool.stats();
  }

  private async run<T>(scope: Scope, method: string, args: unknown[]): Promise<T> {
    try {
      return await this.pool.run<T>(scope.workspaceId, method, args);
    } catch (error) {
      if (!(error instanceof ComputeError)) throw error;
      switch (error.reason) {
        case 'out_of_memory':
          throw new DocumentParseError('document_too_large', `Processing the document needed more than the ${this.options.heapMb} MB of memory a worker has (--compute-heap-mb / KAIRO_COMPUTE_HEAP_MB).`);
        case 'timeout':
          throw new DocumentParseError('document_timeout', `Processing the document took longer than the ${this.options.timeoutMs} ms allowed (--document-timeout / KAIRO_DOCUMENT_TIMEOUT_MS).`);
        case 'crashed':
          throw new DocumentParseError('document_unreadable', 'The document could not be processed: its worker process ended unexpectedly.');
        case 'busy':
          throw new KairoError('server_busy', { message: `${error.message} Retry when some are done.`, headers: { 'Retry-After': '5' }, cause: error });
        case 'closed':
          throw new KairoError('service_unavailable', { cause: error });
      }
    }
  }
}
