/**
 * The SQLite store checkpoints its WAL on a thread of its own: what commits write reaches the
 * database file without the writer connection ever checkpointing (which would stall the event
 * loop inside whichever commit crossed SQLite's limit).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/ids.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { WRITER_AUTOCHECKPOINT_PAGES } from '../../src/store/sqlite/wal-checkpointer.js';
import { tempDir } from '../support/services.js';

const PAGE_BYTES = 4096;

describe('SQLite WAL checkpoints', () => {
  it('copy committed pages into the database file in the background, below the writer limit', async () => {
    const dir = tempDir();
    const store = await openSqliteStore({ dataDir: dir });
    const file = path.join(dir, 'kairo.sqlite');
    try {
      const before = fs.statSync(file).size;
      // About 2,000 pages of workspaces: a fifth of what the writer lets the WAL hold before it checkpoints.
      const pages = WRITER_AUTOCHECKPOINT_PAGES / 5;
      for (let i = 0; i < pages; i++) {
        await store.workspaces.create({ id: newId('ws'), name: `Workspace ${i} ${'x'.repeat(PAGE_BYTES - 200)}`, plan: 'free', createdAt: Date.now() });
      }
      const deadline = Date.now() + 10_000;
      while (fs.statSync(file).size - before < (pages / 2) * PAGE_BYTES && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(fs.statSync(file).size - before).toBeGreaterThan((pages / 2) * PAGE_BYTES);
    } finally {
      await store.close();
    }
  });
});
