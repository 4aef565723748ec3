import type { Migration, MigrationProvider } from 'kysely';
import * as foundation from './0001-foundation.js';
import * as context from './0002-context.js';
import * as agents from './0004-agents.js';
import * as workflows from './0005-workflows.js';
import * as analytics from './0006-analytics.js';
import * as quotas from './0007-quotas.js';
import * as events from './0008-events.js';
import * as webhooks from './0009-webhooks.js';
import * as keyPermissions from './0010-key-permissions.js';
import * as budgets from './0011-budgets.js';
import * as webhookBatches from './0012-webhook-batches.js';
import * as modelResponses from './0013-model-responses.js';

/** Migrations shared by every dialect. Names sort in the order they apply. */
const shared: Record<string, Migration> = {
  '0001-foundation': foundation,
  '0002-context': context,
  '0004-agents': agents,
  '0005-workflows': workflows,
  '0006-analytics': analytics,
  '0007-quotas': quotas,
  '0008-events': events,
  '0009-webhooks': webhooks,
  '0010-key-permissions': keyPermissions,
  '0011-budgets': budgets,
  '0012-webhook-batches': webhookBatches,
  '0013-model-responses': modelResponses,
};

/**
 * Shared migrations plus a dialect's own (tables whose indexes differ per database, such as the
 * vector and full-text indexes of context chunks). Compiled into the program, so a build never
 * depends on files beside it.
 */
export function migrationProvider(dialectMigrations: Record<string, Migration> = {}): MigrationProvider {
  const all = { ...shared, ...dialectMigrations };
  return {
    async getMigrations() {
      return all;
    },
  };
}
