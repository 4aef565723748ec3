import type { Migration } from 'kysely';
import * as contextChunks from './0003-context-chunks.js';
import * as runCostPrecision from './0006-run-cost-precision.js';

/** PostgreSQL's own migrations, merged with the shared ones (src/store/migrations) by name. */
export const postgresMigrations: Record<string, Migration> = {
  '0003-context-chunks': contextChunks,
  '0006-run-cost-precision': runCostPrecision,
};
