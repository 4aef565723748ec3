import type { ParsedDocument } from '../ports.js';

/** Plain text is its own content; it carries no title. */
export function parsePlainText(text: string): ParsedDocument {
  return { title: null, text };
}
