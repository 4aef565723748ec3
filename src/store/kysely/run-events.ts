import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { RunEvent, RunEventRepo } from '../port.js';
import { idAtTime } from '../../ids.js';
import { BulkInsert } from './bulk-insert.js';
import { pick, preparedQuery } from './prepared-query.js';
import { EVENT_COLUMNS, eventRow, toEvent } from './run-rows.js';

/** The tables that hold a run event log, one per kind of run with the same shape, and the prefix of their runs' ids. */
const TABLES = { run: 'run_events', wfrun: 'workflow_run_events' } as const;

type EventTable = (typeof TABLES)[keyof typeof TABLES];

/** The statements of a run's life, per event table. */
const statementsFor = (table: EventTable) => ({
  append: preparedQuery((db, row: Database['run_events']) => db.insertInto(table).values(pick(row, EVENT_COLUMNS))),
  after: preparedQuery((db, p: { runId: string; afterSeq: number; limit: number }) =>
    db.selectFrom(table).selectAll().where('run_id', '=', p.runId).where('seq', '>', p.afterSeq).orderBy('seq').limit(p.limit)),
  lastSeq: preparedQuery((db, p: { runId: string }) =>
    db.selectFrom(table).select((eb) => eb.fn.max<number>('seq').as('last')).where('run_id', '=', p.runId)),
});

const STATEMENTS = { run_events: statementsFor('run_events'), workflow_run_events: statementsFor('workflow_run_events') };
/** Several events at once: a run's buffered ones, often its first events with its output. */
const INSERTS = { run_events: new BulkInsert('run_events', EVENT_COLUMNS), workflow_run_events: new BulkInsert('workflow_run_events', EVENT_COLUMNS) };

/** A run event log over one of the event tables (agent runs or workflow runs). */
export class KyselyRunEventRepo implements RunEventRepo {
  private readonly table: EventTable;
  private readonly statements: ReturnType<typeof statementsFor>;

  constructor(private readonly db: Kysely<Database>, private readonly runPrefix: keyof typeof TABLES) {
    this.table = TABLES[runPrefix];
    this.statements = STATEMENTS[this.table];
  }

  async appendEvent(event: RunEvent) {
    await this.statements.append.execute(this.db, eventRow(event));
  }

  async appendEvents(events: RunEvent[]) {
    await INSERTS[this.table].run(this.db, events.map(eventRow));
  }

  async events(runId: string, afterSeq: number, limit: number) {
    const rows = await this.statements.after.rows(this.db, { runId, afterSeq, limit });
    return rows.map(toEvent);
  }

  async lastEventSeq(runId: string) {
    const row = await this.statements.lastSeq.first(this.db, { runId });
    return Number(row?.last ?? 0);
  }

  async purge(before: number, limit: number) {
    // Run ids sort by creation time and lead the primary key: the old runs' events are a key range.
    const old = this.db
      .selectFrom(this.table)
      .select(['run_id', 'seq'])
      .where('run_id', '<', idAtTime(this.runPrefix, before))
      .orderBy('run_id')
      .orderBy('seq')
      .limit(limit);
    const result = await this.db
      .deleteFrom(this.table)
      .where((eb) => eb(eb.refTuple('run_id', 'seq'), 'in', old as any))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
