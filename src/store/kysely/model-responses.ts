import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { ModelResponseRepo, Scope, StoredModelResponse } from '../port.js';
import { idAtTime } from '../../ids.js';
import { mode } from './column-values.js';

export class KyselyModelResponseRepo implements ModelResponseRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async create(response: StoredModelResponse) {
    await this.db.insertInto('model_responses').values({
      id: response.id, workspace_id: response.scope.workspaceId, livemode: mode(response.scope.livemode),
      body: JSON.stringify(response.body), created_at: response.createdAt,
    }).execute();
  }

  async get(scope: Scope, id: string) {
    const row = await this.db.selectFrom('model_responses').selectAll()
      .where('id', '=', id).where('workspace_id', '=', scope.workspaceId).where('livemode', '=', mode(scope.livemode))
      .executeTakeFirst();
    return row && { id: row.id, scope, body: JSON.parse(row.body) as Record<string, unknown>, createdAt: Number(row.created_at) };
  }

  async purge(before: number, limit: number) {
    // Response ids sort by creation time: the primary key finds the old ones.
    const old = this.db.selectFrom('model_responses').select('id').where('id', '<', idAtTime('resp', before)).orderBy('id').limit(limit);
    const result = await this.db.deleteFrom('model_responses').where('id', 'in', old).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
