import { typeid } from 'typeid-js';

/** Object prefixes, DESIGN.md §3. Every id is `<prefix>_` + 26 base32 chars, sortable by creation. */
export type IdPrefix =
  | 'ws' | 'key' | 'req' | 'job' | 'agent' | 'run' | 'thread' | 'wf' | 'wfrun' | 'src' | 'doc' | 'span';

const suffixPattern = '[0-7][0-9a-hjkmnp-tv-z]{25}';
const patterns = new Map<string, RegExp>();

/** A new TypeID with the given prefix (UUIDv7 inside, so ids sort by creation time). */
export function newId(prefix: IdPrefix): string {
  return typeid(prefix).toString();
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
