import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { Repos } from '../port.js';
import { KyselyAgentRepo, KyselyRunRepo, KyselySpanRepo, KyselyThreadRepo, spanUpsert } from './agents.js';
import { KyselyRollupRepo, rollupUpsert } from './analytics.js';
import { KyselyBudgetRepo } from './budgets.js';
import { KyselyModelResponseRepo } from './model-responses.js';
import { BulkInsert } from './bulk-insert.js';
import { KyselyContextDocumentRepo, KyselyContextSourceRepo } from './context.js';
import { KyselyEventRepo } from './events.js';
import type { DialectTraits } from './dialect-traits.js';
import { KyselyJobRepo, KyselyOutboxRepo } from './jobs.js';
import { KyselyApiKeyRepo, KyselyHeartbeatRepo, KyselyIdempotencyRepo, KyselyMetaRepo, KyselyWorkspaceRepo } from './platform.js';
import { KyselyRequestLogRepo } from './request-log.js';
import { ROLLUP_COLUMNS } from './rollup-rows.js';
import { KyselyRunEventRepo } from './run-events.js';
import { SPAN_COLUMNS } from './run-rows.js';
import { KyselyWebhookDeliveryRepo, KyselyWebhookEndpointRepo } from './webhooks.js';
import { KyselyWorkflowRepo, KyselyWorkflowRunRepo } from './workflows.js';

export type { DialectTraits } from './dialect-traits.js';

/** What a store's repositories share across transactions: statements compiled once. */
export interface SharedStatements {
  rollupUpsert: BulkInsert<'rollups'>;
  rollupInsert: BulkInsert<'rollups'>;
  spanUpsert: BulkInsert<'spans'>;
  spanInsert: BulkInsert<'spans'>;
}

export const sharedStatements = (traits: DialectTraits): SharedStatements => ({
  rollupUpsert: rollupUpsert(traits.mergeCounts),
  rollupInsert: new BulkInsert('rollups', ROLLUP_COLUMNS),
  spanUpsert: spanUpsert(),
  spanInsert: new BulkInsert('spans', SPAN_COLUMNS),
});

/** The repositories over a Kysely executor: the database itself or an open transaction. */
export function kyselyRepos(db: Kysely<Database>, traits: DialectTraits, shared: SharedStatements): Repos {
  return {
    workspaces: new KyselyWorkspaceRepo(db),
    apiKeys: new KyselyApiKeyRepo(db),
    idempotency: new KyselyIdempotencyRepo(db),
    heartbeats: new KyselyHeartbeatRepo(db),
    jobs: new KyselyJobRepo(db, traits),
    outbox: new KyselyOutboxRepo(db),
    meta: new KyselyMetaRepo(db),
    contextSources: new KyselyContextSourceRepo(db),
    contextDocuments: new KyselyContextDocumentRepo(db),
    contextChunks: traits.chunkRepo(db),
    agents: new KyselyAgentRepo(db),
    runs: new KyselyRunRepo(db),
    runEvents: new KyselyRunEventRepo(db, 'run'),
    spans: new KyselySpanRepo(db, shared.spanUpsert, shared.spanInsert),
    threads: new KyselyThreadRepo(db),
    workflows: new KyselyWorkflowRepo(db),
    workflowRuns: new KyselyWorkflowRunRepo(db),
    workflowRunEvents: new KyselyRunEventRepo(db, 'wfrun'),
    rollups: new KyselyRollupRepo(db, shared.rollupUpsert, shared.rollupInsert, traits.sumsNamedGroupings),
    requestLog: new KyselyRequestLogRepo(db),
    events: new KyselyEventRepo(db),
    webhookEndpoints: new KyselyWebhookEndpointRepo(db),
    webhookDeliveries: new KyselyWebhookDeliveryRepo(db),
    budgets: new KyselyBudgetRepo(db),
    modelResponses: new KyselyModelResponseRepo(db),
  };
}
