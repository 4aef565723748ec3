import { createHash, randomFillSync } from 'node:crypto';

/** Object prefixes, docs/api.md. Every id is `<prefix>_` + 26 base32 chars, sortable by creation. */
export type IdPrefix =
  | 'ws' | 'key' | 'req' | 'job' | 'agent' | 'run' | 'thread' | 'wf' | 'wfrun' | 'src' | 'doc' | 'chunk' | 'span' | 'msg' | 'evt' | 'we' | 'whdel' | 'budget'
  | 'chatcmpl' | 'resp';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const suffixPattern = '[0-7][0-9a-hjkmnp-tv-z]{25}';
const patterns = new Map<string, RegExp>();

// Random bytes are drawn from a pool refilled in bulk: ids are made on every request.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
const uuid = new Uint8Array(16);
let lastMs = 0;

/**
 * A new TypeID with the given prefix: a UUIDv7 (48-bit millisecond timestamp, then random bits)
 * in TypeID's base32, so ids sort by creation time. Hand-encoded rather than through typeid-js
 * because a request id is made for every request and this is several times faster.
 */
export function newId(prefix: IdPrefix): string {
  let ms = Date.now();
  if (ms > lastMs) {
    randomPart(uuid);
  } else {
    // Same millisecond (or the clock stepped back): count up from the last id, so ids made by
    // this process still sort in creation order (RFC 9562 method 3, a monotonic random part).
    ms = lastMs;
    let i = 15;
    while (i >= 9 && uuid[i] === 0xff) uuid[i--] = 0;
    if (i >= 9) uuid[i]!++;
    else ms = lastMs + 1;
  }
  lastMs = ms;
  setTime(uuid, ms);
  return encode(prefix, uuid);
}

/**
 * A new random id of a prefix as if made at `ms`: for data whose creation time is in the past
 * (imports, seeded figures), since time ranges and retention read the time from ids. Ids made
 * in the same millisecond this way do not sort in the order they were made.
 */
export function idMadeAt(prefix: IdPrefix, ms: number): string {
  const bytes = new Uint8Array(16);
  randomPart(bytes);
  setTime(bytes, Math.max(0, Math.min(Math.floor(ms), 2 ** 48 - 1)));
  return encode(prefix, bytes);
}

/** Fills a UUIDv7's random bits (bytes 6–15), with its version and variant. */
function randomPart(bytes: Uint8Array): void {
  if (poolOffset + 10 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  for (let i = 6; i < 16; i++) bytes[i] = pool[poolOffset++]!;
  bytes[6] = 0x70 | (bytes[6]! & 0x0f); // version 7
  bytes[8] = 0x80 | (bytes[8]! & 0x3f); // RFC 4122 variant
}

/** Writes a UUIDv7's 48-bit millisecond timestamp (bytes 0–5). */
function setTime(bytes: Uint8Array, ms: number): void {
  const high = Math.floor(ms / 0x1_0000_0000);
  const low = ms >>> 0;
  bytes[0] = (high >>> 8) & 0xff;
  bytes[1] = high & 0xff;
  bytes[2] = (low >>> 24) & 0xff;
  bytes[3] = (low >>> 16) & 0xff;
  bytes[4] = (low >>> 8) & 0xff;
  bytes[5] = low & 0xff;
}

/** `<prefix>_` and the 16 bytes in TypeID's base32: 128 bits after two leading zero bits make exactly 26 groups of five. */
function encode(prefix: IdPrefix, bytes: Uint8Array): string {
  let out = `${prefix}_`;
  let accumulator = 0;
  let bits = 2;
  for (let i = 0; i < 16; i++) {
    accumulator = ((accumulator << 8) | bytes[i]!) & 0x1fff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(accumulator >>> bits) & 31];
    }
  }
  return out;
}

/**
 * The smallest id of a prefix made at `ms`: every id made at or after that millisecond sorts at
 * or above it, so a time range becomes an id range (and uses the primary key).
 */
export function idAtTime(prefix: IdPrefix, ms: number): string {
  const bytes = new Uint8Array(16);
  setTime(bytes, Math.max(0, Math.min(Math.floor(ms), 2 ** 48 - 1)));
  return encode(prefix, bytes);
}

/** Each base32 character's value, by character code. */
const DIGITS = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGITS[ALPHABET.charCodeAt(i)] = i;

/** The 16 bytes an id encodes (its UUID). */
export function idBytes(id: string): Uint8Array {
  const start = id.lastIndexOf('_') + 1;
  const bytes = new Uint8Array(16);
  // 26 characters of 5 bits: two leading zero bits, then the 128 bits.
  let accumulator = 0;
  let bits = 0;
  let out = 0;
  for (let i = start; i < start + 26; i++) {
    accumulator = ((accumulator << 5) | DIGITS[id.charCodeAt(i) & 127]!) & 0xfff;
    bits += 5;
    if (i === start) bits -= 2;
    while (bits >= 8) {
      bits -= 8;
      bytes[out++] = (accumulator >>> bits) & 0xff;
    }
  }
  return bytes;
}

/** The millisecond an id was made at (its UUIDv7 timestamp). */
export function timeOfId(id: string): number {
  const start = id.lastIndexOf('_') + 1;
  let ms = 0;
  // The first 10 characters hold 2 zero bits and the 48-bit timestamp.
  for (let i = start; i < start + 10; i++) ms = ms * 32 + DIGITS[id.charCodeAt(i) & 127]!;
  return ms;
}

/**
 * A stable id of a prefix for something that is not stored with an id of its own (a workflow
 * step's span): the same seed always gives the same id. Built from a SHA-256 of the seed, so it is
 * well-formed but does not sort by time.
 */
export function derivedId(prefix: IdPrefix, seed: string): string {
  const bytes = createHash('sha256').update(seed).digest().subarray(0, 16);
  bytes[6] = 0x80 | (bytes[6]! & 0x0f); // version 8: custom
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  return encode(prefix, bytes);
}

/** True when `value` is a well-formed id of that prefix. */
export function isId(prefix: IdPrefix, value: string): boolean {
  let pattern = patterns.get(prefix);
  if (!pattern) {
    pattern = new RegExp(`^${prefix}_${suffixPattern}$`);
    patterns.set(prefix, pattern);
  }
  return pattern.test(value);
}

/** The JSON Schema pattern for ids of a prefix, for route schemas. */
export function idPattern(prefix: IdPrefix): string {
  return `^${prefix}_${suffixPattern}$`;
}
