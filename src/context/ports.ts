/**
 * Contracts inside the context area, so that parsing, chunking, embedding and fetching can be
 * built and tested apart from the pipeline that joins them.
 */
import { KairoError } from '../errors.js';

/** Turns texts into vectors of a fixed dimension. */
export interface Embedder {
  /** Public model id as sources name it, e.g. `kairo/hash-384` or `openai/text-embedding-3-small`. */
  readonly model: string;
  readonly dimensions: number;
  /** Largest number of texts one `embed` call accepts; the pipeline batches by it. */
  readonly maxBatchSize: number;
  /** One vector per text, L2-normalised, in input order. Throws EmbeddingError on failure. */
  embed(texts: string[], options?: { signal?: AbortSignal }): Promise<Float32Array[]>;
}

/** An embedding call that failed (`embedding_failed`); `retryable` for rate limits, 5xx and timeouts. */
export class EmbeddingError extends KairoError {
  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super('embedding_failed', { message, retryable, cause: options?.cause });
    this.name = 'EmbeddingError';
  }
}

/** Embedding models the operator configured, by id. */
export interface EmbedderRegistry {
  /** The embedder, or undefined for an unknown model id. */
  get(model: string): Embedder | undefined;
  /** Every available model with its dimension. */
  list(): Array<{ model: string; dimensions: number; provider: string }>;
  /** The model new sources use when they name none. */
  readonly defaultModel: string;
}

/** A document as parsed: plain text with Markdown-style headings kept (`# Title`), and a title if found. */
export interface ParsedDocument {
  title: string | null;
  text: string;
}

/** Why a document could not be turned into text; every one is the input's doing. */
export type DocumentFailureCode = 'unsupported_file_type' | 'document_unreadable' | 'document_empty' | 'document_too_large' | 'document_timeout';

/** Parsing failed because of the input (unsupported type, corrupt file, empty, over a limit): a client error. */
export class DocumentParseError extends Error {
  constructor(readonly code: DocumentFailureCode, message: string) {
    super(message);
    this.name = 'DocumentParseError';
  }
}

/** What parsing one document may take; going over one is `document_too_large`, naming the setting. */
export interface ParseLimits {
  maxPdfPages: number;
  maxCsvCells: number;
  maxDocumentChars: number;
}

/** One chunk as cut by the chunker. */
export interface TextChunk {
  position: number;
  text: string;
  tokenCount: number;
  /** The nearest heading above the chunk (e.g. "Pricing > Enterprise"), if any. */
  heading: string | null;
}

export interface ChunkingOptions {
  maxTokens: number;
  overlapTokens: number;
}

export { FetchError, type FetchResult, type SafeFetcher } from '../net/fetch-types.js';
