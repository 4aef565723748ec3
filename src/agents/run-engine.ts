import { KairoError } from '../errors.js';
import { newId } from '../ids.js';
import type { Queue } from '../queue/port.js';
import { emptyUsage, type Agent, type Run, type Scope, type Store, type Transaction, type Workspace } from '../store/port.js';
import type { ModelCatalogue, ModelRouter } from '../models/ports.js';
import type { ContextService } from '../context/context-service.js';
import type { RunSlots, RunSlot } from '../platform/run-slots.js';
import { readConfig } from './agent-config.js';
import { recordEvents } from '../events/events.js';
import { runView } from './views.js';
import type { RunEventLog } from '../runs/event-log.js';
import { isFinal } from '../runs/statuses.js';
import type { RunObserver } from '../runs/observer.js';
import { noRunBudgets, type RunBudgets } from '../runs/run-budgets.js';
import type { SpanWriter } from '../runs/spans.js';
import { AgentVersionConfigs } from './engine/agent-versions.js';
import { ModelLoop } from './engine/model-loop.js';
import { ModelStep } from './engine/model-step.js';
import { RequiredActions } from './engine/required-action.js';
import { RunOutcomes } from './engine/run-outcomes.js';
import { RunSlotGate } from './engine/run-slot.js';
import { ToolCalls } from './engine/tool-calls.js';
import type { EngineState, PreparedTools, StartRunInput, ToolAnswer, ToolRuntime } from './engine/types.js';

export type { PendingCall, PreparedTools, RunParent, StartRunInput, ToolAnswer, ToolCallContext, ToolRuntime } from './engine/types.js';

export const AGENT_RUN_JOB = 'agents.run';
/** A run executing in a request records that it is alive this often… */
const RUN_HEARTBEAT_MS = 5_000;
/** …and one silent for this long belonged to a process that died. */
export const RUN_ABANDONED_AFTER_MS = 30_000;

/**
 * The agent run state machine: queued → running → (requires_action ⇄ running) → completed |
 * failed | cancelled, persisted at every transition. Each model call and tool call is a span and
 * every visible event goes to the run's event log.
 *
 * This is the run's lifecycle: create, execute under a concurrent-run slot with a heartbeat and
 * the agent's timeout, resume after the client answered, cancel, and fail runs whose process
 * died. The model loop, the client's required actions, tool calls and how runs end are in
 * `engine/`.
 */
export class RunEngine {
  private readonly controllers = new Map<string, AbortController>();
  /** Wait and stream runs created here whose thread is new (so its history is empty). */
  private readonly freshThreads = new Set<string>();
  private readonly now: () => number;
  private readonly slots: RunSlotGate;
  private readonly versions: AgentVersionConfigs;
  private readonly outcomes: RunOutcomes;
  private readonly requiredActions: RequiredActions;
  private readonly loop: ModelLoop;
  private readonly budgets: RunBudgets;

  constructor(
    private readonly deps: {
      store: Store;
      queue: Queue;
      catalogue: ModelCatalogue;
      router: ModelRouter;
      context: ContextService;
      slots: RunSlots;
      tools: ToolRuntime;
      events: RunEventLog;
      spans: SpanWriter;
      observer: RunObserver;
      /** The budgets runs are held to; none when absent. */
      budgets?: RunBudgets;
      now?: () => number;
    },
  ) {
    const now = (this.now = deps.now ?? (() => Date.now()));
    this.budgets = deps.budgets ?? noRunBudgets;
    const modelStep = new ModelStep({ ...deps, now });
    const toolCalls = new ToolCalls({ ...deps, now });
    this.slots = new RunSlotGate({ ...deps, now });
    this.versions = new AgentVersionConfigs(deps.store);
    this.outcomes = new RunOutcomes({ ...deps, modelStep, now });
    this.requiredActions = new RequiredActions({ ...deps, outcomes: this.outcomes, toolCalls, now });
    this.loop = new ModelLoop({ ...deps, budgets: this.budgets, modelStep, toolCalls, requiredActions: this.requiredActions, outcomes: this.outcomes, now });
  }

  /** Creates a run and waits for it (wait mode), or queues it (background mode). */
  async start(workspace: Workspace, scope: Scope, agent: Agent, input: StartRunInput): Promise<Run> {
    const { run, slot } = await this.create(workspace, scope, agent, input, input.mode === 'wait');
    if (input.mode === 'background') return run;
    return this.execute(run.id, workspace, slot, run);
  }

  /**
   * Creates a run in `queued`. Wait and stream runs take a concurrent-run slot now (429 when the
   * plan's cap is reached) and the caller executes them; background runs are queued as a job
   * (in the same transaction) and wait there for a slot. With `startNow` (a wait run its caller
   * executes at once) the run is created `running`, and its creation is deferred to its next
   * write (see RunEventLog.deferCreation): a quick run is written in one transaction, when it
   * ends. A hard budget used up refuses the run
   * (`budget_exceeded`) before anything is written; `budgetHeaders` say what remains of the
   * budgets that apply.
   */
  async create(
    workspace: Workspace, scope: Scope, agent: Agent, input: StartRunInput, startNow = false,
  ): Promise<{ run: Run; slot: RunSlot | undefined; budgetHeaders: Record<string, string> }> {
    if (agent.status !== 'active') {
      throw new KairoError('agent_not_active', { message: `Agent '${agent.id}' is ${agent.status}; only active agents run. Set its status to active first.` });
    }
    let threadId = input.threadId;
    if (threadId !== undefined && !(await this.deps.store.threads.exists(scope, threadId))) {
      throw new KairoError('resource_missing', { message: `No such thread: '${threadId}'.`, param: 'thread_id' });
    }
    const budgetHeaders = await this.budgets.admit(scope, { apiKeyId: input.apiKeyId ?? null, agentId: agent.id });
    const slot = input.mode === 'background' ? undefined : await this.slots.take(workspace, input.mode, { lent: input.slot });
    const now = this.now();
    const run: Run = {
      id: newId('run'), scope, agentId: agent.id, agentVersion: agent.version, threadId: threadId ?? null, status: 'queued', mode: input.mode,
      input: input.input, state: input.mode !== 'background' && input.requestId ? { requestId: input.requestId } : {}, output: null, errorCode: null, errorMessage: null, model: null, routing: null, usage: emptyUsage(),
      costUsd: 0, latency: {}, requiredAction: null, cancelRequested: false, metadata: input.metadata ?? {}, createdAt: now, startedAt: null,
      completedAt: null, updatedAt: now, apiKeyId: input.apiKeyId ?? null, parentRunId: input.parent?.runId ?? null,
      parentSpanId: input.parent?.spanId ?? null, workflowId: input.parent?.workflowId ?? null, workflowVersion: input.parent?.workflowVersion ?? null,
    };
    const newThread = threadId === undefined;
    if (newThread) run.threadId = threadId = newId('thread');
    const startsNow = startNow && input.mode === 'wait';
    const created = startsNow ? this.started(run, now) : run;
    const writeCreation = async (tx: Transaction) => {
      if (newThread) await tx.threads.create({ id: threadId!, scope, createdAt: now });
      await tx.runs.create(created);
      if (input.mode === 'background') await this.deps.queue.enqueue(AGENT_RUN_JOB, { runId: run.id }, { jobId: `run_${run.id}`, tx, maxAttempts: 10 });
      await recordEvents(tx, scope, [{ type: 'agent.run.created', object: runView(created), relatedId: agent.id, requestId: input.requestId }], now);
    };
    this.deps.events.begin(run.id);
    try {
      if (startsNow) {
        // Executed at once by its request: written with its next write (see RunEventLog.deferCreation).
        this.deps.events.deferCreation(run.id, writeCreation);
        await this.deps.events.appendBuffered(run.id, 'run.created', { run_id: run.id, status: 'queued' });
        await this.deps.events.appendBuffered(run.id, 'run.started', { run_id: run.id });
      } else {
        await this.deps.store.transaction(async (tx) => {
          await writeCreation(tx);
          await this.deps.events.append(run.id, 'run.created', { run_id: run.id, status: 'queued' }, tx);
        });
      }
    } catch (error) {
      this.deps.events.release(run.id);
      await slot?.release();
      throw error;
    }
    // A thread made for this run has no history to read when it starts (bar a second run on it
    // finishing in the instant before; concurrent runs on one thread do not see each other anyway).
    if (newThread && input.mode !== 'background') this.freshThreads.add(run.id);
    return { run: created, slot, budgetHeaders };
  }

  /**
   * Runs (or resumes) a run until it finishes or needs the client. Used inline and by the job,
   * which passes no slot: the run takes one here, or waits in the queue (see RunSlotGate).
   * `created` is the run as create() just wrote it, which spares reading it back: a cancel since
   * then made a queued run `cancelled` (the start below only moves a queued run), and is seen at
   * step 2 by a run that started when it was created.
   */
  async execute(runId: string, workspace: Workspace, heldSlot?: RunSlot, created?: Run): Promise<Run> {
    const unchanged = created?.id === runId && (created.status === 'queued' || created.status === 'running');
    let run = unchanged ? created : (await this.deps.store.runs.getById(runId))!;
    if (isFinal(run.status) || run.status === 'requires_action') {
      await heldSlot?.release();
      return run;
    }
    const slot = heldSlot ?? (await this.slots.take(workspace, run.mode, { waiting: run }));
    const controller = new AbortController();
    this.controllers.set(run.id, controller);
    let timeout: NodeJS.Timeout | undefined;
    const alive = setInterval(() => void this.deps.store.runs.touch(runId, this.now()).catch(() => {}), RUN_HEARTBEAT_MS);
    let tools: PreparedTools | undefined;
    try {
      const config = readConfig(await this.versions.get(run.agentId, run.agentVersion));
      timeout = setTimeout(() => controller.abort(new Error('timeout')), config.settings.timeout_ms);
      if (run.status === 'queued') {
        const started = await this.claim(run);
        if (!started) {
          run = (await this.deps.store.runs.getById(run.id)) ?? run;
          return run;
        }
        run = started;
      }
      tools = await this.deps.tools.prepare(run, config, controller.signal);
      const progress = { run };
      try {
        run = await this.loop.run(progress, config, tools, controller.signal, this.freshThreads.has(run.id));
      } catch (error) {
        run = progress.run; // keep what the loop learned (routing, usage) on the failed run
        throw error;
      }
    } catch (error) {
      run = await this.outcomes.stopped(run, controller.signal, error);
    } finally {
      clearTimeout(timeout);
      clearInterval(alive);
      this.controllers.delete(run.id);
      this.freshThreads.delete(run.id);
      await tools?.close().catch(() => {});
      await slot.release();
      if (run.status !== 'requires_action') this.deps.events.release(run.id);
    }
    return run;
  }

  /**
   * Moves a queued run to `running`, only from queued: undefined when it was cancelled (or
   * started) elsewhere meanwhile. The first start ends the queue wait, or the slot wait of a
   * background run that found its workspace at the cap (the queue wait ended where that began).
   */
  private async claim(run: Run): Promise<Run | undefined> {
    const now = this.now();
    const slotWaitSince = (run.state as EngineState).slotWaitSince;
    const started = this.started(run, now);
    const claimed = await this.deps.store.transaction(async (tx) => {
      if (!(await tx.runs.save(started, ['queued']))) return false;
      if (slotWaitSince !== undefined) {
        await this.deps.spans.end(this.deps.spans.start(run.id, 'slot_wait', 'concurrent-run slot', { startedAt: slotWaitSince }), 'ok', {}, { tx, endedAt: now });
      }
      await this.deps.events.append(run.id, 'run.started', { run_id: run.id }, tx);
      return true;
    });
    return claimed ? started : undefined;
  }

  /** The run as it starts at `now`: the queue wait (and a slot wait) ends. */
  private started(run: Run, now: number): Run {
    const { slotWaitSince, ...state } = run.state as EngineState;
    const latency = { ...run.latency };
    latency.queue_ms ??= (slotWaitSince ?? now) - run.createdAt;
    if (slotWaitSince !== undefined) latency.slot_wait_ms = (latency.slot_wait_ms ?? 0) + (now - slotWaitSince);
    return { ...run, status: 'running', state, startedAt: run.startedAt ?? now, updatedAt: now, latency };
  }

  /**
   * Answers the calls a run in requires_action waits for (see RequiredActions) and resumes it:
   * a background run by a job, a wait or stream run here, under a slot taken now.
   */
  async submitToolOutputs(workspace: Workspace, run: Run, answers: ToolAnswer[]): Promise<Run> {
    const { run: resumed, resumes } = await this.requiredActions.accept(run, answers);
    if (run.mode === 'background') {
      // Each answer resumes the run by a job of its own (an approved function tool is answered twice).
      await this.deps.queue.enqueue(AGENT_RUN_JOB, { runId: run.id }, { jobId: `run_${run.id}_resume_${resumes}`, maxAttempts: 3 });
      return resumed;
    }
    const slot = await this.slots.take(workspace, run.mode);
    return this.execute(run.id, workspace, slot);
  }

  /** Requests cancellation: immediate when queued or waiting, else the running loop stops. */
  async cancel(run: Run): Promise<Run> {
    if (isFinal(run.status)) {
      throw new KairoError('run_not_cancellable', { message: `Run '${run.id}' is already ${run.status}.` });
    }
    await this.deps.store.runs.requestCancel(run.id, this.now());
    this.controllers.get(run.id)?.abort(new Error('cancelled'));
    if (run.status === 'queued' || run.status === 'requires_action') {
      const current = (await this.deps.store.runs.getById(run.id))!;
      return this.outcomes.cancelled(current, ['queued', 'requires_action']);
    }
    // A running run on another process sees the flag at its next step.
    return (await this.deps.store.runs.getById(run.id))!;
  }

  /**
   * Fails wait and stream runs whose process died mid-run (they have no job to resume them), so
   * an accepted run never vanishes. Background runs are resumed by the queue instead.
   */
  async failAbandoned(): Promise<number> {
    const abandoned = await this.deps.store.runs.listAbandoned(this.now() - RUN_ABANDONED_AFTER_MS, 100);
    for (const run of abandoned) await this.outcomes.fail(run, 'run_interrupted', 'The server running this run stopped before it finished. Start a new run.');
    return abandoned.length;
  }
}
