import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { RunEvent, RunEventRepo } from '../port.js';
import { idAtTime } from '../../ids.js';
import { eventRow, toEvent } from './run-rows.js';

/** The tables that hold a run event log, one per kind of run with the same shape, and the prefix of their runs' ids. */
const TABLES = { run: 'run_events', wfrun: 'workflow_run_events' } as const;

/** Rows per insert statement when several events are written at once. */
const INSERT_BATCH = 200;

/** A run event log over one of the event tables (agent runs or workflow runs). */
export class KyselyRunEventRepo implements RunEventRepo {
  private readonly table: (typeof TABLES)[keyof typeof TABLES];

  constructor(private readonly db: Kysely<Database>, private readonly runPrefix: keyof typeof TABLES) {
    this.table = TABLES[runPrefix];
  }

  async appendEvent(event: RunEvent) {
    await this.db.insertInto(this.table).values(eventRow(event)).execute();
  }

  async appendEvents(events: RunEvent[]) {
    for (let i = 0; i < events.length; i += INSERT_BATCH) {
      await this.db.insertInto(this.table).values(events.slice(i, i + INSERT_BATCH).map(eventRow)).execute();
    }
  }

  async events(runId: string, afterSeq: number, limit: number) {
    const rows = await this.db
      .selectFrom(this.table)
      .selectAll()
      .where('run_id', '=', runId)
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map(toEvent);
  }

  async lastEventSeq(runId: string) {
    const row = await this.db
      .selectFrom(this.table)
      .select((eb) => eb.fn.max<number>('seq').as('last'))
      .where('run_id', '=', runId)
      .executeTakeFirst();
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
