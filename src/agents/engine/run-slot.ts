import { RetryLaterError } from '../../errors.js';
import type { RunSlot, RunSlots } from '../../platform/run-slots.js';
import type { Run, Store, Workspace } from '../../store/port.js';
import type { EngineState } from './types.js';

/** How long a background run of a workspace at its concurrent-run cap waits before it looks for a slot again (plus up to as much again, so waiting runs spread out). */
const SLOT_RETRY_MS = 1000;

/** A caller's slot lent to a run: the run's release leaves it held. */
const borrowed = (slot: RunSlot): RunSlot => ({ lost: slot.lost, release: async () => {} });

/**
 * The one way a run gets a concurrent-run slot of its workspace. A slot the caller already holds
 * (a workflow run calling an agent) is lent. At the plan's cap, a wait or stream run is refused at
 * once (429 `concurrency_limited`); a background run notes when its slot wait began and waits
 * its turn in the queue (RetryLaterError: its job runs again later without spending an attempt).
 */
export class RunSlotGate {
  constructor(private readonly deps: { slots: RunSlots; store: Store; now: () => number }) {}

  /** `waiting` is the queued background run the slot is for, whose slot wait is recorded. */
  async take(workspace: Workspace, mode: Run['mode'], options: { lent?: RunSlot; waiting?: Run } = {}): Promise<RunSlot> {
    if (options.lent) return borrowed(options.lent);
    if (mode !== 'background') return this.deps.slots.acquireOrThrow(workspace);
    const slot = await this.deps.slots.acquire(workspace);
    if (slot) return slot;
    if (options.waiting) await this.noteWait(options.waiting);
    throw new RetryLaterError('Concurrent-run cap reached; the run waits in the queue.', SLOT_RETRY_MS * (1 + Math.random()));
  }

  /** Records when a queued run first found its workspace at the cap: its slot wait begins (see the run's start). */
  private async noteWait(run: Run): Promise<void> {
    if (run.status !== 'queued' || (run.state as EngineState).slotWaitSince !== undefined) return;
    await this.deps.store.runs.save({ ...run, state: { ...run.state, slotWaitSince: this.deps.now() } }, ['queued']);
  }
}
