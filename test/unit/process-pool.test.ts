import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ComputeError, ProcessPool } from '../../src/compute/process-pool.js';

const script = fileURLToPath(new URL('../fixtures/pool-worker.ts', import.meta.url));

interface Slept {
  label: string;
  startedAt: number;
  endedAt: number;
  pid: number;
}

/** The compute pool with real worker processes: fair turns between tenants, limits, failures. */
describe('ProcessPool', () => {
  let pool: ProcessPool | undefined;
  const open = (options: Partial<ConstructorParameters<typeof ProcessPool>[0]> = {}) =>
    (pool = new ProcessPool({ script, size: 2, heapMb: 64, timeoutMs: 5_000, maxQueuedPerTenant: 10, ...options }));
  afterEach(async () => {
    await pool?.close();
    pool = undefined;
  });

  it('never gives one tenant every worker, and takes tenants in turn', async () => {
    const p = open();
    // Start both workers first, so that process start-up does not blur the order below.
    await Promise.all([p.run('warm', 'sleep', ['w1', 1]), p.run('other', 'sleep', ['w2', 1])]);
    const a = Array.from({ length: 4 }, (_, i) => p.run<Slept>('a', 'sleep', [`a${i}`, 150]));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const b = p.run<Slept>('b', 'sleep', ['b0', 150]);
    const all = await Promise.all([...a, b]);
    // With two workers, tenant a holds at most one at a time: its tasks never overlap.
    const ofA = all.filter((s) => s.label.startsWith('a')).sort((x, y) => x.startedAt - y.startedAt);
    for (let i = 1; i < ofA.length; i++) expect(ofA[i]!.startedAt).toBeGreaterThanOrEqual(ofA[i - 1]!.endedAt - 5);
    // b, arriving after all of a's tasks were queued, starts before a's second task ends: it had a worker to wait for.
    const b0 = all.find((s) => s.label === 'b0')!;
    expect(b0.startedAt).toBeLessThan(ofA[1]!.endedAt);
  }, 30_000);

  it('refuses a tenant past its queue, and serves the others', async () => {
    const p = open({ size: 1, maxQueuedPerTenant: 2 });
    const running = p.run('a', 'sleep', ['first', 300]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const queued = [p.run('a', 'sleep', ['q1', 1]), p.run('a', 'sleep', ['q2', 1])];
    await expect(p.run('a', 'sleep', ['q3', 1])).rejects.toMatchObject({ reason: 'busy' });
    await expect(p.run('b', 'sleep', ['b', 1])).resolves.toMatchObject({ label: 'b' });
    await Promise.all([running, ...queued]);
  }, 30_000);

  it('ends a task past its time, or out of memory, or whose process died, and goes on with a new process', async () => {
    const p = open({ size: 1, timeoutMs: 500 });
    const before = await p.run<Slept>('a', 'sleep', ['before', 1]);
    const timedOut = await p.run('a', 'spin', []).catch((error: unknown) => error);
    expect(timedOut).toBeInstanceOf(ComputeError);
    expect(timedOut).toMatchObject({ reason: 'timeout' });
    // A task's own time limit overrides the pool's.
    await expect(p.run('a', 'sleep', ['slow', 800], { timeoutMs: 300 })).rejects.toMatchObject({ reason: 'timeout' });
    await expect(p.run('a', 'hog', [], { timeoutMs: 30_000 })).rejects.toMatchObject({ reason: 'out_of_memory' });
    await expect(p.run('a', 'die', [])).rejects.toMatchObject({ reason: 'crashed' });
    const after = await p.run<Slept>('a', 'sleep', ['after', 1]);
    expect(after.pid).not.toBe(before.pid);
    expect(p.stats()).toMatchObject({ size: 1, running: 0, queued: 0, failures: { timeout: 2, out_of_memory: 1, crashed: 1 } });
  }, 60_000);

  it('fails what is waiting when it closes', async () => {
    const p = open({ size: 1 });
    const running = p.run('a', 'sleep', ['running', 300]).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const waiting = p.run('a', 'sleep', ['waiting', 1]).catch((error: unknown) => error);
    await p.close();
    expect(await waiting).toMatchObject({ reason: 'closed' });
    expect(await running).toMatchObject({ reason: 'closed' });
    await expect(p.run('a', 'sleep', ['late', 1])).rejects.toMatchObject({ reason: 'closed' });
  }, 30_000);
});
