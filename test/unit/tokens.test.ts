import fc from 'fast-check';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k_base from 'js-tiktoken/ranks/cl100k_base';
import { describe, expect, it } from 'vitest';
import { countTokens, decode, encode, truncateToTokens } from '../../src/context/tokens.js';

/** js-tiktoken used directly, as the reference the fast path must agree with. */
const reference = new Tiktoken(cl100k_base);

function prose(targetLength: number): string {
  const words = ['the', 'quick', 'brown', 'fox', 'Pricing', 'enterprise', 'workflow', 'räksmörgås', '数据', 'résumé', '42'];
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < targetLength; i++) {
    const word = `${words[(i * 7919) % words.length]}${i % 11 === 0 ? '.' : ''}${i % 97 === 0 ? '\n\n' : ' '}`;
    parts.push(word);
    length += word.length;
  }
  return parts.join('');
}

describe('countTokens', () => {
  it('counts cl100k_base tokens', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('hello world')).toBe(2);
    expect(countTokens('tiktoken is great!')).toBe(reference.encode('tiktoken is great!').length);
  });

  it('agrees with js-tiktoken on ordinary text', () => {
    const samples = [
      'The Enterprise plan adds SSO.\n\nContact sales: sales@example.com',
      '  indented\tcode();\n    return x + 1;\n',
      'Ünïcödé, 数据处理，日本語のテキスト。 😀👍🏽',
      "It's 2024 — we're shipping 1234567 tokens' worth of text.",
      prose(20_000),
    ];
    for (const text of samples) expect(countTokens(text)).toBe(reference.encode(text).length);
  });

  it('agrees with js-tiktoken token for token on random strings', () => {
    // Up to 64 UTF-16 units no pre-token piece is sliced, so the encoding is exact.
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 64 }),
      fc.string({ unit: 'binary', maxLength: 64 }),
      fc.string({ unit: fc.constantFrom('a', 'b', 'e', 'r', 'n', ' ', '.', '\n', '1', 'é', '数', '😀'), maxLength: 64 }),
    );
    fc.assert(
      fc.property(text, (value) => {
        expect(encode(value)).toEqual(reference.encode(value, [], []));
      }),
      { numRuns: 500 },
    );
  });

  it('treats special-token markers as plain text', () => {
    const text = 'end of text: <|endoftext|> and <|fim_prefix|>';
    expect(countTokens(text)).toBe(reference.encode(text, [], []).length);
    expect(decode(encode(text))).toBe(text);
  });

  it('equals the length of encode, and decode inverts encode', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        const tokens = encode(text);
        expect(tokens.length).toBe(countTokens(text));
        expect(decode(tokens)).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  it('truncates to whole tokens within a budget', () => {
    const text = 'The Enterprise plan adds single sign-on, audit logs and a dedicated support engineer.';
    const prefix = truncateToTokens(text, 5);
    expect(prefix).toBe(decode(encode(text).slice(0, 5)));
    expect(countTokens(prefix)).toBe(5);
    expect(truncateToTokens(text, 1000)).toBe(text);
    expect(truncateToTokens(text, 0)).toBe('');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.integer({ min: 0, max: 80 }), (value, budget) => {
        const cut = truncateToTokens(value, budget);
        expect(value.startsWith(cut)).toBe(true);
        expect(countTokens(cut)).toBeLessThanOrEqual(budget);
        // Never cuts inside a surrogate pair.
        expect(cut).toBe(Array.from(cut).join(''));
        if (countTokens(value) <= budget) expect(cut).toBe(value);
      }),
      { numRuns: 300 },
    );
  });

  it('stays fast on long runs without a break', () => {
    // js-tiktoken's own merge needs seconds for 10,000 identical letters.
    const run = 'a'.repeat(200_000);
    expect(countTokens(run)).toBeGreaterThan(200_000 / 64);
    let seed = 7;
    const letters = Array.from({ length: 50_000 }, () => String.fromCharCode(97 + ((seed = (seed * 48271) % 2147483647) % 26))).join('');
    expect(countTokens(letters)).toBeGreaterThan(letters.length / 64);
    // Long pieces are counted in slices: close to the exact count, not always equal to it.
    const base64 = Buffer.from(Array.from({ length: 150_000 }, (_, i) => (i * i * 131 + i) % 256)).toString('base64');
    const exact = reference.encode(base64, [], []).length;
    expect(Math.abs(countTokens(base64) - exact)).toBeLessThanOrEqual(exact * 0.01);
    expect(decode(encode(base64))).toBe(base64);
  });

  it('counts a megabyte of prose', () => {
    const text = prose(1_000_000);
    const started = performance.now();
    const count = countTokens(text);
    const elapsed = performance.now() - started;
    expect(count).toBeGreaterThan(100_000);
    // Logged, not asserted: timing depends on the machine.
    console.info(`countTokens: 1 MB of prose, ${count} tokens in ${elapsed.toFixed(0)} ms`);
  });
});
