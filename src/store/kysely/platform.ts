import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type {
  ApiKey, ApiKeyRepo, HeartbeatRepo, IdempotencyRecord, IdempotencyRepo, KeyWithWorkspace, MetaRepo, Page, PageRequest, Scope,
  Workspace, WorkspaceRepo,
} from '../port.js';
import { mode } from './column-values.js';
import { paginate } from './pagination.js';
import { toApiKey, toIdempotency, toWorkspace } from './platform-rows.js';
import { preparedQuery } from './prepared-query.js';

/** Read by every workflow run and queued agent run. */
const workspaceById = preparedQuery((db, p: { id: string }) => db.selectFrom('workspaces').selectAll().where('id', '=', p.id));

export class KyselyWorkspaceRepo implements WorkspaceRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(workspace: Workspace): Promise<Workspace> {
    await this.db
      .insertInto('workspaces')
      .values({ id: workspace.id, name: workspace.name, plan: workspace.plan, created_at: workspace.createdAt })
      .execute();
    return workspace;
  }

  async get(id: string): Promise<Workspace | undefined> {
    const row = await workspaceById.first(this.db, { id });
    return row && toWorkspace(row);
  }

  async list(page: PageRequest): Promise<Page<Workspace>> {
    const result = await paginate(this.db.selectFrom('workspaces').selectAll(), page);
    return { data: result.data.map(toWorkspace), hasMore: result.hasMore };
  }
}

export class KyselyApiKeyRepo implements ApiKeyRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(key: ApiKey): Promise<ApiKey> {
    await this.db
      .insertInto('api_keys')
      .values({
        id: key.id,
        workspace_id: key.workspaceId,
        livemode: mode(key.livemode),
        name: key.name,
        secret_hash: key.secretHash,
        last4: key.last4,
        created_at: key.createdAt,
        revoked_at: key.revokedAt,
        last_used_at: key.lastUsedAt,
        permissions: key.permissions === null ? null : JSON.stringify(key.permissions),
        rate_limit_per_minute: key.rateLimitPerMinute,
      })
      .execute();
    return key;
  }

  async findBySecretHash(secretHash: string): Promise<KeyWithWorkspace | undefined> {
    const key = await this.db.selectFrom('api_keys').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst();
    if (!key) return undefined;
    const workspace = await this.db.selectFrom('workspaces').selectAll().where('id', '=', key.workspace_id).executeTakeFirst();
    if (!workspace) return undefined;
    return { key: toApiKey(key), workspace: toWorkspace(workspace) };
  }

  revokedAtBySecretHash(secretHash: string): ReturnType<ApiKeyRepo['revokedAtBySecretHash']> {
    return this.db
      .selectFrom('api_keys')
      .select('revoked_at')
      .where('secret_hash', '=', secretHash)
      .executeTakeFirst()
      .then((row) => (row === undefined ? undefined : row.revoked_at === null ? null : Number(row.revoked_at)));
  }

  async get(scope: Scope, id: string): Promise<ApiKey | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', id)
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .executeTakeFirst();
    return row && toApiKey(row);
  }

  async list(scope: Scope, page: PageRequest): Promise<Page<ApiKey>> {
    const query = this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode));
    const result = await paginate(query, page);
    return { data: result.data.map(toApiKey), hasMore: result.hasMore };
  }

  async listAll(page: PageRequest): Promise<Page<ApiKey>> {
    const result = await paginate(this.db.selectFrom('api_keys').selectAll(), page);
    return { data: result.data.map(toApiKey), hasMore: result.hasMore };
  }

  async revoke(id: string, at: number, scope?: Scope): Promise<ApiKey | undefined> {
    let update = this.db.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null);
    if (scope) update = update.where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode));
    await update.execute();
    if (scope) return this.get(scope, id);
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toApiKey(row);
  }

  async touch(id: string, at: number): Promise<void> {
    await this.db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
  }
}

export class KyselyIdempotencyRepo implements IdempotencyRepo {
  constructor(private readonly db: Kysely<Database>) {}

  private whereKey(scope: Scope, key: string) {
    return this.db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .where('key', '=', key);
  }

  async claim(record: IdempotencyRecord): ReturnType<IdempotencyRepo['claim']> {
    const inserted = await this.db
      .insertInto('idempotency_keys')
      .values({
        workspace_id: record.scope.workspaceId,
        livemode: mode(record.scope.livemode),
        key: record.key,
        request_hash: record.requestHash,
        state: 'in_progress',
        response_status: null,
        response_body: null,
        response_headers: null,
        created_at: record.createdAt,
        locked_until: record.lockedUntil,
      })
      .onConflict((oc) => oc.columns(['workspace_id', 'livemode', 'key']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return { claimed: true as const };

    // The owner of an in-progress claim may have died: take it over once its lock has expired.
    const takeover = await this.db
      .updateTable('idempotency_keys')
      .set({ locked_until: record.lockedUntil, created_at: record.createdAt })
      .where('workspace_id', '=', record.scope.workspaceId)
      .where('livemode', '=', mode(record.scope.livemode))
      .where('key', '=', record.key)
      .where('state', '=', 'in_progress')
      .where('request_hash', '=', record.requestHash)
      .where('locked_until', '<', record.createdAt)
      .executeTakeFirst();
    if (Number(takeover.numUpdatedRows) === 1) return { claimed: true as const };

    const existing = await this.whereKey(record.scope, record.key).executeTakeFirst();
    if (!existing) return this.claim(record); // released between our insert and read: try again
    return { claimed: false as const, existing: toIdempotency(existing) };
  }

  async complete(scope: Scope, key: string, status: number, body: string, headers: Record<string, string>) {
    await this.db
      .updateTable('idempotency_keys')
      .set({ state: 'completed', response_status: status, response_body: body, response_headers: JSON.stringify(headers) })
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .where('key', '=', key)
      .execute();
  }

  async release(scope: Scope, key: string) {
    await this.db
      .deleteFrom('idempotency_keys')
      .where('workspace_id', '=', scope.workspaceId)
      .where('livemode', '=', mode(scope.livemode))
      .where('key', '=', key)
      .where('state', '=', 'in_progress')
      .execute();
  }

  async purge(before: number) {
    const result = await this.db.deleteFrom('idempotency_keys').where('created_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

export class KyselyHeartbeatRepo implements HeartbeatRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async record(minute: number) {
    await this.db.insertInto('heartbeats').values({ minute }).onConflict((oc) => oc.column('minute').doNothing()).execute();
  }

  async countBetween(fromMinute: number, toMinute: number) {
    const row = await this.db
      .selectFrom('heartbeats')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('minute', '>=', fromMinute)
      .where('minute', '<=', toMinute)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async first() {
    const row = await this.db
      .selectFrom('heartbeats')
      .select((eb) => eb.fn.min<number>('minute').as('first'))
      .executeTakeFirst();
    return row?.first === null || row?.first === undefined ? undefined : Number(row.first);
  }
}

export class KyselyMetaRepo implements MetaRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async get(key: string) {
    const row = await this.db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  }

  async setIfAbsent(key: string, value: string) {
    await this.db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).execute();
    return (await this.get(key))!;
  }

  async set(key: string, value: string) {
    await this.db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
  }
}
