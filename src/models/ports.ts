import type { LanguageModelV3 } from '@ai-sdk/provider';
import type { TaskKind } from '../config-parsers.js';

/** Kinds of task the router's classifier tells apart (defined with the settings that name them). */
export type { TaskKind };

/** What to favour when the router picks a model for `"auto"`. */
export type RoutingPreference = 'balanced' | 'cost' | 'quality' | 'latency';

/** One model of the catalogue, with what routing and cost accounting need. */
export interface ModelInfo {
  /** Public id, `provider/model`, e.g. `openai/gpt-4o-mini`. */
  id: string;
  provider: string;
  /** The provider's own model id. */
  providerModelId: string;
  displayName: string;
  contextWindow: number;
  maxOutputTokens: number;
  /** USD per million tokens. */
  pricing: { input: number; output: number; cachedInput: number };
  capabilities: { tools: boolean; streaming: boolean; vision: boolean; jsonOutput: boolean };
  /** Ordinal 1–5: higher is better (quality) or faster (speed). */
  quality: number;
  speed: number;
  /** Tasks the model is known to be good at. */
  strengths: TaskKind[];
  /** False when live mode cannot use it (its provider is not configured by the operator). */
  available: boolean;
}

/** The models KAIRO knows and how to call them. */
export interface ModelCatalogue {
  list(): ModelInfo[];
  get(id: string): ModelInfo | undefined;
  /**
   * The AI SDK model to call. Test mode (`livemode: false`) always gets the deterministic
   * simulator, whatever model was chosen; live mode gets the real provider (throws when the
   * provider is not configured).
   */
  languageModel(id: string, livemode: boolean): LanguageModelV3;
}

export interface RoutingRequest {
  livemode: boolean;
  /** Estimated tokens of the whole prompt (instructions, context, history, input). */
  promptTokens: number;
  needsTools: boolean;
  /** The latest user input, for the task classifier. */
  text: string;
  optimize: RoutingPreference;
  /** When set, only these model ids may be chosen. */
  allowedModels?: string[];
}

export interface RoutingDecision {
  /** The first choice; `candidates` continues with the fallbacks in order. */
  model: string;
  candidates: string[];
  task: TaskKind;
  reason: string;
  /** The signals the decision was made from, recorded on the run. */
  signals: { promptTokens: number; needsTools: boolean; optimize: RoutingPreference; task: TaskKind; excluded: Array<{ model: string; why: string }> };
}

/** Picks models for `"auto"` and learns from outcomes (recent errors and latency per model). */
export interface ModelRouter {
  route(request: RoutingRequest): RoutingDecision;
  recordOutcome(model: string, outcome: { ok: boolean; latencyMs: number; retryable?: boolean }): void;
}
