import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';
import { DocumentParseError, type ParsedDocument } from '../ports.js';
import { finishDocument } from './normalise.js';

/** The slice of the DOM this module reads (linkedom implements it; the project has no DOM lib). */
interface DomNode {
  nodeType: number;
  nodeName: string;
  nodeValue: string | null;
  textContent: string | null;
  childNodes: ArrayLike<DomNode>;
  getAttribute?(name: string): string | null;
}

interface DomDocument {
  title: string;
  body: DomNode | null;
  querySelector(selector: string): DomNode | null;
}

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;

/** Elements whose content is never reading text. */
const SKIPPED = new Set([
  'script', 'style', 'noscript', 'template', 'head', 'svg', 'math', 'canvas', 'iframe', 'object', 'embed',
  'select', 'button', 'textarea', 'input',
]);

const BLOCKS = new Set([
  'p', 'div', 'section', 'article', 'main', 'aside', 'header', 'footer', 'nav', 'blockquote', 'figure',
  'figcaption', 'form', 'fieldset', 'details', 'summary', 'address', 'dl', 'dt', 'dd', 'center', 'table',
  'caption', 'body', 'html',
]);

/**
 * Readable text of an HTML page: the article as Mozilla Readability finds it (the whole body when
 * it finds none), headings as `#` lines, list items as `- ` lines, table rows as `a | b` lines,
 * `<pre>` as fenced code; scripts, styles and form controls dropped. The title is the article's
 * (from `<title>`, Open Graph or the main heading); for a page without one, `url` (where the page
 * came from) stands in. Throws DocumentParseError `document_empty` when the page has no text.
 */
export function htmlToText(html: string, url?: string): ParsedDocument {
  let parsed: { title: string | null; text: string };
  try {
    parsed = readable(html);
  } catch (error) {
    // Pathological markup (nesting deep enough to exhaust the stack) is unreadable, not a crash.
    throw new DocumentParseError('document_unreadable', `The HTML page could not be read: ${describe(error)}.`);
  }
  return finishDocument({ title: parsed.title ?? titleFromUrl(url), text: parsed.text }, 'HTML page');
}

function readable(html: string): { title: string | null; text: string } {
  const source = /<(html|body)[\s>]/i.test(html) ? html : `<!DOCTYPE html><html><head></head><body>${html}</body></html>`;
  const document = load(source);
  const pageTitle = document.title || textOf(document.querySelector('h1')) || null;

  let article: { title?: string | null | undefined; content?: DomNode | null | undefined } | null = null;
  try {
    // Readability takes the document apart, so the fallback below parses a fresh copy.
    article = new Readability<DomNode>(document as never, { serializer: (node) => node as unknown as DomNode }).parse();
  } catch {
    article = null;
  }
  const articleText = article?.content ? render(article.content) : '';
  if (articleText.trim() !== '') return { title: article?.title?.trim() || pageTitle, text: tidy(articleText) };

  const body = load(source).body;
  return { title: pageTitle, text: body ? tidy(render(body)) : '' };
}

function load(html: string): DomDocument {
  return (parseHTML(html) as unknown as { document: DomDocument }).document;
}

/** Text with block structure marked by blank lines; `tidy` settles the spacing afterwards. */
function render(node: DomNode): string {
  if (node.nodeType === TEXT_NODE) return (node.nodeValue ?? '').replace(/\s+/g, ' ');
  if (node.nodeType !== ELEMENT_NODE) return '';
  const name = node.nodeName.toLowerCase();
  if (SKIPPED.has(name)) return '';

  const heading = /^h([1-6])$/.exec(name);
  if (heading) {
    const text = inline(node);
    return text ? `\n\n${'#'.repeat(Number(heading[1]))} ${text}\n\n` : '';
  }
  switch (name) {
    case 'br':
      return '\n';
    case 'hr':
      return '\n\n';
    case 'pre': {
      const code = (node.textContent ?? '').replace(/^\n+|\s+$/g, '');
      return code ? `\n\n\`\`\`\n${code.replace(/^(`{3,}|~{3,})/gm, ' $1')}\n\`\`\`\n\n` : '';
    }
    case 'ul':
    case 'ol': {
      let number = Number.parseInt(node.getAttribute?.('start') ?? '', 10);
      if (!Number.isFinite(number)) number = 1;
      let out = '';
      for (const child of Array.from(node.childNodes)) {
        if (child.nodeName.toLowerCase() !== 'li') out += render(child);
        else out += listItem(child, name === 'ol' ? `${number++}. ` : '- ');
      }
      return `\n\n${out}\n\n`;
    }
    case 'li':
      return `\n${listItem(node, '- ')}`;
    case 'tr': {
      const cells: string[] = [];
      for (const cell of Array.from(node.childNodes)) {
        const cellName = cell.nodeName.toLowerCase();
        if (cellName === 'td' || cellName === 'th') cells.push(inline(cell));
      }
      return cells.some((c) => c !== '') ? `${cells.join(' | ')}\n` : '';
    }
  }
  const inner = children(node);
  return BLOCKS.has(name) ? `\n\n${inner}\n\n` : inner;
}

function children(node: DomNode): string {
  let out = '';
  for (const child of Array.from(node.childNodes)) out += render(child);
  return out;
}

/** One list item starting a line; paragraphs inside it stay on following lines, without blank lines. */
function listItem(item: DomNode, marker: string): string {
  const text = children(item).replace(/\s*\n\s*/g, '\n').trim();
  return text ? `${marker}${text}\n` : '';
}

/** The text inside a node, on one line. */
function inline(node: DomNode): string {
  return children(node).replace(/\s+/g, ' ').trim();
}

function textOf(node: DomNode | null): string {
  return node ? inline(node) : '';
}

/** Collapses spacing outside fenced code: single spaces, no spaces around line breaks. */
function tidy(text: string): string {
  const out: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) {
      fenced = !fenced;
      out.push(line.trim());
    } else {
      out.push(fenced ? line.trimEnd() : line.replace(/[^\S\n]+/g, ' ').trim());
    }
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trim();
}

function titleFromUrl(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return null;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
