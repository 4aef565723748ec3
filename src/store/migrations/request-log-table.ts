import type { CreateTableBuilder, Kysely } from 'kysely';

/**
 * The request log: one row per authenticated request, keyed by workspace, mode and request id
 * (ids sort by time, so a scope's newest requests are the end of its key range). Dialects add
 * what they store it best with.
 */
export function requestLogTable(db: Kysely<any>): CreateTableBuilder<'request_log', any> {
  return db.schema
    .createTable('request_log')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('livemode', 'integer', (c) => c.notNull())
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('api_key_id', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('route', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('latency_ms', 'double precision', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('idempotency_key', 'text')
    .addColumn('run_id', 'text')
    .addPrimaryKeyConstraint('request_log_pk', ['workspace_id', 'livemode', 'id']);
}
