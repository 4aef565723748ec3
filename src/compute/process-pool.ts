import workerpool from 'workerpool';

/** Why a task did not return: it ran out of memory or time, its process died, or the pool would not take it. */
export type ComputeFailure = 'out_of_memory' | 'timeout' | 'crashed' | 'busy' | 'closed';

/** A task that did not return a result. Its worker process is gone (or was never used); the pool goes on. */
export class ComputeError extends Error {
  /**
   * Whether the same task may succeed later: only when the pool would not take it (`busy`,
   * `closed`). A task that ran out of memory or time, or crashed its process, would do so again.
   */
  readonly retryable: boolean;

  constructor(readonly reason: ComputeFailure, message: string) {
    super(message);
    this.name = 'ComputeError';
    this.retryable = reason === 'busy' || reason === 'closed';
  }
}

/** What a worker says when it begins a task: the task's time starts then, not while its process starts. */
const TASK_STARTED = 'kairo:task-started';

/**
 * Serves `methods` in a worker process of a ProcessPool (call it once, from the worker entry).
 * Each method may be sync or async; what it returns or throws goes back to the caller.
 */
export function serveTasks(methods: Record<string, (...args: any[]) => unknown>): void {
  const timed: Record<string, (...args: any[]) => unknown> = {};
  for (const [name, method] of Object.entries(methods)) {
    timed[name] = (...args: unknown[]) => {
      workerpool.workerEmit(TASK_STARTED);
      return method(...args);
    };
  }
  workerpool.worker(timed);
}

export interface ProcessPoolOptions {
  /** The worker entry: a module that calls `serveTasks({...})`. A `.ts` file runs through tsx (tests, benchmarks). */
  script: string;
  /**
   * Worker processes at most (started on demand, kept afterwards). 0 runs every task in this
   * process through `inline`, with no limit on its memory or time: a baseline, not for tenants.
   */
  size: number;
  /** The tasks themselves, for `size` 0. */
  inline?: Record<string, (...args: any[]) => unknown>;
  /** Each worker's V8 heap limit (`--max-old-space-size`); a task that needs more ends with `out_of_memory`. */
  heapMb: number;
  /** A task still running this long after it began is ended with `timeout` (its process is killed), unless `run` says otherwise. */
  timeoutMs: number;
  /** Tasks one tenant may have waiting; past it `run` fails at once with `busy`. */
  maxQueuedPerTenant: number;
}

interface Waiting {
  method: string;
  args: unknown[];
  timeoutMs: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** What the pool is doing now. */
export interface PoolStats {
  size: number;
  running: number;
  queued: number;
  /** Tasks ended for memory, time or a dead process since start. */
  failures: Record<'out_of_memory' | 'timeout' | 'crashed', number>;
}

/**
 * Heavy work in child processes, fairly shared between tenants.
 *
 * Processes, not worker threads: a worker thread's heap limit is best-effort in Node (some
 * allocation patterns abort the whole process instead of the thread), and a hostile document
 * must never take the server with it. Each tenant (workspace) has a queue of its own; free
 * workers go round-robin over the tenants with work waiting, and one tenant never holds every
 * worker when there is more than one, so another tenant's task always has a worker to wait for.
 */
export class ProcessPool {
  private pool: workerpool.Pool | undefined;
  private readonly queues = new Map<string, Waiting[]>();
  private readonly runningByTenant = new Map<string, number>();
  /** Tenants with work waiting, in turn order. */
  private turn: string[] = [];
  private running = 0;
  private closed = false;
  private readonly failures = { out_of_memory: 0, timeout: 0, crashed: 0 };
  private readonly perTenantLimit: number;

  constructor(private readonly options: ProcessPoolOptions) {
    this.perTenantLimit = options.size > 1 ? options.size - 1 : 1;
  }

  /** Runs `method` of the worker entry with `args` for `tenant`; rejects with ComputeError when it cannot return. */
  run<T>(tenant: string, method: string, args: unknown[], options: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closed) return Promise.reject(new ComputeError('closed', 'The server is shutting down.'));
    if (this.options.size === 0) return Promise.resolve(this.options.inline![method]!(...args) as T);
    const queue = this.queues.get(tenant) ?? [];
    if (queue.length >= this.options.maxQueuedPerTenant) {
      return Promise.reject(new ComputeError('busy', `This workspace already has ${queue.length} tasks waiting for a worker.`));
    }
    return new Promise<T>((resolve, reject) => {
      queue.push({ method, args, timeoutMs: options.timeoutMs ?? this.options.timeoutMs, resolve: resolve as (value: unknown) => void, reject });
      if (!this.queues.has(tenant)) {
        this.queues.set(tenant, queue);
        this.turn.push(tenant);
      }
      this.dispatch();
    });
  }

  stats(): PoolStats {
    let queued = 0;
    for (const queue of this.queues.values()) queued += queue.length;
    return { size: this.options.size, running: this.running, queued, failures: { ...this.failures } };
  }

  /** Refuses new tasks, fails waiting ones and ends the worker processes. */
  async close(): Promise<void> {
    this.closed = true;
    for (const queue of this.queues.values()) {
      for (const waiting of queue) waiting.reject(new ComputeError('closed', 'The server is shutting down.'));
    }
    this.queues.clear();
    this.turn = [];
    await this.pool?.terminate(true);
  }

  private dispatch(): void {
    while (this.running < this.options.size) {
      const index = this.turn.findIndex((tenant) => (this.runningByTenant.get(tenant) ?? 0) < this.perTenantLimit);
      if (index < 0) return;
      const tenant = this.turn[index]!;
      const queue = this.queues.get(tenant)!;
      const waiting = queue.shift()!;
      // The tenant goes to the back of the line, or leaves it when it has nothing more waiting.
      this.turn.splice(index, 1);
      if (queue.length > 0) this.turn.push(tenant);
      else this.queues.delete(tenant);
      this.start(tenant, waiting);
    }
  }

  private start(tenant: string, waiting: Waiting): void {
    this.running++;
    this.runningByTenant.set(tenant, (this.runningByTenant.get(tenant) ?? 0) + 1);
    let deadline: NodeJS.Timeout | undefined;
    let timedOut = false;
    const task = this.workers().exec(waiting.method, waiting.args, {
      on: (event: unknown) => {
        if (event !== TASK_STARTED) return;
        deadline = setTimeout(() => {
          timedOut = true;
          // Cancelling a running task ends its process.
          task.cancel();
        }, waiting.timeoutMs);
      },
    });
    task
      .then(waiting.resolve, (error: unknown) => waiting.reject(this.failure(error, timedOut, waiting.timeoutMs)))
      .then(() => {
        clearTimeout(deadline);
        this.running--;
        const left = this.runningByTenant.get(tenant)! - 1;
        if (left === 0) this.runningByTenant.delete(tenant);
        else this.runningByTenant.set(tenant, left);
        this.dispatch();
      });
  }

  /** Errors the task threw pass through; the pool's own become ComputeErrors. */
  private failure(error: unknown, timedOut: boolean, timeoutMs: number): unknown {
    if (!(error instanceof Error)) return error;
    if (timedOut) {
      this.failures.timeout++;
      return new ComputeError('timeout', `The work took longer than ${timeoutMs} ms.`);
    }
    if (error.message.startsWith('Workerpool Worker terminated Unexpectedly')) {
      // V8 aborts a process that reaches its heap limit (SIGABRT); anything else is a crash.
      if (/signalCode: `SIGABRT`/.test(error.message)) {
        this.failures.out_of_memory++;
        return new ComputeError('out_of_memory', `The work needed more than ${this.options.heapMb} MB of memory.`);
      }
      this.failures.crashed++;
      return new ComputeError('crashed', 'The worker process processing this work ended unexpectedly.');
    }
    if (this.closed) return new ComputeError('closed', 'The server is shutting down.');
    return error;
  }

  private workers(): workerpool.Pool {
    const typescript = this.options.script.endsWith('.ts');
    this.pool ??= workerpool.pool(this.options.script, {
      workerType: 'process',
      maxWorkers: this.options.size,
      // The pool above keeps at most `size` tasks running, so none queues in workerpool.
      maxQueueSize: this.options.size,
      workerTerminateTimeout: 1000,
      // Piped and dropped: a dying worker's report (V8's heap banner) and parsers' warnings are not the server's output.
      emitStdStreams: true,
      forkOpts: {
        execArgv: [...(typescript ? ['--import', 'tsx'] : []), `--max-old-space-size=${this.options.heapMb}`],
        // Buffers and typed arrays cross as such, not as JSON.
        serialization: 'advanced',
      },
    });
    return this.pool;
  }
}
