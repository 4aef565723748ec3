import { Cron } from 'croner';
import type { Store, Workflow } from '../store/port.js';
import type { ScheduleDefinition, WorkflowDefinition } from './definition.js';
import type { WorkflowEngine } from './engine/engine.js';

const DUE_BATCH = 100;

function cronOf(schedule: ScheduleDefinition): Cron {
  return new Cron(schedule.cron, { timezone: schedule.timezone, paused: true });
}

/** The schedule's first due time strictly after `after`, null when it never fires again. */
export function nextFireAt(schedule: ScheduleDefinition | null, after: number): number | null {
  if (!schedule) return null;
  return cronOf(schedule).nextRun(new Date(after))?.getTime() ?? null;
}

/**
 * Fires workflow schedules. Each due time fires exactly one run, however many processes share
 * the database: the fire is recorded under a primary key of (workflow, due time) in the same
 * transaction that creates the run and moves the schedule on, so a second process's attempt
 * finds the row and creates nothing.
 *
 * Missed times (the server was down): when several due times passed, one run fires, for the
 * latest of them, and the schedule continues from now; the earlier ones are skipped.
 */
export class WorkflowScheduler {
  constructor(private readonly deps: { store: Store; engine: WorkflowEngine; now?: () => number }) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Fires every schedule due now; returns how many runs this call started. */
  async tick(): Promise<number> {
    const now = this.now();
    let fired = 0;
    for (const workflow of await this.deps.store.workflows.dueSchedules(now, DUE_BATCH)) {
      if (await this.fire(workflow, now)) fired += 1;
    }
    return fired;
  }

  private async fire(workflow: Workflow, now: number): Promise<boolean> {
    const definition = workflow.definition as unknown as WorkflowDefinition;
    const schedule = definition.schedule;
    const expected = workflow.nextFireAt!;
    if (!schedule) {
      await this.deps.store.workflows.advanceSchedule(workflow.id, expected, null);
      return false;
    }
    const cron = cronOf(schedule);
    // The latest due time that has passed (the one missed times collapse into).
    const latest = cron.previousRuns(1, new Date(now + 1))[0]?.getTime() ?? expected;
    const dueAt = Math.max(latest, expected);
    const next = cron.nextRun(new Date(Math.max(now, dueAt)))?.getTime() ?? null;
    return this.deps.store.transaction(async (tx) => {
      if (!(await tx.workflows.advanceSchedule(workflow.id, expected, next))) return false;
      const run = await this.deps.engine.create(workflow.scope, workflow, {
        input: schedule.input, mode: 'background', trigger: 'schedule', scheduledFor: dueAt,
      }, tx);
      if (!(await tx.workflowRuns.recordFire(workflow.id, dueAt, run.id, now))) throw new AlreadyFired();
      return true;
    }).catch((error: unknown) => {
      if (error instanceof AlreadyFired) return false;
      throw error;
    });
  }

  /** Ticks now and every `intervalMs`; returns a stop function. */
  start(intervalMs: number, onError: (error: unknown) => void): () => void {
    let running = false;
    const tick = () => {
      if (running) return;
      running = true;
      this.tick().catch(onError).finally(() => (running = false));
    };
    tick();
    const timer = setInterval(tick, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

/** Rolls the fire's transaction back: another process fired this due time first. */
class AlreadyFired extends Error {}
