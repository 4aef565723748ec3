import { DocumentParseError, type ParsedDocument } from '../ports.js';

/** Nesting beyond this is written as compact JSON on one line rather than walked further. */
const MAX_DEPTH = 32;

/**
 * JSON as readable lines: `key.path: value` for every leaf; an array of primitives on one line
 * (`tags: a, b`); each object of an array of objects as its own paragraph. The title is a
 * top-level string `title` or `name`. Throws `document_unreadable` for invalid JSON.
 */
export function parseJson(source: string): ParsedDocument {
  let value: unknown;
  try {
    // Any JSON value is a valid document; the walk below checks every type it reads.
    value = JSON.parse(source);
  } catch (error) {
    throw new DocumentParseError('document_unreadable', `The JSON is invalid: ${error instanceof Error ? error.message : String(error)}`);
  }
  const paragraphs: string[] = [];
  if (Array.isArray(value) && value.length > 0 && value.every(isRecord)) {
    for (const item of value) paragraphs.push(flatten(item, '', 1).join('\n'));
  } else {
    paragraphs.push(flatten(value, '', 0).join('\n'));
  }
  return { title: titleOf(value), text: paragraphs.join('\n\n') };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function titleOf(value: unknown): string | null {
  if (!isRecord(value)) return null;
  for (const key of ['title', 'name']) {
    const candidate = value[key];
    if (typeof candidate === 'string' && candidate.trim() !== '') return candidate;
  }
  return null;
}

function compact(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    // JSON.stringify recurses; thousands of levels exhaust the stack.
    throw new DocumentParseError('document_unreadable', 'The JSON is nested too deeply to read.');
  }
}

function scalar(value: unknown): string {
  if (typeof value === 'string') return value.replace(/\s*\n\s*/g, ' ');
  return value === null ? 'null' : String(value);
}

/** Lines for `value` at `path`; an array of objects yields its items separated by blank lines. */
function flatten(value: unknown, path: string, depth: number): string[] {
  const label = (text: string): string => (path === '' ? text : `${path}: ${text}`);
  if (value === null && path === '') return [];
  if (value === null || typeof value !== 'object') return [label(scalar(value))];
  if (depth >= MAX_DEPTH) return [label(compact(value))];
  if (Array.isArray(value)) {
    if (value.length === 0) return [];
    if (value.every((item) => item === null || typeof item !== 'object')) return [label(value.map(scalar).join(', '))];
    // Blank lines around every object item make each one a paragraph of its own.
    const lines: string[] = [];
    value.forEach((item, i) => {
      const itemLines = flatten(item, `${path}[${i}]`, depth + 1);
      if (itemLines.length === 0) return;
      if (isRecord(item)) lines.push('', ...itemLines, '');
      else lines.push(...itemLines);
    });
    return lines;
  }
  const lines: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    lines.push(...flatten(child, path === '' ? key : `${path}.${key}`, depth + 1));
  }
  return lines;
}
