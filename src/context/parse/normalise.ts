import { DocumentParseError, type ParsedDocument } from '../ports.js';

/** Longest title kept; longer candidates (a first line that is a whole paragraph) are cut at a word. */
const MAX_TITLE_LENGTH = 200;

/**
 * Canonical document text: NFC, `\n` line ends, no control characters but tab and newline, no
 * trailing spaces, at most one blank line in a row, no blank lines at either end.
 */
export function normaliseText(text: string): string {
  return text
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .replace(/\f/g, '\n\n')
    .replace(/[\u0000-\u0008\u000B\u000E-\u001F\u007F\uFEFF]/g, '')
    .replace(/[^\S\n]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+/, '')
    .trimEnd();
}

/** A title on one line with single spaces, at most 200 characters; null when nothing is left. */
export function normaliseTitle(title: string | null | undefined): string | null {
  const clean = (title ?? '').normalize('NFC').replace(/\s+/g, ' ').trim();
  if (clean === '') return null;
  if (clean.length <= MAX_TITLE_LENGTH) return clean;
  const cut = clean.slice(0, MAX_TITLE_LENGTH);
  const space = cut.lastIndexOf(' ');
  return `${(space > MAX_TITLE_LENGTH / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** Normalises a parser's output; throws `document_empty` when no text is left. */
export function finishDocument(document: ParsedDocument, kind: string): ParsedDocument {
  const text = normaliseText(document.text);
  if (text.trim() === '') throw new DocumentParseError('document_empty', `The ${kind} contains no text.`);
  return { title: normaliseTitle(document.title), text };
}
