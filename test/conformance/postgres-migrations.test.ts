import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { dropPostgresSchema, openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { postgresUrl, uniqueName } from '../support/services.js';

/** Creates and drops schemas full of tables until stopped, as other KAIRO instances and tests do. */
function churnOtherSchemas(): { stop: () => Promise<number> } {
  let running = true;
  let cycles = 0;
  const loop = (async () => {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      while (running) {
        const schema = uniqueName('kairo_churn');
        const columns = Array.from({ length: 40 }, (_, i) => `c${i} bigint`).join(', ');
        await client.query(`create schema "${schema}"`);
        for (let table = 0; table < 10; table++) await client.query(`create table "${schema}".t${table} (id serial primary key, ${columns})`);
        await client.query(`drop schema "${schema}" cascade`);
        cycles++;
      }
    } finally {
      await client.end();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return cycles;
    },
  };
}

describe('opening the PostgreSQL store', { timeout: 120_000 }, () => {
  it('migrates its own schema while other schemas are created and dropped', async () => {
    const churn = [churnOtherSchemas(), churnOtherSchemas()];
    const schemas: string[] = [];
    try {
      for (let round = 0; round < 4; round++) {
        const batch = Array.from({ length: 3 }, () => uniqueName('kairo_migrate'));
        schemas.push(...batch);
        // Three processes opening one schema at once, as a server and its workers do.
        const stores = await Promise.all(batch.flatMap((schema) => [1, 2, 3].map(() => openPostgresStore({ url: postgresUrl, schema, poolSize: 1 }))));
        await Promise.all(stores.map((store) => store.close()));
      }
    } finally {
      const cycles = await Promise.all(churn.map((c) => c.stop()));
      expect(cycles.reduce((a, b) => a + b)).toBeGreaterThan(0);
      for (const schema of schemas) await dropPostgresSchema(postgresUrl, schema);
    }
  });
});
