/**
 * The context area's heavy work: parsing documents, chunking and counting tokens, and embedding
 * with the built-in model. These run in the compute pool's worker processes (see
 * document-work.ts and src/compute-worker.ts), never on the server's event loop.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { chunkText, embeddingInput } from './chunker.js';
import { createLocalHashEmbedder } from './embedders/local-hash-embedder.js';
import { parseDocument } from './parse/index.js';
import { DocumentParseError, type ChunkingOptions, type DocumentFailureCode } from './ports.js';
import type { ChunkedText, ParseTask, ParseTaskResult } from './document-work.js';

/** Parses one document; failures caused by the input come back as a result, not a throw. */
export async function parseTask(task: ParseTask): Promise<ParseTaskResult> {
  try {
    const bytes = task.file !== undefined ? await readFile(task.file) : Buffer.from(task.bytes!.buffer, task.bytes!.byteOffset, task.bytes!.byteLength);
    const parsed = await parseDocument({ bytes, contentType: task.contentType, filename: task.filename }, task.limits);
    return { ok: true, title: parsed.title, text: parsed.text };
  } catch (error) {
    if (error instanceof DocumentParseError) return { ok: false, code: error.code as DocumentFailureCode, message: error.message };
    throw error;
  }
}

/** Parses several small documents in one task (one round trip), each with its own outcome. */
export async function parseManyTask(tasks: ParseTask[]): Promise<ParseTaskResult[]> {
  const results: ParseTaskResult[] = [];
  for (const task of tasks) results.push(await parseTask(task));
  return results;
}

let embedder: ReturnType<typeof createLocalHashEmbedder> | undefined;

/** Chunks a document's text, hashing each chunk's embedding input, and embeds it with the built-in model when asked. */
export async function chunkTask(text: string, options: ChunkingOptions, embedLocally: boolean): Promise<ChunkedText> {
  const pieces = chunkText(text, options);
  const inputs = pieces.map((piece) => embeddingInput(piece.heading, piece.text));
  const chunks = pieces.map((piece, i) => ({ ...piece, hash: createHash('sha256').update(inputs[i]!).digest('hex') }));
  if (!embedLocally) return { chunks };
  embedder ??= createLocalHashEmbedder();
  return { chunks, vectors: await embedder.embed(inputs) };
}

/** Chunks (and embeds) several small documents of one source in one task. */
export async function chunkManyTask(texts: string[], options: ChunkingOptions, embedLocally: boolean): Promise<ChunkedText[]> {
  const results: ChunkedText[] = [];
  for (const text of texts) results.push(await chunkTask(text, options, embedLocally));
  return results;
}
