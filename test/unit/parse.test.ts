import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { htmlToText, parseDocument, supportedContentTypes } from '../../src/context/parse/index.js';
import { DocumentParseError } from '../../src/context/ports.js';
import { buildPdf } from '../fixtures/documents/build-pdf.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/documents/${name}`, import.meta.url));

async function parseError(input: Parameters<typeof parseDocument>[0]): Promise<DocumentParseError> {
  try {
    await parseDocument(input);
  } catch (error) {
    expect(error).toBeInstanceOf(DocumentParseError);
    return error as DocumentParseError;
  }
  throw new Error('expected parseDocument to fail');
}

describe('plain text', () => {
  it('decodes UTF-8 and normalises the text', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('Cafe\u0301 menu   \r\nline two\t\r\n\r\n\r\n\r\n\r\nlast line\u0007  \r\n\r\n'),
    ]);
    const document = await parseDocument({ bytes, contentType: 'text/plain; charset=utf-8' });
    expect(document).toEqual({ title: null, text: 'Café menu\nline two\n\nlast line' });
    expect(document.text.normalize('NFC')).toBe(document.text);
  });

  it('reads UTF-16 with a byte-order mark', async () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Grüße aus Köln', 'utf16le')]);
    expect((await parseDocument({ bytes, filename: 'greeting.txt' })).text).toBe('Grüße aus Köln');
  });

  it('falls back to Windows-1252 for bytes that are not UTF-8', async () => {
    const bytes = Buffer.from([0x93, 0x43, 0x61, 0x66, 0xe9, 0x94]); // “Café” in Windows-1252
    expect((await parseDocument({ bytes, contentType: 'text/plain' })).text).toBe('“Café”');
  });

  it('rejects binary data declared as text', async () => {
    const error = await parseError({ bytes: Buffer.from('text\u0000with\u0000NUL bytes'), contentType: 'text/plain' });
    expect(error.code).toBe('document_unreadable');
    expect(error.message).toMatch(/binary/);
    expect((await parseError({ bytes: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), filename: 'notes.txt' })).code).toBe('document_unreadable');
  });

  it('rejects an empty or blank file as document_empty', async () => {
    expect((await parseError({ bytes: Buffer.alloc(0), contentType: 'text/plain' })).code).toBe('document_empty');
    expect((await parseError({ bytes: Buffer.from(' \r\n\t\n  '), filename: 'blank.txt' })).code).toBe('document_empty');
    expect((await parseError({ bytes: Buffer.alloc(0), filename: 'empty.pdf' })).code).toBe('document_empty');
  });
});

describe('Markdown', () => {
  it('keeps headings, takes the first # heading as title and drops front matter', async () => {
    const document = await parseDocument({ bytes: fixture('handbook.md'), filename: 'handbook.md' });
    expect(document.title).toBe('Operator handbook');
    expect(document.text.startsWith('# Operator handbook\n\nKAIRO runs')).toBe(true);
    expect(document.text).toContain('## Installation');
    expect(document.text).toContain('```bash\n# this is a shell comment, not a heading\nnpx kairo serve\n```');
    expect(document.text).toContain('Back up the database daily.\nKeep at least seven copies.');
    expect(document.text).not.toContain('owner: docs-team');
  });

  it('uses the front matter title when there is no # heading', async () => {
    const bytes = Buffer.from('---\ntitle: "Release notes"\n---\n\n## 1.2.0\n\nFixes.\n');
    const document = await parseDocument({ bytes, contentType: 'text/markdown' });
    expect(document).toEqual({ title: 'Release notes', text: '## 1.2.0\n\nFixes.' });
  });

  it('ignores # lines inside code blocks when finding the title', async () => {
    const bytes = Buffer.from('```\n# not a title\n```\n\nText.');
    expect((await parseDocument({ bytes, contentType: 'text/x-markdown' })).title).toBeNull();
  });
});

describe('HTML', () => {
  it('extracts the article with headings, lists and tables, without scripts, styles or navigation', async () => {
    const document = await parseDocument({ bytes: fixture('article.html'), contentType: 'text/html; charset=utf-8' });
    expect(document.title).toBe('Pricing plans');
    const { text } = document;
    expect(text).toContain('KAIRO is free to self-host.');
    expect(text).toMatch(/^## Team$/m);
    expect(text).toMatch(/^## Enterprise$/m);
    expect(text).toContain('The Team plan costs $49 per month and includes five seats');
    expect(text).toContain('- Five seats included\n- Shared workspaces');
    expect(text).toContain('Feature | Team | Enterprise\nSSO | No | Yes\nAudit logs | No | Yes');
    expect(text).toContain('```\ncurl https://api.example.com/v1/plans\n  --header "Authorization: Bearer KEY"\n```');
    for (const unwanted of ['do-not-index', 'another-secret-script', 'font-family', 'secret-style', 'Docs', 'All rights reserved']) {
      expect(text).not.toContain(unwanted);
    }
    expect(text.replace(/```[\s\S]*?```/g, '')).not.toMatch(/ {2,}|\n{3,}/);
  });

  it('reads pages by extension and by sniffing', async () => {
    const bytes = fixture('article.html');
    expect((await parseDocument({ bytes, filename: 'pricing.htm' })).title).toBe('Pricing plans');
    expect((await parseDocument({ bytes })).title).toBe('Pricing plans');
    expect((await parseDocument({ bytes, contentType: 'application/octet-stream', filename: 'index' })).title).toBe('Pricing plans');
  });

  it('falls back to the body text for pages that are not articles', () => {
    const document = htmlToText('<html><head><title>Tiny</title></head><body><p>Just one line.</p><script>ignored()</script></body></html>');
    expect(document).toEqual({ title: 'Tiny', text: 'Just one line.' });
  });

  it('reads fragments and numbered lists', () => {
    const document = htmlToText('<h2>Steps</h2><ol start="3"><li>Install</li><li><p>Configure</p><p>carefully</p></li></ol>');
    expect(document.text).toBe('## Steps\n\n3. Install\n4. Configure\ncarefully');
  });

  it('uses the URL as the title of a page without one', () => {
    expect(htmlToText('<p>Hello there.</p>', 'https://docs.example.com/guide/start').title).toBe('docs.example.com/guide/start');
    expect(htmlToText('<p>Hello there.</p>').title).toBeNull();
  });

  it('rejects a page without text as document_empty', async () => {
    expect(() => htmlToText('<html><body><script>only()</script></body></html>')).toThrow(DocumentParseError);
    expect((await parseError({ bytes: Buffer.from('<html><body>  </body></html>'), contentType: 'text/html' })).code).toBe('document_empty');
  });
});

describe('PDF', () => {
  it('reads every page of the fixture, titled by its first line', async () => {
    const document = await parseDocument({ bytes: fixture('two-pages.pdf'), contentType: 'application/pdf' });
    expect(document).toEqual({
      title: 'Annual Report 2024',
      text:
        'Annual Report 2024\nRevenue grew by twelve percent in 2024.\nCosts stayed flat across all regions.\n\n' +
        'Outlook\nWe expect growth to continue next year.',
    });
  });

  it('takes the title from the metadata when present', async () => {
    const bytes = buildPdf([{ lines: ['Chapter 1', 'Body text.'] }], { title: 'Field Guide (2nd edition)' });
    expect(await parseDocument({ bytes, filename: 'guide.PDF' })).toEqual({ title: 'Field Guide (2nd edition)', text: 'Chapter 1\nBody text.' });
  });

  it('recognises a PDF by its magic bytes', async () => {
    const document = await parseDocument({ bytes: fixture('two-pages.pdf'), contentType: 'application/octet-stream' });
    expect(document.title).toBe('Annual Report 2024');
  });

  it('rejects corrupt PDFs as document_unreadable', async () => {
    const pdf = fixture('two-pages.pdf');
    for (const bytes of [pdf.subarray(0, 200), Buffer.from('%PDF-1.7\nnot really a pdf'), Buffer.from('plain text, not a PDF')]) {
      const error = await parseError({ bytes, contentType: 'application/pdf' });
      expect(error.code).toBe('document_unreadable');
      expect(error.message).toMatch(/PDF/);
    }
  });

  it('rejects a PDF without text as document_empty', async () => {
    const bytes = buildPdf([{ lines: [] }]);
    expect((await parseError({ bytes, filename: 'scan.pdf' })).code).toBe('document_empty');
  });

  it('leaves the caller’s buffer intact', async () => {
    const bytes = fixture('two-pages.pdf');
    const copy = Buffer.from(bytes);
    await parseDocument({ bytes, contentType: 'application/pdf' });
    expect(bytes.equals(copy)).toBe(true);
  });
});

describe('JSON', () => {
  it('flattens objects into key paths and arrays of objects into paragraphs', async () => {
    const document = await parseDocument({ bytes: fixture('catalog.json'), contentType: 'application/json' });
    expect(document).toEqual({
      title: 'Product catalog',
      text: [
        'title: Product catalog',
        'version: 3',
        'owner.team: Platform',
        'owner.contact.email: platform@example.com',
        'tags: agents, workflows',
        '',
        'products[0].name: Widget',
        'products[0].price: 10',
        'products[0].active: true',
        '',
        'products[1].name: Gadget',
        'products[1].price: 25',
        'products[1].active: false',
        'products[1].notes: null',
      ].join('\n'),
    });
  });

  it('makes each item of a top-level array a paragraph', async () => {
    const bytes = Buffer.from(JSON.stringify([{ q: 'How do I reset?', a: 'Use the CLI.' }, { q: 'Pricing?', a: 'See the plans.' }]));
    expect((await parseDocument({ bytes, filename: 'faq.json' })).text).toBe('q: How do I reset?\na: Use the CLI.\n\nq: Pricing?\na: See the plans.');
    expect((await parseDocument({ bytes, contentType: 'application/ld+json' })).text).toContain('q: Pricing?');
  });

  it('rejects invalid JSON as document_unreadable and empty JSON as document_empty', async () => {
    const invalid = await parseError({ bytes: Buffer.from('{"a": 1,'), contentType: 'application/json' });
    expect(invalid.code).toBe('document_unreadable');
    expect(invalid.message).toMatch(/JSON/);
    for (const empty of ['{}', '[]', 'null', '{"a": {}, "b": []}']) {
      expect((await parseError({ bytes: Buffer.from(empty), filename: 'x.json' })).code).toBe('document_empty');
    }
  });

  it('writes deeply nested values as compact JSON, and refuses absurd nesting', async () => {
    const nested = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const document = await parseDocument({ bytes: Buffer.from(nested(40)), contentType: 'application/json' });
    expect(document.text).toMatch(/^a(\.a){31}: \{"a":.*1\}+$/);
    const error = await parseError({ bytes: Buffer.from(nested(20_000)), contentType: 'application/json' });
    expect(error.code).toBe('document_unreadable');
  });
});

describe('CSV', () => {
  it('writes the header and one line per record', async () => {
    const document = await parseDocument({ bytes: fixture('products.csv'), contentType: 'text/csv' });
    expect(document).toEqual({
      title: null,
      text: [
        'Columns: name; price; description',
        '',
        'name: Widget; price: 10; description: Small, blue widget',
        'name: Gadget; price: 25',
        'name: Thing "Pro"; price: 99; description: Top of the range',
      ].join('\n'),
    });
  });

  it('detects semicolons and reads TSV', async () => {
    const semicolons = await parseDocument({ bytes: Buffer.from('city;population\nBerlin;3,9 Mio\n'), filename: 'cities.csv' });
    expect(semicolons.text).toBe('Columns: city; population\n\ncity: Berlin; population: 3,9 Mio');
    const tabs = await parseDocument({ bytes: Buffer.from('a\tb\n1\t2, 3\n'), filename: 'data.tsv' });
    expect(tabs.text).toBe('Columns: a; b\n\na: 1; b: 2, 3');
  });

  it('names missing and extra columns', async () => {
    const document = await parseDocument({ bytes: Buffer.from('a,\n1,2,3\n'), contentType: 'text/csv' });
    expect(document.text).toBe('Columns: a; column 2\n\na: 1; column 2: 2; column 3: 3');
  });

  it('reads a spreadsheet export sent as application/vnd.ms-excel by its extension', async () => {
    const document = await parseDocument({ bytes: fixture('products.csv'), contentType: 'application/vnd.ms-excel', filename: 'products.csv' });
    expect(document.text.startsWith('Columns: name; price; description')).toBe(true);
  });
});

describe('type detection', () => {
  it('prefers the content type, then the extension', async () => {
    const bytes = Buffer.from('# Heading\n\nBody.');
    expect((await parseDocument({ bytes, contentType: 'text/markdown', filename: 'notes.txt' })).title).toBe('Heading');
    expect((await parseDocument({ bytes, contentType: 'text/plain', filename: 'notes.md' })).title).toBeNull();
    expect((await parseDocument({ bytes, contentType: 'application/octet-stream', filename: 'notes.md' })).title).toBe('Heading');
    expect((await parseDocument({ bytes, filename: 'NOTES.MARKDOWN' })).title).toBe('Heading');
  });

  it('reads unknown text types and extension-less files as plain text', async () => {
    expect((await parseDocument({ bytes: Buffer.from('log line 1\nlog line 2'), filename: 'server.log' })).text).toBe('log line 1\nlog line 2');
    expect((await parseDocument({ bytes: Buffer.from('key: value'), contentType: 'text/yaml' })).text).toBe('key: value');
    expect((await parseDocument({ bytes: Buffer.from('README contents') })).text).toBe('README contents');
  });

  it.each([
    [{ contentType: 'image/png', filename: 'photo.png' }, '"image/png"'],
    [{ contentType: 'application/zip' }, '"application/zip"'],
    [{ filename: 'setup.exe' }, '".exe"'],
    [{ contentType: 'application/octet-stream', filename: 'blob.bin' }, '".bin"'],
    [{}, 'unknown type'],
  ])('rejects unsupported types: %o', async (declared, named) => {
    const bytes = Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00]);
    const error = await parseError({ bytes, ...declared });
    expect(error.code).toBe('unsupported_file_type');
    expect(error.message).toContain(named);
    for (const type of supportedContentTypes) expect(error.message).toContain(type);
    expect(error.message).toContain('.pdf');
  });

  it('lists the supported content types', () => {
    expect([...supportedContentTypes]).toEqual(expect.arrayContaining(['text/plain', 'text/markdown', 'text/html', 'application/pdf', 'application/json', 'text/csv']));
  });

  it('throws nothing but DocumentParseError for arbitrary bytes', async () => {
    const types = [undefined, 'text/plain', 'text/markdown', 'text/html', 'application/pdf', 'application/json', 'text/csv', 'image/png'];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }).map((s) => new TextEncoder().encode(s))),
        fc.constantFrom(...types),
        fc.boolean(),
        async (raw, contentType, pdfHeader) => {
          const bytes = Buffer.concat([pdfHeader ? Buffer.from('%PDF-1.4\n') : Buffer.alloc(0), Buffer.from(raw)]);
          try {
            const document = await parseDocument({ bytes, contentType });
            expect(document.text.trim()).not.toBe('');
          } catch (error) {
            expect(error).toBeInstanceOf(DocumentParseError);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
