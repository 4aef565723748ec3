import type { ParsedDocument } from '../ports.js';

const FRONT_MATTER = /^---[ \t]*\r?\n([\s\S]*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const H1 = /^ {0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;

/**
 * Markdown is kept as written (its headings drive chunking). The title is the first `# ` heading
 * outside code blocks, else a `title:` in YAML front matter; the front matter itself is dropped.
 */
export function parseMarkdown(source: string): ParsedDocument {
  let text = source;
  let frontMatterTitle: string | null = null;
  const frontMatter = FRONT_MATTER.exec(text);
  if (frontMatter) {
    text = text.slice(frontMatter[0].length);
    const line = /^title:[ \t]*(.*)$/m.exec(frontMatter[1] ?? '');
    frontMatterTitle = line?.[1]?.replace(/^(["'])(.*)\1$/, '$2') ?? null;
  }
  return { title: firstHeading(text) ?? frontMatterTitle, text };
}

function firstHeading(text: string): string | null {
  let fence: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    const open = FENCE.exec(line);
    if (fence !== null) {
      if (open?.[1]?.startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') fence = null;
      continue;
    }
    if (open?.[1]) {
      fence = open[1];
      continue;
    }
    const heading = H1.exec(line)?.[1]?.trim();
    if (heading) return heading;
  }
  return null;
}
