import type { Queue } from './queue/port.js';

/** Reports the errors of one kind of background work; `what` names it in the log. */
export type BackgroundErrors = (what: string) => (error: unknown) => void;

/** What an area runs in the background once started. */
export interface AreaRunning {
  /** Stops taking on background work (timers, schedulers); called before the job queue drains. */
  stop(): void;
  /** Writes what is still buffered; called after the job queue has drained. */
  close?(): Promise<void>;
}

/**
 * One area of KAIRO (platform, context, agents, workflows, analytics) as the composition root
 * sees it: the job handlers it registers and what it runs in the background. Every process that
 * runs jobs or serves the API builds, starts and stops the areas in one loop.
 */
export interface AreaModule {
  /** Registers the area's job handlers on the queue (before the queue starts). */
  registerJobs(queue: Queue): void;
  /** Starts the area's timers and listeners. */
  start(onError: BackgroundErrors): AreaRunning | Promise<AreaRunning>;
}
