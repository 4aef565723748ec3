import { sql, type Kysely } from 'kysely';

const EMPTY_USAGE = '{"input_tokens":0,"output_tokens":0,"cached_input_tokens":0,"reasoning_tokens":0,"total_tokens":0}';

/**
 * Traces and analytics: who started each run and what it is part of, workflow runs' usage and
 * latency, spans of either kind of run, the rollups analytics reads, and the request log.
 */
export async function up(db: Kysely<any>): Promise<void> {
  for (const column of ['api_key_id', 'parent_run_id', 'parent_span_id', 'workflow_id']) {
    await db.schema.alterTable('runs').addColumn(column, 'text').execute();
  }
  await db.schema.alterTable('runs').addColumn('workflow_version', 'integer').execute();
  await db.schema.createIndex('runs_scope').on('runs').columns(['workspace_id', 'livemode', 'id']).execute();
  await db.schema.createIndex('runs_parent').on('runs').column('parent_run_id').execute();

  await db.schema.alterTable('workflow_runs').addColumn('api_key_id', 'text').execute();
  await db.schema.alterTable('workflow_runs').addColumn('usage', 'text', (c) => c.notNull().defaultTo(EMPTY_USAGE)).execute();
  await db.schema.alterTable('workflow_runs').addColumn('cost_usd', 'double precision', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('workflow_runs').addColumn('latency', 'text', (c) => c.notNull().defaultTo('{}')).execute();
  await db.schema.createIndex('workflow_runs_scope').on('workflow_runs').columns(['workspace_id', 'livemode', 'id']).execute();
  await db.schema.createIndex('workflow_runs_parent').on('workflow_runs').column('parent_run_id').execute();

  // Spans now belong to agent runs and workflow runs alike, so they no longer reference `runs`.
  // The run itself is the trace's root (its row has the timings), so no span repeats it.
  await db.schema
    .createTable('trace_spans')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('run_id', 'text', (c) => c.notNull())
    .addColumn('parent_id', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('attributes', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('ended_at', 'bigint')
    .execute();
  await sql`insert into trace_spans (id, run_id, parent_id, kind, name, status, attributes, started_at, ended_at)
            select id, run_id, parent_id, kind, name, status, attributes, started_at, ended_at from spans where kind <> 'run'`.execute(db);
  await db.schema.dropTable('spans').execute();
  await db.schema.alterTable('trace_spans').renameTo('spans').execute();
  await db.schema.createIndex('spans_run').on('spans').columns(['run_id', 'started_at']).execute();

  // One row per bucket (`minute` rows written with each run, `hour` and `day` rows derived from
  // them) and series: a subject (agent_run, model_call, workflow_run, request) with its
  // dimensions. `grouping` says which dimensions a derived row keeps ('*' all of them).
  await db.schema
    .createTable('rollups')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('livemode', 'integer', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('width', 'text', (c) => c.notNull())
    .addColumn('grouping', 'text', (c) => c.notNull())
    .addColumn('bucket_start', 'bigint', (c) => c.notNull())
    .addColumn('series', 'text', (c) => c.notNull())
    .addColumn('api_key_id', 'text')
    .addColumn('agent_id', 'text')
    .addColumn('agent_version', 'integer')
    .addColumn('workflow_id', 'text')
    .addColumn('workflow_version', 'integer')
    .addColumn('model', 'text')
    .addColumn('provider', 'text')
    .addColumn('status', 'text')
    .addColumn('route', 'text')
    .addColumn('count', 'bigint', (c) => c.notNull())
    .addColumn('errors', 'bigint', (c) => c.notNull())
    .addColumn('steps', 'bigint', (c) => c.notNull())
    .addColumn('input_tokens', 'bigint', (c) => c.notNull())
    .addColumn('cached_input_tokens', 'bigint', (c) => c.notNull())
    .addColumn('output_tokens', 'bigint', (c) => c.notNull())
    .addColumn('reasoning_tokens', 'bigint', (c) => c.notNull())
    .addColumn('cost_usd', 'double precision', (c) => c.notNull())
    .addColumn('auto_chosen', 'bigint', (c) => c.notNull())
    .addColumn('fallbacks', 'bigint', (c) => c.notNull())
    .addColumn('sketches', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('rollups_pk', ['workspace_id', 'livemode', 'subject', 'width', 'grouping', 'bucket_start', 'series'])
    .execute();
  // Compaction and retention walk buckets across workspaces.
  await db.schema.createIndex('rollups_time').on('rollups').columns(['width', 'bucket_start']).execute();

  // The request log in segments: one row per write and scope, holding up to 1000 requests (see
  // src/store/kysely/request-log.ts), keyed by the newest request's id.
  await db.schema
    .createTable('request_log_segments')
    .addColumn('workspace_id', 'text', (c) => c.notNull())
    .addColumn('livemode', 'integer', (c) => c.notNull())
    .addColumn('last_id', 'text', (c) => c.notNull())
    .addColumn('first_id', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('statuses', 'text', (c) => c.notNull())
    .addColumn('routes', 'text', (c) => c.notNull())
    .addColumn('api_keys', 'text', (c) => c.notNull())
    .addColumn('records', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('request_log_segments_pk', ['workspace_id', 'livemode', 'last_id'])
    .execute();
  await db.schema.createIndex('request_log_segments_first').on('request_log_segments').columns(['workspace_id', 'livemode', 'first_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('request_log_segments').execute();
  await db.schema.dropTable('rollups').execute();
}
