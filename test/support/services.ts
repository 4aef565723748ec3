import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { dropPostgresSchema, openPostgresStore } from '../../src/store/postgres/postgres-store.js';

/** The PostgreSQL server the test machines run (trust auth, database `test`). */
export const postgresUrl = process.env.KAIRO_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The Redis server the test machines run. */
export const redisUrl = process.env.KAIRO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

export function tempDir(prefix = 'kairo-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A store under test plus how to throw it away. */
export interface StoreHandle {
  store: Store;
  dispose(): Promise<void>;
}

/** One factory per storage backend; conformance suites loop over these. */
export const storeBackends: Array<{ name: 'sqlite' | 'postgres'; open: () => Promise<StoreHandle> }> = [
  {
    name: 'sqlite',
    async open() {
      const dir = tempDir();
      const store = await openSqliteStore({ dataDir: dir });
      return {
        store,
        async dispose() {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async open() {
      const schema = uniqueName('kairo_test');
      const store = await openPostgresStore({ url: postgresUrl, schema, poolSize: 5 });
      return {
        store,
        async dispose() {
          await store.close();
          await dropPostgresSchema(postgresUrl, schema);
        },
      };
    },
  },
];
