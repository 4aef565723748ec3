import type { Config } from '../config.js';
import type { Store } from './port.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import { openPostgresStore } from './postgres/postgres-store.js';

/** PostgreSQL when a database URL is configured, else the embedded SQLite file under the data dir. */
export function openStore(config: Pick<Config, 'databaseUrl' | 'databaseSchema' | 'dataDir'>): Promise<Store> {
  if (config.databaseUrl) return openPostgresStore({ url: config.databaseUrl, schema: config.databaseSchema });
  return openSqliteStore({ dataDir: config.dataDir });
}
