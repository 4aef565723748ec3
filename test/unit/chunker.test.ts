import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunkText } from '../../src/context/chunker.js';
import type { TextChunk } from '../../src/context/ports.js';
import { countTokens } from '../../src/context/tokens.js';

function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

function expectWithinLimit(chunks: TextChunk[], maxTokens: number): void {
  chunks.forEach((chunk, i) => {
    expect(chunk.position).toBe(i);
    expect(chunk.tokenCount).toBe(countTokens(chunk.text));
    expect(chunk.tokenCount).toBeLessThanOrEqual(maxTokens);
    expect(chunk.text.trim()).not.toBe('');
  });
}

/** Sentences "Sentence N is about topic N." of roughly ten tokens each. */
function sentences(count: number, from = 0): string {
  return Array.from({ length: count }, (_, i) => `Sentence ${from + i} talks about topic number ${from + i}.`).join(' ');
}

/** The longest suffix of `previous` that is also a prefix of `next`. */
function sharedEdge(previous: string, next: string): string {
  for (let length = Math.min(previous.length, next.length); length > 0; length--) {
    if (next.startsWith(previous.slice(-length))) return previous.slice(-length);
  }
  return '';
}

describe('chunkText options', () => {
  it.each([
    [{ maxTokens: 15, overlapTokens: 0 }],
    [{ maxTokens: 8193, overlapTokens: 0 }],
    [{ maxTokens: 100.5, overlapTokens: 0 }],
    [{ maxTokens: Number.NaN, overlapTokens: 0 }],
    [{ maxTokens: 100, overlapTokens: -1 }],
    [{ maxTokens: 100, overlapTokens: 50 }],
    [{ maxTokens: 100, overlapTokens: 2.5 }],
  ])('rejects %o', (options) => {
    expect(() => chunkText('text', options)).toThrow(RangeError);
  });

  it('accepts the bounds', () => {
    expect(chunkText('text', { maxTokens: 16, overlapTokens: 7 })).toHaveLength(1);
    expect(chunkText('text', { maxTokens: 8192, overlapTokens: 4095 })).toHaveLength(1);
  });
});

describe('chunkText', () => {
  const options = { maxTokens: 64, overlapTokens: 0 };

  it('returns nothing for empty or blank input', () => {
    expect(chunkText('', options)).toEqual([]);
    expect(chunkText(' \n\n\t \r\n ', options)).toEqual([]);
  });

  it('keeps a short document in one chunk', () => {
    const chunks = chunkText('Hello world.\n\nSecond paragraph.', options);
    expect(chunks).toEqual([{ position: 0, text: 'Hello world.\n\nSecond paragraph.', tokenCount: countTokens('Hello world.\n\nSecond paragraph.'), heading: null }]);
  });

  it('normalises whitespace', () => {
    const [chunk] = chunkText('  Hello \t  world.\r\n\r\n\r\n\r\nNext\u00a0 line  \r\n  here.  ', options);
    expect(chunk?.text).toBe('Hello world.\n\nNext line\nhere.');
  });

  it('cuts at headings and records the heading path', () => {
    const text = [
      'Preamble text.',
      '# Guide',
      '## Pricing',
      'Plans and prices.',
      '### Enterprise',
      'Call sales.',
      '## FAQ ##',
      'Questions.',
      '# Appendix',
      'The end.',
    ].join('\n\n');
    const chunks = chunkText(text, { maxTokens: 512, overlapTokens: 0 });
    expect(chunks.map((c) => [c.heading, c.text])).toEqual([
      [null, 'Preamble text.'],
      // "# Guide" has no text of its own before its first subsection, so it travels with it.
      ['Guide > Pricing', '# Guide\n\n## Pricing\n\nPlans and prices.'],
      ['Guide > Pricing > Enterprise', '### Enterprise\n\nCall sales.'],
      ['Guide > FAQ', '## FAQ\n\nQuestions.'],
      ['Appendix', '# Appendix\n\nThe end.'],
    ]);
  });

  it('keeps a heading without text as its own chunk when no subsection follows', () => {
    const chunks = chunkText('## One\n\n## Two\n\nText.', options);
    expect(chunks.map((c) => [c.heading, c.text])).toEqual([
      ['One', '## One'],
      ['Two', '## Two\n\nText.'],
    ]);
  });

  it('does not take # lines inside code fences for headings', () => {
    const text = '# Setup\n\nRun this:\n\n```bash\n# install\n    npm   install\n\n# start\nnpm start\n```\n\nDone.';
    const chunks = chunkText(text, { maxTokens: 512, overlapTokens: 0 });
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.heading).toBe('Setup');
    // Code keeps its indentation and inner spacing.
    expect(chunks[0]?.text).toContain('```bash\n# install\n    npm   install\n\n# start\nnpm start\n```');
  });

  it('does not take #hashtags or a lone # for headings', () => {
    const chunks = chunkText('#hashtag is text\n\n#\n\nMore.', options);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.heading).toBeNull();
  });

  it('packs whole paragraphs and splits long ones at sentences', () => {
    const paragraphs = [sentences(2, 0), sentences(2, 2), sentences(12, 4), sentences(2, 16)];
    const chunks = chunkText(paragraphs.join('\n\n'), { maxTokens: 64, overlapTokens: 0 });
    expectWithinLimit(chunks, 64);
    expect(chunks.map((c) => c.text).join(' ').split(/\s+/)).toEqual(words(paragraphs.join(' ')));
    // Every chunk starts at a sentence.
    for (const chunk of chunks) expect(chunk.text).toMatch(/^Sentence \d+ /);
    // The first two paragraphs fit together.
    expect(chunks[0]?.text).toBe(`${paragraphs[0]}\n\n${paragraphs[1]}`);
  });

  it('splits a long paragraph without sentences at words', () => {
    const text = Array.from({ length: 3000 }, (_, i) => `word${i}`).join(' ');
    const chunks = chunkText(text, { maxTokens: 100, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(10);
    expectWithinLimit(chunks, 100);
    expect(chunks.flatMap((c) => words(c.text))).toEqual(words(text));
    // Chunks are filled, not cut at every word.
    for (const chunk of chunks.slice(0, -1)) expect(chunk.tokenCount).toBeGreaterThan(80);
  });

  it('cuts a word longer than a chunk into token-sized fragments', () => {
    const word = Array.from({ length: 5000 }, (_, i) => String.fromCharCode(97 + ((i * i + 3 * i) % 26))).join('');
    const chunks = chunkText(`Intro.\n\n${word}\n\nOutro.`, { maxTokens: 50, overlapTokens: 10 });
    expectWithinLimit(chunks, 50);
    expect(chunks.map((c) => c.text).join('')).toContain(word.slice(0, 200));
    expect(chunks.at(-1)?.text.endsWith('Outro.')).toBe(true);
  });

  it('handles text without spaces between sentences (CJK)', () => {
    const text = Array.from({ length: 60 }, (_, i) => `这是第${i}个句子，内容关于数据处理。`).join('');
    const chunks = chunkText(text, { maxTokens: 64, overlapTokens: 0 });
    expectWithinLimit(chunks, 64);
    expect(chunks.map((c) => c.text).join('')).toBe(text);
    for (const chunk of chunks) expect(chunk.text).toMatch(/^这是第\d+个句子/);
  });

  it('is deterministic', () => {
    const text = `# A\n\n${sentences(40)}\n\n## B\n\n${sentences(30, 40)}`;
    const first = chunkText(text, { maxTokens: 50, overlapTokens: 12 });
    const second = chunkText(text, { maxTokens: 50, overlapTokens: 12 });
    expect(second).toEqual(first);
  });
});

describe('chunkText overlap', () => {
  it('starts each chunk with whole sentences from the end of the previous one', () => {
    const text = sentences(60);
    const chunks = chunkText(text, { maxTokens: 80, overlapTokens: 24 });
    expectWithinLimit(chunks, 80);
    expect(chunks.length).toBeGreaterThan(5);
    for (let i = 1; i < chunks.length; i++) {
      const previous = chunks[i - 1]?.text ?? '';
      const current = chunks[i]?.text ?? '';
      const edge = sharedEdge(previous, current);
      // About the requested size: at least one ten-token sentence, never more than asked.
      expect(countTokens(edge)).toBeGreaterThanOrEqual(10);
      expect(countTokens(edge)).toBeLessThanOrEqual(24);
      expect(edge).toMatch(/^Sentence \d+ .*\.$/);
      expect(current).toMatch(/^Sentence \d+ /);
    }
  });

  it('falls back to whole words when the last sentence is longer than the overlap', () => {
    const text = Array.from({ length: 400 }, (_, i) => `w${i}`).join(' ');
    const chunks = chunkText(text, { maxTokens: 60, overlapTokens: 10 });
    expectWithinLimit(chunks, 60);
    for (let i = 1; i < chunks.length; i++) {
      const edge = sharedEdge(chunks[i - 1]?.text ?? '', chunks[i]?.text ?? '');
      expect(countTokens(edge)).toBeGreaterThan(3);
      expect(countTokens(edge)).toBeLessThanOrEqual(10);
      // Whole words only: the shared part starts at a word of the previous chunk.
      expect(words(chunks[i - 1]?.text ?? '')).toContain(words(edge)[0]);
    }
  });

  it('never overlaps across a heading', () => {
    const text = `## First\n\n${sentences(20)}\n\n## Second\n\n${sentences(20, 20)}`;
    const chunks = chunkText(text, { maxTokens: 60, overlapTokens: 20 });
    const secondStart = chunks.findIndex((c) => c.heading === 'Second');
    expect(chunks[secondStart]?.text.startsWith('## Second\n\n')).toBe(true);
    for (const chunk of chunks.filter((c) => c.heading === 'Second')) expect(chunk.text).not.toMatch(/Sentence 1?\d /);
    // The heading line itself is not repeated as overlap.
    expect(chunks.filter((c) => c.text.includes('## First'))).toHaveLength(1);
  });

  it('adds no overlap when overlapTokens is 0', () => {
    const text = sentences(50);
    const chunks = chunkText(text, { maxTokens: 60, overlapTokens: 0 });
    expect(chunks.flatMap((c) => words(c.text))).toEqual(words(text));
  });
});

describe('chunkText properties', () => {
  interface Section {
    level: number | null;
    paragraphs: string[][][];
  }

  const vocabulary = ['alpha', 'Beta', 'gamma', 'délta', '数据', 'x', 'enterprise', 'Pricing', 'a1b2'];
  const ends = ['.', '!', '?', ''];
  const sentenceArb = fc.record({
    words: fc.array(fc.constantFrom(...vocabulary), { minLength: 1, maxLength: 14 }),
    end: fc.constantFrom(...ends),
  });
  const sectionArb = fc.record({
    level: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
    paragraphs: fc.array(fc.array(sentenceArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
  });
  const documentArb = fc.record({
    sections: fc.array(sectionArb, { minLength: 1, maxLength: 6 }),
    maxTokens: fc.integer({ min: 16, max: 160 }),
    overlapRatio: fc.double({ min: 0, max: 0.49, noNaN: true }),
    lineBreaks: fc.boolean(),
  });

  /**
   * Builds the text with every content word unique (`<word>_<n>`) and remembers, per word, the
   * heading path it falls under, so chunks can be aligned with the input unambiguously.
   */
  function build(sections: Array<{ level: number | null; paragraphs: Array<Array<{ words: string[]; end: string }>> }>, lineBreaks: boolean) {
    const blocks: string[] = [];
    const pathOf = new Map<string, string | null>();
    const stack: Array<{ level: number; title: string }> = [];
    let path: string | null = null;
    let counter = 0;
    sections.forEach((section, s) => {
      // Only the first section may lack a heading (text before any heading).
      const level = section.level ?? (s === 0 ? null : 2);
      if (level !== null) {
        const title = `Head${s}`;
        while (stack.length > 0 && (stack.at(-1)?.level ?? 0) >= level) stack.pop();
        stack.push({ level, title });
        path = stack.map((h) => h.title).join(' > ');
        pathOf.set(title, path);
        blocks.push(`${'#'.repeat(level)} ${title}`);
      }
      for (const paragraph of section.paragraphs) {
        const text = paragraph
          .map((sentence) => {
            const ws = sentence.words.map((w) => `${w}_${counter++}`);
            for (const w of ws) pathOf.set(w, path);
            return `${ws.join(' ')}${sentence.end}`;
          })
          .join(lineBreaks ? '\n' : ' ');
        blocks.push(text);
      }
    });
    return { text: blocks.join('\n\n'), pathOf };
  }

  it('respects the limit, covers every word in order, and records headings', () => {
    fc.assert(
      fc.property(documentArb, ({ sections, maxTokens, overlapRatio, lineBreaks }) => {
        const overlapTokens = Math.min(Math.floor(maxTokens * overlapRatio), Math.ceil(maxTokens / 2) - 1);
        const { text, pathOf } = build(sections, lineBreaks);
        const input = words(text);
        const chunks = chunkText(text, { maxTokens, overlapTokens });
        expectWithinLimit(chunks, maxTokens);

        let cursor = 0;
        let previous: string[] = [];
        for (const chunk of chunks) {
          const chunkWords = words(chunk.text);
          // The overlap is a run of the previous chunk's last words; what follows continues the input.
          let overlap = -1;
          for (let j = 0; j <= Math.min(previous.length, chunkWords.length - 1); j++) {
            const repeats = chunkWords.slice(0, j).every((w, k) => w === input[cursor - j + k]);
            const continues = chunkWords.slice(j).every((w, k) => w === input[cursor + k]);
            if (repeats && continues) {
              overlap = j;
              break;
            }
          }
          expect(overlap, `chunk ${chunk.position} does not continue the input: ${JSON.stringify(chunk.text)}`).toBeGreaterThanOrEqual(0);
          if (overlapTokens === 0) expect(overlap).toBe(0);
          if (overlap > 0) {
            const ends = [...chunk.text.matchAll(/\S+/g)].map((m) => m.index + m[0].length);
            expect(countTokens(chunk.text.slice(0, ends[overlap - 1]))).toBeLessThanOrEqual(overlapTokens);
          }
          cursor += chunkWords.length - overlap;
          previous = chunkWords;

          // Every word of the chunk (overlap included) lies under the chunk's heading.
          for (const w of chunkWords) {
            const bare = w.replace(/[.!?]$/, '');
            if (pathOf.has(bare)) expect(pathOf.get(bare), `word ${w} in chunk ${chunk.position}`).toBe(chunk.heading);
          }
        }
        expect(cursor).toBe(input.length);
      }),
      { numRuns: 150 },
    );
  });

  it('gives the same chunks for the same input', () => {
    fc.assert(
      fc.property(documentArb, ({ sections, maxTokens, lineBreaks }) => {
        const { text } = build(sections, lineBreaks);
        const options = { maxTokens, overlapTokens: Math.floor(maxTokens / 4) };
        expect(chunkText(text, options)).toEqual(chunkText(text, options));
      }),
      { numRuns: 30 },
    );
  });
});

describe('chunkText on large input', () => {
  it('chunks a megabyte of structured text', () => {
    const parts: string[] = [];
    let length = 0;
    for (let s = 0; length < 1_000_000; s++) {
      const section = `## Section ${s}\n\n${sentences(8, s * 100)}\n\n${sentences(30, s * 100 + 8)}\n\n- item one\n- item two`;
      parts.push(section);
      length += section.length + 2;
    }
    const started = performance.now();
    const chunks = chunkText(parts.join('\n\n'), { maxTokens: 512, overlapTokens: 64 });
    console.info(`chunkText: 1 MB structured, ${chunks.length} chunks in ${(performance.now() - started).toFixed(0)} ms`);
    // About 250,000 tokens in chunks of at most 512: hundreds of chunks, from the first section to the last.
    expect(chunks.length).toBeGreaterThan(400);
    expect(chunks[0]!.text).toContain('## Section 0');
    expect(chunks.at(-1)!.text).toContain('- item two');
    expect(chunks.some((c) => c.text.includes(`## Section ${parts.length - 1}`))).toBe(true);
    expectWithinLimit(chunks, 512);
  });

  it('chunks a megabyte-long paragraph without sentences', () => {
    const text = Array.from({ length: 150_000 }, (_, i) => `token${i % 5000}`).join(' ');
    const started = performance.now();
    const chunks = chunkText(text, { maxTokens: 256, overlapTokens: 32 });
    console.info(`chunkText: 1 MB single paragraph, ${chunks.length} chunks in ${(performance.now() - started).toFixed(0)} ms`);
    expect(chunks.length).toBeGreaterThan(100);
    expect(chunks.every((c) => c.tokenCount <= 256)).toBe(true);
  });
});
