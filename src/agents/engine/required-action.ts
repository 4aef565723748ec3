import { KairoError } from '../../errors.js';
import type { RunEventLog } from '../../runs/event-log.js';
import type { Run, Store } from '../../store/port.js';
import { recordEvents } from '../../events/events.js';
import { runView } from '../views.js';
import { requestIdOf, type RunOutcomes } from './run-outcomes.js';
import type { ToolCalls } from './tool-calls.js';
import type { EngineState, PendingCall, PreparedTools, ToolAnswer, ToolCall } from './types.js';

/** How long a run waits in requires_action for the client before it fails. */
const REQUIRED_ACTION_TTL_MS = 10 * 60 * 1000;

/**
 * Runs waiting for the client (`requires_action`): function tools whose output the client gives,
 * and tools that need approval. A waiting run holds no slot; the client's answers are checked and
 * stored, and applied when the run resumes. Unanswered calls expire (`tool_outputs_expired`).
 */
export class RequiredActions {
  constructor(
    private readonly deps: {
      store: Store;
      events: RunEventLog;
      outcomes: RunOutcomes;
      toolCalls: ToolCalls;
      now: () => number;
    },
  ) {}

  /** Stops the run in requires_action with the calls the client must answer. */
  async require(run: Run, state: EngineState, pending: PendingCall[]): Promise<Run> {
    const expiresAt = this.deps.now() + REQUIRED_ACTION_TTL_MS;
    state.pending = pending;
    state.requiredActionExpiresAt = expiresAt;
    const requiredAction = {
      type: 'submit_tool_outputs',
      expires_at: new Date(expiresAt).toISOString(),
      tool_calls: pending.map((p) => ({ id: p.id, type: p.type, name: p.name, arguments: p.arguments })),
    };
    const next: Run = { ...run, status: 'requires_action', state, requiredAction, updatedAt: this.deps.now() };
    // Buffered events (and a deferred creation) are written before the transaction, never in it.
    await this.deps.events.flush(run.id);
    await this.deps.store.transaction(async (tx) => {
      await tx.runs.save(next);
      await this.deps.events.append(run.id, 'run.requires_action', { required_action: requiredAction }, tx);
      await recordEvents(tx, run.scope, [{ type: 'agent.run.requires_action', object: runView(next), relatedId: run.agentId, requestId: requestIdOf(next) }], next.updatedAt);
    });
    return next;
  }

  /**
   * Takes the client's answers to the calls a run in requires_action waits for: outputs of
   * function tools, and approve/deny decisions. Every pending call must be answered exactly once.
   * The run goes back to `queued` with the answers, to be resumed; `resumes` counts the answers.
   */
  async accept(run: Run, answers: ToolAnswer[]): Promise<{ run: Run; resumes: number }> {
    if (run.status !== 'requires_action') {
      throw new KairoError('run_not_waiting', { message: `Run '${run.id}' is ${run.status}; it is not waiting for tool outputs.` });
    }
    const state = run.state as EngineState;
    if (state.requiredActionExpiresAt !== undefined && this.deps.now() > state.requiredActionExpiresAt) {
      await this.deps.outcomes.fail(run, 'tool_outputs_expired', 'The run waited too long for tool outputs and expired.');
      throw new KairoError('run_not_waiting', { message: `Run '${run.id}' expired while waiting for tool outputs.` });
    }
    const seen = checkAnswers(run, state.pending, answers);

    // Claim the transition first, so a second answer to the same calls is refused.
    const resumes = (state.resumes ?? 0) + 1;
    // The request that started the run is over: the resumed run's events name none.
    const { requestId: _, ...kept } = state;
    const resumed: Run = { ...run, status: 'queued', requiredAction: null, state: { ...kept, pending: [], answers, resumes }, updatedAt: this.deps.now() };
    if (!(await this.deps.store.runs.save(resumed, ['requires_action']))) {
      throw new KairoError('run_not_waiting', { message: `Run '${run.id}' was already answered.` });
    }
    await this.deps.events.append(run.id, 'run.tool_outputs_submitted', { tool_call_ids: [...seen] });
    return { run: resumed, resumes };
  }

  /**
   * Applies answered calls (run after resuming): outputs become tool results, denials go back to
   * the model, approved server-side tools run. Returns the approved function tools, whose output
   * the client is asked for next.
   */
  async apply(run: Run, tools: PreparedTools, signal: AbortSignal): Promise<PendingCall[]> {
    const state = run.state as EngineState;
    if (!state.answers) return [];
    const approvedFunctions: PendingCall[] = [];
    const calls = new Map<string, ToolCall>();
    for (const m of state.messages) {
      if (m.role !== 'assistant' || typeof m.content === 'string') continue;
      for (const p of m.content) if (p.type === 'tool-call') calls.set(p.toolCallId, { id: p.toolCallId, name: p.toolName, arguments: p.input });
    }
    for (const answer of state.answers) {
      const call = calls.get(answer.tool_call_id)!;
      const definition = tools.definitionOf(call.name);
      if (answer.approve === false) {
        await this.deps.toolCalls.addResult(
          run, state, call, { ok: false, output: { error: 'The user denied this tool call.', reason: answer.reason ?? null }, error: 'denied', latencyMs: 0 },
          { ...(answer.reason !== undefined ? { reason: answer.reason } : {}) },
        );
      } else if (definition?.type === 'function' && answer.approve === true) {
        approvedFunctions.push({ ...call, type: 'function' });
      } else if (definition?.type === 'function') {
        await this.deps.toolCalls.addResult(run, state, call, { ok: true, output: answer.output, latencyMs: 0 });
      } else {
        await this.deps.toolCalls.run(run, state, tools, call, signal);
      }
    }
    delete state.answers;
    return approvedFunctions;
  }
}

/** Checks that the answers answer every pending call once, each as its type asks; returns the ids answered. */
function checkAnswers(run: Run, pendingCalls: PendingCall[], answers: ToolAnswer[]): Set<string> {
  const pending = new Map(pendingCalls.map((p) => [p.id, p]));
  const seen = new Set<string>();
  for (const [i, answer] of answers.entries()) {
    const call = pending.get(answer.tool_call_id);
    if (!call) throw new KairoError('parameter_invalid', { message: `Run '${run.id}' is not waiting for tool call '${answer.tool_call_id}'.`, param: `tool_outputs[${i}].tool_call_id` });
    if (seen.has(call.id)) throw new KairoError('parameter_invalid', { message: `Tool call '${call.id}' is answered twice.`, param: `tool_outputs[${i}].tool_call_id` });
    seen.add(call.id);
    if (call.type === 'approval' && answer.approve === undefined) throw new KairoError('parameter_missing', { message: `Tool call '${call.id}' needs approval: send approve true or false.`, param: `tool_outputs[${i}].approve` });
    if (call.type === 'approval' && answer.output !== undefined) {
      throw new KairoError('parameter_invalid', { message: `Tool call '${call.id}' waits for an approval, not an output: send approve (and reason); an approved function tool's output is asked for next.`, param: `tool_outputs[${i}].output` });
    }
    if (call.type === 'function' && answer.output === undefined) throw new KairoError('parameter_missing', { message: `Tool call '${call.id}' needs an output.`, param: `tool_outputs[${i}].output` });
    if (call.type === 'function' && answer.approve !== undefined) {
      throw new KairoError('parameter_invalid', { message: `Tool call '${call.id}' waits for its output, not an approval.`, param: `tool_outputs[${i}].approve` });
    }
  }
  const missing = [...pending.keys()].filter((id) => !seen.has(id));
  if (missing.length > 0) throw new KairoError('parameter_missing', { message: `Answer every pending tool call; missing: ${missing.join(', ')}.`, param: 'tool_outputs' });
  return seen;
}
