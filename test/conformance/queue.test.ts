import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RetryLaterError, UnrecoverableError } from '../../src/errors.js';
import { newId } from '../../src/ids.js';
import type { Store } from '../../src/store/port.js';
import type { JobContext, JobInfo, Queue } from '../../src/queue/port.js';
import { LocalQueue } from '../../src/queue/local-queue.js';
import { BullmqQueue } from '../../src/queue/bullmq-queue.js';
import { openQueue } from '../../src/queue/open-queue.js';
import { redisUrl, storeBackends, uniqueName, type StoreHandle } from '../support/services.js';

/** Knobs a test may turn; each backend takes the ones it understands. */
interface QueueKnobs {
  pollIntervalMs?: number;
  leaseMs?: number;
  relayIntervalMs?: number;
  relayAfterMs?: number;
}

/** One backend under test: a store, and a way to open queue instances on it. */
interface Harness {
  backend: 'local' | 'bullmq';
  store: Store;
  /** A new queue instance; instances with the same name share their jobs (as two processes would). */
  open(queueName: string, knobs?: QueueKnobs): Queue;
  dispose(): Promise<void>;
}

const sqlite = storeBackends.find((b) => b.name === 'sqlite')!;

function localBackend(storeBackend: (typeof storeBackends)[number]) {
  return async (): Promise<Harness> => {
    const handle: StoreHandle = await storeBackend.open();
    return {
      backend: 'local',
      store: handle.store,
      open: (queueName, knobs = {}) =>
        new LocalQueue({ store: handle.store, queueName, pollIntervalMs: knobs.pollIntervalMs ?? 50, leaseMs: knobs.leaseMs }),
      dispose: () => handle.dispose(),
    };
  };
}

async function bullmqBackend(): Promise<Harness> {
  const handle = await sqlite.open();
  const prefix = uniqueName('kairo_test');
  return {
    backend: 'bullmq',
    store: handle.store,
    open: (queueName, knobs = {}) =>
      new BullmqQueue({
        store: handle.store,
        redisUrl,
        prefix,
        queueName,
        relayIntervalMs: knobs.relayIntervalMs,
        relayAfterMs: knobs.relayAfterMs,
      }),
    async dispose() {
      await handle.dispose();
      await deleteRedisKeys(prefix);
    },
  };
}

/** Removes every key under a test's BullMQ prefix. */
async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

const backends: Array<{ name: string; kind: Harness['backend']; setup: () => Promise<Harness> }> = [
  { name: 'local queue on sqlite', kind: 'local', setup: localBackend(sqlite) },
  { name: 'local queue on postgres', kind: 'local', setup: localBackend(storeBackends.find((b) => b.name === 'postgres')!) },
  { name: 'bullmq on redis', kind: 'bullmq', setup: bullmqBackend },
];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value, or fails the test after `timeoutMs`. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(20);
  }
}

function waitForState(queue: Queue, id: string, state: JobInfo['state'], timeoutMs?: number): Promise<JobInfo> {
  return waitFor(
    `job ${id} to be ${state}`,
    async () => {
      const job = await queue.getJob(id);
      return job?.state === state ? job : undefined;
    },
    timeoutMs,
  );
}

describe.each(backends)('queue conformance: $name', ({ kind, setup }) => {
  let h: Harness;
  const opened: Queue[] = [];

  /** A queue on a fresh queue name (or a given one), closed after the test. */
  function open(knobs?: QueueKnobs, queueName = uniqueName('q')): Queue {
    const queue = h.open(queueName, knobs);
    opened.push(queue);
    return queue;
  }

  beforeAll(async () => {
    h = await setup();
  });

  afterEach(async () => {
    for (const queue of opened.splice(0)) {
      await queue.stop(1000);
      await queue.close();
    }
  });

  afterAll(async () => {
    await h?.dispose();
  });

  it('answers ping and names its backend', async () => {
    const queue = open();
    await queue.ping();
    expect(queue.backend).toBe(h.backend);
  });

  it('runs a job with its payload and records the result', async () => {
    const queue = open();
    const seen: JobContext<{ text: string }>[] = [];
    queue.register<{ text: string }>('echo', async (job) => {
      seen.push(job);
      return { echoed: job.payload.text, n: 42 };
    });
    await queue.start();
    const id = await queue.enqueue('echo', { text: 'hello' });
    const job = await waitForState(queue, id, 'completed');
    expect(job).toMatchObject({ id, kind: 'echo', attempts: 1, result: { echoed: 'hello', n: 42 } });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ id, kind: 'echo', payload: { text: 'hello' }, attempt: 1, maxAttempts: 5 });
    expect(seen[0]!.signal.aborted).toBe(false);
    expect(await queue.getJob(newId('job'))).toBeUndefined();
  });

  it('runs a job once when the same jobId is enqueued twice', async () => {
    const queue = open();
    const payloads: unknown[] = [];
    queue.register('once', async (job) => void payloads.push(job.payload));
    const jobId = newId('job');
    const first = await queue.enqueue('once', { n: 1 }, { jobId });
    const second = await queue.enqueue('once', { n: 2 }, { jobId });
    expect(first).toBe(jobId);
    expect(second).toBe(jobId);
    await queue.start();
    await waitForState(queue, jobId, 'completed');
    // Enqueueing a finished job's id again is still a no-op.
    expect(await queue.enqueue('once', { n: 3 }, { jobId })).toBe(jobId);
    await sleep(200);
    expect(payloads).toEqual([{ n: 1 }]);
  });

  it('counts its jobs by state: waiting, delayed, active, completed, failed', async () => {
    const queue = open();
    const zero = { waiting: 0, delayed: 0, active: 0, completed: 0, failed: 0 };
    expect(await queue.counts()).toEqual(zero);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    queue.register('hold', () => held);
    queue.register('ok', async () => 'done');
    queue.register('bad', async () => {
      throw new UnrecoverableError('no');
    });
    await queue.enqueue('ok', null);
    await queue.enqueue('ok', null, { delayMs: 60_000 });
    expect(await queue.counts()).toEqual({ ...zero, waiting: 1, delayed: 1 });
    const bad = await queue.enqueue('bad', null);
    const holding = await queue.enqueue('hold', null);
    await queue.start();
    await waitForState(queue, bad, 'failed');
    await waitForState(queue, holding, 'active');
    await waitFor('the ok job', async () => (await queue.counts()).completed === 1);
    expect(await queue.counts()).toEqual({ ...zero, delayed: 1, active: 1, completed: 1, failed: 1 });
    release();
    await waitForState(queue, holding, 'completed');
    expect(await queue.counts()).toEqual({ ...zero, delayed: 1, completed: 2, failed: 1 });
  });

  it('does not run a delayed job before its time, and runs it after', async () => {
    const queue = open();
    const ranAt: number[] = [];
    queue.register('later', async () => void ranAt.push(Date.now()));
    await queue.start();
    const enqueuedAt = Date.now();
    const id = await queue.enqueue('later', null, { delayMs: 600 });
    expect((await queue.getJob(id))?.state).toBe('delayed');
    await sleep(300);
    expect(ranAt).toEqual([]);
    await waitForState(queue, id, 'completed');
    expect(ranAt).toHaveLength(1);
    expect(ranAt[0]! - enqueuedAt).toBeGreaterThanOrEqual(590);
    expect(ranAt[0]! - enqueuedAt).toBeLessThan(2000);
  });

  it('retries with exponential backoff, then succeeds', async () => {
    const queue = open();
    const attempts: Array<{ attempt: number; at: number }> = [];
    queue.register('flaky', async (job) => {
      attempts.push({ attempt: job.attempt, at: Date.now() });
      if (job.attempt < 3) throw new Error(`flake ${job.attempt}`);
      return 'ok';
    });
    await queue.start();
    const id = await queue.enqueue('flaky', {}, { maxAttempts: 5, backoffMs: 100 });
    const job = await waitForState(queue, id, 'completed');
    expect(job).toMatchObject({ attempts: 3, result: 'ok' });
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    // base × 2^(attempt-1): 100 ms after the first failure, 200 ms after the second.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(95);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(195);
  });

  it('gives up after maxAttempts and keeps the last error', async () => {
    const queue = open();
    let calls = 0;
    queue.register('doomed', async (job) => {
      calls++;
      throw new Error(`boom ${job.attempt}`);
    });
    await queue.start();
    const id = await queue.enqueue('doomed', {}, { maxAttempts: 3, backoffMs: 10 });
    const job = await waitForState(queue, id, 'failed');
    expect(job).toMatchObject({ attempts: 3, lastError: 'boom 3', result: null });
    await sleep(100);
    expect(calls).toBe(3);
  });

  it('fails at once on UnrecoverableError', async () => {
    const queue = open();
    let calls = 0;
    queue.register('invalid', async () => {
      calls++;
      throw new UnrecoverableError('the payload can never work');
    });
    await queue.start();
    const id = await queue.enqueue('invalid', {}, { maxAttempts: 5, backoffMs: 10 });
    const job = await waitForState(queue, id, 'failed');
    expect(job.attempts).toBe(1);
    expect(job.lastError).toContain('the payload can never work');
    await sleep(100);
    expect(calls).toBe(1);
  });

  it('runs a postponed job again later without counting the postponed tries as attempts', async () => {
    const queue = open();
    const seen: Array<{ attempt: number; at: number }> = [];
    queue.register('waits-its-turn', async (job) => {
      seen.push({ attempt: job.attempt, at: Date.now() });
      if (seen.length <= 2) throw new RetryLaterError('the workspace is busy', 150);
      if (seen.length === 3) throw new Error('a real failure');
      return 'done';
    });
    await queue.start();
    const id = await queue.enqueue('waits-its-turn', {}, { maxAttempts: 2, backoffMs: 10 });
    const job = await waitForState(queue, id, 'completed');
    // Two postponements, then a failed attempt and a successful one: two attempts of two.
    expect(job).toMatchObject({ attempts: 2, result: 'done' });
    expect(seen.map((s) => s.attempt)).toEqual([1, 1, 1, 2]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(145);
  });

  it('fails a job of an unknown kind at once, saying why', async () => {
    const queue = open();
    await queue.start();
    const id = await queue.enqueue('nobody-handles-this', {}, { maxAttempts: 5, backoffMs: 10 });
    const job = await waitForState(queue, id, 'failed');
    expect(job.attempts).toBe(1);
    expect(job.lastError).toMatch(/No handler .*"nobody-handles-this"/);
  });

  it('enqueues with a transaction: nothing if it rolls back, the job after it commits', async () => {
    const queue = open();
    const ran: string[] = [];
    queue.register('tx-job', async (job) => void ran.push(job.id));
    await queue.start();

    const rolledBack = newId('job');
    await expect(
      h.store.transaction(async (tx) => {
        await queue.enqueue('tx-job', {}, { tx, jobId: rolledBack });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');

    const committed = newId('job');
    let ranBeforeCommit = -1;
    await h.store.transaction(async (tx) => {
      await queue.enqueue('tx-job', {}, { tx, jobId: committed });
      await sleep(200); // the worker polls meanwhile and must not see the job
      ranBeforeCommit = ran.length;
    });
    expect(ranBeforeCommit).toBe(0);
    await waitForState(queue, committed, 'completed');
    await sleep(200);
    expect(ran).toEqual([committed]);
    expect(await queue.getJob(rolledBack)).toBeUndefined();
  });

  it('withdraws a job that has not started, in a transaction only once it commits, and leaves a finished one as it is', async () => {
    const queue = open();
    const ran: string[] = [];
    queue.register('maybe', async (job) => void ran.push(job.id));
    await queue.start();
    const done = await queue.enqueue('maybe', null);
    await waitForState(queue, done, 'completed');
    await queue.cancel(done);
    expect((await queue.getJob(done))?.state).toBe('completed');

    const withdrawn = await queue.enqueue('maybe', null, { delayMs: 400 });
    await queue.cancel(withdrawn);
    const kept = await queue.enqueue('maybe', null, { delayMs: 400 });
    await expect(h.store.transaction(async (tx) => {
      await queue.cancel(kept, { tx });
      throw new Error('roll back');
    })).rejects.toThrow('roll back');
    const withdrawnOnCommit = await queue.enqueue('maybe', null, { delayMs: 400 });
    await h.store.transaction((tx) => queue.cancel(withdrawnOnCommit, { tx }));

    await waitForState(queue, kept, 'completed');
    await sleep(300);
    expect(ran).toEqual([done, kept]);
    expect(await queue.getJob(withdrawn)).toBeUndefined();
    expect(await queue.getJob(withdrawnOnCommit)).toBeUndefined();
  });

  it('runs at most `concurrency` jobs at once', async () => {
    const queue = open();
    let active = 0;
    let maxActive = 0;
    queue.register('slow', async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await sleep(100);
      active--;
    });
    const ids = await Promise.all(Array.from({ length: 6 }, (_, n) => queue.enqueue('slow', { n })));
    await queue.start({ concurrency: 2 });
    for (const id of ids) await waitForState(queue, id, 'completed');
    expect(maxActive).toBe(2);
  });

  it('stop waits for an active job to finish', async () => {
    const queue = open();
    let started = false;
    let finished = false;
    queue.register('busy', async (job) => {
      started = true;
      await sleep(300);
      finished = true;
      return job.signal.aborted ? 'aborted' : 'done';
    });
    await queue.start();
    const id = await queue.enqueue('busy', {});
    await waitFor('the job to start', async () => started);
    await queue.stop(5000);
    expect(finished).toBe(true);
    const job = await waitForState(queue, id, 'completed');
    expect(job.result).toBe('done');
  });

  it('stop aborts a handler that outlives the timeout', async () => {
    const queue = open();
    let started = false;
    let abortedWith: unknown;
    queue.register('stuck', async (job) => {
      started = true;
      await new Promise<void>((resolve) => job.signal.addEventListener('abort', () => resolve()));
      abortedWith = job.signal.reason;
      throw new Error('aborted');
    });
    await queue.start();
    await queue.enqueue('stuck', {}, { maxAttempts: 2, backoffMs: 10_000 });
    await waitFor('the job to start', async () => started);
    const stopping = Date.now();
    await queue.stop(200);
    expect(Date.now() - stopping).toBeLessThan(1500);
    expect(abortedWith).toBeDefined();
  });

  it('hands a started queue the jobs enqueued by another instance', async () => {
    const queueName = uniqueName('q');
    const producer = open({}, queueName);
    const worker = open({}, queueName);
    worker.register('shared', async (job) => job.payload);
    await worker.start();
    const id = await producer.enqueue('shared', { from: 'producer' });
    const job = await waitForState(producer, id, 'completed');
    expect(job.result).toEqual({ from: 'producer' });
  });

  it.runIf(kind === 'local')('local queue: a job whose worker died is reclaimed after its lease expires', async () => {
    const queueName = uniqueName('q');
    const first = open({}, queueName);
    const id = await first.enqueue('survivor', { n: 1 }, { maxAttempts: 3 });
    // The "dead" worker: claims the job with a short lease and never finishes it.
    const now = Date.now();
    const leaseUntil = now + 400;
    const claimed = await h.store.jobs.claim(queueName, now, leaseUntil, 'dead-worker', 10);
    expect(claimed.map((j) => j.id)).toEqual([id]);
    expect((await first.getJob(id))?.state).toBe('active');

    const restarted = open({ pollIntervalMs: 50 }, queueName);
    const runs: Array<{ attempt: number; at: number }> = [];
    restarted.register('survivor', async (job) => {
      runs.push({ attempt: job.attempt, at: Date.now() });
      return 'recovered';
    });
    await restarted.start();
    const job = await waitForState(restarted, id, 'completed');
    expect(runs).toHaveLength(1);
    expect(runs[0]!.attempt).toBe(2);
    expect(runs[0]!.at).toBeGreaterThanOrEqual(leaseUntil); // not while the dead worker's lease held
    expect(job).toMatchObject({ attempts: 2, result: 'recovered' });
  });

  it.runIf(kind === 'local')('local queue: a job whose lease expired on its last attempt fails with a clear error', async () => {
    const queueName = uniqueName('q');
    const queue = open({ pollIntervalMs: 50 }, queueName);
    let calls = 0;
    queue.register('fragile', async () => void calls++);
    const id = await queue.enqueue('fragile', {}, { maxAttempts: 1 });
    const now = Date.now();
    await h.store.jobs.claim(queueName, now, now + 100, 'dead-worker', 10);
    await queue.start();
    const job = await waitForState(queue, id, 'failed');
    expect(job.attempts).toBe(2);
    expect(job.lastError).toMatch(/exceeds maxAttempts 1/);
    expect(calls).toBe(0);
  });

  it.runIf(kind === 'local')('local queue: renews the lease of a job that runs longer than the lease', async () => {
    const queueName = uniqueName('q');
    const queue = open({ pollIntervalMs: 50, leaseMs: 300 }, queueName);
    const rival = open({ pollIntervalMs: 50, leaseMs: 300 }, queueName);
    const runs: string[] = [];
    for (const [name, q] of [['queue', queue], ['rival', rival]] as const) {
      q.register('long', async (job) => {
        runs.push(name);
        await sleep(1000);
        return job.signal.aborted;
      });
    }
    const id = await queue.enqueue('long', {});
    await queue.start();
    await waitFor('the job to start', async () => runs.length > 0);
    await rival.start();
    const job = await waitForState(queue, id, 'completed');
    expect(runs).toEqual(['queue']);
    expect(job).toMatchObject({ attempts: 1, result: false });
  });

  it.runIf(kind === 'bullmq')('bullmq: relays an outbox row whose post-commit push never happened', async () => {
    const queue = open({ relayIntervalMs: 100, relayAfterMs: 200 });
    queue.register('relayed', async (job) => job.payload);
    await queue.start();
    // A crash between commit and the post-commit hook: the outbox row is all that is left.
    const id = await h.store.transaction((tx) => queue.enqueue('relayed', { n: 7 }, { tx: { ...tx, afterCommit() {} } }));
    expect(await queue.getJob(id)).toBeUndefined();
    const leftover = await h.store.outbox.list(Date.now() + 1, 100);
    expect(leftover.length).toBeGreaterThan(0);
    const job = await waitForState(queue, id, 'completed');
    expect(job.result).toEqual({ n: 7 });
    expect(await h.store.outbox.list(Date.now() + 1, 100)).toEqual([]);
  });

  it.runIf(kind === 'bullmq')('bullmq: relays leftover outbox rows when a worker starts, without duplicating pushed jobs', async () => {
    const queueName = uniqueName('q');
    const producer = open({}, queueName);
    const jobId = newId('job');
    // The push happened but the process died before deleting the outbox row: relaying it again
    // must not run the job twice.
    await h.store.transaction((tx) => producer.enqueue('relayed', { n: 1 }, { tx, jobId }));
    await h.store.transaction((tx) =>
      producer.enqueue('relayed', { n: 1 }, { tx: { ...tx, afterCommit() {} }, jobId }),
    );
    const lost = await h.store.transaction((tx) => producer.enqueue('relayed', { n: 2 }, { tx: { ...tx, afterCommit() {} } }));
    await sleep(60);
    const worker = open({ relayAfterMs: 50, relayIntervalMs: 10_000 }, queueName);
    const seen: unknown[] = [];
    worker.register('relayed', async (job) => void seen.push(job.payload));
    await worker.start();
    await waitForState(worker, lost, 'completed');
    await waitForState(worker, jobId, 'completed');
    await sleep(200);
    expect(seen.sort((a: any, b: any) => a.n - b.n)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(await h.store.outbox.list(Date.now() + 1, 100)).toEqual([]);
  });
});

describe('openQueue', () => {
  it('opens BullMQ when a Redis URL is given, else the local queue', async () => {
    const handle = await sqlite.open();
    const prefix = uniqueName('kairo_test');
    try {
      const local = openQueue({ store: handle.store, pollIntervalMs: 50 });
      expect(local.backend).toBe('local');
      await local.close();
      const bull = openQueue({ store: handle.store, redisUrl, prefix });
      expect(bull.backend).toBe('bullmq');
      await bull.ping();
      await bull.close();
    } finally {
      await handle.dispose();
      await deleteRedisKeys(prefix);
    }
  });
});
