import { ConfigError } from '../config-error.js';
import { serviceAddress } from '../net/service-address.js';
import type { Store } from './port.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import { prepareDataDir } from './sqlite/data-dir.js';
import { openPostgresStore } from './postgres/postgres-store.js';

/** Socket errors that say the database server cannot be reached at all. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** SQLSTATEs of a server that refuses the connection: bad credentials (class 28), no such database. */
const REFUSED_STATES = /^(28|3D000)/;
/** SQLite errors that are about the database file or its directory, not about a statement. */
const SQLITE_FILE_CODES = /^SQLITE_(CANTOPEN|READONLY|PERM|IOERR|FULL|NOTADB|CORRUPT)/;

/** Where the database is: the settings of the Config that say so (the store does not import the configuration). */
export interface StoreLocation {
  databaseUrl: string | undefined;
  databaseSchema: string | undefined;
  dataDir: string;
}

/**
 * PostgreSQL when a database URL is configured, else the embedded SQLite file under the data dir.
 * A database that cannot be connected to, or a data directory that cannot be used, is a
 * ConfigError naming the setting.
 */
export async function openStore(config: StoreLocation): Promise<Store> {
  if (config.databaseUrl) {
    try {
      return await openPostgresStore({ url: config.databaseUrl, schema: config.databaseSchema });
    } catch (error) {
      const { code, message } = error as { code?: string; message?: string };
      if (code === undefined || !(UNREACHABLE_CODES.has(code) || REFUSED_STATES.test(code))) throw error;
      throw new ConfigError(
        `Cannot connect to PostgreSQL at ${serviceAddress(config.databaseUrl, 5432)} (${message || code}). Check --database-url / KAIRO_DATABASE_URL.`,
      );
    }
  }
  try {
    prepareDataDir(config.dataDir);
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}. Check --data / KAIRO_DATA_DIR.`);
  }
  try {
    return await openSqliteStore({ dataDir: config.dataDir });
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === undefined || !SQLITE_FILE_CODES.test(code)) throw error;
    throw new ConfigError(`The database in the data directory ${config.dataDir} cannot be used (${message}). Check --data / KAIRO_DATA_DIR.`);
  }
}
