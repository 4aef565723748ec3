import type { LanguageModelV3StreamPart } from '@ai-sdk/provider';
import { APICallError, generateText, jsonSchema, Output, RetryError, stepCountIs, streamText, tool } from 'ai';
import { describe, expect, it } from 'vitest';
import { countTokens } from '../../src/context/tokens.js';
import { createSimulatorModel, MAX_SIMULATED_DELAY_MS, SIMULATOR_MODEL_ID } from '../../src/models/simulator.js';

const model = createSimulatorModel();

const weatherSchema = jsonSchema<{ city: string; days?: number }>({
  type: 'object',
  properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } },
  required: ['city'],
  additionalProperties: false,
});

/** Tools without `execute`: the SDK returns the calls and stops. */
const declaredTools = {
  get_weather: tool({ description: 'Current weather for a city', inputSchema: weatherSchema }),
  get_time: tool({ description: 'Current time', inputSchema: jsonSchema<Record<string, never>>({ type: 'object', properties: {} }) }),
};

/** The same tools, executed locally. */
const executedTools = {
  get_weather: tool({
    description: 'Current weather for a city',
    inputSchema: weatherSchema,
    execute: async ({ city }) => ({ city, tempC: 21, sky: 'clear' }),
  }),
  get_time: tool({
    description: 'Current time',
    inputSchema: jsonSchema<Record<string, never>>({ type: 'object', properties: {} }),
    execute: async () => ({ time: '12:00' }),
  }),
};

async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

describe('simulator: identity', () => {
  it('is an AI SDK v3 language model of provider kairo', () => {
    expect(model.specificationVersion).toBe('v3');
    expect(model.provider).toBe('kairo');
    expect(model.modelId).toBe('simulator');
    expect(model.supportedUrls).toEqual({});
    expect(SIMULATOR_MODEL_ID).toBe('kairo/simulator');
  });
});

describe('simulator: text answers', () => {
  it('quotes the user text, counts tokens, and is deterministic', async () => {
    const first = await generateText({ model, prompt: 'What is the refund policy?' });
    const second = await generateText({ model: createSimulatorModel(), prompt: 'What is the refund policy?' });
    expect(first.text).toBe('Simulated answer to "What is the refund policy?".');
    expect(second.text).toBe(first.text);
    expect(first.finishReason).toBe('stop');
    expect(first.usage.outputTokens).toBe(countTokens(first.text));
    expect(first.usage.inputTokens).toBe(countTokens('What is the refund policy?'));
    expect(first.usage.cachedInputTokens).toBe(0);
    expect(first.response.modelId).toBe('simulator');
    expect(first.response.id).toBe(second.response.id);
  });

  it('quotes at most 200 characters, whitespace collapsed', async () => {
    const long = `${'word '.repeat(100)}\n\nend`;
    const { text } = await generateText({ model, prompt: long });
    const quoted = /^Simulated answer to "(.*)"\.$/.exec(text)?.[1];
    expect(quoted).toBeDefined();
    expect(quoted!.length).toBe(200);
    expect(quoted).toBe('word '.repeat(40).slice(0, 200));
  });

  it('answers the latest user message of a conversation', async () => {
    const { text } = await generateText({
      model,
      messages: [
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'first answer' },
        { role: 'user', content: 'second question' },
      ],
    });
    expect(text).toBe('Simulated answer to "second question".');
  });

  it('cites numbered context blocks of the system prompt', async () => {
    const system = [
      'Answer from the context below.',
      '',
      '[1] Refunds — Policy',
      'Refunds are issued within 14 days of purchase. Contact support for help.',
      '',
      '[2] Shipping',
      'We ship worldwide.',
    ].join('\n');
    const { text, usage } = await generateText({ model, system, prompt: 'How do refunds work?' });
    expect(text).toBe('Simulated answer to "How do refunds work?". Based on [1], [2]: Refunds are issued within 14 days of purchase.');
    expect(usage.inputTokens).toBe(countTokens(`${system}\nHow do refunds work?`));
  });

  it('honours maxOutputTokens (finish reason length) and stop sequences', async () => {
    const cut = await generateText({ model, prompt: 'tell me everything about the weather in Paris', maxOutputTokens: 3 });
    expect(cut.finishReason).toBe('length');
    expect(cut.usage.outputTokens).toBeLessThanOrEqual(3);
    expect('Simulated answer to "tell me everything'.startsWith(cut.text)).toBe(true);
    const stopped = await generateText({ model, prompt: 'abc', stopSequences: [' to'] });
    expect(stopped.text).toBe('Simulated answer');
  });

  it('answers JSON that fits the schema when asked for structured output', async () => {
    const { output } = await generateText({
      model,
      prompt: 'Extract the contact. name: Ada Lovelace, email: ada@example.com',
      output: Output.object({
        schema: jsonSchema<{ name: string; email: string; vip?: boolean }>({
          type: 'object',
          properties: { name: { type: 'string' }, email: { type: 'string' }, vip: { type: 'boolean' } },
          required: ['name', 'email'],
        }),
      }),
    });
    expect(output).toEqual({ name: 'Ada Lovelace', email: 'ada@example.com' });
  });
});

describe('simulator: streaming', () => {
  it('streams the same answer word by word with usage at the end', async () => {
    const result = streamText({ model, prompt: 'What is the refund policy?' });
    const deltas: string[] = [];
    for await (const delta of result.textStream) deltas.push(delta);
    const expected = 'Simulated answer to "What is the refund policy?".';
    expect(deltas.join('')).toBe(expected);
    expect(deltas.length).toBe(expected.split(' ').length);
    expect(await result.finishReason).toBe('stop');
    const usage = await result.usage;
    expect(usage.outputTokens).toBe(countTokens(expected));
    expect(usage.inputTokens).toBe(countTokens('What is the refund policy?'));
  });

  it('emits exactly the LanguageModelV3 stream parts for text and tool calls', async () => {
    const { stream } = await model.doStream({
      prompt: [{ role: 'user', content: [{ type: 'text', text: 'call get_weather {"city":"San Francisco"}' }] }],
      tools: [{ type: 'function', name: 'get_weather', inputSchema: { type: 'object', properties: { city: { type: 'string' } } } }],
    });
    const parts: LanguageModelV3StreamPart[] = [];
    for await (const part of stream) parts.push(part);
    expect(parts.map((part) => part.type)).toEqual([
      'stream-start',
      'response-metadata',
      'tool-input-start',
      'tool-input-delta',
      'tool-input-delta',
      'tool-input-end',
      'tool-call',
      'finish',
    ]);
    const deltas = parts.filter((part) => part.type === 'tool-input-delta').map((part) => part.delta);
    expect(deltas.join('')).toBe('{"city":"San Francisco"}');
    expect(parts[6]).toEqual({ type: 'tool-call', toolCallId: 'call_sim_1', toolName: 'get_weather', input: '{"city":"San Francisco"}' });
    const finish = parts[7] as Extract<LanguageModelV3StreamPart, { type: 'finish' }>;
    expect(finish.finishReason).toEqual({ unified: 'tool-calls', raw: 'tool-calls' });
    expect(finish.usage.inputTokens.cacheRead).toBe(0);
    expect(finish.usage.outputTokens.total).toBe(countTokens('get_weather {"city":"San Francisco"}'));
  });

  it('waits streamDelayMs between parts', async () => {
    const slowStream = createSimulatorModel({ streamDelayMs: 5 });
    const started = Date.now();
    const result = streamText({ model: slowStream, prompt: 'one two three four' });
    expect(await result.text).toBe('Simulated answer to "one two three four".');
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * 8);
  });
});

describe('simulator: tool calls', () => {
  it('calls a tool on a `call <tool> {json}` directive', async () => {
    const result = await generateText({ model, prompt: 'call get_weather {"city": "Paris"}', tools: declaredTools });
    expect(result.finishReason).toBe('tool-calls');
    expect(result.text).toBe('');
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]).toMatchObject({ toolCallId: 'call_sim_1', toolName: 'get_weather', input: { city: 'Paris' } });
  });

  it('builds arguments from the schema when a tool is named or called without JSON', async () => {
    const named = await generateText({ model, prompt: 'Use get_weather for city: Lyon, please', tools: declaredTools });
    expect(named.toolCalls.map((call) => [call.toolName, call.input])).toEqual([['get_weather', { city: 'Lyon' }]]);

    const bare = await generateText({ model, prompt: 'What is it like outside?\ncall get_weather', tools: declaredTools });
    // No `city:` in the text: the required string gets the user text itself.
    expect(bare.toolCalls[0]!.input).toEqual({ city: 'What is it like outside?' });
  });

  it('`call all` calls every offered tool once, ids in sequence', async () => {
    const result = await generateText({ model, prompt: 'call all\ncity: Oslo', tools: declaredTools });
    expect(result.toolCalls.map((call) => [call.toolCallId, call.toolName, call.input])).toEqual([
      ['call_sim_1', 'get_weather', { city: 'Oslo' }],
      ['call_sim_2', 'get_time', {}],
    ]);
  });

  it('never calls a tool that is not offered, nor with toolChoice none; required forces one', async () => {
    const notOffered = await generateText({ model, prompt: 'call get_stock {"ticker":"X"}', tools: declaredTools });
    expect(notOffered.toolCalls).toEqual([]);
    expect(notOffered.text).toBe('Simulated answer to "call get_stock {"ticker":"X"}".');

    const none = await generateText({ model, prompt: 'call get_weather {"city":"Paris"}', tools: declaredTools, toolChoice: 'none' });
    expect(none.toolCalls).toEqual([]);

    const required = await generateText({ model, prompt: 'hello', tools: declaredTools, toolChoice: 'required' });
    expect(required.toolCalls.map((call) => call.toolName)).toEqual(['get_weather']);

    const forced = await generateText({ model, prompt: 'hello', tools: declaredTools, toolChoice: { type: 'tool', toolName: 'get_time' } });
    expect(forced.toolCalls.map((call) => call.toolName)).toEqual(['get_time']);
  });

  it('passes malformed JSON through, so the SDK reports invalid tool input', async () => {
    const result = await generateText({ model, prompt: 'call get_weather {"city": ', tools: declaredTools });
    const errors = result.content.filter((part) => part.type === 'tool-error');
    expect(errors).toHaveLength(1);
  });

  it('summarises tool results and stops', async () => {
    const { text, finishReason } = await generateText({
      model,
      messages: [
        { role: 'user', content: 'weather?' },
        {
          role: 'assistant',
          content: [{ type: 'tool-call', toolCallId: 'c1', toolName: 'get_weather', input: { city: 'Paris' } }],
        },
        {
          role: 'tool',
          content: [
            { type: 'tool-result', toolCallId: 'c1', toolName: 'get_weather', output: { type: 'json', value: { tempC: 21, sky: 'clear' } } },
          ],
        },
      ],
      tools: declaredTools,
    });
    expect(text).toBe('Tool get_weather returned: {"tempC":21,"sky":"clear"}');
    expect(finishReason).toBe('stop');
  });

  it('runs a multi-step loop: call, execute, summarise (stepCountIs(3))', async () => {
    const result = await generateText({
      model,
      prompt: 'call get_weather {"city":"Paris"}\ncall get_time',
      tools: executedTools,
      stopWhen: stepCountIs(3),
    });
    expect(result.steps).toHaveLength(2);
    expect(result.steps[0]!.finishReason).toBe('tool-calls');
    expect(result.text).toBe('Tool get_weather returned: {"city":"Paris","tempC":21,"sky":"clear"}\nTool get_time returned: {"time":"12:00"}');
    expect(result.totalUsage.inputTokens).toBeGreaterThan(result.steps[0]!.usage.inputTokens!);
  });

  it('streams a multi-step loop with tool parts', async () => {
    const result = streamText({ model, prompt: 'call get_weather {"city":"Rome"}', tools: executedTools, stopWhen: stepCountIs(3) });
    const types: string[] = [];
    for await (const part of result.fullStream) types.push(part.type);
    expect(types).toContain('tool-input-start');
    expect(types).toContain('tool-call');
    expect(types).toContain('tool-result');
    expect(types.filter((type) => type === 'finish-step')).toHaveLength(2);
    expect(await result.text).toBe('Tool get_weather returned: {"city":"Rome","tempC":21,"sky":"clear"}');
  });
});

describe('simulator: failures and latency', () => {
  it.each([
    ['fail', 500, true],
    ['fail 429', 429, true],
    ['fail 500', 500, true],
    ['fail 503', 503, true],
    ['fail 400', 400, false],
    ['fail 401', 401, false],
  ])('%s throws APICallError %i (retryable %s)', async (prompt, status, retryable) => {
    const error = await rejection(generateText({ model, prompt, maxRetries: 0 }));
    expect(APICallError.isInstance(error)).toBe(true);
    expect((error as APICallError).statusCode).toBe(status);
    expect((error as APICallError).isRetryable).toBe(retryable);
  });

  it('is retried by the SDK when retryable, without waiting', async () => {
    const started = Date.now();
    const error = await rejection(generateText({ model, prompt: 'fail 503', maxRetries: 2 }));
    expect(RetryError.isInstance(error)).toBe(true);
    expect((error as RetryError).errors).toHaveLength(3);
    expect(Date.now() - started).toBeLessThan(1000);
    const notRetried = await rejection(generateText({ model, prompt: 'fail 400', maxRetries: 2 }));
    expect(APICallError.isInstance(notRetried)).toBe(true);
  });

  it('fails in streams too', async () => {
    let caught: unknown;
    const result = streamText({ model, prompt: 'fail 429', maxRetries: 0, onError: ({ error }) => void (caught = error) });
    await result.consumeStream();
    expect(APICallError.isInstance(caught)).toBe(true);
    expect((caught as APICallError).statusCode).toBe(429);
  });

  it('only fails directive lines, not prose, and `for <id>` targets one stand-in', async () => {
    const prose = await generateText({ model, prompt: 'Why does my build fail 500 times?' });
    expect(prose.text).toContain('Simulated answer');

    const gpt = createSimulatorModel({ servingAs: 'openai/gpt-4o' });
    const claude = createSimulatorModel({ servingAs: 'anthropic/claude-sonnet-4' });
    const prompt = 'fail 503 for openai/gpt-4o\nhello';
    expect(APICallError.isInstance(await rejection(generateText({ model: gpt, prompt, maxRetries: 0 })))).toBe(true);
    expect((await generateText({ model: claude, prompt, maxRetries: 0 })).text).toBe('Simulated answer to "hello".');
    // A provider name matches all of its models.
    expect(APICallError.isInstance(await rejection(generateText({ model: gpt, prompt: 'fail 500 for openai', maxRetries: 0 })))).toBe(true);
  });

  it('`slow <ms>` delays the answer and is left out of the quote', async () => {
    const started = Date.now();
    const { text } = await generateText({ model, prompt: 'slow 60\nhello' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(text).toBe('Simulated answer to "hello".');
    expect(MAX_SIMULATED_DELAY_MS).toBe(60_000);
  });

  it('stops waiting when the call is aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('stop now')), 20);
    const error = await rejection(generateText({ model, prompt: 'slow 5000\nhello', abortSignal: controller.signal, maxRetries: 0 }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect((error as Error).message).toBe('stop now');

    const streamController = new AbortController();
    const result = streamText({ model, prompt: 'slow 5000\nhello', abortSignal: streamController.signal });
    setTimeout(() => streamController.abort(), 20);
    const streamStarted = Date.now();
    await result.consumeStream();
    expect(Date.now() - streamStarted).toBeLessThan(2000);
  });

  it('adds its configured latency to every call', async () => {
    const slowModel = createSimulatorModel({ latencyMs: 30 });
    const started = Date.now();
    await generateText({ model: slowModel, prompt: 'hi' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });
});
