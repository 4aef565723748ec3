import { describe, expect, it } from 'vitest';
import { sanitizeToolName, uniqueToolNames } from '../../src/mcp/tool-names.js';

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

describe('MCP tool names', () => {
  it('keeps letters, digits, _ and -, and turns everything else into single underscores', () => {
    expect(sanitizeToolName('Support Bot', 'agent')).toBe('Support_Bot');
    expect(sanitizeToolName('  Lead scorer (v2) / EMEA!  ', 'agent')).toBe('Lead_scorer_v2_EMEA');
    expect(sanitizeToolName('Café crème', 'agent')).toBe('Cafe_creme');
    expect(sanitizeToolName('order-lookup_2', 'agent')).toBe('order-lookup_2');
  });

  it('falls back when nothing is left, and cuts at 64 characters', () => {
    expect(sanitizeToolName('日本語', 'workflow')).toBe('workflow');
    expect(sanitizeToolName('!!!', 'agent')).toBe('agent');
    const long = sanitizeToolName('x'.repeat(200), 'agent');
    expect(long).toHaveLength(64);
  });

  it('gives later duplicates a suffix, ignoring case, and stays within the rules', () => {
    const names = uniqueToolNames([
      { name: 'Support Bot', fallback: 'agent' },
      { name: 'support  bot', fallback: 'agent' },
      { name: 'Support Bot!', fallback: 'agent' },
      { name: '日本', fallback: 'agent' },
      { name: '中文', fallback: 'agent' },
      { name: 'y'.repeat(100), fallback: 'workflow' },
      { name: 'y'.repeat(90), fallback: 'workflow' },
    ]);
    expect(names).toEqual(['Support_Bot', 'support_bot_2', 'Support_Bot_3', 'agent', 'agent_2', 'y'.repeat(64), `${'y'.repeat(62)}_2`]);
    for (const name of names) expect(name).toMatch(TOOL_NAME);
    expect(new Set(names.map((name) => name.toLowerCase())).size).toBe(names.length);
  });
});
