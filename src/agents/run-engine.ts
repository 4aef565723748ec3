import type { ModelMessage } from 'ai';
import { ApiError } from '../errors.js';
import { newId } from '../ids.js';
import type { Queue } from '../queue/port.js';
import { emptyUsage, type Agent, type Run, type Scope, type Store, type Transaction, type Workspace } from '../store/port.js';
import type { ModelCatalogue, ModelRouter, RoutingDecision } from '../models/ports.js';
import { NoModelAvailableError } from '../models/router.js';
import type { ContextService } from '../context/context-service.js';
import { countTokens } from '../context/tokens.js';
import type { RunSlots, RunSlot } from '../platform/run-slots.js';
import type { ToolResult, ToolSpec, ToolDefinition } from './tools/ports.js';
import { readConfig, type AgentConfig } from './agent-config.js';
import type { RunEventLog } from '../runs/event-log.js';
import { isFinal } from '../runs/statuses.js';
import type { ModelCallRecord, RunObserver } from '../runs/observer.js';
import type { SpanWriter } from '../runs/spans.js';
import { ModelStep, ModelStepFailed } from './model-step.js';

export const AGENT_RUN_JOB = 'agents.run';
/** A run executing in a request records that it is alive this often… */
const RUN_HEARTBEAT_MS = 5_000;
/** …and one silent for this long belonged to a process that died. */
export const RUN_ABANDONED_AFTER_MS = 30_000;
/** How long a run waits in requires_action for the client before it fails. */
const REQUIRED_ACTION_TTL_MS = 10 * 60 * 1000;
/** Agent versions are immutable: this many configurations are kept in memory. */
const AGENT_VERSION_CACHE_SIZE = 500;

/** A tool call the client must answer (a function tool, or any tool that needs approval). */
export interface PendingCall {
  id: string;
  name: string;
  arguments: unknown;
  type: 'function' | 'approval';
}

/** One tool call as the tool sees it. */
export interface ToolCallContext {
  id: string;
  spanId: string;
}

/** Tools prepared for one run: specs for the model and how to run each server-side tool. */
export interface PreparedTools {
  specs: ToolSpec[];
  definitionOf(name: string): ToolDefinition | undefined;
  /** Runs a server-side tool; `call.spanId` is the call's span (a sub-agent's run hangs under it). */
  execute(name: string, args: unknown, call: ToolCallContext, signal: AbortSignal): Promise<ToolResult>;
  close(): Promise<void>;
}

/** Builds the tools of a run (connects MCP servers, signs HTTP calls, searches context…). */
export interface ToolRuntime {
  prepare(run: Run, config: AgentConfig, signal: AbortSignal): Promise<PreparedTools>;
}

interface EngineState {
  messages: ModelMessage[];
  system: string;
  steps: number;
  pending: PendingCall[];
  requiredActionExpiresAt?: number;
  retrievalMs?: number;
  /** When a background run first found its workspace at the concurrent-run cap. */
  slotWaitSince?: number;
  /** How many times the client has answered the run. */
  resumes?: number;
  [key: string]: unknown;
}

/** What started a run that another run started: the calling run and its span (tool call or workflow step). */
export interface RunParent {
  runId: string;
  spanId: string;
  workflowId: string | null;
  workflowVersion: number | null;
}

export interface StartRunInput {
  input: string | ModelMessage[];
  threadId?: string;
  mode: Run['mode'];
  metadata?: Record<string, string>;
  /** A slot the caller already holds (a workflow run calling an agent): the run uses it and leaves it held. */
  slot?: RunSlot;
  /** The API key whose request this is (or that started the calling run). */
  apiKeyId?: string | null;
  parent?: RunParent;
}

/** The statuses a run can still leave. */
const UNFINISHED: Run['status'][] = ['queued', 'running', 'requires_action'];

/** A caller's slot lent to a run: the run's release leaves it held. */
const borrowed = (slot: RunSlot): RunSlot => ({ lost: slot.lost, release: async () => {} });

function lastUserText(messages: ModelMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    return m.content.map((p) => (p.type === 'text' ? p.text : '')).join(' ');
  }
  return '';
}

/**
 * The agent run state machine: queued → running → (requires_action ⇄ running) → completed |
 * failed | cancelled, persisted at every transition. Each model call and tool call is a span and
 * every visible event goes to the run's event log.
 */
export class RunEngine {
  private readonly controllers = new Map<string, AbortController>();
  /** Configurations by `agentId@version` (a version never changes once written). */
  private readonly versionConfigs = new Map<string, Record<string, unknown>>();
  /** Wait and stream runs created here whose thread is new (so its history is empty). */
  private readonly freshThreads = new Set<string>();

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
      now?: () => number;
    },
  ) {
    this.modelStep = new ModelStep({ ...deps, now: () => this.now() });
  }

  private readonly modelStep: ModelStep;

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Creates a run and waits for it (wait mode), or queues it (background mode). */
  async start(workspace: Workspace, scope: Scope, agent: Agent, input: StartRunInput): Promise<Run> {
    const { run, slot } = await this.create(workspace, scope, agent, input);
    if (input.mode === 'background') return run;
    return this.execute(run.id, workspace, slot, run);
  }

  /**
   * Creates a run in `queued`. Wait and stream runs take a concurrent-run slot now (429 when the
   * plan's cap is reached) and the caller executes them; background runs are queued as a job
   * (in the same transaction) and wait there for a slot.
   */
  async create(workspace: Workspace, scope: Scope, agent: Agent, input: StartRunInput): Promise<{ run: Run; slot: RunSlot | undefined }> {
    if (agent.status !== 'active') {
      throw new ApiError('agent_not_active', { message: `Agent '${agent.id}' is ${agent.status}; only active agents run. Set its status to active first.` });
    }
    let threadId = input.threadId;
    if (threadId !== undefined && !(await this.deps.store.threads.exists(scope, threadId))) {
      throw new ApiError('resource_missing', { message: `No such thread: '${threadId}'.`, param: 'thread_id' });
    }
    const slot = input.mode === 'background' ? undefined : input.slot ? borrowed(input.slot) : await this.deps.slots.acquireOrThrow(workspace);
    const now = this.now();
    const run: Run = {
      id: newId('run'), scope, agentId: agent.id, agentVersion: agent.version, threadId: threadId ?? null, status: 'queued', mode: input.mode,
      input: input.input, state: {}, output: null, errorCode: null, errorMessage: null, model: null, routing: null, usage: emptyUsage(),
      costUsd: 0, latency: {}, requiredAction: null, cancelRequested: false, metadata: input.metadata ?? {}, createdAt: now, startedAt: null,
      completedAt: null, updatedAt: now, apiKeyId: input.apiKeyId ?? null, parentRunId: input.parent?.runId ?? null,
      parentSpanId: input.parent?.spanId ?? null, workflowId: input.parent?.workflowId ?? null, workflowVersion: input.parent?.workflowVersion ?? null,
    };
    const newThread = threadId === undefined;
    try {
      await this.deps.store.transaction(async (tx) => {
        if (threadId === undefined) {
          threadId = newId('thread');
          run.threadId = threadId;
          await tx.threads.create({ id: threadId, scope, createdAt: now });
        }
        await tx.runs.create(run);
        if (input.mode === 'background') await this.deps.queue.enqueue(AGENT_RUN_JOB, { runId: run.id }, { jobId: `run_${run.id}`, tx, maxAttempts: 10 });
        this.deps.events.begin(run.id);
        await this.deps.events.append(run.id, 'run.created', { run_id: run.id, status: 'queued' }, tx);
      });
    } catch (error) {
      this.deps.events.release(run.id);
      await slot?.release();
      throw error;
    }
    // A thread made for this run has no history to read when it starts (bar a second run on it
    // finishing in the instant before; concurrent runs on one thread do not see each other anyway).
    if (newThread && input.mode !== 'background') this.freshThreads.add(run.id);
    return { run, slot };
  }

  /**
   * Runs (or resumes) a run until it finishes or needs the client. Used inline and by the job.
   * `created` is the run as create() just wrote it, which spares reading it back: a cancel since
   * then made it `cancelled` (the start below only moves a queued run) or is seen at step 2.
   */
  async execute(runId: string, workspace: Workspace, heldSlot?: RunSlot, created?: Run): Promise<Run> {
    let run = created?.id === runId && created.status === 'queued' ? created : (await this.deps.store.runs.getById(runId))!;
    if (isFinal(run.status) || run.status === 'requires_action') {
      await heldSlot?.release();
      return run;
    }
    const slot = heldSlot ?? (await this.deps.slots.acquire(workspace));
    if (!slot) throw new Error('No run slot free for this workspace; retry later.');
    const controller = new AbortController();
    this.controllers.set(run.id, controller);
    let timeout: NodeJS.Timeout | undefined;
    const alive = setInterval(() => void this.deps.store.runs.touch(runId, this.now()).catch(() => {}), RUN_HEARTBEAT_MS);
    let tools: PreparedTools | undefined;
    try {
      const config = readConfig(await this.agentConfig(run.agentId, run.agentVersion));
      timeout = setTimeout(() => controller.abort(new Error('timeout')), config.settings.timeout_ms);
      const now = this.now();
      if (run.status === 'queued') {
        // The first start ends the queue wait, or the slot wait of a background run that found
        // its workspace at the cap (the queue wait ended where that began).
        const { slotWaitSince, ...state } = run.state as EngineState;
        const latency = { ...run.latency };
        latency.queue_ms ??= (slotWaitSince ?? now) - run.createdAt;
        if (slotWaitSince !== undefined) latency.slot_wait_ms = (latency.slot_wait_ms ?? 0) + (now - slotWaitSince);
        const started: Run = { ...run, status: 'running', state, startedAt: run.startedAt ?? now, updatedAt: now, latency };
        // Only from queued: a run cancelled (or started) elsewhere meanwhile is left as it is.
        const claimed = await this.deps.store.transaction(async (tx) => {
          if (!(await tx.runs.save(started, ['queued']))) return false;
          if (slotWaitSince !== undefined) {
            await this.deps.spans.end(this.deps.spans.start(run.id, 'slot_wait', 'concurrent-run slot', { startedAt: slotWaitSince }), 'ok', {}, { tx, endedAt: now });
          }
          await this.deps.events.append(run.id, 'run.started', { run_id: run.id }, tx);
          return true;
        });
        if (!claimed) {
          run = (await this.deps.store.runs.getById(run.id)) ?? run;
          return run;
        }
        run = started;
      }
      tools = await this.deps.tools.prepare(run, config, controller.signal);
      const progress = { run };
      try {
        run = await this.loop(progress, config, tools, controller.signal);
      } catch (error) {
        run = progress.run; // keep what the loop learned (routing, usage) on the failed run
        throw error;
      }
    } catch (error) {
      run = await this.stopped(run, controller.signal, error);
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

  /** Records when a queued background run first found its workspace at the concurrent-run cap: its slot wait begins. */
  async noteSlotWait(run: Run): Promise<void> {
    if (run.status !== 'queued' || (run.state as EngineState).slotWaitSince !== undefined) return;
    await this.deps.store.runs.save({ ...run, state: { ...run.state, slotWaitSince: this.now() } }, ['queued']);
  }

  /** An agent version's configuration ({} if it is gone), from memory when seen before. */
  private async agentConfig(agentId: string, version: number): Promise<Record<string, unknown>> {
    const key = `${agentId}@${version}`;
    const cached = this.versionConfigs.get(key);
    if (cached) return cached;
    const found = await this.deps.store.agents.getVersion(agentId, version);
    if (!found) return {};
    if (this.versionConfigs.size >= AGENT_VERSION_CACHE_SIZE) this.versionConfigs.delete(this.versionConfigs.keys().next().value!);
    this.versionConfigs.set(key, found.config);
    return found.config;
  }

  private async initialState(run: Run, config: AgentConfig, signal: AbortSignal): Promise<EngineState> {
    const history = run.threadId && !this.freshThreads.has(run.id) ? await this.deps.store.threads.history(run.threadId) : [];
    const messages: ModelMessage[] = history.map((m) => m.content as ModelMessage);
    const input = run.input;
    if (typeof input === 'string') messages.push({ role: 'user', content: input });
    else messages.push(...(input as ModelMessage[]));
    let system = config.instructions ?? '';
    let retrievalMs = 0;
    if (config.context.length > 0 && config.context_mode !== 'tool') {
      const started = this.now();
      const span = this.deps.spans.start(run.id, 'retrieval', 'context.retrieve', { startedAt: started });
      const result = await this.deps.context.retrieval.query(run.scope, {
        query: lastUserText(messages), sources: config.context, topK: 10, mode: 'hybrid', maxTokens: config.context_max_tokens,
      });
      retrievalMs = this.now() - started;
      await this.deps.spans.end(span, 'ok', {
        sources: config.context, mode: 'hybrid', chunks: result.hits.length, tokens: result.window?.tokenCount ?? 0,
        chunk_ids: result.hits.map((h) => h.chunk.id),
      });
      signal.throwIfAborted();
      if (result.window && result.window.text) {
        system += `${system ? '\n\n' : ''}Use this context when it helps, citing [n]:\n\n${result.window.text}`;
      }
    }
    return { messages, system, steps: 0, pending: [], retrievalMs };
  }

  private async loop(progress: { run: Run }, config: AgentConfig, tools: PreparedTools, signal: AbortSignal): Promise<Run> {
    let run = progress.run;
    let state = (run.state as EngineState).messages ? (run.state as EngineState) : await this.initialState(run, config, signal);
    run = { ...run, state, latency: { ...run.latency, retrieval_ms: state.retrievalMs ?? 0 } };
    const resumedWithAnswers = 'answers' in state;
    const approvedFunctions = await this.applyAnswers(run, tools, signal);
    // An approved function tool still runs on the client: the run asks for its output next.
    if (approvedFunctions.length > 0) return this.requireAction(run, state, approvedFunctions);
    const routing = run.routing as unknown as RoutingDecision | null ?? this.route(run, config, state, tools);
    // The model step adds to this list as it falls back: the run shows it however it ends.
    const fallbacks: Array<{ model: string; error: string }> = (run.routing?.fallbacks as Array<{ model: string; error: string }> | undefined) ?? [];
    run.routing = { ...routing, fallbacks } as unknown as Record<string, unknown>;
    progress.run = run;
    let candidates = routing.candidates;
    let text = '';
    // The first step uses the cancel flag execute() started from (read just now, or written by
    // create() and confirmed by moving the run out of queued); later steps read it again, and so
    // does the first when approved tools ran since.
    let firstStep = !resumedWithAnswers;
    while (state.steps < config.settings.max_steps) {
      const cancel = firstStep ? run.cancelRequested : signal.aborted || (await this.cancelRequested(run.id));
      firstStep = false;
      if (signal.aborted || cancel) return this.cancelled(run);
      state.steps += 1;
      const step = await this.modelStep.call(run, config, { system: state.system, messages: state.messages, step: state.steps }, tools.specs, candidates, signal, fallbacks);
      candidates = [step.model, ...candidates.filter((c) => c !== step.model)];
      run.model = step.model;
      text = step.text;
      state.messages.push({
        role: 'assistant',
        content: [
          ...(step.text ? [{ type: 'text' as const, text: step.text }] : []),
          ...step.toolCalls.map((c) => ({ type: 'tool-call' as const, toolCallId: c.id, toolName: c.name, input: c.arguments })),
        ],
      });
      // The last call is written with the run's end when the run ends now; before tools run otherwise.
      if (step.toolCalls.length === 0) return this.complete(run, state, text, [step.record]);
      await this.modelStep.write([step.record]);

      const pending: PendingCall[] = [];
      for (const call of step.toolCalls) {
        const definition = tools.definitionOf(call.name);
        if (!definition) {
          await this.addToolResult(run, state, call, { ok: false, output: { error: `Unknown tool ${call.name}` }, error: 'unknown tool', latencyMs: 0 });
        } else if (definition.requires_approval) {
          pending.push({ ...call, type: 'approval' });
        } else if (definition.type === 'function') {
          pending.push({ ...call, type: 'function' });
        } else {
          await this.runTool(run, state, tools, call, signal);
        }
      }
      if (pending.length > 0) return this.requireAction(run, state, pending);
    }
    return this.fail(run, 'max_steps_exceeded', `The run stopped after ${config.settings.max_steps} steps (settings.max_steps).`);
  }

  /** The run ended by an error: cancelled if that was asked for, else failed (timeouts say so). */
  private async stopped(run: Run, signal: AbortSignal, error: unknown): Promise<Run> {
    // A model call that failed the run is recorded with its end.
    const calls = error instanceof ModelStepFailed ? [error.record] : [];
    if (await this.cancelRequested(run.id)) return this.cancelled(run, UNFINISHED, calls);
    const timedOut = signal.aborted && String(signal.reason).includes('timeout');
    const failure = error instanceof ModelStepFailed ? error.failure : error;
    if (timedOut) return this.fail(run, 'run_timeout', 'The run exceeded settings.timeout_ms.', calls);
    // "auto" found no model that can serve the run (in live mode: none whose provider is configured).
    if (failure instanceof NoModelAvailableError) return this.fail(run, failure.code, failure.message, calls);
    return this.fail(run, 'run_error', failure instanceof Error ? failure.message : String(failure), calls);
  }

  private route(run: Run, config: AgentConfig, state: EngineState, tools: PreparedTools): RoutingDecision {
    const promptTokens = countTokens(state.system) + state.messages.reduce((sum, m) => sum + countTokens(JSON.stringify(m.content)), 0) + tools.specs.length * 50;
    if (config.model !== 'auto') {
      return {
        model: config.model, candidates: [config.model], task: 'chat', reason: 'The agent names its model.',
        signals: { promptTokens, needsTools: tools.specs.length > 0, optimize: config.routing.optimize, task: 'chat', excluded: [] },
      };
    }
    return this.deps.router.route({
      livemode: run.scope.livemode, promptTokens, needsTools: tools.specs.length > 0, text: lastUserText(state.messages),
      optimize: config.routing.optimize, ...(config.routing.allowed_models ? { allowedModels: config.routing.allowed_models } : {}),
    });
  }

  private async runTool(run: Run, state: EngineState, tools: PreparedTools, call: { id: string; name: string; arguments: unknown }, signal: AbortSignal): Promise<void> {
    const started = this.now();
    const span = this.deps.spans.start(run.id, 'tool_call', call.name, { startedAt: started });
    await this.deps.events.append(run.id, 'run.tool_call.started', { tool_call_id: call.id, name: call.name, arguments: call.arguments });
    let result: ToolResult;
    try {
      result = await tools.execute(call.name, call.arguments, { id: call.id, spanId: span.id }, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      result = { ok: false, output: { error: error instanceof Error ? error.message : String(error) }, error: 'tool error', latencyMs: this.now() - started };
    }
    run.latency = { ...run.latency, tools_ms: (run.latency.tools_ms ?? 0) + (this.now() - started) };
    await this.deps.spans.end(span, result.ok ? 'ok' : 'error', {
      tool: call.name, tool_type: tools.definitionOf(call.name)?.type ?? null, tool_call_id: call.id, ok: result.ok, ...(result.error ? { error: result.error } : {}),
    });
    await this.addToolResult(run, state, call, result);
  }

  /** Adds a tool's result to the conversation and the event log; a denied call reaches the model as a denial, not as output. */
  private async addToolResult(run: Run, state: EngineState, call: { id: string; name: string }, result: ToolResult, denial?: { reason?: string }): Promise<void> {
    const output = denial
      ? { type: 'execution-denied' as const, ...(denial.reason !== undefined ? { reason: denial.reason } : {}) }
      : { type: 'json' as const, value: (result.output ?? null) as any };
    state.messages.push({ role: 'tool', content: [{ type: 'tool-result', toolCallId: call.id, toolName: call.name, output }] });
    await this.deps.events.append(run.id, 'run.tool_call.completed', { tool_call_id: call.id, name: call.name, ok: result.ok, output: result.output });
  }

  private async requireAction(run: Run, state: EngineState, pending: PendingCall[]): Promise<Run> {
    const expiresAt = this.now() + REQUIRED_ACTION_TTL_MS;
    state.pending = pending;
    state.requiredActionExpiresAt = expiresAt;
    const requiredAction = {
      type: 'submit_tool_outputs',
      expires_at: new Date(expiresAt).toISOString(),
      tool_calls: pending.map((p) => ({ id: p.id, type: p.type, name: p.name, arguments: p.arguments })),
    };
    const next: Run = { ...run, status: 'requires_action', state, requiredAction, updatedAt: this.now() };
    await this.deps.store.runs.save(next);
    await this.deps.events.append(run.id, 'run.requires_action', { required_action: requiredAction });
    return next;
  }

  /**
   * Answers the calls a run in requires_action waits for: outputs of function tools, and
   * approve/deny decisions. Every pending call must be answered exactly once. Resumes the run.
   */
  async submitToolOutputs(
    workspace: Workspace,
    run: Run,
    answers: Array<{ tool_call_id: string; output?: unknown; approve?: boolean; reason?: string }>,
  ): Promise<Run> {
    if (run.status !== 'requires_action') {
      throw new ApiError('run_not_waiting', { message: `Run '${run.id}' is ${run.status}; it is not waiting for tool outputs.` });
    }
    const state = run.state as EngineState;
    if (state.requiredActionExpiresAt !== undefined && this.now() > state.requiredActionExpiresAt) {
      await this.fail(run, 'tool_outputs_expired', 'The run waited too long for tool outputs and expired.');
      throw new ApiError('run_not_waiting', { message: `Run '${run.id}' expired while waiting for tool outputs.` });
    }
    const pending = new Map(state.pending.map((p) => [p.id, p]));
    const seen = new Set<string>();
    for (const [i, answer] of answers.entries()) {
      const call = pending.get(answer.tool_call_id);
      if (!call) throw new ApiError('parameter_invalid', { message: `Run '${run.id}' is not waiting for tool call '${answer.tool_call_id}'.`, param: `tool_outputs[${i}].tool_call_id` });
      if (seen.has(call.id)) throw new ApiError('parameter_invalid', { message: `Tool call '${call.id}' is answered twice.`, param: `tool_outputs[${i}].tool_call_id` });
      seen.add(call.id);
      if (call.type === 'approval' && answer.approve === undefined) throw new ApiError('parameter_missing', { message: `Tool call '${call.id}' needs approval: send approve true or false.`, param: `tool_outputs[${i}].approve` });
      if (call.type === 'approval' && answer.output !== undefined) {
        throw new ApiError('parameter_invalid', { message: `Tool call '${call.id}' waits for an approval, not an output: send approve (and reason); an approved function tool's output is asked for next.`, param: `tool_outputs[${i}].output` });
      }
      if (call.type === 'function' && answer.output === undefined) throw new ApiError('parameter_missing', { message: `Tool call '${call.id}' needs an output.`, param: `tool_outputs[${i}].output` });
      if (call.type === 'function' && answer.approve !== undefined) {
        throw new ApiError('parameter_invalid', { message: `Tool call '${call.id}' waits for its output, not an approval.`, param: `tool_outputs[${i}].approve` });
      }
    }
    const missing = [...pending.keys()].filter((id) => !seen.has(id));
    if (missing.length > 0) throw new ApiError('parameter_missing', { message: `Answer every pending tool call; missing: ${missing.join(', ')}.`, param: 'tool_outputs' });

    // Claim the transition first, so a second answer to the same calls is refused.
    // Each answer resumes the run by a job of its own (an approved function tool is answered twice).
    const resumes = (state.resumes ?? 0) + 1;
    const resumed: Run = { ...run, status: 'queued', requiredAction: null, state: { ...state, pending: [], answers, resumes }, updatedAt: this.now() };
    if (!(await this.deps.store.runs.save(resumed, ['requires_action']))) {
      throw new ApiError('run_not_waiting', { message: `Run '${run.id}' was already answered.` });
    }
    await this.deps.events.append(run.id, 'run.tool_outputs_submitted', { tool_call_ids: [...seen] });
    if (run.mode === 'background') {
      await this.deps.queue.enqueue(AGENT_RUN_JOB, { runId: run.id }, { jobId: `run_${run.id}_resume_${resumes}`, maxAttempts: 3 });
      return resumed;
    }
    const slot = await this.deps.slots.acquireOrThrow(workspace);
    return this.execute(run.id, workspace, slot);
  }

  /**
   * Applies answered calls (run after resuming): outputs become tool results, denials go back to
   * the model, approved server-side tools run. Returns the approved function tools, whose output
   * the client is asked for next.
   */
  async applyAnswers(run: Run, tools: PreparedTools, signal: AbortSignal): Promise<PendingCall[]> {
    const state = run.state as EngineState & { answers?: Array<{ tool_call_id: string; output?: unknown; approve?: boolean; reason?: string }> };
    if (!state.answers) return [];
    const approvedFunctions: PendingCall[] = [];
    const calls = new Map<string, { id: string; name: string; arguments: unknown }>();
    for (const m of state.messages) {
      if (m.role !== 'assistant' || typeof m.content === 'string') continue;
      for (const p of m.content) if (p.type === 'tool-call') calls.set(p.toolCallId, { id: p.toolCallId, name: p.toolName, arguments: p.input });
    }
    for (const answer of state.answers) {
      const call = calls.get(answer.tool_call_id)!;
      const definition = tools.definitionOf(call.name);
      if (answer.approve === false) {
        await this.addToolResult(
          run, state, call, { ok: false, output: { error: 'The user denied this tool call.', reason: answer.reason ?? null }, error: 'denied', latencyMs: 0 },
          { ...(answer.reason !== undefined ? { reason: answer.reason } : {}) },
        );
      } else if (definition?.type === 'function' && answer.approve === true) {
        approvedFunctions.push({ ...call, type: 'function' });
      } else if (definition?.type === 'function') {
        await this.addToolResult(run, state, call, { ok: true, output: answer.output, latencyMs: 0 });
      } else {
        await this.runTool(run, state, tools, call, signal);
      }
    }
    delete state.answers;
    return approvedFunctions;
  }

  /** Requests cancellation: immediate when queued or waiting, else the running loop stops. */
  async cancel(run: Run): Promise<Run> {
    if (isFinal(run.status)) {
      throw new ApiError('run_not_cancellable', { message: `Run '${run.id}' is already ${run.status}.` });
    }
    await this.deps.store.runs.requestCancel(run.id, this.now());
    this.controllers.get(run.id)?.abort(new Error('cancelled'));
    if (run.status === 'queued' || run.status === 'requires_action') {
      const current = (await this.deps.store.runs.getById(run.id))!;
      const cancelled = await this.cancelled(current, ['queued', 'requires_action']);
      return cancelled;
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
    for (const run of abandoned) await this.fail(run, 'run_interrupted', 'The server running this run stopped before it finished. Start a new run.');
    return abandoned.length;
  }

  private async cancelRequested(runId: string): Promise<boolean> {
    return (await this.deps.store.runs.getById(runId))?.cancelRequested ?? false;
  }

  /** Ends the run `cancelled`, unless it has finished since (a final status is never overwritten). */
  private async cancelled(run: Run, from: Run['status'][] = UNFINISHED, calls: ModelCallRecord[] = []): Promise<Run> {
    const now = this.now();
    const next: Run = { ...run, status: 'cancelled', requiredAction: null, completedAt: now, updatedAt: now, latency: this.total(run, now) };
    await this.finish(next, from, calls, (tx) => this.deps.events.append(run.id, 'run.cancelled', { run_id: run.id }, tx));
    return (await this.deps.store.runs.getById(run.id)) ?? next;
  }

  /** The run, its last model calls, its thread messages, what the observer keeps and its last event are written in one transaction. */
  private async complete(run: Run, state: EngineState, text: string, calls: ModelCallRecord[]): Promise<Run> {
    const now = this.now();
    const next: Run = { ...run, status: 'completed', output: text, state, completedAt: now, updatedAt: now, latency: this.total(run, now) };
    await this.deps.events.flush(run.id);
    const saved = await this.finish(next, ['running'], calls, async (tx) => {
      if (run.threadId) {
        const input = run.input;
        const userMessages: ModelMessage[] = typeof input === 'string' ? [{ role: 'user', content: input }] : (input as ModelMessage[]);
        await tx.threads.addMessages([
          ...userMessages.map((content) => ({ id: newId('msg'), threadId: run.threadId!, runId: run.id, role: 'user' as const, content, createdAt: now })),
          { id: newId('msg'), threadId: run.threadId, runId: run.id, role: 'assistant' as const, content: { role: 'assistant', content: text }, createdAt: now },
        ]);
      }
      await this.deps.events.append(run.id, 'run.completed', { run_id: run.id, output: text, usage: next.usage }, tx);
    });
    if (!saved) return (await this.deps.store.runs.getById(run.id))!;
    return next;
  }

  private async fail(run: Run, code: string, message: string, calls: ModelCallRecord[] = []): Promise<Run> {
    const now = this.now();
    const next: Run = { ...run, status: 'failed', errorCode: code, errorMessage: message.slice(0, 1000), requiredAction: null, completedAt: now, updatedAt: now, latency: this.total(run, now) };
    await this.deps.events.flush(run.id).catch(() => {});
    const saved = await this.finish(next, UNFINISHED, calls, (tx) => this.deps.events.append(run.id, 'run.failed', { run_id: run.id, error: { code, message: next.errorMessage } }, tx));
    if (!saved) return (await this.deps.store.runs.getById(run.id))!;
    return next;
  }

  /**
   * Saves a run that reached a final status, if it is still in one of `from`, with the model calls
   * of its last step, what the observer keeps and `alsoWrite`, all in one transaction; false when
   * it had moved on (the calls are recorded then on their own).
   */
  private async finish(run: Run, from: Run['status'][], calls: ModelCallRecord[], alsoWrite: (tx: Transaction) => Promise<unknown>): Promise<boolean> {
    const saved = await this.deps.store.transaction(async (tx) => {
      if (!(await tx.runs.save(run, from))) return false;
      await this.deps.spans.write(calls.map((c) => c.span), tx);
      await this.deps.observer.agentRunFinished(tx, run, calls.map((c) => c.outcome));
      await alsoWrite(tx);
      return true;
    });
    if (!saved) await this.modelStep.write(calls);
    return saved;
  }

  private total(run: Run, now: number): Record<string, number> {
    return { queue_ms: 0, retrieval_ms: 0, model_ms: 0, tools_ms: 0, ...run.latency, total_ms: now - run.createdAt };
  }
}
