import { parseDuration, type DelayStep } from '../../definition.js';
import { AttemptFailed } from '../errors.js';
import type { StepExecutor } from './executor.js';

/** Waits for a duration or until a time: in place when near, else the run parks until then. */
export const delayStep: StepExecutor<DelayStep> = {
  async run(walker, step, state, frame) {
    if (state.wakeAt === null) {
      const now = walker.now();
      let wakeAt: number;
      try {
        wakeAt = step.duration !== undefined ? now + parseDuration(step.duration)! : toTime(await walker.evaluate(frame, step.until!, state.key, 'until'), state.key);
      } catch (error) {
        throw await walker.failStep(state, error);
      }
      Object.assign(state, { status: 'waiting', startedAt: now, wakeAt, input: { until: new Date(wakeAt).toISOString() } });
      await walker.saveStep(state, { type: 'step.waiting', data: { wake_at: new Date(wakeAt).toISOString() } });
    }
    await walker.waitUntil(state.wakeAt!);
    return walker.succeed(state, { waited_until: new Date(state.wakeAt!).toISOString() });
  },
};

function toTime(value: unknown, key: string): number {
  const time = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(time)) throw new AttemptFailed('invalid_until', `Step '${key}': until must evaluate to an RFC 3339 time or epoch milliseconds.`, false);
  return time;
}
