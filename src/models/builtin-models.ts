import type { ModelInfo } from './ports.js';
import { SIMULATOR_MODEL_ID } from './simulator-behaviour.js';

/** A catalogue entry before availability is known. */
export type ModelSpec = Omit<ModelInfo, 'available'>;

const ALL = { tools: true, streaming: true, vision: true, jsonOutput: true };

/**
 * The models KAIRO knows without configuration. Prices are list prices in USD per million
 * tokens (input, output, cached input read) for standard, non-batch use and prompts under any
 * long-context surcharge; quality and speed are ordinals (1–5) that only rank models against
 * each other. An operator can override an entry with `KAIRO_CHAT_MODELS` when a price changes.
 */
export const BUILTIN_MODELS: readonly ModelSpec[] = [
  {
    id: 'openai/gpt-4o',
    provider: 'openai',
    providerModelId: 'gpt-4o',
    displayName: 'GPT-4o',
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    pricing: { input: 2.5, output: 10, cachedInput: 1.25 },
    capabilities: ALL,
    quality: 4,
    speed: 4,
    strengths: ['chat', 'summarization', 'extraction'],
  },
  {
    id: 'openai/gpt-4o-mini',
    provider: 'openai',
    providerModelId: 'gpt-4o-mini',
    displayName: 'GPT-4o mini',
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    pricing: { input: 0.15, output: 0.6, cachedInput: 0.075 },
    capabilities: ALL,
    quality: 3,
    speed: 5,
    strengths: ['chat', 'classification', 'extraction', 'summarization'],
  },
  {
    id: 'openai/gpt-4.1',
    provider: 'openai',
    providerModelId: 'gpt-4.1',
    displayName: 'GPT-4.1',
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    pricing: { input: 2, output: 8, cachedInput: 0.5 },
    capabilities: ALL,
    quality: 4,
    speed: 3,
    strengths: ['code', 'extraction', 'chat'],
  },
  {
    id: 'openai/gpt-4.1-mini',
    provider: 'openai',
    providerModelId: 'gpt-4.1-mini',
    displayName: 'GPT-4.1 mini',
    contextWindow: 1_047_576,
    maxOutputTokens: 32_768,
    pricing: { input: 0.4, output: 1.6, cachedInput: 0.1 },
    capabilities: ALL,
    quality: 3,
    speed: 4,
    strengths: ['code', 'classification', 'extraction'],
  },
  {
    id: 'openai/o3-mini',
    provider: 'openai',
    providerModelId: 'o3-mini',
    displayName: 'o3-mini (reasoning)',
    contextWindow: 200_000,
    maxOutputTokens: 100_000,
    pricing: { input: 1.1, output: 4.4, cachedInput: 0.55 },
    capabilities: { tools: true, streaming: true, vision: false, jsonOutput: true },
    quality: 4,
    speed: 2,
    strengths: ['reasoning', 'code'],
  },
  {
    id: 'anthropic/claude-sonnet-4',
    provider: 'anthropic',
    providerModelId: 'claude-sonnet-4-20250514',
    displayName: 'Claude Sonnet 4',
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    pricing: { input: 3, output: 15, cachedInput: 0.3 },
    capabilities: ALL,
    quality: 5,
    speed: 3,
    strengths: ['code', 'reasoning', 'chat', 'summarization'],
  },
  {
    id: 'anthropic/claude-3-5-haiku',
    provider: 'anthropic',
    providerModelId: 'claude-3-5-haiku-20241022',
    displayName: 'Claude 3.5 Haiku',
    contextWindow: 200_000,
    maxOutputTokens: 8_192,
    pricing: { input: 0.8, output: 4, cachedInput: 0.08 },
    capabilities: ALL,
    quality: 3,
    speed: 4,
    strengths: ['classification', 'extraction', 'summarization', 'chat'],
  },
  {
    id: 'google/gemini-2.5-pro',
    provider: 'google',
    providerModelId: 'gemini-2.5-pro',
    displayName: 'Gemini 2.5 Pro',
    contextWindow: 1_048_576,
    maxOutputTokens: 65_536,
    pricing: { input: 1.25, output: 10, cachedInput: 0.31 },
    capabilities: ALL,
    quality: 5,
    speed: 2,
    strengths: ['reasoning', 'code', 'summarization'],
  },
  {
    id: 'google/gemini-2.5-flash',
    provider: 'google',
    providerModelId: 'gemini-2.5-flash',
    displayName: 'Gemini 2.5 Flash',
    contextWindow: 1_048_576,
    maxOutputTokens: 65_536,
    pricing: { input: 0.3, output: 2.5, cachedInput: 0.075 },
    capabilities: ALL,
    quality: 4,
    speed: 4,
    strengths: ['summarization', 'classification', 'extraction', 'chat'],
  },
];

/** The simulator's entry: free, always available, every capability, lowest quality rank. */
export const SIMULATOR_MODEL: ModelSpec = {
  id: SIMULATOR_MODEL_ID,
  provider: 'kairo',
  providerModelId: 'simulator',
  displayName: 'KAIRO simulator (deterministic, test mode)',
  contextWindow: 1_000_000,
  maxOutputTokens: 32_768,
  pricing: { input: 0, output: 0, cachedInput: 0 },
  capabilities: ALL,
  quality: 1,
  speed: 5,
  strengths: [],
};

/** Defaults for a declared model's unset fields. */
export const DECLARED_MODEL_DEFAULTS = {
  maxOutputTokens: 4_096,
  quality: 2,
  speed: 3,
  tools: true,
  vision: false,
} as const;
