import { describe, expect, it } from 'vitest';
import { TypeID } from 'typeid-js';
import { idAtTime, idMadeAt, isId, newId, timeOfId } from '../../src/ids.js';

describe('ids', () => {
  it('makes TypeIDs that typeid-js parses, with a UUIDv7 inside carrying the current time', () => {
    for (let i = 0; i < 1000; i++) {
      const before = Date.now();
      const id = newId('agent');
      const parsed = TypeID.fromString(id);
      expect(parsed.getType()).toBe('agent');
      const uuid = parsed.toUUID().replace(/-/g, '');
      expect(uuid[12]).toBe('7');
      expect(['8', '9', 'a', 'b']).toContain(uuid[16]);
      const ms = parseInt(uuid.slice(0, 12), 16);
      expect(ms).toBeGreaterThanOrEqual(before);
      expect(ms).toBeLessThanOrEqual(Date.now());
      expect(isId('agent', id)).toBe(true);
    }
  });

  it('sorts by creation time and does not repeat', async () => {
    const first = newId('run');
    await new Promise((resolve) => setTimeout(resolve, 2));
    const second = newId('run');
    expect(first < second).toBe(true);
    const many = Array.from({ length: 20_000 }, () => newId('req'));
    expect(new Set(many).size).toBe(20_000);
    // Ids made within one millisecond still sort in creation order.
    expect([...many].sort()).toEqual(many);
  });

  it('recognises only ids of the given prefix', () => {
    expect(isId('key', newId('ws'))).toBe(false);
    expect(isId('key', 'key_')).toBe(false);
    expect(isId('key', `${newId('key')}x`)).toBe(false);
  });

  it('makes ids of a past time that carry it, random after it, above the smallest id of that time', () => {
    const at = Date.UTC(2026, 0, 15, 12, 30, 45, 123);
    const ids = Array.from({ length: 1000 }, () => idMadeAt('span', at));
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) {
      const uuid = TypeID.fromString(id).toUUID().replace(/-/g, '');
      expect(parseInt(uuid.slice(0, 12), 16)).toBe(at);
      expect(uuid[12]).toBe('7');
      expect(['8', '9', 'a', 'b']).toContain(uuid[16]);
      expect(timeOfId(id)).toBe(at);
      expect(id >= idAtTime('span', at) && id < idAtTime('span', at + 1)).toBe(true);
    }
  });
});
