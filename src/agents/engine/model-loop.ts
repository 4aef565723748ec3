import type { ModelMessage } from 'ai';
import type { ContextService } from '../../context/context-service.js';
import { countTokens } from '../../context/tokens.js';
import type { ModelRouter, RoutingDecision } from '../../models/ports.js';
import { lastUserText } from '../../models/task-classifier.js';
import type { RunBudgets } from '../../runs/run-budgets.js';
import type { RunEventLog } from '../../runs/event-log.js';
import type { SpanWriter } from '../../runs/spans.js';
import type { Run, Store } from '../../store/port.js';
import type { AgentConfig } from '../agent-config.js';
import type { ModelStep } from './model-step.js';
import type { RequiredActions } from './required-action.js';
import type { RunOutcomes } from './run-outcomes.js';
import type { ToolCalls } from './tool-calls.js';
import type { EngineState, PreparedTools } from './types.js';

type Fallbacks = Array<{ model: string; error: string }>;

/**
 * The model loop of a running run: the conversation (thread history, input, retrieved context),
 * the routing decision, then model steps (each one model call and the tool calls it asked for)
 * until the model answers with text (completed), the client must act (requires_action), or
 * `settings.max_steps` is reached (failed, `max_steps_exceeded`). Cancellation is checked before
 * every step, and before every step after the first whether a hard budget is used up (failed,
 * `budget_exceeded`, the run's own cost so far counted).
 */
export class ModelLoop {
  constructor(
    private readonly deps: {
      store: Store;
      events: RunEventLog;
      context: ContextService;
      router: ModelRouter;
      spans: SpanWriter;
      modelStep: ModelStep;
      toolCalls: ToolCalls;
      requiredActions: RequiredActions;
      outcomes: RunOutcomes;
      budgets: RunBudgets;
      now: () => number;
    },
  ) {}

  /**
   * Runs (or resumes) the loop. `progress.run` is kept up to date with what the loop learns
   * (routing, usage), so that a run that fails by an error keeps it. `freshThread`: the run's
   * thread was made for it, so it has no history to read.
   */
  async run(progress: { run: Run }, config: AgentConfig, tools: PreparedTools, signal: AbortSignal, freshThread: boolean): Promise<Run> {
    let run = progress.run;
    const state = (run.state as EngineState).messages ? (run.state as EngineState) : await this.initialState(run, config, signal, freshThread);
    run = { ...run, state, latency: { ...run.latency, retrieval_ms: state.retrievalMs ?? 0 } };
    const resumedWithAnswers = 'answers' in state;
    const approvedFunctions = await this.deps.requiredActions.apply(run, tools, signal);
    // An approved function tool still runs on the client: the run asks for its output next.
    if (approvedFunctions.length > 0) return this.deps.requiredActions.require(run, state, approvedFunctions);
    const routing = run.routing as unknown as RoutingDecision | null ?? this.route(run, config, state, tools);
    // The model step adds to this list as it falls back: the run shows it however it ends.
    const fallbacks: Fallbacks = (run.routing?.fallbacks as Fallbacks | undefined) ?? [];
    run.routing = { ...routing, fallbacks } as unknown as Record<string, unknown>;
    progress.run = run;
    let candidates = routing.candidates;
    // The first step uses the cancel flag execute() started from (read just now, or written by
    // create() and confirmed by moving the run out of queued); later steps read it again, and so
    // does the first when approved tools ran since.
    let firstStep = !resumedWithAnswers;
    while (state.steps < config.settings.max_steps) {
      const cancel = firstStep ? run.cancelRequested : signal.aborted || (await this.deps.outcomes.cancelRequested(run.id));
      firstStep = false;
      if (signal.aborted || cancel) return this.deps.outcomes.cancelled(run);
      // Before every step after the first (the run was admitted for that one), also on resuming.
      const overBudget = state.steps > 0 ? await this.deps.budgets.stopReason(run) : undefined;
      if (overBudget !== undefined) return this.deps.outcomes.fail(run, 'budget_exceeded', overBudget);
      state.steps += 1;
      const step = await this.deps.modelStep.call(run, config, { system: state.system, messages: state.messages, step: state.steps }, tools.specs, candidates, signal, fallbacks);
      candidates = [step.model, ...candidates.filter((c) => c !== step.model)];
      run.model = step.model;
      state.messages.push({
        role: 'assistant',
        content: [
          ...(step.text ? [{ type: 'text' as const, text: step.text }] : []),
          ...step.toolCalls.map((c) => ({ type: 'tool-call' as const, toolCallId: c.id, toolName: c.name, input: c.arguments })),
        ],
      });
      // The last call is written with the run's end when the run ends now; before tools run otherwise.
      if (step.toolCalls.length === 0) return this.deps.outcomes.complete(run, state, step.text, [step.record]);
      await this.deps.modelStep.write([step.record]);

      const pending = await this.deps.toolCalls.handle(run, state, tools, step.toolCalls, signal);
      if (pending.length > 0) return this.deps.requiredActions.require(run, state, pending);
    }
    return this.deps.outcomes.fail(run, 'max_steps_exceeded', `The run stopped after ${config.settings.max_steps} steps (settings.max_steps).`);
  }

  private async initialState(run: Run, config: AgentConfig, signal: AbortSignal, freshThread: boolean): Promise<EngineState> {
    const history = run.threadId && !freshThread ? await this.deps.store.threads.history(run.threadId) : [];
    const messages: ModelMessage[] = history.map((m) => m.content as ModelMessage);
    const input = run.input;
    if (typeof input === 'string') messages.push({ role: 'user', content: input });
    else messages.push(...(input as ModelMessage[]));
    let system = config.instructions ?? '';
    let retrievalMs = 0;
    if (config.context.length > 0 && config.context_mode !== 'tool') {
      // The retrieval span refers to the run: a deferred creation is written first.
      await this.deps.events.flush(run.id);
      const started = this.deps.now();
      const span = this.deps.spans.start(run.id, 'retrieval', 'context.retrieve', { startedAt: started });
      const result = await this.deps.context.retrieval.query(run.scope, {
        query: lastUserText(messages), sources: config.context, topK: 10, mode: 'hybrid', maxTokens: config.context_max_tokens,
      });
      retrievalMs = this.deps.now() - started;
      await this.deps.spans.end(span, 'ok', {
        sources: config.context, mode: 'hybrid', chunks: result.hits.length, tokens: result.window?.tokenCount ?? 0,
        chunk_ids: result.hits.map((h) => h.chunk.id),
      });
      signal.throwIfAborted();
      if (result.window && result.window.text) {
        system += `${system ? '\n\n' : ''}Use this context when it helps, citing [n]:\n\n${result.window.text}`;
      }
    }
    const { requestId } = run.state as Partial<EngineState>;
    return { messages, system, steps: 0, pending: [], retrievalMs, ...(requestId ? { requestId } : {}) };
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
}
