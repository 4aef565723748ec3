import type { Migration } from 'kysely';
import * as contextChunks from './0003-context-chunks.js';

/** SQLite's own migrations, merged with the shared ones (src/store/migrations) by name. */
export const sqliteMigrations: Record<string, Migration> = {
  '0003-context-chunks': contextChunks,
};
