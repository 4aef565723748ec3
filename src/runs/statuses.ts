/** What agent runs and workflow runs share about their lifecycle. */

/** Statuses a run (agent or workflow) never leaves. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

export function isFinal(status: string): boolean {
  return FINAL_STATUSES.has(status);
}

/** The events that record a run reaching a final status. */
export const FINAL_EVENTS: ReadonlySet<string> = new Set(['run.completed', 'run.failed', 'run.cancelled']);

/**
 * Events after which a run's log stops growing until someone acts: the run finished, waits for
 * the client (`run.requires_action`) or waits for time or a person (`run.waiting`). A stream
 * following the log ends at one of them.
 */
export const STOP_EVENTS: ReadonlySet<string> = new Set([...FINAL_EVENTS, 'run.requires_action', 'run.waiting']);
