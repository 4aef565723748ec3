/**
 * When a failed delivery is tried again. Each mode has its own schedule: the delay after each
 * failed attempt (the last one repeats), and the window, counted from the first attempt, after
 * which an event is given up; the last retry is moved to the window's end so that an endpoint
 * failing throughout is seen failing for the whole window.
 */
export interface RetrySchedule {
  delaysMs: readonly number[];
  windowMs: number;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export const LIVE_SCHEDULE: RetrySchedule = {
  delaysMs: [1 * MINUTE, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR],
  windowMs: 72 * HOUR,
};

export const TEST_SCHEDULE: RetrySchedule = {
  delaysMs: [5 * SECOND, 15 * SECOND, 1 * MINUTE, 2 * MINUTE, 5 * MINUTE],
  windowMs: 10 * MINUTE,
};

/** Both schedules with every delay and window divided by `speedup` (tests run them in seconds). */
export function retrySchedules(speedup = 1): { live: RetrySchedule; test: RetrySchedule } {
  const scale = (schedule: RetrySchedule): RetrySchedule => ({
    delaysMs: schedule.delaysMs.map((ms) => Math.max(1, Math.round(ms / speedup))),
    windowMs: Math.max(1, Math.round(schedule.windowMs / speedup)),
  });
  return { live: scale(LIVE_SCHEDULE), test: scale(TEST_SCHEDULE) };
}

/**
 * When the attempt after failed attempt number `attempt` (1-based) is due, or undefined when the
 * event's window (from `firstAttemptAt`) has passed.
 */
export function nextAttemptAt(schedule: RetrySchedule, attempt: number, firstAttemptAt: number, now: number): number | undefined {
  const end = firstAttemptAt + schedule.windowMs;
  if (now >= end) return undefined;
  const delay = schedule.delaysMs[Math.min(attempt, schedule.delaysMs.length) - 1]!;
  return Math.min(now + delay, end);
}
