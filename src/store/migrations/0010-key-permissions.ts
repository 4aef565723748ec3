import type { Kysely } from 'kysely';

/**
 * Restricted keys: `permissions` (JSON text, each area's level) and a rate limit of the key's own.
 * Both null for existing keys, which stay unrestricted.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_keys').addColumn('permissions', 'text').execute();
  await db.schema.alterTable('api_keys').addColumn('rate_limit_per_minute', 'integer').execute();
}
