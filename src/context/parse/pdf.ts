import { DocumentParseError, type ParsedDocument } from '../ports.js';

/**
 * Text of every page of a PDF, pages separated by a blank line. The title is the document's
 * metadata title, else its first line. Throws `document_unreadable` for corrupt or
 * password-protected files and `document_too_large` for more than `maxPages` pages (counted
 * before any page is read); a PDF of scanned images has no text and comes back empty.
 */
export async function parsePdf(bytes: Buffer, maxPages: number): Promise<ParsedDocument> {
  // Loaded on first use: PDF.js is large and most deployments parse few PDFs.
  const { PDFParse } = await import('pdf-parse');
  // A copy: PDF.js may transfer the array to its worker, which would detach the caller's buffer.
  const parser = new PDFParse({ data: new Uint8Array(bytes), verbosity: 0 });
  try {
    const info = (await parser.getInfo()) as { total: number; info?: { Title?: unknown } };
    if (info.total > maxPages) {
      throw new DocumentParseError('document_too_large', `The PDF has ${info.total} pages, more than the ${maxPages} allowed (--max-pdf-pages / KAIRO_MAX_PDF_PAGES).`);
    }
    const result = await parser.getText({ pageJoiner: '' });
    const text = result.pages.map((page) => page.text.trim()).join('\n\n');
    const title = typeof info.info?.Title === 'string' ? info.info.Title.trim() || null : null;
    return { title: title ?? firstLine(text), text };
  } catch (error) {
    if (error instanceof DocumentParseError) throw error;
    throw new DocumentParseError('document_unreadable', pdfFailure(error));
  } finally {
    await parser.destroy().catch(() => undefined);
  }
}

function firstLine(text: string): string | null {
  for (const line of text.split('\n')) {
    if (line.trim() !== '') return line.trim();
  }
  return null;
}

function pdfFailure(error: unknown): string {
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'PasswordException') return 'The PDF is password-protected and cannot be read.';
  if (name === 'InvalidPDFException') return `The file is not a valid PDF or is corrupt (${message}).`;
  return `The PDF could not be read: ${message}`;
}
