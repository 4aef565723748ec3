import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createModelCatalogue } from '../../src/models/catalogue.js';
import type { ModelCatalogue, ModelInfo, RoutingRequest } from '../../src/models/ports.js';
import { createModelRouter, NoModelAvailableError } from '../../src/models/router.js';
import { createSimulatorModel } from '../../src/models/simulator.js';
import { classifyTask } from '../../src/models/task-classifier.js';

const testCatalogue = createModelCatalogue(loadConfig({}, {}));

function request(overrides: Partial<RoutingRequest> = {}): RoutingRequest {
  return { livemode: false, promptTokens: 1000, needsTools: false, text: 'Hello there, how are you?', optimize: 'balanced', ...overrides };
}

/** A catalogue of hand-made models, all available, for precise scoring tests. */
function fakeCatalogue(models: Array<Partial<ModelInfo> & { id: string }>): ModelCatalogue {
  const infos: ModelInfo[] = models.map((model) => ({
    provider: model.id.split('/')[0]!,
    providerModelId: model.id.split('/')[1]!,
    displayName: model.id,
    contextWindow: 128_000,
    maxOutputTokens: 8_192,
    pricing: { input: 1, output: 4, cachedInput: 0.5 },
    capabilities: { tools: true, streaming: true, vision: false, jsonOutput: true },
    quality: 3,
    speed: 3,
    strengths: [],
    available: true,
    ...model,
  }));
  return {
    list: () => infos,
    get: (id) => infos.find((info) => info.id === id),
    languageModel: () => createSimulatorModel(),
  };
}

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => void (time += ms) };
}

describe('task classifier', () => {
  it.each([
    ['Hello there, how are you?', 'chat'],
    ['Fix this:\n```ts\nconst x: number = "a";\n```', 'code'],
    ['TypeError: Cannot read properties of undefined\n    at main (/app/index.js:10:5)', 'code'],
    ['How do I reverse a list in Python?', 'code'],
    ['Extract the names and email addresses from this text as JSON', 'extraction'],
    ['Parse these invoices and return the total and due date fields', 'extraction'],
    ['Summarize this article in three bullet points', 'summarization'],
    ['tl;dr of the meeting notes please', 'summarization'],
    ['Classify the sentiment of this review: great product!', 'classification'],
    ['Categorize each ticket by priority', 'classification'],
    ['Prove that the square root of 2 is irrational', 'reasoning'],
    ['Explain step by step how many weighings are needed', 'reasoning'],
    ['Why does the moon have phases?', 'reasoning'],
    ['', 'chat'],
  ] as const)('%j → %s', (text, kind) => {
    expect(classifyTask(text)).toBe(kind);
  });
});

describe('router: candidates', () => {
  it('routes test mode over the whole built-in catalogue, never to the simulator unless allowed', () => {
    const router = createModelRouter(testCatalogue);
    const decision = router.route(request());
    expect(decision.candidates).toHaveLength(9);
    expect(decision.candidates).not.toContain('kairo/simulator');
    expect(decision.model).toBe(decision.candidates[0]);
    expect(decision.signals).toEqual({ promptTokens: 1000, needsTools: false, optimize: 'balanced', task: 'chat', excluded: [] });
    expect(decision.reason).toMatch(/^Picked \S+ for a chat task, optimizing for balanced/);

    const onlySimulator = router.route(request({ allowedModels: ['kairo/simulator'] }));
    expect(onlySimulator.model).toBe('kairo/simulator');
  });

  it('routes live mode only to models whose provider is configured, saying why others are out', () => {
    const catalogue = createModelCatalogue(loadConfig({}, { KAIRO_ANTHROPIC_API_KEY: 'sk-ant' }));
    const decision = createModelRouter(catalogue).route(request({ livemode: true }));
    expect(decision.candidates.sort()).toEqual(['anthropic/claude-3-5-haiku', 'anthropic/claude-sonnet-4']);
    expect(decision.signals.excluded).toContainEqual({ model: 'openai/gpt-4o', why: 'provider openai is not configured' });
    expect(decision.signals.excluded).toHaveLength(7);
  });

  it('excludes models whose context window cannot hold the prompt plus the output reserve', () => {
    const router = createModelRouter(testCatalogue);
    const decision = router.route(request({ promptTokens: 150_000 }));
    const excludedIds = decision.signals.excluded.map((entry) => entry.model).sort();
    expect(excludedIds).toEqual(['openai/gpt-4o', 'openai/gpt-4o-mini']);
    expect(decision.signals.excluded[0]!.why).toBe('context window 128000 tokens is smaller than 150000 prompt + 4096 output tokens');
    expect(decision.candidates).not.toContain('openai/gpt-4o');

    // 200k-window models drop out just below their window; the million-token ones remain.
    const huge = router.route(request({ promptTokens: 197_000 }));
    expect(huge.candidates.sort()).toEqual(['google/gemini-2.5-flash', 'google/gemini-2.5-pro', 'openai/gpt-4.1', 'openai/gpt-4.1-mini']);
    expect(() => router.route(request({ promptTokens: 2_000_000 }))).toThrow(NoModelAvailableError);
  });

  it('keeps only tool-capable models when tools are needed', () => {
    const catalogue = fakeCatalogue([
      { id: 'a/no-tools', capabilities: { tools: false, streaming: true, vision: false, jsonOutput: true }, quality: 5 },
      { id: 'b/tools', quality: 2 },
    ]);
    const router = createModelRouter(catalogue);
    expect(router.route(request()).model).toBe('a/no-tools');
    const decision = router.route(request({ needsTools: true }));
    expect(decision.candidates).toEqual(['b/tools']);
    expect(decision.signals.excluded).toEqual([{ model: 'a/no-tools', why: 'does not support tool calls' }]);
  });

  it('honours allowedModels and reports unknown ids', () => {
    const router = createModelRouter(testCatalogue);
    const decision = router.route(request({ allowedModels: ['openai/gpt-4o', 'anthropic/claude-sonnet-4', 'nope/model'] }));
    expect(decision.candidates.sort()).toEqual(['anthropic/claude-sonnet-4', 'openai/gpt-4o']);
    expect(decision.signals.excluded).toEqual([{ model: 'nope/model', why: 'unknown model' }]);

    const error = (() => {
      try {
        router.route(request({ livemode: true, allowedModels: ['openai/gpt-4o'] }));
      } catch (caught) {
        return caught as NoModelAvailableError;
      }
      throw new Error('expected NoModelAvailableError');
    })();
    expect(error).toBeInstanceOf(NoModelAvailableError);
    expect(error.code).toBe('no_model_available');
    expect(error.excluded).toEqual([{ model: 'openai/gpt-4o', why: 'provider openai is not configured' }]);
    expect(error.message).toContain('openai/gpt-4o: provider openai is not configured');
    expect(() => router.route(request({ allowedModels: [] }))).toThrow(/allowed_models is empty/);
  });
});

describe('router: scoring', () => {
  it('lets the preference change the pick', () => {
    const router = createModelRouter(testCatalogue);
    const text = 'Hello there, how are you?';
    const cost = router.route(request({ text, optimize: 'cost' }));
    const quality = router.route(request({ text, optimize: 'quality' }));
    const latency = router.route(request({ text, optimize: 'latency' }));
    expect(cost.model).toBe('openai/gpt-4o-mini');
    expect(quality.model).toBe('anthropic/claude-sonnet-4');
    expect(testCatalogue.get(latency.model)!.speed).toBe(5);
    expect(new Set([cost.model, quality.model]).size).toBe(2);
    expect(quality.reason).toContain('optimizing for quality');

    // On a hand-made catalogue each preference has a clear winner.
    const catalogue = fakeCatalogue([
      { id: 'x/cheap', pricing: { input: 0.1, output: 0.4, cachedInput: 0.05 }, quality: 2, speed: 3 },
      { id: 'x/smart', pricing: { input: 5, output: 20, cachedInput: 2.5 }, quality: 5, speed: 2 },
      { id: 'x/fast', pricing: { input: 1, output: 4, cachedInput: 0.5 }, quality: 3, speed: 5 },
    ]);
    const fake = createModelRouter(catalogue);
    expect(fake.route(request({ optimize: 'cost' })).model).toBe('x/cheap');
    expect(fake.route(request({ optimize: 'quality' })).model).toBe('x/smart');
    expect(fake.route(request({ optimize: 'latency' })).model).toBe('x/fast');
  });

  it('picks models strong at the classified task', () => {
    const router = createModelRouter(testCatalogue);
    const code = router.route(request({ text: 'Refactor this TypeScript function:\n```ts\nfunction add(a, b) { return a + b }\n```' }));
    expect(code.task).toBe('code');
    expect(testCatalogue.get(code.model)!.strengths).toContain('code');
    expect(code.reason).toContain('strong at code');

    const reasoning = router.route(request({ text: 'Prove step by step that there are infinitely many primes.' }));
    expect(reasoning.task).toBe('reasoning');
    expect(testCatalogue.get(reasoning.model)!.strengths).toContain('reasoning');
    expect(reasoning.signals.task).toBe('reasoning');

    const catalogue = fakeCatalogue([
      { id: 'y/coder', strengths: ['code'] },
      { id: 'y/thinker', strengths: ['reasoning'] },
    ]);
    const fake = createModelRouter(catalogue);
    expect(fake.route(request({ text: '```js\nconsole.log(1)\n```' })).model).toBe('y/coder');
    expect(fake.route(request({ text: 'Why is the sky blue? Explain step by step.' })).model).toBe('y/thinker');
  });

  it('is deterministic and breaks ties by id', () => {
    const catalogue = fakeCatalogue([{ id: 'z/b' }, { id: 'z/c' }, { id: 'z/a' }]);
    const router = createModelRouter(catalogue);
    const first = router.route(request());
    expect(first.candidates).toEqual(['z/a', 'z/b', 'z/c']);
    for (let i = 0; i < 5; i++) expect(router.route(request())).toEqual(first);
    expect(createModelRouter(testCatalogue).route(request())).toEqual(createModelRouter(testCatalogue).route(request()));
  });
});

describe('router: health', () => {
  const catalogue = fakeCatalogue([
    { id: 'p/best', quality: 5 },
    { id: 'q/second', quality: 4 },
    { id: 'r/third', quality: 3 },
  ]);

  it('demotes a model after retryable errors and lets it recover', () => {
    const clock = fakeClock();
    const router = createModelRouter(catalogue, { now: clock.now });
    expect(router.route(request()).model).toBe('p/best');

    // One retryable failure costs score but need not change the pick …
    router.recordOutcome('p/best', { ok: false, latencyMs: 100, retryable: true });
    // … three in a row open the circuit: the model moves behind every healthy one.
    router.recordOutcome('p/best', { ok: false, latencyMs: 100, retryable: true });
    router.recordOutcome('p/best', { ok: false, latencyMs: 100, retryable: true });
    const demoted = router.route(request());
    expect(demoted.model).toBe('q/second');
    expect(demoted.candidates).toEqual(['q/second', 'r/third', 'p/best']);
    expect(demoted.reason).toContain('Demoted after repeated errors: p/best');

    // After the cooldown the circuit closes: the model ranks by score again, its error rate counted.
    clock.advance(31_000);
    const afterCooldown = router.route(request());
    expect(afterCooldown.reason).not.toContain('Demoted');
    expect(afterCooldown.candidates).toContain('p/best');

    // Successes push the failures out of the last-20 window: it is back on top.
    for (let i = 0; i < 20; i++) router.recordOutcome('p/best', { ok: true, latencyMs: 100 });
    const recovered = router.route(request());
    expect(recovered.model).toBe('p/best');
    expect(recovered.reason).not.toContain('error rate');
  });

  it('still routes when every candidate is failing, best first', () => {
    const router = createModelRouter(catalogue);
    for (const id of ['p/best', 'q/second', 'r/third']) {
      for (let i = 0; i < 3; i++) router.recordOutcome(id, { ok: false, latencyMs: 10, retryable: true });
    }
    const decision = router.route(request());
    expect(decision.candidates).toEqual(['p/best', 'q/second', 'r/third']);
    expect(decision.reason).toContain('Every candidate failed repeatedly of late');
  });

  it('forgets failures after the window', () => {
    const clock = fakeClock();
    const router = createModelRouter(catalogue, { now: clock.now });
    for (let i = 0; i < 5; i++) router.recordOutcome('p/best', { ok: false, latencyMs: 50 });
    expect(router.route(request()).model).toBe('q/second');
    clock.advance(5 * 60_000 + 1);
    expect(router.route(request()).model).toBe('p/best');
  });

  it('does not trip the circuit on non-retryable errors, but counts them at half weight', () => {
    const clock = fakeClock();
    const router = createModelRouter(catalogue, { now: clock.now });
    for (let i = 0; i < 4; i++) {
      router.recordOutcome('p/best', { ok: false, latencyMs: 50, retryable: false });
      router.recordOutcome('q/second', { ok: false, latencyMs: 50, retryable: true });
    }
    const decision = router.route(request());
    expect(decision.candidates).toEqual(['r/third', 'p/best', 'q/second']);
    expect(decision.reason).toContain('Demoted after repeated errors: q/second.');
  });

  it('prefers a model that answers fast when optimizing for latency', () => {
    const clock = fakeClock();
    const router = createModelRouter(fakeCatalogue([{ id: 's/one' }, { id: 's/two' }]), { now: clock.now });
    expect(router.route(request({ optimize: 'latency' })).model).toBe('s/one');
    for (let i = 0; i < 3; i++) {
      router.recordOutcome('s/one', { ok: true, latencyMs: 20_000 });
      router.recordOutcome('s/two', { ok: true, latencyMs: 400 });
    }
    expect(router.route(request({ optimize: 'latency' })).model).toBe('s/two');
  });

  it('ignores outcomes of models it does not know', () => {
    const router = createModelRouter(catalogue);
    router.recordOutcome('unknown/model', { ok: false, latencyMs: 1 });
    expect(router.route(request()).model).toBe('p/best');
  });
});
