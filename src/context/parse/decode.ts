import { DocumentParseError } from '../ports.js';

/** Share of control characters above which a "text" is taken for binary data. */
const MAX_CONTROL_RATIO = 0.02;

/** True when the bytes look like binary data rather than text in any common encoding. */
export function looksBinary(bytes: Buffer): boolean {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    return false; // UTF-16 with a byte-order mark: its NUL bytes are half of its ASCII characters.
  }
  const sample = bytes.subarray(0, 64 * 1024);
  let control = 0;
  for (const byte of sample) {
    if (byte === 0) return true;
    if ((byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c && byte !== 0x1b) || byte === 0x7f) control++;
  }
  return control > sample.length * MAX_CONTROL_RATIO;
}

/**
 * Decodes a text file: UTF-8 (byte-order mark stripped), UTF-16 with a byte-order mark, or —
 * when the bytes are not valid UTF-8 — Windows-1252, the usual encoding of legacy exports such
 * as spreadsheets saved as CSV. Throws `document_unreadable` for binary data.
 */
export function decodeText(bytes: Buffer, kind: string): string {
  if (looksBinary(bytes)) {
    throw new DocumentParseError('document_unreadable', `The ${kind} contains binary data (such as NUL bytes) and cannot be read as text.`);
  }
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return decodeWindows1252(body);
  }
}

/** Windows-1252 characters for bytes 0x80–0x9F (undefined bytes map to the same code point). */
const CP1252_HIGH = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008DŽ\u008F\u0090‘’“”•–—˜™š›œ\u009DžŸ';

/** Node's TextDecoder treats `windows-1252` as Latin-1, which loses curly quotes and dashes. */
function decodeWindows1252(bytes: Buffer): string {
  let out = '';
  for (const byte of bytes) out += byte >= 0x80 && byte <= 0x9f ? CP1252_HIGH[byte - 0x80] : String.fromCharCode(byte);
  return out;
}
