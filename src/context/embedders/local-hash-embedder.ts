import type { Embedder } from '../ports.js';

import { LOCAL_HASH_DIMENSIONS, LOCAL_HASH_MODEL } from '../../config-parsers.js';

export { LOCAL_HASH_DIMENSIONS, LOCAL_HASH_MODEL };

/** Relative weight of each feature class (index = class tag stored in the low 2 bits of a key). */
const WORD = 0;
const BIGRAM = 1;
const TRIGRAM = 2;
const CLASS_WEIGHTS = [1.0, 0.8, 0.4, 0] as const;

/** Boundary markers around a word for its character trigrams; not word characters themselves. */
const BEGIN = 0x02;
const END = 0x03;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** murmur3's 32-bit finaliser: spreads every input bit over the whole word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Which BMP code units are word characters (Unicode letters, numbers and combining marks), built
 * once so that tokenising needs no regular expression or string per character.
 */
let bmpWordChars: Uint8Array | undefined;
function wordCharTable(): Uint8Array {
  if (bmpWordChars) return bmpWordChars;
  const table = new Uint8Array(0x10000);
  const word = /[\p{L}\p{N}\p{M}]/u;
  for (let c = 0; c < 0x10000; c++) {
    if (c < 0x80) {
      table[c] = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) ? 1 : 0;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      table[c] = 2; // surrogate: decided per code point
    } else {
      table[c] = word.test(String.fromCharCode(c)) ? 1 : 0;
    }
  }
  bmpWordChars = table;
  return table;
}

const astralWord = /^[\p{L}\p{N}\p{M}]$/u;
const nonAscii = /[^\x00-\x7f]/;

/** Reusable per-embedder scratch space, grown on demand. */
interface Scratch {
  /** Feature keys of the current text. */
  keys: Uint32Array;
  /** Hash table of distinct keys (0 = empty) with their counts, and the slots in use. */
  slots: Uint32Array;
  counts: Uint32Array;
  used: Uint32Array;
  acc: Float64Array;
}

function grow(scratch: Scratch, needed: number): void {
  if (scratch.keys.length >= needed) return;
  let size = scratch.keys.length;
  while (size < needed) size *= 2;
  scratch.keys = new Uint32Array(size); // contents are per text, nothing to copy
}

/**
 * Embed one text into `out` (length `dims`, zero-filled by the caller). Tokens are maximal runs of
 * Unicode letters, numbers and marks after NFKC and lowercasing. Features: each word, each pair of
 * adjacent words, and the character trigrams of each word padded with boundary markers. Each
 * feature's 32-bit key (FNV-1a, murmur3-finalised) is counted, weighted by class × (1 + ln tf),
 * and added into bucket `hash mod dims` with a sign taken from an independent bit of the hash;
 * the result is L2-normalised. A text without word characters stays all zeros.
 */
function embedOne(input: string, dims: number, scratch: Scratch, out: Float32Array): void {
  const table = wordCharTable();
  let text = nonAscii.test(input) ? input.normalize('NFKC') : input;
  text = text.toLowerCase();
  const length = text.length;
  // Upper bound on features: one word, one bigram and one trigram per code unit, plus slack.
  grow(scratch, 3 * length + 8);
  const keys = scratch.keys;
  let count = 0;
  let previousWord = 0;
  let hasPrevious = false;

  let i = 0;
  while (i < length) {
    // Find the next word [start, end).
    let c = text.charCodeAt(i);
    let kind = table[c]!;
    let width = 1;
    if (kind === 2) {
      const cp = text.codePointAt(i)!;
      width = cp > 0xffff ? 2 : 1;
      kind = width === 2 && astralWord.test(String.fromCodePoint(cp)) ? 1 : 0;
    }
    if (kind === 0) {
      i += width;
      continue;
    }
    const start = i;
    i += width;
    while (i < length) {
      c = text.charCodeAt(i);
      kind = table[c]!;
      width = 1;
      if (kind === 2) {
        const cp = text.codePointAt(i)!;
        width = cp > 0xffff ? 2 : 1;
        kind = width === 2 && astralWord.test(String.fromCodePoint(cp)) ? 1 : 0;
      }
      if (kind === 0) break;
      i += width;
    }
    const end = i;

    // Word unigram.
    let h = FNV_OFFSET;
    for (let j = start; j < end; j++) h = Math.imul(h ^ text.charCodeAt(j), FNV_PRIME);
    const wordHash = fmix32(h);
    keys[count++] = ((wordHash & ~3) | WORD) >>> 0;

    // Word bigram with the previous word.
    if (hasPrevious) {
      const pair = fmix32(Math.imul(previousWord, 0x9e3779b1) ^ wordHash ^ 0x5bd1e995);
      keys[count++] = ((pair & ~3) | BIGRAM) >>> 0;
    }
    previousWord = wordHash;
    hasPrevious = true;

    // Character trigrams over BEGIN + word + END (code units; good enough for hashing).
    let a = BEGIN;
    let b = text.charCodeAt(start);
    for (let j = start + 1; j <= end; j++) {
      const next = j < end ? text.charCodeAt(j) : END;
      let t = Math.imul(FNV_OFFSET ^ 0x7f4a7c15, FNV_PRIME);
      t = Math.imul(t ^ a, FNV_PRIME);
      t = Math.imul(t ^ b, FNV_PRIME);
      t = Math.imul(t ^ next, FNV_PRIME);
      keys[count++] = ((fmix32(t) & ~3) | TRIGRAM) >>> 0;
      a = b;
      b = next;
    }
  }

  if (count === 0) return;

  // Count each distinct feature in an open-addressing table (keys are never 0: see below).
  let capacity = scratch.slots.length;
  if (capacity < count * 2) {
    while (capacity < count * 2) capacity *= 2;
    scratch.slots = new Uint32Array(capacity);
    scratch.counts = new Uint32Array(capacity);
  }
  const slots = scratch.slots;
  const counts = scratch.counts;
  const mask = capacity - 1;
  const used = scratch.used.length >= count ? scratch.used : (scratch.used = new Uint32Array(count * 2));
  let distinct = 0;
  for (let k = 0; k < count; k++) {
    const key = (keys[k]! | 0x80000000) >>> 0; // never 0, so 0 marks an empty slot
    let slot = key & mask;
    for (;;) {
      const held = slots[slot]!;
      if (held === 0) {
        slots[slot] = key;
        counts[slot] = 1;
        used[distinct++] = slot;
        break;
      }
      if (held === key) {
        counts[slot]!++;
        break;
      }
      slot = (slot + 1) & mask;
    }
  }
  const acc = scratch.acc;
  acc.fill(0);
  for (let u = 0; u < distinct; u++) {
    const slot = used[u]!;
    const key = slots[slot]!;
    const tf = counts[slot]!;
    slots[slot] = 0;
    const weight = CLASS_WEIGHTS[key & 3]! * (tf === 1 ? 1 : 1 + Math.log(tf));
    const mixed = fmix32(key ^ 0x27d4eb2f);
    const bucket = (mixed >>> 1) % dims;
    acc[bucket] = acc[bucket]! + ((mixed & 1) === 0 ? weight : -weight);
  }

  let norm = 0;
  for (let d = 0; d < dims; d++) norm += acc[d]! * acc[d]!;
  if (norm === 0) return;
  const scale = 1 / Math.sqrt(norm);
  for (let d = 0; d < dims; d++) out[d] = acc[d]! * scale;
}

/**
 * The built-in embedder (`kairo/hash-384`): deterministic, in-process, no network and no model
 * download. It is LEXICAL, not semantic: texts sharing words, word pairs and word fragments
 * score high; synonyms and paraphrases do not. Good for tests, air-gapped installs and as a
 * baseline; configure a remote model for semantic search.
 *
 * A text with no letters or digits embeds to the zero vector, whose cosine with anything is 0.
 */
export function createLocalHashEmbedder(options: { maxBatchSize?: number } = {}): Embedder {
  const dims = LOCAL_HASH_DIMENSIONS;
  const scratch: Scratch = {
    keys: new Uint32Array(4096),
    slots: new Uint32Array(8192),
    counts: new Uint32Array(8192),
    used: new Uint32Array(4096),
    acc: new Float64Array(dims),
  };
  return {
    model: LOCAL_HASH_MODEL,
    dimensions: dims,
    maxBatchSize: options.maxBatchSize ?? 2048,
    async embed(texts, embedOptions) {
      embedOptions?.signal?.throwIfAborted();
      const vectors: Float32Array[] = new Array(texts.length);
      for (let t = 0; t < texts.length; t++) {
        const out = new Float32Array(dims);
        embedOne(texts[t]!, dims, scratch, out);
        vectors[t] = out;
      }
      return vectors;
    },
  };
}
