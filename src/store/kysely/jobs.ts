import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { JobRecord, JobRepo, JobState, OutboxEntry, OutboxRepo } from '../port.js';
import type { DialectTraits } from './dialect-traits.js';
import { everyColumn } from './column-values.js';
import { toJob, toOutboxEntry } from './job-rows.js';
import { pick, preparedQuery } from './prepared-query.js';

const JOB_COLUMNS = everyColumn<Database['jobs']>()([
  'id', 'queue', 'kind', 'payload', 'state', 'run_at', 'lease_until', 'lease_token', 'attempts', 'max_attempts', 'backoff_ms', 'last_error',
  'result', 'created_at', 'updated_at',
]);

type Claim = { queue: string; now: number; leaseUntil: number; leaseToken: string; limit: number };
type Held = { id: string; leaseToken: string; now: number };

/**
 * Claims due jobs: waiting ones whose time has come, and active ones whose lease ran out.
 * PostgreSQL locks the claimed rows with FOR UPDATE SKIP LOCKED; SQLite serialises writers.
 */
const claimDue = (skipLocked: boolean) =>
  preparedQuery((db, p: Claim) => {
    let due = db
      .selectFrom('jobs')
      .select('id')
      .where('queue', '=', p.queue)
      // Narrows the (queue, state, run_at) index to the two states the OR below can match, so
      // the finished jobs that pile up between purges are never scanned.
      .where('state', 'in', ['waiting', 'active'])
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'waiting'), eb('run_at', '<=', p.now)]),
          eb.and([eb('state', '=', 'active'), eb('lease_until', '<', p.now)]),
        ]),
      )
      .orderBy('run_at')
      .limit(p.limit);
    if (skipLocked) due = due.forUpdate().skipLocked();
    return db
      .updateTable('jobs')
      .set((eb) => ({ state: 'active', lease_until: p.leaseUntil, lease_token: p.leaseToken, attempts: eb('attempts', '+', 1), updated_at: p.now }))
      .where('id', 'in', due)
      .returningAll();
  });

/** The statements of every queued job's life, compiled once. */
const statements = {
  insert: preparedQuery((db, row: Database['jobs']) => db.insertInto('jobs').values(pick(row, JOB_COLUMNS)).onConflict((oc) => oc.column('id').doNothing())),
  claim: claimDue(false),
  claimSkippingLocked: claimDue(true),
  renew: preparedQuery((db, p: Held & { leaseUntil: number }) =>
    db.updateTable('jobs').set({ lease_until: p.leaseUntil, updated_at: p.now }).where('id', '=', p.id).where('state', '=', 'active').where('lease_token', '=', p.leaseToken)),
  complete: preparedQuery((db, p: Held & { result: string | null }) =>
    db
      .updateTable('jobs')
      .set({ state: 'completed', result: p.result, lease_until: null, updated_at: p.now })
      .where('id', '=', p.id)
      .where('state', '=', 'active')
      .where('lease_token', '=', p.leaseToken)),
  deleteWaiting: preparedQuery((db, p: { id: string }) => db.deleteFrom('jobs').where('id', '=', p.id).where('state', '=', 'waiting')),
  nextDue: preparedQuery((db, p: { queue: string }) =>
    db.selectFrom('jobs').select((eb) => eb.fn.min<number>('run_at').as('next')).where('queue', '=', p.queue).where('state', '=', 'waiting')),
};

export class KyselyJobRepo implements JobRepo {
  constructor(private readonly db: Kysely<Database>, private readonly traits: DialectTraits) {}

  async insert(job: JobRecord) {
    const inserted = await statements.insert.affectedRows(this.db, {
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
    });
    return inserted === 1;
  }

  async get(id: string) {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toJob(row);
  }

  async deleteWaiting(id: string) {
    return (await statements.deleteWaiting.affectedRows(this.db, { id })) === 1;
  }

  async claim(queue: string, now: number, leaseUntil: number, leaseToken: string, limit: number) {
    const claim = this.traits.skipLocked ? statements.claimSkippingLocked : statements.claim;
    const rows = await claim.rows(this.db, { queue, now, leaseUntil, leaseToken, limit });
    return rows.map(toJob).sort((a, b) => a.runAt - b.runAt);
  }

  async renew(id: string, leaseToken: string, leaseUntil: number, now: number) {
    return (await statements.renew.affectedRows(this.db, { id, leaseToken, leaseUntil, now })) === 1;
  }

  async complete(id: string, leaseToken: string, result: string | null, now: number) {
    return (await statements.complete.affectedRows(this.db, { id, leaseToken, result, now })) === 1;
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
    const row = await statements.nextDue.first(this.db, { queue });
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
