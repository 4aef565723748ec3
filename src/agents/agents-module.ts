import { KairoError } from '../errors.js';
import type { Queue } from '../queue/port.js';
import type { AreaModule, AreaRunning, BackgroundErrors } from '../area-module.js';
import { RunReads } from './run-reads.js';
import type { Scope, Store } from '../store/port.js';
import { getToolSigningSecret, rotateToolSigningSecret, type ToolSigningSecret } from './tool-signing-secret.js';
import type { ContextService } from '../context/context-service.js';
import type { SafeFetcher } from '../context/ports.js';
import type { ModelCatalogue, ModelRouter } from '../models/ports.js';
import type { RunSlots } from '../platform/run-slots.js';
import { AgentService } from './agents.js';
import { AGENT_RUN_JOB, RunEngine } from './run-engine.js';
import { RunEventLog } from '../runs/event-log.js';
import { AgentToolRuntime } from './engine/tool-runtime.js';
import { validateToolDefinitions } from './tools/validate.js';
import type { SpanWriter } from '../runs/spans.js';
import type { RunObserver } from '../runs/observer.js';
import type { RunBudgets } from '../runs/run-budgets.js';

/** Sub-agent calls nest at most this deep (an agent calling an agent calling an agent…). */
const MAX_AGENT_DEPTH = 3;

/** The agents area wired together: agent configuration, the run engine, its event log and what the API reads of runs. */
export class AgentsModule implements AreaModule {
  readonly agents: AgentService;
  readonly engine: RunEngine;
  readonly events: RunEventLog;
  readonly runs: RunReads;
  /** The workspace's secret that signs http tool calls, shown and rotated through the API. */
  readonly signingSecrets: {
    get(scope: Scope): Promise<ToolSigningSecret>;
    rotate(scope: Scope, overlapSeconds: number): Promise<ToolSigningSecret>;
  };

  constructor(
    private readonly deps: {
      store: Store;
      queue: Queue;
      catalogue: ModelCatalogue;
      router: ModelRouter;
      context: ContextService;
      slots: RunSlots;
      fetcher: SafeFetcher;
      outboundAllowCidrs: readonly string[];
      spans: SpanWriter;
      observer: RunObserver;
      /** The budgets runs are held to (none when absent). */
      budgets?: RunBudgets;
      /** The clock of runs and agents (tests pass their own). */
      now?: () => number;
    },
  ) {
    const now = deps.now ?? Date.now;
    this.agents = new AgentService(deps.store, deps.catalogue, deps.context.sources, (tools, param) => void validateToolDefinitions(tools, param), now);
    this.events = new RunEventLog(deps.store, now, (repos) => repos.runEvents);
    this.runs = new RunReads(deps.store);
    this.signingSecrets = {
      get: (scope) => getToolSigningSecret(deps.store, scope, now()),
      rotate: (scope, overlapSeconds) => rotateToolSigningSecret(deps.store, scope, overlapSeconds, now()),
    };
    const tools = new AgentToolRuntime({
      store: deps.store,
      context: deps.context,
      fetcher: deps.fetcher,
      outboundAllowCidrs: deps.outboundAllowCidrs,
      runSubAgent: async (parent, agentId, input, call) => {
        const depth = Number(parent.metadata.kairo_depth ?? 0) + 1;
        if (depth > MAX_AGENT_DEPTH) return { ok: false, output: '', error: `Agents may call agents at most ${MAX_AGENT_DEPTH} deep.` };
        const agent = await deps.store.agents.get(parent.scope, agentId);
        const workspace = await deps.store.workspaces.get(parent.scope.workspaceId);
        if (!agent || !workspace) return { ok: false, output: '', error: `Agent ${agentId} no longer exists.` };
        let run;
        try {
          run = await this.engine.start(workspace, parent.scope, agent, {
            input, mode: 'wait', metadata: { parent_run_id: parent.id, kairo_depth: String(depth) }, apiKeyId: parent.apiKeyId,
            parent: { runId: parent.id, spanId: call.spanId, workflowId: parent.workflowId, workflowVersion: parent.workflowVersion },
          });
        } catch (error) {
          // A budget that refuses the sub-agent's run is the tool's answer, which the calling model reads.
          if (error instanceof KairoError && error.code === 'budget_exceeded') return { ok: false, output: '', error: error.message };
          throw error;
        }
        return run.status === 'completed' ? { ok: true, output: run.output ?? '' } : { ok: false, output: '', error: `The agent's run ${run.id} ended ${run.status}: ${run.errorMessage ?? run.status}.` };
      },
    });
    this.engine = new RunEngine({
      store: deps.store, queue: deps.queue, catalogue: deps.catalogue, router: deps.router, context: deps.context, slots: deps.slots, tools,
      events: this.events, spans: deps.spans, observer: deps.observer, ...(deps.budgets ? { budgets: deps.budgets } : {}), now,
    });
  }

  /** Fails abandoned wait/stream runs (their process died) now and every 15 s. */
  start(onError: BackgroundErrors): AreaRunning {
    const report = onError('abandoned runs not swept');
    const sweep = () => void this.engine.failAbandoned().catch(report);
    sweep();
    const timer = setInterval(sweep, 15_000);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  /** Background runs execute through the queue (and survive a restart: a claimed run resumes). */
  registerJobs(queue: Queue): void {
    queue.register<{ runId: string }>(AGENT_RUN_JOB, async (job) => {
      const run = await this.deps.store.runs.getById(job.payload.runId);
      if (!run) return { skipped: true };
      const workspace = await this.deps.store.workspaces.get(run.scope.workspaceId);
      if (!workspace) return { skipped: true };
      // The run takes its slot there; at the workspace's cap it waits its turn in the queue.
      const finished = await this.engine.execute(run.id, workspace);
      return { status: finished.status };
    });
  }
}
