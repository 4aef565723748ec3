import { ModelHealth, type HealthSnapshot, type ModelHealthOptions } from './model-health.js';
import type { ModelCatalogue, ModelInfo, ModelRouter, RoutingDecision, RoutingPreference, RoutingRequest, TaskKind } from './ports.js';
import { SIMULATOR_MODEL_ID } from './simulator.js';
import { classifyTask } from './task-classifier.js';

export interface ModelRouterOptions extends ModelHealthOptions {
  /** Clock for the health window (tests pass a fake one). Default `Date.now`. */
  now?: () => number;
  /**
   * Tokens kept free for the answer when checking a context window: the prompt plus
   * min(this, the model's max output) must fit. Default 4096.
   */
  outputReserveTokens?: number;
}

/** No model can serve the request; `excluded` says why each one was ruled out. */
export class NoModelAvailableError extends Error {
  readonly code = 'no_model_available';
  /** The request or the configuration rules every model out: the same request would fail again. */
  readonly retryable = false;
  constructor(
    message: string,
    readonly task: TaskKind,
    readonly excluded: Array<{ model: string; why: string }>,
  ) {
    super(message);
    this.name = 'NoModelAvailableError';
  }
}

/** How much each signal counts, per preference (each row sums to 1). */
const WEIGHTS: Record<RoutingPreference, { task: number; quality: number; cost: number; speed: number }> = {
  balanced: { task: 0.35, quality: 0.25, cost: 0.25, speed: 0.15 },
  cost: { task: 0.25, quality: 0.1, cost: 0.6, speed: 0.05 },
  quality: { task: 0.3, quality: 0.6, cost: 0.05, speed: 0.05 },
  latency: { task: 0.25, quality: 0.05, cost: 0.1, speed: 0.6 },
};

/** Score lost per unit of a model's recent error rate, and of its provider's. */
const MODEL_ERROR_PENALTY = 0.5;
const PROVIDER_ERROR_PENALTY = 0.25;

/** Blended price (USD per 1M tokens) at which a model counts as fully expensive. */
const PRICE_CEILING = 20;

/** Successful calls needed before observed latency counts beside the speed rank. */
const MIN_LATENCY_SAMPLES = 3;

interface Scored {
  info: ModelInfo;
  score: number;
  health: HealthSnapshot;
  fits: boolean;
}

/**
 * The router behind `model: "auto"`. It keeps the catalogue models that can serve the request
 * (usable in the mode, allowed, tool calling when needed, context window large enough), scores
 * them by the task the classifier sees, the caller's preference (cost, quality, latency or a
 * balance) and recent health, and returns them best first: the first is the pick, the rest are
 * fallbacks in order. Models whose circuit is open (repeated retryable errors) go to the back.
 * Deterministic for the same request and history; ties go to the smaller id.
 */
export function createModelRouter(catalogue: ModelCatalogue, options: ModelRouterOptions = {}): ModelRouter {
  const now = options.now ?? Date.now;
  const reserveTokens = Math.max(0, options.outputReserveTokens ?? 4096);
  const health = new ModelHealth(now, options);

  return {
    route(request: RoutingRequest): RoutingDecision {
      const task = classifyTask(request.text);
      const promptTokens = Number.isFinite(request.promptTokens) ? Math.max(0, Math.ceil(request.promptTokens)) : 0;
      const allowed = request.allowedModels ? new Set(request.allowedModels) : undefined;
      const excluded: Array<{ model: string; why: string }> = [];
      const eligible: ModelInfo[] = [];

      for (const id of request.allowedModels ?? []) {
        if (!catalogue.get(id) && !excluded.some((entry) => entry.model === id)) excluded.push({ model: id, why: 'unknown model' });
      }
      for (const info of catalogue.list()) {
        // Models outside allowed_models are not candidates at all, so they are not listed.
        if (allowed && !allowed.has(info.id)) continue;
        // The simulator answers test mode anyway; auto routing picks it only when asked to.
        if (info.id === SIMULATOR_MODEL_ID && !allowed) continue;
        // Test mode runs every model on the simulator, so availability does not matter there.
        if (request.livemode && !info.available) {
          excluded.push({ model: info.id, why: `provider ${info.provider} is not configured` });
          continue;
        }
        if (request.needsTools && !info.capabilities.tools) {
          excluded.push({ model: info.id, why: 'does not support tool calls' });
          continue;
        }
        const reserve = Math.min(reserveTokens, info.maxOutputTokens);
        if (info.contextWindow < promptTokens + reserve) {
          excluded.push({
            model: info.id,
            why: `context window ${info.contextWindow} tokens is smaller than ${promptTokens} prompt + ${reserve} output tokens`,
          });
          continue;
        }
        eligible.push(info);
      }

      const signals = { promptTokens, needsTools: request.needsTools, optimize: request.optimize, task, excluded };
      if (eligible.length === 0) {
        const details = excluded.map((entry) => `${entry.model}: ${entry.why}`).join('; ');
        throw new NoModelAvailableError(
          `No model can serve this request${details ? ` (${details})` : allowed ? ' (allowed_models is empty)' : ''}.`,
          task,
          excluded,
        );
      }

      const ranked = rank(eligible, task, request.optimize, (id) => health.snapshot(id));
      const pick = ranked[0]!;
      return {
        model: pick.info.id,
        candidates: ranked.map((entry) => entry.info.id),
        task,
        reason: explain(ranked, task, request.optimize, excluded),
        signals,
      };
    },

    recordOutcome(model, outcome) {
      // Only catalogue models are tracked, which bounds the memory whatever callers send.
      if (catalogue.get(model)) health.record(model, outcome);
    },
  };
}

function rank(models: ModelInfo[], task: TaskKind, optimize: RoutingPreference, healthOf: (id: string) => HealthSnapshot): Scored[] {
  const weights = WEIGHTS[optimize] ?? WEIGHTS.balanced;
  const snapshots = new Map(models.map((info) => [info.id, healthOf(info.id)]));
  const providerErrors = new Map<string, { sum: number; count: number }>();
  for (const info of models) {
    const snapshot = snapshots.get(info.id)!;
    if (snapshot.samples === 0) continue;
    const entry = providerErrors.get(info.provider) ?? { sum: 0, count: 0 };
    entry.sum += snapshot.errorRate;
    entry.count += 1;
    providerErrors.set(info.provider, entry);
  }

  const scored = models.map((info): Scored => {
    const snapshot = snapshots.get(info.id)!;
    const fits = info.strengths.includes(task);
    const taskFit = fits ? 1 : task === 'chat' ? 0.5 : 0;
    const quality = (clampOrdinal(info.quality) - 1) / 4;
    let speed = (clampOrdinal(info.speed) - 1) / 4;
    if (snapshot.meanLatencyMs !== undefined && snapshot.samples >= MIN_LATENCY_SAMPLES) {
      // 1 s → 0.83, 5 s → 0.5, 20 s → 0.2: what this server actually sees counts half.
      speed = 0.5 * speed + 0.5 * (1 / (1 + snapshot.meanLatencyMs / 5000));
    }
    const cost = cheapness(info);
    const provider = providerErrors.get(info.provider);
    const providerErrorRate = provider ? provider.sum / provider.count : 0;
    const score =
      weights.task * taskFit +
      weights.quality * quality +
      weights.cost * cost +
      weights.speed * speed -
      MODEL_ERROR_PENALTY * snapshot.errorRate -
      PROVIDER_ERROR_PENALTY * providerErrorRate;
    // Rounded so that float noise can never reorder equal models.
    return { info, score: Math.round(score * 1e9) / 1e9, health: snapshot, fits };
  });

  return scored.sort(
    (a, b) =>
      Number(a.health.circuitOpen) - Number(b.health.circuitOpen) ||
      b.score - a.score ||
      (a.info.id < b.info.id ? -1 : a.info.id > b.info.id ? 1 : 0),
  );
}

/** 1 for free, towards 0 for expensive, on a log scale of the blended price (¾ input, ¼ output). */
function cheapness(info: ModelInfo): number {
  const blended = 0.75 * Math.max(0, info.pricing.input) + 0.25 * Math.max(0, info.pricing.output);
  return 1 - Math.min(1, Math.log10(1 + blended) / Math.log10(1 + PRICE_CEILING));
}

function clampOrdinal(value: number): number {
  return Number.isFinite(value) ? Math.min(5, Math.max(1, value)) : 1;
}

function explain(ranked: Scored[], task: TaskKind, optimize: RoutingPreference, excluded: Array<{ model: string; why: string }>): string {
  const pick = ranked[0]!;
  const { info } = pick;
  const traits = [
    pick.fits ? `strong at ${task}` : undefined,
    `quality ${info.quality}/5`,
    `speed ${info.speed}/5`,
    `$${price(info.pricing.input)} in / $${price(info.pricing.output)} out per 1M tokens`,
  ].filter(Boolean);
  const parts = [`Picked ${info.id} for a ${task} task, optimizing for ${optimize}: ${traits.join(', ')}.`];
  if (pick.health.errorRate > 0) parts.push(`Its recent error rate is ${Math.round(pick.health.errorRate * 100)}%.`);
  if (pick.health.circuitOpen) parts.push('Every candidate failed repeatedly of late; this one ranks first among them.');
  const fallbacks = ranked.slice(1).map((entry) => entry.info.id);
  if (fallbacks.length > 0) {
    const shown = fallbacks.slice(0, 3).join(', ');
    parts.push(`Fallbacks: ${shown}${fallbacks.length > 3 ? ` and ${fallbacks.length - 3} more` : ''}.`);
  }
  const demoted = ranked.filter((entry) => entry.health.circuitOpen && entry !== pick).map((entry) => entry.info.id);
  if (demoted.length > 0) parts.push(`Demoted after repeated errors: ${demoted.join(', ')}.`);
  if (excluded.length > 0) {
    parts.push(`Excluded: ${excluded.map((entry) => `${entry.model} (${entry.why})`).join('; ')}.`);
  }
  return parts.join(' ');
}

function price(value: number): string {
  return value >= 0.1 || value === 0 ? value.toFixed(2) : String(value);
}
