/**
 * Prepared queries (src/store/kysely/prepared-query.ts): compiled once, run with each call's
 * values, and refused when a value does not reach the query as a parameter. The repositories
 * that use them are covered on both databases by the store conformance suites.
 */
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/schema.js';
import { pick, preparedQuery, preparedVariants } from '../../src/store/kysely/prepared-query.js';

let db: Kysely<Database>;

beforeAll(async () => {
  db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }) });
  await sql`create table meta (key text primary key, value text not null)`.execute(db);
});

afterAll(async () => {
  await db.destroy();
});

const insert = preparedQuery((d, row: Database['meta']) => d.insertInto('meta').values(pick(row, ['key', 'value'])));
const byKey = preparedQuery((d, p: { key: string }) => d.selectFrom('meta').selectAll().where('key', '=', p.key));

describe('a prepared query', () => {
  it('runs with each call\'s values, in and out of a transaction', async () => {
    await insert.execute(db, { key: 'a', value: 'one' });
    await db.transaction().execute((trx) => insert.execute(trx, { key: 'b', value: 'two' }));
    expect(await byKey.first(db, { key: 'a' })).toEqual({ key: 'a', value: 'one' });
    expect(await byKey.rows(db, { key: 'b' })).toEqual([{ key: 'b', value: 'two' }]);
    expect(await byKey.first(db, { key: 'c' })).toBeUndefined();
  });

  it('keeps the constants of the query and binds a value used twice in both places', async () => {
    const upsert = preparedQuery((d, row: Database['meta']) =>
      d.insertInto('meta').values(pick(row, ['key', 'value'])).onConflict((oc) => oc.column('key').doUpdateSet({ value: row.value })));
    await upsert.execute(db, { key: 'u', value: 'first' });
    await upsert.execute(db, { key: 'u', value: 'second' });
    const inList = preparedQuery((d, p: { value: string }) => d.selectFrom('meta').select('key').where('key', 'in', ['u', 'x']).where('value', '=', p.value));
    expect(await inList.rows(db, { value: 'second' })).toEqual([{ key: 'u' }]);
  });

  it('counts the rows a write changed', async () => {
    const rename = preparedQuery((d, p: { key: string; value: string }) => d.updateTable('meta').set({ value: p.value }).where('key', '=', p.key));
    expect(await rename.affectedRows(db, { key: 'a', value: 'uno' })).toBe(1);
    expect(await rename.affectedRows(db, { key: 'missing', value: 'x' })).toBe(0);
  });

  it('is refused when a value is transformed or inlined instead of passed as a parameter', async () => {
    for (const pattern of [(key: string) => `${key}%`, (key: string) => `%${key}`]) {
      const transformed = preparedQuery((d, p: { key: string }) => d.selectFrom('meta').selectAll().where('key', 'like', pattern(p.key)));
      await expect(transformed.first(db, { key: 'a' })).rejects.toThrow(/transformed/);
    }
    const changed = preparedQuery((d, p: { key: string }) => d.selectFrom('meta').selectAll().where('key', '=', p.key.toUpperCase()));
    await expect(changed.first(db, { key: 'a' })).rejects.toThrow(/key did not reach the query/);
    const dropped = preparedQuery((d, p: { key: string }) => d.selectFrom('meta').selectAll().where('key', '=', p.key ? 'a' : 'b'));
    await expect(dropped.first(db, { key: 'a' })).rejects.toThrow(/key did not reach the query/);
    const inlined = preparedQuery((d, p: { key: string }) => d.selectFrom('meta').selectAll().where('key', '=', sql.lit(p.key)));
    await expect(inlined.first(db, { key: 'a' })).rejects.toThrow(/did not reach the query/);
  });

  it('has one compiled form per variant', async () => {
    const countIn = preparedVariants((keys: string) => preparedQuery((d, _p: Record<string, never>) => d.selectFrom('meta').select('key').where('key', 'in', keys.split(','))));
    expect(countIn('a,b')).toBe(countIn('a,b'));
    expect((await countIn('a,b').rows(db, {})).length).toBe(2);
    expect((await countIn('a').rows(db, {})).length).toBe(1);
  });
});
