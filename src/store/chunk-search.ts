/**
 * Dialect-neutral helpers of the chunk repositories (src/store/sqlite/sqlite-chunk-repo.ts,
 * src/store/postgres/postgres-chunk-repo.ts): query-term extraction for full-text search and
 * vector normalisation.
 */

/** Most terms one keyword query uses; the rest are ignored (they only slow an OR query down). */
export const MAX_QUERY_TERMS = 32;
/** Longest term kept, in characters (longer runs are not words anyone searches for). */
const MAX_TERM_LENGTH = 64;
/** Largest `k` either search honours. */
export const MAX_K = 1000;

/**
 * Words too common to help an OR query: every chunk has them, so they only add work and noise
 * (PostgreSQL's ts_rank_cd has no IDF to discount them). Dropped unless nothing else is left.
 */
const STOPWORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have he her his how i if in into is it ' +
    'its me my no not of on or our she so than that the their them then there these they this those to us was we ' +
    'were what when where which who whom why will with would you your'
  ).split(' '),
);

/**
 * The words of a user's query: runs of letters, digits and combining marks, lowercased and
 * deduplicated, in order. Everything else (quotes, operators, punctuation) separates words, so
 * no input can carry query syntax into FTS5 or tsquery.
 */
export function searchTerms(text: string): string[] {
  const words = (typeof text === 'string' ? text : '').toLowerCase().match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
  const unique = [...new Set(words.filter((w) => w.length <= MAX_TERM_LENGTH))];
  const meaningful = unique.filter((w) => !STOPWORDS.has(w));
  return (meaningful.length > 0 ? meaningful : unique).slice(0, MAX_QUERY_TERMS);
}

/** Distinct, non-empty source ids. */
export function distinctIds(ids: readonly string[]): string[] {
  return [...new Set(ids.filter((id) => typeof id === 'string' && id.length > 0))];
}

/** `k` as a whole number in [0, MAX_K]. */
export function clampK(k: number): number {
  if (!Number.isFinite(k)) return 0;
  return Math.max(0, Math.min(MAX_K, Math.floor(k)));
}

/** The vector scaled to unit length, or undefined when it has no direction (zero or not finite). */
export function normalised(vector: Float32Array): Float32Array | undefined {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
  const norm = Math.sqrt(sum);
  if (!Number.isFinite(norm) || norm === 0) return undefined;
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! / norm;
  return out;
}

/** Throws when a chunk's embedding cannot be indexed (a bug in the embedder, not user input). */
export function assertEmbedding(chunkId: string, embedding: Float32Array, maxDimensions: number): void {
  if (!(embedding instanceof Float32Array) || embedding.length === 0 || embedding.length > maxDimensions) {
    throw new Error(`Chunk ${chunkId}: embedding must be a Float32Array of 1..${maxDimensions} dimensions`);
  }
  for (let i = 0; i < embedding.length; i++) {
    if (!Number.isFinite(embedding[i]!)) throw new Error(`Chunk ${chunkId}: embedding has a non-finite value`);
  }
}

/** Orders hits best first (ties by id, so results are stable) and keeps the first `k`. */
export function topK<T extends { chunkId: string; score: number }>(hits: T[], k: number): T[] {
  return hits
    .sort((a, b) => b.score - a.score || (a.chunkId < b.chunkId ? -1 : a.chunkId > b.chunkId ? 1 : 0))
    .slice(0, k);
}
