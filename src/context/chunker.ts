/**
 * Token-aware, structure-respecting chunking of parsed documents.
 *
 * A document is cut into sections at Markdown headings; chunks never span two sections. Inside a
 * section, whole paragraphs are packed while they fit; a piece that does not fit into an empty
 * chunk is split into lines, then sentences, then words, and a word longer than a chunk into
 * token-sized fragments. Consecutive chunks of one section share about `overlapTokens` tokens.
 */
import type { ChunkingOptions, TextChunk } from './ports.js';
import { countTokens, truncateToTokens } from './tokens.js';

/** Smallest `ChunkingOptions.maxTokens` accepted. */
export const MIN_CHUNK_TOKENS = 16;
/** Largest `ChunkingOptions.maxTokens` accepted. */
export const MAX_CHUNK_TOKENS = 8192;

type Level = 'block' | 'line' | 'sentence' | 'word' | 'fragment';

/** How a piece joins the one before it: paragraph break, line break, space, or nothing. */
type Separator = '\n\n' | '\n' | ' ' | '';

interface Piece {
  text: string;
  sep: Separator;
  level: Level;
  code: boolean;
  /** Part of the section's heading lines, which never go into an overlap. */
  heading: boolean;
  /** Tokens of the text alone (exact). */
  tokens: number;
  /** Tokens the piece adds after another piece, separator included (an estimate). */
  joined: number;
}

interface Block {
  lines: string[];
  code: boolean;
}

interface Section {
  level: number;
  path: string | null;
  headingLines: string[];
  blocks: Block[];
}

/** The text a chunk is embedded and searched by: its heading path gives it context. */
export function embeddingInput(heading: string | null, text: string): string {
  return heading ? `${heading}\n\n${text}` : text;
}

/**
 * Cuts `text` into chunks of at most `options.maxTokens` cl100k tokens (overlap included), in
 * document order, each tagged with its heading path (e.g. "Pricing > Enterprise"). Consecutive
 * chunks of one section start with about `options.overlapTokens` tokens from the end of the
 * previous chunk, whole sentences where possible. Deterministic; empty input gives `[]`.
 * Throws RangeError unless 16 ≤ maxTokens ≤ 8192 and 0 ≤ overlapTokens < maxTokens / 2.
 */
export function chunkText(text: string, options: ChunkingOptions): TextChunk[] {
  const { maxTokens, overlapTokens } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < MIN_CHUNK_TOKENS || maxTokens > MAX_CHUNK_TOKENS) {
    throw new RangeError(`maxTokens must be an integer from ${MIN_CHUNK_TOKENS} to ${MAX_CHUNK_TOKENS}, got ${maxTokens}`);
  }
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens >= maxTokens / 2) {
    throw new RangeError(`overlapTokens must be an integer from 0 to below half of maxTokens (${maxTokens}), got ${overlapTokens}`);
  }

  const chunks: TextChunk[] = [];
  for (const section of splitSections(text)) {
    for (const chunk of chunkSection(section, maxTokens, overlapTokens)) {
      chunks.push({ position: chunks.length, text: chunk.text, tokenCount: chunk.tokens, heading: section.path });
    }
  }
  return chunks;
}

// ---------------------------------------------------------------------------------------------
// Sections and blocks

const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

function normaliseLine(line: string): string {
  return line.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
}

function splitSections(text: string): Section[] {
  const lines = text.normalize('NFC').replace(/\r\n?/g, '\n').split('\n');
  const sections: Section[] = [];
  const stack: Array<{ level: number; title: string }> = [];
  let section: Section = { level: 0, path: null, headingLines: [], blocks: [] };
  let block: Block | null = null;
  let fence: string | null = null;

  const flush = (): void => {
    if (block && block.lines.length > 0) section.blocks.push(block);
    block = null;
  };

  for (const raw of lines) {
    if (fence !== null && block !== null) {
      // Code keeps its indentation, which carries meaning in many languages.
      const line = raw.replace(CONTROL, ' ').trimEnd();
      (block as Block).lines.push(line);
      if (line.trimStart().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') {
        fence = null;
        flush();
      }
      continue;
    }
    const open = FENCE.exec(raw);
    if (open?.[1]) {
      flush();
      fence = open[1];
      block = { lines: [raw.replace(CONTROL, ' ').trim()], code: true };
      continue;
    }
    const heading = HEADING.exec(raw);
    const title = heading ? normaliseLine(heading[2] ?? '') : '';
    if (heading?.[1] && title !== '') {
      flush();
      sections.push(section);
      const level = heading[1].length;
      while (stack.length > 0 && (stack.at(-1)?.level ?? 0) >= level) stack.pop();
      stack.push({ level, title });
      section = {
        level,
        path: stack.map((h) => h.title).join(' > '),
        headingLines: [`${heading[1]} ${title}`],
        blocks: [],
      };
      continue;
    }
    const line = normaliseLine(raw);
    if (line === '') {
      flush();
      continue;
    }
    block ??= { lines: [], code: false };
    block.lines.push(line);
  }
  flush();
  sections.push(section);

  // A heading with nothing under it before a deeper heading (a title above its first
  // subsection) travels with that subsection instead of becoming a chunk of its own.
  const out: Section[] = [];
  for (let i = 0; i < sections.length; i++) {
    const current = sections[i] as Section;
    const next = sections[i + 1];
    if (current.blocks.length > 0) out.push(current);
    else if (next && next.level > current.level) next.headingLines = [...current.headingLines, ...next.headingLines];
    else if (current.headingLines.length > 0) out.push(current);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pieces

function makePiece(text: string, sep: Separator, level: Level, code: boolean, heading: boolean): Piece {
  const tokens = countTokens(text);
  // A space is usually absorbed by the next word's token; line breaks are tokens of their own.
  const joined = sep === ' ' ? countTokens(` ${text}`) : sep === '' ? tokens : tokens + 1;
  return { text, sep, level, code, heading, tokens, joined };
}

function sectionPieces(section: Section): Piece[] {
  const pieces: Piece[] = [];
  for (const line of section.headingLines) pieces.push(makePiece(line, '\n\n', 'line', false, true));
  for (const block of section.blocks) pieces.push(makePiece(block.lines.join('\n'), '\n\n', 'block', block.code, false));
  return pieces;
}

/** Sentence ends: terminal punctuation and closers, then space before a non-lowercase start; or a CJK full stop. */
const SENTENCE_END = /([.!?…]+["'”’»)\]]*)(\s+)(?=[^\s\p{Ll}])|([。！？]+["”’」』)\]]*)(\s*)/gu;

/** Sentences of one line, each with the separator before it (the first gets '') and its offset. */
function splitSentences(line: string): Array<{ text: string; sep: Separator; start: number }> {
  const out: Array<{ text: string; sep: Separator; start: number }> = [];
  let start = 0;
  let sep: Separator = '';
  for (const match of line.matchAll(SENTENCE_END)) {
    const end = match.index + (match[1] ?? match[3] ?? '').length;
    pushTrimmed(out, line.slice(start, end), sep, start);
    const space = match[2] ?? match[4] ?? '';
    sep = space === '' ? '' : ' ';
    start = match.index + match[0].length;
  }
  pushTrimmed(out, line.slice(start), sep, start);
  return out;
}

function pushTrimmed(out: Array<{ text: string; sep: Separator; start: number }>, raw: string, sep: Separator, start: number): void {
  const text = raw.trim();
  if (text !== '') out.push({ text, sep, start: start + raw.length - raw.trimStart().length });
}

/** The same text one level finer, or null when the piece cannot be split further. */
function refine(piece: Piece, maxTokens: number): Piece[] | null {
  let level = piece.level;
  for (;;) {
    let parts: Array<{ text: string; sep: Separator }>;
    if (level === 'block') {
      level = 'line';
      parts = piece.text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((text) => ({ text, sep: '\n' }));
    } else if (level === 'line' && !piece.code) {
      level = 'sentence';
      parts = splitSentences(piece.text);
    } else if (level === 'line' || level === 'sentence') {
      level = 'word';
      parts = piece.text
        .split(/\s+/)
        .filter((w) => w !== '')
        .map((text) => ({ text, sep: ' ' }));
    } else if (level === 'word') {
      level = 'fragment';
      parts = fragments(piece.text, maxTokens).map((text) => ({ text, sep: '' }));
    } else {
      return null;
    }
    if (parts.length > 1 || level === 'fragment') {
      return parts.map((part, i) => makePiece(part.text, i === 0 ? piece.sep : part.sep, level, piece.code, piece.heading));
    }
  }
}

/** Cuts a word with no spaces into pieces of at most `maxTokens` tokens, at token boundaries. */
function fragments(word: string, maxTokens: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < word.length) {
    const remaining = word.length - start;
    // A growing window rather than the rest of the word: the tokenizer reads a run of letters
    // whole. Growing re-reads the same slices, which the token memo makes cheap.
    let window = Math.min(remaining, Math.max(64, maxTokens >> 1));
    for (;;) {
      if (window < remaining && isLowSurrogate(word.charCodeAt(start + window))) window += 1;
      const slice = word.slice(start, start + window);
      const prefix = truncateToTokens(slice, maxTokens);
      if (prefix.length < slice.length || window >= remaining) {
        // One code point is at most 4 tokens, below the 16-token floor: the prefix is never empty.
        const fragment = prefix || String.fromCodePoint(word.codePointAt(start) as number);
        out.push(fragment);
        start += fragment.length;
        break;
      }
      window = Math.min(remaining, window * 2);
    }
  }
  return out;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

// ---------------------------------------------------------------------------------------------
// Packing

interface Overlap {
  text: string;
  tokens: number;
}

interface Draft {
  text: string;
  tokens: number;
  /** Where the section's heading lines end in `text`: overlaps are taken from after it. */
  bodyStart: number;
}

function chunkSection(section: Section, maxTokens: number, overlapTokens: number): Draft[] {
  const drafts: Draft[] = [];
  // A stack with the next piece on top, so that refining a piece replaces it cheaply.
  const pending = sectionPieces(section).reverse();
  let previous: Draft | null = null;

  while (pending.length > 0) {
    let overlap = previous && overlapTokens > 0 ? overlapFrom(previous, overlapTokens) : null;
    const taken: Piece[] = [];
    let estimate = overlap?.tokens ?? 0;
    for (let next = pending.at(-1); next !== undefined; next = pending.at(-1)) {
      const cost = taken.length === 0 && overlap === null ? next.tokens : next.joined;
      if (estimate + cost <= maxTokens) {
        taken.push(next);
        pending.pop();
        estimate += cost;
        continue;
      }
      // Heading lines alone are no chunk: the first body piece is split to join them.
      if (taken.some((piece) => !piece.heading)) break;
      const finer = refine(next, maxTokens);
      if (finer) {
        pending.pop();
        for (let i = finer.length - 1; i >= 0; i--) pending.push(finer[i] as Piece);
      } else if (overlap) {
        overlap = null;
        estimate = 0;
      } else {
        // A fragment (cut to fit an empty chunk) too big to join the heading lines: the exact
        // check below moves it on to the next chunk.
        taken.push(next);
        pending.pop();
        break;
      }
    }

    // Estimates can be off by a token at piece joins; the exact count decides.
    let draft = assemble(overlap, taken);
    while (draft.tokens > maxTokens) {
      if (taken.length > 1) pending.push(taken.pop() as Piece);
      else if (overlap) overlap = null;
      else break;
      draft = assemble(overlap, taken);
    }
    drafts.push(draft);
    previous = draft;
  }
  return drafts;
}

function assemble(overlap: Overlap | null, pieces: Piece[]): Draft {
  let text = overlap?.text ?? '';
  let bodyStart = overlap ? 0 : -1;
  for (const piece of pieces) {
    if (text !== '') text += piece.sep;
    if (bodyStart < 0 && !piece.heading) bodyStart = text.length;
    text += piece.text;
  }
  return { text, tokens: countTokens(text), bodyStart: bodyStart < 0 ? text.length : bodyStart };
}

/**
 * The longest run of whole sentences (or lines, or paragraphs) ending the previous chunk that
 * fits `budget`; failing that, the longest run of whole words; null when not even a word fits.
 */
function overlapFrom(previous: Draft, budget: number): Overlap | null {
  const { text, bodyStart } = previous;
  const starts = unitStarts(text, bodyStart);
  let best: Overlap | null = null;
  for (let i = starts.length - 1; i >= 0; i--) {
    const candidate = text.slice(starts[i]);
    const tokens = countTokens(candidate);
    if (tokens > budget) break;
    best = { text: candidate, tokens };
  }
  if (best) return best;

  const last = starts.at(-1);
  if (last === undefined) return null;
  const words: number[] = [];
  for (let i = last; i < text.length; i++) {
    if (!/\s/.test(text[i] as string) && (i === last || /\s/.test(text[i - 1] as string))) words.push(i);
  }
  // The earliest word start whose suffix fits.
  let lo = 0;
  let hi = words.length;
  let found: Overlap | null = null;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const candidate = text.slice(words[mid]);
    const tokens = countTokens(candidate);
    if (tokens <= budget) {
      found = { text: candidate, tokens };
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return found;
}

/** Offsets at or after `from` where a paragraph, line or sentence of `text` starts. */
function unitStarts(text: string, from: number): number[] {
  const starts: number[] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    for (const sentence of splitSentences(line)) {
      if (offset + sentence.start >= from) starts.push(offset + sentence.start);
    }
    offset += line.length + 1;
  }
  return starts;
}
