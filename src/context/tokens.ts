/**
 * Token counting for chunking and context windows.
 *
 * Counts are cl100k_base counts (the OpenAI GPT-4 / text-embedding-3 tokenizer), used as a
 * model-neutral estimate: other providers' tokenizers differ by some percent, which the limits
 * that use these counts must leave room for. The ranks ship inside js-tiktoken, so nothing is
 * downloaded.
 *
 * The byte-pair merge is done here rather than by js-tiktoken's `Tiktoken`, whose merge rebuilds
 * every pair's key on every step: 10,000 letters without a break take it seconds, and a megabyte
 * of unpunctuated CJK text minutes. This is the same algorithm (lowest rank first, leftmost on
 * ties), checked against js-tiktoken in the tests.
 */
import cl100k_base from 'js-tiktoken/ranks/cl100k_base';

/**
 * Pre-token pieces longer than this (UTF-16 units) are encoded in slices of this size, which
 * bounds the quadratic merge. Only unnatural text (base64, long runs of one letter, minified
 * blobs, CJK runs without punctuation) has such pieces; their counts may exceed the exact ones
 * by about one token per slice.
 */
const MAX_PIECE_LENGTH = 64;

/** Past this many distinct pieces the memo is dropped, bounding memory on odd inputs. */
const MAX_CACHED_PIECES = 100_000;

interface Encoder {
  /** Token rank by its bytes, as a latin1 string (one char per byte). */
  ranks: Map<string, number>;
  /** Bytes of each rank, for decoding. */
  bytes: Map<number, Uint8Array>;
  /** cl100k's pre-tokenizer: tokens never cross the pieces it cuts. */
  splitter: RegExp;
  /** Tokens of each distinct piece; natural text repeats few pieces, which makes long texts cheap. */
  pieces: Map<string, number[]>;
}

let encoder: Encoder | undefined;

/** The encoder, built on first use (reading the ranks takes a few hundred ms), then kept. */
function loadEncoder(): Encoder {
  if (encoder) return encoder;
  const ranks = new Map<string, number>();
  const bytes = new Map<number, Uint8Array>();
  // Each line: a label, the first rank, then base64 tokens of consecutive ranks.
  for (const line of cl100k_base.bpe_ranks.split('\n')) {
    const fields = line.split(' ');
    const first = Number.parseInt(fields[1] ?? '', 10);
    if (!Number.isFinite(first)) continue;
    for (let i = 2; i < fields.length; i++) {
      const token = Buffer.from(fields[i] as string, 'base64');
      ranks.set(token.toString('latin1'), first + i - 2);
      bytes.set(first + i - 2, new Uint8Array(token));
    }
  }
  for (const [text, rank] of Object.entries(cl100k_base.special_tokens)) bytes.set(rank, new TextEncoder().encode(text));
  encoder = { ranks, bytes, splitter: new RegExp(cl100k_base.pat_str, 'gu'), pieces: new Map() };
  return encoder;
}

function encodePiece(e: Encoder, piece: string): number[] {
  const cached = e.pieces.get(piece);
  if (cached) return cached;
  if (piece.length > MAX_PIECE_LENGTH) {
    // Long pieces rarely repeat whole; their slices are memoised instead.
    const tokens: number[] = [];
    let start = 0;
    while (start < piece.length) {
      let end = Math.min(start + MAX_PIECE_LENGTH, piece.length);
      if (end < piece.length && isLowSurrogate(piece.charCodeAt(end))) end -= 1;
      for (const token of encodePiece(e, piece.slice(start, end))) tokens.push(token);
      start = end;
    }
    return tokens;
  }
  const tokens = bytePairEncode(e.ranks, Buffer.from(piece, 'utf8').toString('latin1'));
  if (e.pieces.size >= MAX_CACHED_PIECES) e.pieces.clear();
  e.pieces.set(piece, tokens);
  return tokens;
}

/** Merges the adjacent pair of lowest rank (leftmost on ties) until no pair is a token. */
function bytePairEncode(ranks: Map<string, number>, piece: string): number[] {
  const whole = ranks.get(piece);
  if (whole !== undefined) return [whole];
  // bounds[i]..bounds[i+1] is part i; pairRank[i] is the rank of parts i and i+1 merged.
  const bounds = Array.from({ length: piece.length + 1 }, (_, i) => i);
  const pairRank = (i: number): number =>
    i + 2 < bounds.length ? (ranks.get(piece.slice(bounds[i], bounds[i + 2])) ?? Infinity) : Infinity;
  const pairRanks = bounds.map((_, i) => pairRank(i));
  for (;;) {
    let best = Infinity;
    let at = -1;
    for (let i = 0; i < pairRanks.length - 2; i++) {
      if ((pairRanks[i] as number) < best) {
        best = pairRanks[i] as number;
        at = i;
      }
    }
    if (at < 0) break;
    bounds.splice(at + 1, 1);
    pairRanks.splice(at + 1, 1);
    pairRanks[at] = pairRank(at);
    if (at > 0) pairRanks[at - 1] = pairRank(at - 1);
  }
  const tokens: number[] = [];
  // Every single byte is a token, so each part has a rank.
  for (let i = 0; i + 1 < bounds.length; i++) tokens.push(ranks.get(piece.slice(bounds[i], bounds[i + 1])) as number);
  return tokens;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * The cl100k_base tokens of `text`. Special-token markers in the text (`<|endoftext|>`) are
 * encoded as plain text. `decode(encode(text)) === text` for any well-formed string.
 */
export function encode(text: string): number[] {
  const e = loadEncoder();
  const out: number[] = [];
  for (const match of text.matchAll(e.splitter)) {
    for (const token of encodePiece(e, match[0])) out.push(token);
  }
  return out;
}

/** The text of cl100k_base tokens; bytes that do not form valid UTF-8 become U+FFFD. */
export function decode(tokens: readonly number[]): string {
  const e = loadEncoder();
  const parts: Uint8Array[] = [];
  for (const token of tokens) {
    const bytes = e.bytes.get(token);
    if (bytes) parts.push(bytes);
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Number of cl100k_base tokens in `text`, equal to `encode(text).length`. Linear in the text and
 * memoised per pre-token piece: a megabyte of prose counts in well under a second.
 */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  const e = loadEncoder();
  let count = 0;
  for (const match of text.matchAll(e.splitter)) count += encodePiece(e, match[0]).length;
  return count;
}

/**
 * The longest prefix of `text` that ends on a token boundary (and a code-point boundary) and
 * has at most `maxTokens` tokens: `countTokens(result) <= maxTokens`. Scans only as far as the
 * cut, except that one pre-token piece (such as a run of letters) is always read whole.
 */
export function truncateToTokens(text: string, maxTokens: number): string {
  const e = loadEncoder();
  let budget = Math.max(0, Math.floor(maxTokens));
  for (;;) {
    const prefix = prefixOfBytes(text, tokenBytes(e, text, budget));
    const count = countTokens(prefix);
    // Re-encoding a cut piece can merge differently; rarely it costs a token more than the cut.
    if (count <= maxTokens || budget === 0) return prefix;
    budget -= count - maxTokens;
  }
}

/** UTF-8 length of the first `maxTokens` tokens of `text`. */
function tokenBytes(e: Encoder, text: string, maxTokens: number): number {
  let used = 0;
  let bytes = 0;
  for (const match of text.matchAll(e.splitter)) {
    const tokens = encodePiece(e, match[0]);
    if (used + tokens.length <= maxTokens) {
      used += tokens.length;
      bytes += Buffer.byteLength(match[0], 'utf8');
      continue;
    }
    for (const token of tokens) {
      if (used === maxTokens) break;
      used++;
      bytes += e.bytes.get(token)?.length ?? 0;
    }
    break;
  }
  return bytes;
}

/** The longest prefix of `text` whose UTF-8 encoding is at most `maxBytes` long. */
function prefixOfBytes(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}
