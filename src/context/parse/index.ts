/**
 * Document parsing: bytes of an uploaded or fetched file → normalised text with Markdown-style
 * headings and a title. Every failure caused by the input is a DocumentParseError.
 */
import { extname } from 'node:path';
import { DocumentParseError, type ParsedDocument, type ParseLimits } from '../ports.js';
import { parseCsv } from './csv.js';
import { decodeText, looksBinary } from './decode.js';
import { htmlToText } from './html.js';
import { parseJson } from './json.js';
import { parseMarkdown } from './markdown.js';
import { finishDocument } from './normalise.js';
import { parsePdf } from './pdf.js';
import { parsePlainText } from './text.js';

export { htmlToText } from './html.js';

type Format = 'text' | 'markdown' | 'html' | 'pdf' | 'json' | 'csv' | 'tsv';

/** Content types `parseDocument` reads (aliases such as `text/x-markdown` are accepted too). */
export const supportedContentTypes: readonly string[] = [
  'text/plain',
  'text/markdown',
  'text/html',
  'application/pdf',
  'application/json',
  'text/csv',
  'text/tab-separated-values',
];

const SUPPORTED_EXTENSIONS = ['.txt', '.md', '.markdown', '.html', '.htm', '.pdf', '.json', '.csv', '.tsv'];

const BY_CONTENT_TYPE: Record<string, Format> = {
  'text/plain': 'text',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'application/pdf': 'pdf',
  'application/x-pdf': 'pdf',
  'application/json': 'json',
  'text/json': 'json',
  'text/csv': 'csv',
  'application/csv': 'csv',
  'text/tab-separated-values': 'tsv',
};

const BY_EXTENSION: Record<string, Format> = {
  '.txt': 'text',
  '.text': 'text',
  '.md': 'markdown',
  '.markdown': 'markdown',
  '.html': 'html',
  '.htm': 'html',
  '.xhtml': 'html',
  '.pdf': 'pdf',
  '.json': 'json',
  '.csv': 'csv',
  '.tsv': 'tsv',
};

/** Declared types that say nothing about the content. */
const GENERIC_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream', 'application/unknown']);

const KIND: Record<Format, string> = {
  text: 'text file',
  markdown: 'Markdown file',
  html: 'HTML page',
  pdf: 'PDF',
  json: 'JSON file',
  csv: 'CSV file',
  tsv: 'TSV file',
};

/** Limits `parseDocument` applies when given none (the server passes its settings). */
export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxPdfPages: 2_000, maxCsvCells: 2_000_000, maxDocumentChars: 5_000_000 };

/** Input to `parseDocument`: the raw bytes and whatever the client said about them. */
export interface DocumentInput {
  bytes: Buffer;
  contentType?: string | undefined;
  filename?: string | undefined;
}

/**
 * Parses a document. The format comes from the content type when it names a supported one, else
 * from the file extension, else from the bytes (`%PDF-`, an HTML start, or readable text).
 * The text is NFC with `\n` line ends, no trailing spaces and no runs of blank lines.
 * Throws DocumentParseError: `unsupported_file_type` (naming the type and the supported ones),
 * `document_unreadable` (corrupt PDF, invalid JSON, binary data declared as text),
 * `document_empty` (no text after parsing) or `document_too_large` (over one of `limits`).
 */
export async function parseDocument(input: DocumentInput, limits: ParseLimits = DEFAULT_PARSE_LIMITS): Promise<ParsedDocument> {
  const format = detectFormat(input);
  try {
    const parsed = await parseAs(format, input.bytes, limits);
    if (parsed.text.length > limits.maxDocumentChars) {
      throw new DocumentParseError(
        'document_too_large',
        `The ${KIND[format]} yields ${parsed.text.length} characters of text, more than the ${limits.maxDocumentChars} allowed (--max-document-chars / KAIRO_MAX_DOCUMENT_CHARS).`,
      );
    }
    return parsed;
  } catch (error) {
    if (error instanceof DocumentParseError) throw error;
    // Library failures on hostile input (stack exhaustion, internal asserts) are the input's fault.
    throw new DocumentParseError('document_unreadable', `The ${KIND[format]} could not be read: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function parseAs(format: Format, bytes: Buffer, limits: ParseLimits): Promise<ParsedDocument> {
  const kind = KIND[format];
  if (bytes.length === 0) throw new DocumentParseError('document_empty', `The ${kind} is empty.`);
  switch (format) {
    case 'pdf':
      return finishDocument(await parsePdf(bytes, limits.maxPdfPages), kind);
    case 'html':
      return htmlToText(decodeText(bytes, kind));
    case 'markdown':
      return finishDocument(parseMarkdown(decodeText(bytes, kind)), kind);
    case 'json':
      return finishDocument(parseJson(decodeText(bytes, kind)), kind);
    case 'csv':
      return finishDocument(parseCsv(decodeText(bytes, kind), limits.maxCsvCells), kind);
    case 'tsv':
      return finishDocument(parseCsv(decodeText(bytes, kind), limits.maxCsvCells, '\t'), kind);
    case 'text':
      return finishDocument(parsePlainText(decodeText(bytes, kind)), kind);
  }
}

function detectFormat({ bytes, contentType, filename }: DocumentInput): Format {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const extension = filename ? extname(filename).toLowerCase() : '';

  const declared = BY_CONTENT_TYPE[type] ?? (type.endsWith('+json') ? 'json' : undefined);
  if (declared) return declared;
  const named = BY_EXTENSION[extension];
  if (named) return named;

  // Only a generic or text/* type, or none, leaves the bytes to decide; binary data declared as
  // text/* goes on to the text decoder, which rejects it as unreadable.
  const claimsText = type.startsWith('text/');
  if (GENERIC_TYPES.has(type) || claimsText) {
    if (bytes.subarray(0, 1024).includes('%PDF-')) return 'pdf';
    if (claimsText || !looksBinary(bytes)) {
      const head = bytes.subarray(0, 512).toString('utf8').trimStart().toLowerCase();
      return head.startsWith('<!doctype html') || head.startsWith('<html') ? 'html' : 'text';
    }
  }
  const what = type !== '' && !GENERIC_TYPES.has(type) ? `"${type}"` : extension !== '' ? `"${extension}"` : 'binary data of unknown type';
  throw new DocumentParseError(
    'unsupported_file_type',
    `Unsupported file type ${what}${filename ? ` (${filename})` : ''}. Supported types: ${supportedContentTypes.join(', ')} (${SUPPORTED_EXTENSIONS.join(', ')}).`,
  );
}
