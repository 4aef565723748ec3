import type { Migration, MigrationProvider } from 'kysely';
import * as foundation from './0001-foundation.js';

/** Every migration in order. Names sort in the order they apply. */
const migrations: Record<string, Migration> = {
  '0001-foundation': foundation,
};

/** Migrations are compiled into the program, so a binary never depends on files beside it. */
export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
