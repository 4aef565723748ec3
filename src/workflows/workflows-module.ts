import type { Queue } from '../queue/port.js';
import type { AreaModule, AreaRunning, BackgroundErrors } from '../area-module.js';
import { emptyUsage, type Store } from '../store/port.js';
import type { SafeFetcher } from '../context/ports.js';
import type { RunSlots } from '../platform/run-slots.js';
import { KairoError } from '../errors.js';
import { isId } from '../ids.js';
import { RunEventLog } from '../runs/event-log.js';
import type { RunObserver } from '../runs/observer.js';
import type { SpanWriter } from '../runs/spans.js';
import type { AgentsModule } from '../agents/agents-module.js';
import { WORKFLOW_RUN_JOB, WorkflowEngine, type WorkflowRunJob } from './engine/engine.js';
import type { AgentCaller, WorkflowDataLimits } from './engine/ports.js';
import type { ExpressionEvaluator } from './expression-evaluator.js';
import { WorkflowScheduler } from './schedule.js';
import { WorkflowService } from './workflows.js';

/** Agent run errors that a new attempt cannot fix. */
const PERMANENT_AGENT_ERRORS = new Set(['max_steps_exceeded', 'budget_exceeded', 'no_model_available', 'agent_requires_action', 'agent_missing', 'agent_not_active']);

/** The workflows area wired together: definitions, the durable engine, its event log and schedules. */
export class WorkflowsModule implements AreaModule {
  readonly workflows: WorkflowService;
  readonly engine: WorkflowEngine;
  readonly events: RunEventLog;
  readonly scheduler: WorkflowScheduler;
  /** Where the errors of advances that requests started go, once started. */
  private inlineErrors: (error: unknown) => void = () => {};

  constructor(
    private readonly deps: {
      store: Store;
      queue: Queue;
      slots: RunSlots;
      fetcher: SafeFetcher;
      agents: AgentsModule;
      spans: SpanWriter;
      observer: RunObserver;
      /** How long an engine's claim on a run lasts without renewal (a crashed engine's run resumes after it). */
      leaseMs: number;
      expressions: ExpressionEvaluator;
      limits: WorkflowDataLimits;
      /** How often due schedules are looked for. */
      schedulerIntervalMs: number;
      /**
       * Wait and stream runs are advanced at once by the process whose request starts them (this
       * process runs jobs too); otherwise every run waits for a worker in the queue.
       */
      advanceInRequest: boolean;
    },
  ) {
    this.events = new RunEventLog(deps.store, Date.now, (repos) => repos.workflowRunEvents);
    this.engine = new WorkflowEngine({
      store: deps.store, queue: deps.queue, events: this.events, slots: deps.slots, fetcher: deps.fetcher,
      agents: agentCaller(deps.store, deps.agents), spans: deps.spans, observer: deps.observer, leaseMs: deps.leaseMs,
      expressions: deps.expressions, limits: deps.limits, onError: (error) => this.inlineErrors(error),
    });
    this.workflows = new WorkflowService(deps.store, this.engine, { advanceInRequest: deps.advanceInRequest });
    this.scheduler = new WorkflowScheduler({ store: deps.store, engine: this.engine });
  }

  registerJobs(queue: Queue): void {
    queue.register<WorkflowRunJob>(WORKFLOW_RUN_JOB, (job) => this.engine.advance(job.payload.runId, job.signal, job.payload.backstop === true));
  }

  /** Fires the runs of cron schedules as they come due; on close, stops the advances requests started. */
  start(onError: BackgroundErrors): AreaRunning {
    this.inlineErrors = onError('workflow run not advanced (its backstop job continues it)');
    return { stop: this.scheduler.start(this.deps.schedulerIntervalMs, onError('workflow schedules not fired')), close: () => this.engine.closeInline() };
  }
}

/** Agent steps run the agent to completion in wait mode, on the workflow run's concurrent-run slot. */
export function agentCaller(store: Store, agents: AgentsModule): AgentCaller {
  return {
    async run({ workspace, scope, agentId, input, slot, metadata, apiKeyId, parent }) {
      const none = { runId: null, usage: emptyUsage(), costUsd: 0 };
      const agent = isId('agent', agentId) ? await store.agents.get(scope, agentId) : undefined;
      if (!agent) return { ...none, ok: false, code: 'agent_missing', message: `Agent ${agentId} no longer exists.`, retryable: false };
      let run;
      try {
        run = await agents.engine.start(workspace, scope, agent, { input, mode: 'wait', metadata, slot, apiKeyId, parent });
      } catch (error) {
        if (error instanceof KairoError) return { ...none, ok: false, code: error.code, message: error.message, retryable: error.retryable };
        throw error;
      }
      const ran = { runId: run.id, usage: run.usage, costUsd: run.costUsd };
      if (run.status === 'completed') return { ...ran, ok: true, output: run.output ?? '' };
      if (run.status === 'requires_action') {
        return { ...ran, ok: false, code: 'agent_requires_action', message: 'The agent asked for function tool outputs or an approval, which a workflow step cannot give.', retryable: false };
      }
      const code = run.errorCode ?? `agent_run_${run.status}`;
      return { ...ran, ok: false, code, message: run.errorMessage ?? `The agent run ended ${run.status}.`, retryable: run.status === 'failed' && !PERMANENT_AGENT_ERRORS.has(code) };
    },
  };
}
