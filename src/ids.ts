import { randomFillSync } from 'node:crypto';

/** Object prefixes, DESIGN.md §3. Every id is `<prefix>_` + 26 base32 chars, sortable by creation. */
export type IdPrefix =
  | 'ws' | 'key' | 'req' | 'job' | 'agent' | 'run' | 'thread' | 'wf' | 'wfrun' | 'src' | 'doc' | 'chunk' | 'span' | 'msg';

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
    if (poolOffset + 10 > pool.length) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    for (let i = 6; i < 16; i++) uuid[i] = pool[poolOffset++]!;
    uuid[6] = 0x70 | (uuid[6]! & 0x0f); // version 7
    uuid[8] = 0x80 | (uuid[8]! & 0x3f); // RFC 4122 variant
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
  const high = Math.floor(ms / 0x1_0000_0000);
  const low = ms >>> 0;
  uuid[0] = (high >>> 8) & 0xff;
  uuid[1] = high & 0xff;
  uuid[2] = (low >>> 24) & 0xff;
  uuid[3] = (low >>> 16) & 0xff;
  uuid[4] = (low >>> 8) & 0xff;
  uuid[5] = low & 0xff;
  // 128 bits after two leading zero bits make exactly 26 groups of five.
  let out = `${prefix}_`;
  let accumulator = 0;
  let bits = 2;
  for (let i = 0; i < 16; i++) {
    accumulator = ((accumulator << 8) | uuid[i]!) & 0x1fff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(accumulator >>> bits) & 31];
    }
  }
  return out;
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
