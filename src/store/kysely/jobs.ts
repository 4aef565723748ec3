import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { JobRecord, JobRepo, JobState, OutboxEntry, OutboxRepo } from '../port.js';
import type { DialectTraits } from './dialect-traits.js';
import { toJob, toOutboxEntry } from './job-rows.js';

export class KyselyJobRepo implements JobRepo {
  constructor(private readonly db: Kysely<Database>, private readonly traits: DialectTraits) {}

  async insert(job: JobRecord) {
    const result = await this.db
      .insertInto('jobs')
      .values({
        id: job.id,
        queue: job.queue,
        kind: job.kind,
        payload: job.payload,
        state: job.state,
        run_at: job.runAt,
        lease_until: job.leaseUntil,
        lease_token: job.leaseToken,
        attempts: job.attempts,
        max_attempts: job.maxAttempts,
        backoff_ms: job.backoffMs,
        last_error: job.lastError,
        result: job.result,
        created_at: job.createdAt,
        updated_at: job.updatedAt,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async get(id: string) {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toJob(row);
  }

  async claim(queue: string, now: number, leaseUntil: number, leaseToken: string, limit: number) {
    let due = this.db
      .selectFrom('jobs')
      .select('id')
      .where('queue', '=', queue)
      // Narrows the (queue, state, run_at) index to the two states the OR below can match, so
      // the finished jobs that pile up between purges are never scanned.
      .where('state', 'in', ['waiting', 'active'])
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'waiting'), eb('run_at', '<=', now)]),
          eb.and([eb('state', '=', 'active'), eb('lease_until', '<', now)]),
        ]),
      )
      .orderBy('run_at')
      .limit(limit);
    if (this.traits.skipLocked) due = due.forUpdate().skipLocked();
    const rows = await this.db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'active',
        lease_until: leaseUntil,
        lease_token: leaseToken,
        attempts: eb('attempts', '+', 1),
        updated_at: now,
      }))
      .where('id', 'in', due)
      .returningAll()
      .execute();
    return rows.map(toJob).sort((a, b) => a.runAt - b.runAt);
  }

  async renew(id: string, leaseToken: string, leaseUntil: number, now: number) {
    const result = await this.db
      .updateTable('jobs')
      .set({ lease_until: leaseUntil, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where('lease_token', '=', leaseToken)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async complete(id: string, leaseToken: string, result: string | null, now: number) {
    const update = await this.db
      .updateTable('jobs')
      .set({ state: 'completed', result, lease_until: null, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where('lease_token', '=', leaseToken)
      .executeTakeFirst();
    return Number(update.numUpdatedRows) === 1;
  }

  async fail(id: string, leaseToken: string, error: string, retryAt: number | null, now: number) {
    const update = await this.db
      .updateTable('jobs')
      .set(
        retryAt === null
          ? { state: 'failed', last_error: error, lease_until: null, updated_at: now }
          : { state: 'waiting', last_error: error, run_at: retryAt, lease_until: null, updated_at: now },
      )
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where('lease_token', '=', leaseToken)
      .executeTakeFirst();
    return Number(update.numUpdatedRows) === 1;
  }

  async postpone(id: string, leaseToken: string, runAt: number, now: number) {
    const update = await this.db
      .updateTable('jobs')
      .set((eb) => ({ state: 'waiting', run_at: runAt, attempts: eb('attempts', '-', 1), lease_until: null, updated_at: now }))
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where('lease_token', '=', leaseToken)
      .executeTakeFirst();
    return Number(update.numUpdatedRows) === 1;
  }

  async nextDue(queue: string) {
    const row = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.min<number>('run_at').as('next'))
      .where('queue', '=', queue)
      .where('state', '=', 'waiting')
      .executeTakeFirst();
    return row?.next === null || row?.next === undefined ? undefined : Number(row.next);
  }

  async purgeFinished(before: number) {
    const result = await this.db.deleteFrom('jobs').where('state', 'in', ['completed', 'failed']).where('updated_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async countDelayed(queue: string, now: number) {
    const row = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('queue', '=', queue)
      .where('state', '=', 'waiting')
      .where('run_at', '>', now)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async countByState(queue: string) {
    const rows = await this.db
      .selectFrom('jobs')
      .select(['state', (eb) => eb.fn.countAll<number>().as('count')])
      .where('queue', '=', queue)
      .groupBy('state')
      .execute();
    const counts: Record<JobState, number> = { waiting: 0, active: 0, completed: 0, failed: 0 };
    for (const row of rows) counts[row.state as JobState] = Number(row.count);
    return counts;
  }
}

export class KyselyOutboxRepo implements OutboxRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(entry: OutboxEntry) {
    await this.db
      .insertInto('outbox')
      .values({
        id: entry.id,
        queue: entry.queue,
        kind: entry.kind,
        payload: entry.payload,
        options: entry.options,
        created_at: entry.createdAt,
      })
      .execute();
  }

  async list(createdBefore: number, limit: number) {
    const rows = await this.db
      .selectFrom('outbox')
      .selectAll()
      .where('created_at', '<', createdBefore)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toOutboxEntry);
  }

  async delete(id: string) {
    await this.db.deleteFrom('outbox').where('id', '=', id).execute();
  }
}
