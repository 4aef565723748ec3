import { KairoError } from '../errors.js';
import { isId } from '../ids.js';
import type { Page, PageRequest, Run, RunFilter, Scope, Span, Store, ThreadMessage } from '../store/port.js';

/** What the API reads of agent runs and threads. */
export class RunReads {
  constructor(private readonly store: Store) {}

  /** The run of the agent, or 404 `resource_missing` naming `run_id`. */
  async ofAgent(scope: Scope, agentId: string, runId: string): Promise<Run> {
    const run = isId('run', runId) ? await this.store.runs.get(scope, runId) : undefined;
    if (!run || run.agentId !== agentId) throw new KairoError('resource_missing', { message: `No such run: '${runId}'.`, param: 'run_id' });
    return run;
  }

  /** A run of the scope by id (of any agent); undefined when the scope has none. */
  async get(scope: Scope, runId: string): Promise<Run | undefined> {
    return isId('run', runId) ? this.store.runs.get(scope, runId) : undefined;
  }

  /** The run as stored now (after a stream ended, say); undefined once deleted. */
  current(runId: string): Promise<Run | undefined> {
    return this.store.runs.getById(runId);
  }

  list(scope: Scope, filter: RunFilter, page: PageRequest): Promise<Page<Run>> {
    return this.store.runs.list(scope, filter, page);
  }

  /** The run's spans, in the order they started. */
  spans(runId: string): Promise<Span[]> {
    return this.store.spans.forRun(runId);
  }

  /** A thread's messages, newest first; 404 `resource_missing` naming `id` for a thread the scope does not have. */
  async threadMessages(scope: Scope, threadId: string, page: PageRequest): Promise<Page<ThreadMessage>> {
    if (!isId('thread', threadId) || !(await this.store.threads.exists(scope, threadId))) {
      throw new KairoError('resource_missing', { message: `No such thread: '${threadId}'.`, param: 'id' });
    }
    return this.store.threads.messages(threadId, page);
  }
}
