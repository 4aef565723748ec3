import type { ModelCatalogue } from './ports.js';
import { SIMULATOR_MODEL_ID } from './simulator-behaviour.js';

/**
 * What the simulator charges in test mode for calls to `kairo/simulator` itself, in USD per
 * million tokens: notional, so that cost features can be tried with a test key.
 */
export const SIMULATOR_NOTIONAL_PRICING = { input: 1, output: 2, cachedInput: 0.5 } as const;

export interface CallTokens {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
}

/**
 * The cost of one call in USD, fixed when the call ends (a later price change never rewrites it).
 * Live mode uses the catalogue's price of the model (operator overrides included). Test mode runs
 * every call on the simulator and charges, notionally, the price of the model it stands in for.
 * Cached input tokens are part of the input tokens and are charged at the cached price.
 */
export function callCost(catalogue: ModelCatalogue, model: string, tokens: CallTokens, livemode: boolean): number {
  const pricing = model === SIMULATOR_MODEL_ID && !livemode ? SIMULATOR_NOTIONAL_PRICING : catalogue.get(model)?.pricing;
  if (!pricing) return 0;
  const cached = Math.min(tokens.cachedInputTokens, tokens.inputTokens);
  return ((tokens.inputTokens - cached) * pricing.input + cached * pricing.cachedInput + tokens.outputTokens * pricing.output) / 1_000_000;
}

/** Costs in test mode are notional: nobody is charged. */
export const isNotional = (livemode: boolean): boolean => !livemode;
