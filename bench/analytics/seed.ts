// The analytics benchmark's data: finished agent runs with their spans and rollups, written
// through the store's bulk path the way the run engine would have written them one by one.
import { loadConfig } from '../../src/config.js';
import { idMadeAt, newId } from '../../src/ids.js';
import { BUILTIN_MODELS } from '../../src/models/builtin-models.js';
import { createModelCatalogue } from '../../src/models/catalogue.js';
import type { ModelCatalogue } from '../../src/models/ports.js';
import { callCost } from '../../src/models/pricing.js';
import { createWorkspace } from '../../src/platform/workspaces.js';
import { createApiKey } from '../../src/platform/api-keys.js';
import { RollupCompactor } from '../../src/analytics/compaction.js';
import { combineRows } from '../../src/analytics/groupings.js';
import { agentRunRow, DAY_MS, HOUR_MS, MINUTE_MS, modelCallRow } from '../../src/analytics/rollup-writer.js';
import type { ModelCallOutcome } from '../../src/runs/observer.js';
import type { Run, RollupRow, Scope, Span, Store } from '../../src/store/port.js';

/** How many of each, as the brief of this benchmark sets them. */
export const AGENTS = 50;
export const API_KEYS = 10;
export const MODELS = 8;
/** The share of runs whose last model call fails. */
const FAILED_SHARE = 0.05;

export interface SeedOptions {
  runs: number;
  /** Runs per transaction. */
  batch: number;
  /** Runs are created in (now − 30 days + 1 hour, now − 10 minutes]: inside the 30-day trace retention, so the server's purge leaves them. */
  now: number;
  log: (line: string) => void;
}

export interface Seeded {
  scope: Scope;
  /** A test key's secret of the (enterprise) workspace, to call the API with. */
  secret: string;
  agentIds: string[];
  models: string[];
  /** A completed run in the middle of the range, for the trace query. */
  sampleRunId: string;
  /** The agent the traces filter asks for. */
  sampleAgentId: string;
  /** Roughly the 90th percentile of runs' duration: the traces filter's `min_latency_ms`. */
  minLatencyMs: number;
  runs: number;
  completed: number;
  spans: number;
  /** Minute rows handed to `rollups.add` (combined per batch). */
  minuteRows: number;
  insertMs: number;
  compactedHours: number;
  compactMs: number;
}

// ---------------------------------------------------------------- ids and randomness

/** A seeded generator (mulberry32), so that every run of the benchmark gets the same data. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------- one run

interface Call {
  model: string;
  provider: string;
  ok: boolean;
  startedAt: number;
  endedAt: number;
  ttft: number | null;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costUsd: number;
  toolCalls: number;
  finishReason: string | null;
}

interface Generated {
  run: Run;
  spans: Span[];
  calls: Call[];
}

/** What a run of this benchmark looks like: retrieval, a model call asking for two tools, the two tools, the answering call. */
class RunFactory {
  private readonly rand = random(42);
  private readonly sourceId = newId('src');

  constructor(
    private readonly scope: Scope,
    private readonly catalogue: ModelCatalogue,
    private readonly agentIds: string[],
    private readonly keyIds: string[],
    private readonly models: string[],
  ) {}

  private int(min: number, max: number): number {
    return min + Math.floor(this.rand() * (max - min + 1));
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.rand() * list.length)]!;
  }

  /** Model call time: a long tail, as providers have. */
  private callMs(min: number, spread: number): number {
    return min + Math.floor(this.rand() * this.rand() * spread);
  }

  private call(model: string, startedAt: number, ms: number, ok: boolean, inputTokens: number, outputTokens: number, cachedShare: number, toolCalls: number): Call {
    const provider = this.catalogue.get(model)?.provider ?? model.split('/')[0]!;
    if (!ok) {
      return {
        model, provider, ok, startedAt, endedAt: startedAt + ms, ttft: null, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0,
        costUsd: 0, toolCalls: 0, finishReason: null,
      };
    }
    const cachedInputTokens = Math.floor(inputTokens * cachedShare);
    const reasoningTokens = model.includes('/o3') ? Math.floor(outputTokens * 0.6) : 0;
    // Test mode: the notional price of the model the simulator stands in for, as the engine charges it.
    const costUsd = callCost(this.catalogue, model, { inputTokens, cachedInputTokens, outputTokens }, this.scope.livemode);
    return {
      model, provider, ok, startedAt, endedAt: startedAt + ms, ttft: Math.min(ms, 60 + Math.floor(this.rand() * ms * 0.5)), inputTokens, cachedInputTokens,
      outputTokens, reasoningTokens, costUsd, toolCalls, finishReason: toolCalls > 0 ? 'tool-calls' : 'stop',
    };
  }

  /** A run created in [slot, slot + width). */
  make(slot: number, width: number): Generated {
    const createdAt = Math.floor(slot + this.rand() * width);
    const agentId = this.pick(this.agentIds);
    const model = this.pick(this.models);
    const failed = this.rand() < FAILED_SHARE;
    const queueMs = Math.floor(-6 * Math.log(1 - this.rand()));
    const retrievalMs = this.int(15, 80);
    const startedAt = createdAt + queueMs;
    const input1 = this.int(600, 3000);
    const first = this.call(model, startedAt + retrievalMs, this.callMs(180, 2000), true, input1, this.int(20, 120), this.rand() < 0.3 ? 0.5 : 0, 2);
    const tool1Ms = this.int(5, 150);
    const tool2Ms = this.int(5, 150);
    const secondAt = first.endedAt + tool1Ms + tool2Ms;
    const second = this.call(model, secondAt, this.callMs(150, 2500), !failed, input1 + this.int(200, 600), this.int(50, 600), this.rand() < 0.5 ? 0.6 : 0, 0);
    const completedAt = second.endedAt + this.int(1, 4);
    const calls = [first, second];
    const ok = calls.filter((c) => c.ok);
    const sum = (key: 'inputTokens' | 'cachedInputTokens' | 'outputTokens' | 'reasoningTokens' | 'costUsd') => ok.reduce((total, c) => total + c[key], 0);
    const runId = idMadeAt('run', createdAt);
    const run: Run = {
      id: runId, scope: this.scope, agentId, agentVersion: 1, threadId: null, status: failed ? 'failed' : 'completed', mode: 'wait',
      input: 'Where is my order 1042?', state: {}, output: failed ? null : 'Your order 1042 shipped yesterday and arrives on Friday.',
      errorCode: failed ? 'run_error' : null, errorMessage: failed ? 'Simulated provider error: 500 Internal Server Error' : null, model,
      routing: { model, candidates: [model], task: 'chat', reason: 'The agent names this model.' },
      usage: {
        input_tokens: sum('inputTokens'), output_tokens: sum('outputTokens'), cached_input_tokens: sum('cachedInputTokens'),
        reasoning_tokens: sum('reasoningTokens'), total_tokens: sum('inputTokens') + sum('outputTokens'),
      },
      costUsd: sum('costUsd'),
      // model_ms counts successful calls only, as the engine adds it.
      latency: {
        queue_ms: queueMs, retrieval_ms: retrievalMs, model_ms: ok.reduce((total, c) => total + (c.endedAt - c.startedAt), 0),
        time_to_first_token_ms: first.ttft!, tools_ms: tool1Ms + tool2Ms, total_ms: completedAt - createdAt,
      },
      requiredAction: null, cancelRequested: false, metadata: {}, createdAt, startedAt, completedAt, updatedAt: completedAt,
      apiKeyId: this.pick(this.keyIds), parentRunId: null, parentSpanId: null, workflowId: null, workflowVersion: null,
    };
    const span = (kind: Span['kind'], name: string, from: number, to: number, status: Span['status'], attributes: Record<string, unknown>): Span => ({
      id: idMadeAt('span', from), runId, parentId: null, kind, name, status, attributes, startedAt: from, endedAt: to,
    });
    const callSpan = (c: Call, step: number) =>
      c.ok
        ? span('model_call', c.model, c.startedAt, c.endedAt, 'ok', {
          provider: c.provider, model: c.model, input_tokens: c.inputTokens, output_tokens: c.outputTokens, cached_input_tokens: c.cachedInputTokens,
          reasoning_tokens: c.reasoningTokens, cost_usd: c.costUsd, cost_notional: !this.scope.livemode, finish_reason: c.finishReason,
          time_to_first_token_ms: c.ttft, tool_calls: c.toolCalls, step,
        })
        : span('model_call', c.model, c.startedAt, c.endedAt, 'error', {
          provider: c.provider, model: c.model, error: 'Simulated provider error: 500 Internal Server Error', retryable: false, step,
        });
    const tool = (name: string, callId: string, from: number, ms: number) =>
      span('tool_call', name, from, from + ms, 'ok', { tool: name, tool_type: 'http', tool_call_id: callId, ok: true });
    const spans = [
      span('retrieval', 'context.retrieve', startedAt, startedAt + retrievalMs, 'ok', {
        sources: [this.sourceId], mode: 'hybrid', chunks: 4, tokens: this.int(300, 1500), chunk_ids: [1, 2, 3, 4].map(() => idMadeAt('chunk', createdAt - DAY_MS)),
      }),
      callSpan(first, 1),
      tool('lookup_order', `call_${runId.slice(-8)}a`, first.endedAt, tool1Ms),
      tool('shipping_status', `call_${runId.slice(-8)}b`, first.endedAt + tool1Ms, tool2Ms),
      callSpan(second, 2),
    ];
    return { run, spans, calls };
  }
}

/** The outcome the model step hands the observer for a call. */
const outcomeOf = (run: Run, c: Call): ModelCallOutcome => ({
  run, model: c.model, provider: c.provider, ok: c.ok, startedAt: c.startedAt, endedAt: c.endedAt, timeToFirstTokenMs: c.ttft,
  inputTokens: c.inputTokens, cachedInputTokens: c.cachedInputTokens, outputTokens: c.outputTokens, reasoningTokens: c.reasoningTokens,
  costUsd: c.costUsd, autoChosen: false, fellBack: false,
});

// ---------------------------------------------------------------- seeding

/**
 * Seeds one enterprise workspace (test mode) with `runs` finished agent runs over the last 30
 * days, their spans and their minute rollups (`agentRunRow` per run, `modelCallRow` per model
 * call, as the engine writes them), one transaction per batch, then derives the hour and day
 * rollups with the compactor until nothing is due.
 */
export async function seedAnalytics(store: Store, options: SeedOptions): Promise<Seeded> {
  const catalogue = createModelCatalogue(loadConfig({}, {}));
  const models = BUILTIN_MODELS.slice(0, MODELS).map((m) => m.id);
  for (const model of models) if (!catalogue.get(model)) throw new Error(`${model} is not in the catalogue`);

  const setupAt = options.now - 31 * DAY_MS;
  const workspace = await createWorkspace(store, { name: 'bench-analytics', plan: 'enterprise' }, setupAt);
  const scope: Scope = { workspaceId: workspace.id, livemode: false };
  const keys = [];
  for (let i = 0; i < API_KEYS; i++) keys.push(await createApiKey(store, { workspaceId: workspace.id, livemode: false, name: `bench-analytics-${i + 1}` }, setupAt));
  const agentIds: string[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const id = idMadeAt('agent', setupAt);
    const config = {
      description: null, model: models[i % MODELS]!, instructions: 'Answer questions about orders.', context: [], context_mode: 'auto', context_max_tokens: 1500,
      tools: [], settings: { temperature: null, max_output_tokens: null, max_steps: 8, timeout_ms: 120_000 }, routing: { optimize: 'balanced', allowed_models: null },
    };
    await store.agents.create({ id, scope, name: `support-agent-${i + 1}`, status: 'active', version: 1, config, metadata: {}, createdAt: setupAt, updatedAt: setupAt });
    agentIds.push(id);
  }

  const factory = new RunFactory(scope, catalogue, agentIds, keys.map((k) => k.key.id), models);
  const from = options.now - 30 * DAY_MS + HOUR_MS;
  const to = options.now - 10 * MINUTE_MS;
  const step = (to - from) / options.runs;
  let spans = 0;
  let minuteRows = 0;
  let completed = 0;
  let sampleRunId: string | undefined;
  let minLatencyMs: number | undefined;
  const started = performance.now();
  let nextReport = 0.1;
  for (let first = 0; first < options.runs; first += options.batch) {
    const count = Math.min(options.batch, options.runs - first);
    const runs: Run[] = [];
    const batchSpans: Span[] = [];
    const rows: RollupRow[] = [];
    for (let i = first; i < first + count; i++) {
      // Runs in creation order, as ids sort, each somewhere in its own slot of the range.
      const { run, spans: runSpans, calls } = factory.make(from + i * step, step);
      runs.push(run);
      batchSpans.push(...runSpans);
      for (const call of calls) rows.push(modelCallRow(outcomeOf(run, call)));
      rows.push(agentRunRow(run, catalogue));
      if (run.status === 'completed') {
        completed++;
        if (sampleRunId === undefined && i >= options.runs / 2) sampleRunId = run.id;
      }
    }
    if (minLatencyMs === undefined) {
      const totals = runs.map((r) => r.latency.total_ms!).sort((a, b) => a - b);
      minLatencyMs = Math.round(totals[Math.floor(totals.length * 0.9)]! / 100) * 100;
    }
    // `rollups.add` takes each series once per call: the batch's rows are combined first, as the engine combines a run's.
    const combined = combineRows(rows);
    await store.transaction(async (tx) => {
      await tx.runs.createMany(runs);
      await tx.spans.saveMany(batchSpans);
      await tx.rollups.add(combined);
    });
    spans += batchSpans.length;
    minuteRows += combined.length;
    const done = (first + count) / options.runs;
    if (done >= nextReport || first + count === options.runs) {
      const seconds = (performance.now() - started) / 1000;
      options.log(`  seeded ${(first + count).toLocaleString('en-US')} runs (${Math.round(done * 100)} %) in ${seconds.toFixed(1)} s, ${Math.round((first + count) / seconds).toLocaleString('en-US')} runs/s`);
      while (nextReport <= done) nextReport += 0.1;
    }
  }
  const insertMs = performance.now() - started;

  const compactStarted = performance.now();
  const compactor = new RollupCompactor(store);
  let compactedHours = 0;
  for (let n = await compactor.compact(48); n > 0; n = await compactor.compact(48)) {
    compactedHours += n;
    if (compactedHours % (24 * 5) === 0) options.log(`  derived ${compactedHours} hours of rollups in ${((performance.now() - compactStarted) / 1000).toFixed(1)} s`);
  }
  const compactMs = performance.now() - compactStarted;

  return {
    scope, secret: keys[0]!.secret, agentIds, models, sampleRunId: sampleRunId!, sampleAgentId: agentIds[0]!, minLatencyMs: minLatencyMs!,
    runs: options.runs, completed, spans, minuteRows, insertMs, compactedHours, compactMs,
  };
}
