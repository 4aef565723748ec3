import { ApiError } from '../errors.js';
import type { ConcurrencyLimiter } from '../limits/port.js';
import type { Workspace } from '../store/port.js';
import { plans } from './plans.js';

/** A held concurrent-run slot. Its lease is renewed in the background until released. */
export interface RunSlot {
  /** Aborted when the lease could not be renewed (the slot was given up). */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

const unlimitedSlot: RunSlot = { lost: new AbortController().signal, release: async () => {} };

/**
 * The per-workspace cap on concurrent runs (agent and workflow runs), by plan. A slot is held
 * under a lease renewed every third of its length, so a crashed holder's slot comes back when
 * the lease expires.
 */
export class RunSlots {
  constructor(
    private readonly limiter: ConcurrencyLimiter,
    private readonly leaseMs = 30_000,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** A slot, or null when the workspace already runs as many runs as its plan allows. */
  async acquire(workspace: Workspace): Promise<RunSlot | null> {
    const cap = plans[workspace.plan].concurrentRuns;
    if (cap === null) return unlimitedSlot;
    const key = workspace.id;
    const slotId = await this.limiter.acquire(key, cap, this.leaseMs);
    if (slotId === null) return null;

    const lost = new AbortController();
    const timer = setInterval(() => {
      this.limiter.renew(key, slotId, this.leaseMs).then(
        (held) => {
          if (!held) {
            clearInterval(timer);
            lost.abort(new Error('The run slot lease expired.'));
          }
        },
        this.onError,
      );
    }, Math.max(1, Math.floor(this.leaseMs / 3)));
    timer.unref();
    let released = false;
    return {
      lost: lost.signal,
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await this.limiter.release(key, slotId);
      },
    };
  }

  /** Like acquire, but a full workspace is a 429 `concurrency_limited` error. */
  async acquireOrThrow(workspace: Workspace): Promise<RunSlot> {
    const slot = await this.acquire(workspace);
    if (slot) return slot;
    const cap = plans[workspace.plan].concurrentRuns;
    throw new ApiError('concurrency_limited', {
      message: `This workspace already has ${cap} runs in progress, the most its ${workspace.plan} plan allows. Retry when one finishes.`,
    });
  }

  /** Slots held now. */
  async inUse(workspace: Workspace): Promise<number> {
    return this.limiter.count(workspace.id);
  }
}
