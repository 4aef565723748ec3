import { afterAll, describe, expect, it } from 'vitest';
import { openLimits, type Limits } from '../../src/limits/open-limits.js';
import { INGESTION_SLOTS, RunSlots } from '../../src/platform/run-slots.js';
import type { PlanName, Workspace } from '../../src/store/port.js';
import { newId } from '../../src/ids.js';
import { redisUrl, uniqueName } from '../support/services.js';
import { refusal } from '../support/refusal.js';

const workspace = (plan: PlanName): Workspace => ({ id: newId('ws'), name: 'w', plan, createdAt: Date.now() });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const backends: Array<[string, () => Limits]> = [
  ['memory', () => openLimits()],
  ['redis', () => openLimits({ redisUrl, prefix: `${uniqueName('slots')}:` })],
];

describe.each(backends)('run slots on %s', (_name, open) => {
  const limits = open();
  afterAll(() => limits.close());

  it('caps concurrent runs at the plan limit and frees slots on release', async () => {
    const slots = new RunSlots(limits.concurrency, 10_000);
    const ws = workspace('free');
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await slots.acquireOrThrow(ws));
    expect(await slots.acquire(ws)).toBeNull();
    expect(await refusal(slots.acquireOrThrow(ws))).toEqual({ code: 'concurrency_limited', status: 429 });
    expect(await slots.inUse(ws.id)).toBe(5);
    await held[0]!.release();
    await held[0]!.release(); // twice is harmless
    expect(await slots.inUse(ws.id)).toBe(4);
    expect(await slots.acquire(ws)).not.toBeNull();
    await Promise.all(held.map((slot) => slot.release()));
  });

  it('keeps a slot past its lease while renewing, and gets back a crashed holder slot', async () => {
    const slots = new RunSlots(limits.concurrency, 300);
    const ws = workspace('free');
    const live = await slots.acquireOrThrow(ws);
    // A holder that crashed: it took a slot and never renews it.
    await limits.concurrency.acquire(ws.id, 5, 300);
    expect(await slots.inUse(ws.id)).toBe(2);
    await sleep(700);
    expect(await slots.inUse(ws.id)).toBe(1);
    expect(live.lost.aborted).toBe(false);
    await live.release();
    expect(await slots.inUse(ws.id)).toBe(0);
  });

  it('counts ingestion jobs apart from runs, against their own plan limit', async () => {
    const runs = new RunSlots(limits.concurrency, 10_000);
    const ingestion = new RunSlots(limits.concurrency, 10_000, () => {}, INGESTION_SLOTS);
    const ws = workspace('free');
    const jobs = [await ingestion.acquire(ws), await ingestion.acquire(ws)];
    expect(jobs.every((slot) => slot !== null)).toBe(true);
    expect(await ingestion.acquire(ws)).toBeNull();
    expect(ingestion.fullMessage(ws)).toContain('2 ingestion jobs');
    expect(await ingestion.inUse(ws.id)).toBe(2);
    expect(await runs.inUse(ws.id)).toBe(0);
    const run = await runs.acquireOrThrow(ws);
    await Promise.all([...jobs.map((slot) => slot!.release()), run.release()]);
    expect(await ingestion.inUse(ws.id)).toBe(0);
  });

  it('never caps unlimited plans', async () => {
    const slots = new RunSlots(limits.concurrency);
    const ws = workspace('enterprise');
    const held = await Promise.all(Array.from({ length: 50 }, () => slots.acquireOrThrow(ws)));
    expect(held).toHaveLength(50);
  });
});
