/**
 * MCP tool names: 1–64 characters of `A-Z a-z 0-9 _ -`. The protocol allows up to 128 and dots
 * too, but several clients (and the model providers they pass tools on to) accept only this
 * narrower set, so every name fits all of them.
 */
const MAX_TOOL_NAME_LENGTH = 64;

/** `name` as a tool name: other characters become `_`, runs of `_` collapse, `fallback` when nothing is left. */
export function sanitizeToolName(name: string, fallback: string): string {
  const cleaned = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/_{2,}/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, MAX_TOOL_NAME_LENGTH);
  return cleaned === '' ? fallback : cleaned;
}

/**
 * Gives each candidate a unique tool name, in the order given: the first keeps its sanitized
 * name, later ones with the same name get `_2`, `_3`… So that a tool keeps its name when others
 * are added, callers pass the oldest objects first.
 */
export function uniqueToolNames(candidates: ReadonlyArray<{ name: string; fallback: string }>): string[] {
  const taken = new Set<string>();
  return candidates.map(({ name, fallback }) => {
    const base = sanitizeToolName(name, fallback);
    let unique = base;
    for (let n = 2; taken.has(unique.toLowerCase()); n++) {
      const suffix = `_${n}`;
      unique = base.slice(0, MAX_TOOL_NAME_LENGTH - suffix.length) + suffix;
    }
    taken.add(unique.toLowerCase());
    return unique;
  });
}
