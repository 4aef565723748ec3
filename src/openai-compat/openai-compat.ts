import type { ModelMessage } from 'ai';
import { KairoError } from '../errors.js';
import { isId } from '../ids.js';
import type { AgentsModule } from '../agents/agents-module.js';
import type { ModelCatalogue, ModelRouter } from '../models/ports.js';
import type { RunSlot } from '../platform/run-slots.js';
import type { RunBudgets } from '../runs/run-budgets.js';
import type { ModelCall, RunObserver } from '../runs/observer.js';
import type { Agent, Run, RunEvent, Scope, Store, Workspace } from '../store/port.js';
import { ModelCompletions, type CompletionPart, type CompletionRequest, type CompletionResult } from './model-completions.js';

/** What a request's `model` names: an agent of the workspace, or a model (`auto` or a catalogue id). */
export type CompletionTarget = { kind: 'agent'; agent: Agent } | { kind: 'model'; model: string };

/** An agent run that ended failed or cancelled: there is no answer to give. */
export class RunDidNotComplete extends Error {
  readonly code: string;
  constructor(readonly run: Run) {
    super(`The run ${run.id} ${run.status}${run.errorMessage ? `: ${run.errorMessage}` : '.'}`);
    this.name = 'RunDidNotComplete';
    this.code = run.errorCode ?? `run_${run.status}`;
  }
}

/** The run when it has an answer (completed, or waiting for the caller's tool outputs); else RunDidNotComplete. */
export function answered(run: Run): Run {
  if (run.status === 'completed' || run.status === 'requires_action') return run;
  throw new RunDidNotComplete(run);
}

/** Who asks, for the run's record. */
export interface Requester {
  workspace: Workspace;
  scope: Scope;
  apiKeyId: string;
  requestId: string;
}

/** An agent run started for a request: `finished` settles with the run once it stops. */
export interface StartedRun {
  run: Run;
  budgetHeaders: Record<string, string>;
  finished: Promise<Run>;
}

/**
 * OpenAI's Chat Completions and Responses APIs over KAIRO: `model` names an agent (its id or
 * its name), whose run is an ordinary agent run started through the run engine (budgets,
 * concurrent-run slots, events and trace alike), or a model, answered without an agent (see
 * ModelCompletions) and recorded here: held to the workspace's and the key's budgets, counted in
 * analytics (rollups of the completion and of each model call). The translation of OpenAI's
 * messages is in messages.ts, of KAIRO's answers in views.ts.
 */
export class OpenAiCompat {
  /** Completions without an agent: reached only through complete() and stream(), which record them. */
  private readonly models: ModelCompletions;

  constructor(
    private readonly deps: {
      store: Store; agents: AgentsModule; catalogue: ModelCatalogue; router: ModelRouter; budgets: RunBudgets; observer: RunObserver; now?: () => number;
    },
  ) {
    this.models = new ModelCompletions({ catalogue: deps.catalogue, router: deps.router, ...(deps.now ? { now: deps.now } : {}) });
  }

  private get now() {
    return this.deps.now ?? Date.now;
  }

  /**
   * Before a completion without an agent: `budget_exceeded` when a hard budget of the workspace
   * or of the key is used up; else the headers saying what remains of the tightest one.
   */
  admitCompletion(requester: Requester): Promise<Record<string, string>> {
    return this.deps.budgets.admit(requester.scope, { apiKeyId: requester.apiKeyId, agentId: null });
  }

  /** A completion without an agent, waiting for the whole answer; recorded once it ends, answered or not. */
  async complete(requester: Requester, request: CompletionRequest): Promise<CompletionResult> {
    const calls: ModelCall[] = [];
    const startedAt = this.now();
    try {
      return await this.models.complete({ ...request, onCall: (call) => calls.push(call) });
    } finally {
      await this.recordCompletion(requester, calls, startedAt);
    }
  }

  /** A completion without an agent as it is written; recorded once the stream ends. */
  async *stream(requester: Requester, request: CompletionRequest): AsyncGenerator<CompletionPart> {
    const calls: ModelCall[] = [];
    const startedAt = this.now();
    try {
      yield* this.models.stream({ ...request, onCall: (call) => calls.push(call) });
    } finally {
      await this.recordCompletion(requester, calls, startedAt);
    }
  }

  /** The completion's rollups and the budget thresholds it makes its budgets reach, in one transaction. */
  private async recordCompletion(requester: Requester, calls: ModelCall[], startedAt: number): Promise<void> {
    if (calls.length === 0) return;
    const completion = { scope: requester.scope, apiKeyId: requester.apiKeyId, ok: calls.at(-1)!.ok, startedAt, endedAt: this.now(), calls };
    await this.deps.store.transaction((tx) => this.deps.observer.completionFinished(tx, completion));
  }

  /**
   * The agent or model `model` names. `auto` and catalogue ids are models; anything else is an
   * agent id or name. Nothing by that name: `resource_missing` on `model`.
   */
  async target(scope: Scope, model: string): Promise<CompletionTarget> {
    if (!isId('agent', model) && this.models.serves(model)) return { kind: 'model', model };
    const agent = await this.deps.agents.agents.find(scope, model, 'model');
    if (!agent) {
      throw new KairoError('resource_missing', {
        message: `The model '${model}' does not exist: name an agent (its id or name), "auto", or a model of GET /v1/models.`, param: 'model',
      });
    }
    return { kind: 'agent', agent };
  }

  /**
   * Starts a run of `agent` on `messages`, a new thread each time (the messages carry the
   * conversation). A `stream` run writes its text to the run's event log as it comes.
   */
  async startRun(requester: Requester, agent: Agent, messages: ModelMessage[], options: { stream: boolean; metadata?: Record<string, string> }): Promise<StartedRun> {
    const { engine } = this.deps.agents;
    const mode = options.stream ? 'stream' : 'wait';
    const input = { input: messages, mode, metadata: options.metadata, apiKeyId: requester.apiKeyId, requestId: requester.requestId } as const;
    const { run, slot, budgetHeaders } = await engine.create(requester.workspace, requester.scope, agent, input, mode === 'wait');
    const finished = engine.execute(run.id, requester.workspace, slot as RunSlot | undefined, mode === 'wait' ? run : undefined);
    return { run, budgetHeaders, finished };
  }

  /** The run's events from the start until it stops (the stream of a stream run). */
  runEvents(runId: string, signal: AbortSignal): AsyncIterable<RunEvent> {
    return this.deps.agents.events.follow(runId, 0, signal);
  }

  /** Keeps a model's response (an agent's is its run) to be retrieved; purged after the trace retention. */
  async saveResponse(scope: Scope, response: { id: string } & Record<string, unknown>, createdAt: number): Promise<void> {
    await this.deps.store.modelResponses.create({ id: response.id, scope, body: response, createdAt });
  }

  /**
   * A response by id: an agent's run (`run_…`), or a stored response of a model (`resp_…`, its
   * body as answered). Neither in the scope: 404 `resource_missing` naming `param`.
   */
  async response(scope: Scope, id: string, param: string): Promise<{ run: Run } | { stored: Record<string, unknown> }> {
    if (isId('resp', id)) {
      const stored = await this.deps.store.modelResponses.get(scope, id);
      if (stored) return { stored: stored.body };
    } else {
      const run = await this.deps.agents.runs.get(scope, id);
      if (run) return { run };
    }
    throw new KairoError('resource_missing', { message: `No such response: '${id}'.`, param });
  }
}
