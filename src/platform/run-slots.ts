import { KairoError } from '../errors.js';
import type { ConcurrencyLimiter } from '../limits/port.js';
import type { Workspace } from '../store/port.js';
import { plans, type PlanLimits } from './plans.js';

/** A held concurrent-run slot. Its lease is renewed in the background until released. */
export interface RunSlot {
  /** Aborted when the lease could not be renewed (the slot was given up). */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

const unlimitedSlot: RunSlot = { lost: new AbortController().signal, release: async () => {} };

/** What a kind of slot caps: its name in messages, its plan limit and its limiter key. */
export interface SlotKind {
  /** Plural, as messages say it ("runs"). */
  noun: string;
  cap(limits: PlanLimits): number | null;
  key(workspaceId: string): string;
}

/** Agent and workflow runs. */
export const RUN_SLOTS: SlotKind = { noun: 'runs', cap: (limits) => limits.concurrentRuns, key: (workspaceId) => workspaceId };

/** Background ingestion jobs: indexing a document in the job queue, refreshing a source. */
export const INGESTION_SLOTS: SlotKind = {
  noun: 'ingestion jobs', cap: (limits) => limits.concurrentIngestionJobs, key: (workspaceId) => `ingestion:${workspaceId}`,
};

/**
 * A per-workspace cap on concurrent work of one kind (runs, ingestion jobs), by plan. A slot is
 * held under a lease renewed every third of its length, so a crashed holder's slot comes back
 * when the lease expires.
 */
export class RunSlots {
  constructor(
    private readonly limiter: ConcurrencyLimiter,
    private readonly leaseMs = 30_000,
    private readonly onError: (error: unknown) => void = () => {},
    private readonly kind: SlotKind = RUN_SLOTS,
  ) {}

  /** A slot, or null when the workspace already has as much of this work going as its plan allows. */
  async acquire(workspace: Workspace): Promise<RunSlot | null> {
    const cap = this.kind.cap(plans[workspace.plan]);
    if (cap === null) return unlimitedSlot;
    const key = this.kind.key(workspace.id);
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
    throw new KairoError('concurrency_limited', { message: this.fullMessage(workspace) });
  }

  /** Why a workspace gets no slot, in a sentence. */
  fullMessage(workspace: Workspace): string {
    const cap = this.kind.cap(plans[workspace.plan]);
    return `This workspace already has ${cap} ${this.kind.noun} in progress, the most its ${workspace.plan} plan allows. Retry when one finishes.`;
  }

  /** Slots held now (synchronous when the limiter is in memory). */
  inUse(workspaceId: string): number | Promise<number> {
    return this.limiter.count(this.kind.key(workspaceId));
  }
}
