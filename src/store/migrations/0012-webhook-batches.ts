import type { Kysely } from 'kysely';

/**
 * Deliveries go out in batches per endpoint: each pending attempt carries the series it belongs
 * to (when its first attempt was due, whether it is retried) and the claim of the batch job
 * sending it; the due attempts of an endpoint are found by one index.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('webhook_deliveries').addColumn('series_started_at', 'bigint').execute();
  await db.schema.alterTable('webhook_deliveries').addColumn('retried', 'integer').execute();
  await db.schema.alterTable('webhook_deliveries').addColumn('claimed_by', 'text').execute();
  await db.schema.alterTable('webhook_deliveries').addColumn('claimed_until', 'bigint').execute();
  await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['status', 'endpoint_id', 'next_attempt_at']).execute();
}
