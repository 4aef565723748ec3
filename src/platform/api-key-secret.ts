import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const RANDOM_LENGTH = 30;
const CHECKSUM_LENGTH = 6;
const SECRET_PATTERN = /^sk_(live|test)_([0-9A-Za-z]{30})([0-9A-Za-z]{6})$/;

function toBase62(bytes: Buffer, length: number): string {
  // Rejection sampling keeps every character uniformly likely.
  let out = '';
  let pool = bytes;
  let i = 0;
  while (out.length < length) {
    if (i >= pool.length) {
      pool = randomBytes(length);
      i = 0;
    }
    const byte = pool[i++]!;
    if (byte < 248) out += BASE62[byte % 62];
  }
  return out;
}

function checksum(body: string): string {
  let value = crc32(body);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/**
 * A new secret: `sk_live_` or `sk_test_`, 30 random base62 characters (≈178 bits), then a
 * 6-character CRC32 checksum, so a secret scanner can recognise a leaked key without a lookup.
 */
export function generateSecret(livemode: boolean): string {
  const random = toBase62(randomBytes(RANDOM_LENGTH * 2), RANDOM_LENGTH);
  return `sk_${livemode ? 'live' : 'test'}_${random}${checksum(random)}`;
}

/** Parses a presented secret; undefined when it is not a well-formed KAIRO key with a valid checksum. */
export function parseSecret(secret: string): { livemode: boolean } | undefined {
  const match = SECRET_PATTERN.exec(secret);
  if (!match) return undefined;
  if (checksum(match[2]!) !== match[3]) return undefined;
  return { livemode: match[1] === 'live' };
}

/** What is stored: the SHA-256 of the secret (the secret itself never is). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
