import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Static } from 'typebox';
import type { ToolChoice, ToolSet } from 'ai';
import { KairoError } from '../../errors.js';
import { newId } from '../../ids.js';
import { STOP_EVENTS } from '../../runs/statuses.js';
import type { Run } from '../../store/port.js';
import { fromChatMessages, fromResponseInput, type ChatMessage, type ResponseInputItem } from '../../openai-compat/messages.js';
import type { CompletionPart, CompletionRequest, FunctionTool } from '../../openai-compat/model-completions.js';
import { answered, type Requester, type StartedRun } from '../../openai-compat/openai-compat.js';
import { ResponseEvents } from '../../openai-compat/response-events.js';
import { answerOfCompletion, answerOfRun, chatChunkView, chatCompletionView, responseView, type Answer, type ResponseStatus } from '../../openai-compat/views.js';
import { authOf } from '../plugins/auth.js';
import { openAiErrorAnswer, useOpenAiErrors } from '../openai-errors.js';
import { openEventStream } from '../openai-sse.js';
import type { AppDeps } from '../deps.js';
import { ChatCompletionBody, ChatCompletionObject, ResponseBody, ResponseObject, ResponseParams } from './openai-compat-schemas.js';

const TAGS = ['OpenAI compatibility'];

type ChatBody = Static<typeof ChatCompletionBody>;
type ResponsesBody = Static<typeof ResponseBody>;

function requester(request: FastifyRequest): Requester {
  const auth = authOf(request);
  return { workspace: auth.workspace, scope: auth.scope, apiKeyId: auth.key.id, requestId: request.id };
}

/** Tools are the caller's functions for a model; an agent runs with its own. */
function refuseToolsForAgent(tools: unknown[] | undefined): void {
  if (tools && tools.length > 0) {
    throw new KairoError('parameter_invalid', { message: 'An agent runs with its own tools: send tools only when model names a model.', param: 'tools' });
  }
}

function toolChoiceOf(choice: ChatBody['tool_choice'] | ResponsesBody['tool_choice']): ToolChoice<ToolSet> | undefined {
  if (choice === undefined || typeof choice === 'string') return choice;
  return { type: 'tool', toolName: 'function' in choice ? choice.function.name : choice.name };
}

const orUndefined = <T>(value: T | null | undefined): T | undefined => value ?? undefined;

/** The completion a Chat Completions request asks of a model. */
function chatCompletionRequest(body: ChatBody, livemode: boolean, messages: CompletionRequest['messages']): CompletionRequest {
  const tools: FunctionTool[] = (body.tools ?? []).map((t) => ({ name: t.function.name, description: t.function.description, parameters: t.function.parameters }));
  const stop = body.stop === null || body.stop === undefined ? undefined : typeof body.stop === 'string' ? [body.stop] : body.stop;
  return {
    livemode, model: body.model, messages, tools, toolChoice: toolChoiceOf(body.tool_choice),
    sampling: {
      temperature: orUndefined(body.temperature), topP: orUndefined(body.top_p), maxOutputTokens: orUndefined(body.max_completion_tokens ?? body.max_tokens),
      stopSequences: stop, seed: orUndefined(body.seed), presencePenalty: orUndefined(body.presence_penalty), frequencyPenalty: orUndefined(body.frequency_penalty),
    },
  };
}

/** The completion a Responses request asks of a model. */
function responseCompletionRequest(body: ResponsesBody, livemode: boolean, messages: CompletionRequest['messages']): CompletionRequest {
  const tools: FunctionTool[] = (body.tools ?? []).map((t) => ({ name: t.name, description: orUndefined(t.description), parameters: orUndefined(t.parameters) }));
  return {
    livemode, model: body.model, messages, tools, toolChoice: toolChoiceOf(body.tool_choice),
    sampling: { temperature: orUndefined(body.temperature), topP: orUndefined(body.top_p), maxOutputTokens: orUndefined(body.max_output_tokens) },
  };
}

/** A run as a response object: in progress, answered, or failed. */
function responseOfRun(run: Run) {
  const head = { id: run.id, createdAt: run.createdAt, model: run.agentId, instructions: null, metadata: run.metadata, store: true };
  if (run.status === 'completed' || run.status === 'requires_action') return responseView(head, 'completed', answerOfRun(run));
  if (run.status === 'failed') return responseView(head, 'failed', answerOfRun(run), { code: run.errorCode ?? 'run_failed', message: run.errorMessage ?? '' });
  return responseView(head, run.status === 'cancelled' ? 'cancelled' : run.status === 'queued' ? 'queued' : 'in_progress');
}

/** Takes the first part of a model's stream before answering, so that a model that cannot answer at all is an HTTP error. */
async function firstPart(parts: AsyncIterator<CompletionPart>): Promise<string> {
  const first = await parts.next();
  if (first.done || first.value.type !== 'start') throw new Error('A completion stream starts with its model.');
  return first.value.model;
}

/** `POST /v1/chat/completions`, `POST /v1/responses` and `GET /v1/responses/{id}`: OpenAI's APIs over agents and models. */
export async function openAiCompatRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  useOpenAiErrors(fastify);
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const compat = deps.openaiCompat;

  /** After a stream: an idempotent request stores what the same request without `stream` would have answered. */
  const recordStream = async (request: FastifyRequest, body: unknown) => {
    if (request.idempotency) await request.recordStreamedResponse(body === undefined ? null : JSON.stringify(body));
  };

  async function startAgentRun(request: FastifyRequest, reply: FastifyReply, agent: Parameters<typeof compat.startRun>[1], messages: CompletionRequest['messages'], stream: boolean, metadata: Record<string, string> | undefined) {
    const started = await compat.startRun(requester(request), agent, messages, { stream, metadata });
    request.createdRunId = started.run.id;
    reply.headers(started.budgetHeaders).header('KAIRO-Run-Id', started.run.id);
    return started;
  }

  /** The agent run's text as chat chunks, from its event log, then how it ended. */
  async function streamAgentChat(request: FastifyRequest, reply: FastifyReply, started: StartedRun, includeUsage: boolean) {
    const head = { id: started.run.id, createdAt: started.run.createdAt, model: started.run.agentId };
    const sse = openEventStream(request, reply);
    let answer: Answer | undefined;
    try {
      sse.send(chatChunkView(head, { role: 'assistant', content: '' }));
      for await (const event of compat.runEvents(started.run.id, sse.signal)) {
        if (event.type === 'run.output_text.delta') sse.send(chatChunkView(head, { content: String(event.data.delta ?? '') }));
        if (STOP_EVENTS.has(event.type)) break;
      }
      answer = answerOfRun(answered(await started.finished));
      if (answer.toolCalls.length > 0) {
        sse.send(chatChunkView(head, { tool_calls: answer.toolCalls.map((c, index) => ({ index, id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) }));
      }
      sse.send(chatChunkView(head, {}, answer.finishReason));
      if (includeUsage) sse.send(chatChunkView(head, null, null, answer.usage));
      sse.done();
    } catch (error) {
      sse.send(openAiErrorAnswer(error, request.id).body);
    } finally {
      await started.finished.catch(() => {});
      await recordStream(request, answer && chatCompletionView(answer));
      sse.end();
    }
  }

  /** A model's completion as chat chunks. */
  async function streamModelChat(request: FastifyRequest, reply: FastifyReply, completion: CompletionRequest, includeUsage: boolean) {
    const parts = compat.stream(requester(request), completion);
    const head = { id: newId('chatcmpl'), createdAt: Date.now(), model: await firstPart(parts) };
    const sse = openEventStream(request, reply);
    let answer: Answer | undefined;
    const result: Omit<Answer, 'finishReason' | 'usage'> = { ...head, text: '', toolCalls: [] };
    try {
      sse.send(chatChunkView(head, { role: 'assistant', content: '' }));
      for (let next = await parts.next(); !next.done; next = await parts.next()) {
        const part = next.value;
        if (part.type === 'text') {
          result.text += part.delta;
          sse.send(chatChunkView(head, { content: part.delta }));
        } else if (part.type === 'tool_call') {
          const index = result.toolCalls.push(part.call) - 1;
          sse.send(chatChunkView(head, { tool_calls: [{ index, id: part.call.id, type: 'function', function: { name: part.call.name, arguments: part.call.arguments } }] }));
        } else if (part.type === 'finish') {
          answer = { ...result, finishReason: part.finishReason, usage: part.usage };
          sse.send(chatChunkView(head, {}, part.finishReason));
          if (includeUsage) sse.send(chatChunkView(head, null, null, part.usage));
        }
      }
      sse.done();
    } catch (error) {
      sse.send(openAiErrorAnswer(error, request.id).body);
    } finally {
      await parts.return(undefined); // records the completion, had the stream stopped early
      await recordStream(request, answer && chatCompletionView(answer));
      sse.end();
    }
  }

  app.post('/v1/chat/completions', {
    config: { openAiErrors: true, eventStream: 'body', errors: ['agent_not_active', 'budget_exceeded', 'concurrency_limited'] },
    schema: {
      operationId: 'chat.completions.create', tags: TAGS, summary: 'Create a chat completion (OpenAI-compatible)',
      description: 'OpenAI\'s Chat Completions API. `model` names an agent (its id or name): the messages run it, as an agent run with its tools, '
        + 'context and trace, whose id is the completion\'s `id` and the `KAIRO-Run-Id` header. `model: "auto"` or a model id of GET /v1/models '
        + 'answers without an agent (routed, not stored). `stream: true` answers with `chat.completion.chunk` events and `data: [DONE]`. '
        + 'Errors are in OpenAI\'s shape; see docs/openai-compatibility.md.',
      body: ChatCompletionBody, response: { 200: ChatCompletionObject },
    },
  }, async (request, reply) => {
    const auth = authOf(request);
    const body = request.body;
    const messages = fromChatMessages(body.messages as ChatMessage[]);
    const target = await compat.target(auth.scope, body.model);
    const includeUsage = body.stream_options?.include_usage === true;
    if (target.kind === 'agent') {
      refuseToolsForAgent(body.tools);
      const started = await startAgentRun(request, reply, target.agent, messages, body.stream === true, orUndefined(body.metadata));
      if (body.stream) return streamAgentChat(request, reply, started, includeUsage);
      return chatCompletionView(answerOfRun(answered(await started.finished)));
    }
    const completion = chatCompletionRequest(body, auth.scope.livemode, messages);
    reply.headers(await compat.admitCompletion(requester(request)));
    if (body.stream) return streamModelChat(request, reply, completion, includeUsage);
    const createdAt = Date.now();
    return chatCompletionView(answerOfCompletion(newId('chatcmpl'), createdAt, await compat.complete(requester(request), completion)));
  });

  /** Streams a response: from the agent run's event log, or from the model. */
  async function streamResponse(
    request: FastifyRequest, reply: FastifyReply, head: Parameters<typeof responseView>[0],
    source: { run: StartedRun } | { parts: AsyncGenerator<CompletionPart> },
  ) {
    const events = new ResponseEvents(head);
    const sse = openEventStream(request, reply);
    const emit = (list: ReturnType<ResponseEvents['start']>) => list.forEach((event) => sse.send(event, event.type));
    let final: unknown;
    try {
      emit(events.start());
      let answer: Answer | undefined;
      if ('run' in source) {
        for await (const event of compat.runEvents(head.id, sse.signal)) {
          if (event.type === 'run.output_text.delta') emit(events.delta(String(event.data.delta ?? '')));
          if (STOP_EVENTS.has(event.type)) break;
        }
        const run = await source.run.finished;
        if (run.status === 'failed' || run.status === 'cancelled') {
          emit(events.failed({ code: run.errorCode ?? `run_${run.status}`, message: run.errorMessage ?? `The run ${run.status}.` }));
          final = responseOfRun(run);
          return;
        }
        answer = answerOfRun(run);
      } else {
        const result: Omit<Answer, 'finishReason' | 'usage'> = { id: head.id, createdAt: head.createdAt, model: head.model, text: '', toolCalls: [] };
        for (let next = await source.parts.next(); !next.done; next = await source.parts.next()) {
          const part = next.value;
          if (part.type === 'text') {
            result.text += part.delta;
            emit(events.delta(part.delta));
          } else if (part.type === 'tool_call') result.toolCalls.push(part.call);
          else if (part.type === 'finish') answer = { ...result, finishReason: part.finishReason, usage: part.usage };
        }
      }
      if (!answer) throw new Error('The completion ended without finishing.');
      const status: Extract<ResponseStatus, 'completed' | 'incomplete'> = answer.finishReason === 'length' ? 'incomplete' : 'completed';
      const response = responseView(head, status, answer);
      final = response;
      // Kept before the last event, so that a client that retrieves it on response.completed finds it.
      if (!('run' in source) && head.store) await compat.saveResponse(authOf(request).scope, response, head.createdAt);
      emit(events.finish(answer, status));
    } catch (error) {
      const { body } = openAiErrorAnswer(error, request.id);
      emit(events.failed({ code: body.error.code ?? 'error', message: body.error.message }));
    } finally {
      if ('run' in source) await source.run.finished.catch(() => {});
      else await source.parts.return(undefined); // records the completion, had the stream stopped early
      await recordStream(request, final);
      sse.end();
    }
  }

  app.post('/v1/responses', {
    config: { openAiErrors: true, eventStream: 'body', errors: ['agent_not_active', 'budget_exceeded', 'concurrency_limited'] },
    schema: {
      operationId: 'responses.create', tags: TAGS, summary: 'Create a response (OpenAI-compatible)',
      description: 'OpenAI\'s Responses API. `model` names an agent (its id or name): the input runs it, and the response is the agent run '
        + '(its `id` is the run\'s, retrievable with GET /v1/responses/{id}). `model: "auto"` or a model id of GET /v1/models answers without '
        + 'an agent (routed; kept for the trace retention unless `store: false`). `stream: true` answers with the Responses events, response.created to response.completed.',
      body: ResponseBody, response: { 200: ResponseObject },
    },
  }, async (request, reply) => {
    const auth = authOf(request);
    const body = request.body;
    const messages = fromResponseInput(body.input as string | ResponseInputItem[], body.instructions);
    const target = await compat.target(auth.scope, body.model);
    const metadata = orUndefined(body.metadata);
    if (target.kind === 'agent') {
      refuseToolsForAgent(body.tools);
      const started = await startAgentRun(request, reply, target.agent, messages, body.stream === true, metadata);
      const head = { id: started.run.id, createdAt: started.run.createdAt, model: target.agent.id, instructions: orUndefined(body.instructions) ?? null, metadata: started.run.metadata, store: true };
      if (body.stream) return streamResponse(request, reply, head, { run: started });
      return { ...responseOfRun(await started.finished), instructions: head.instructions };
    }
    const completion = responseCompletionRequest(body, auth.scope.livemode, messages);
    const head = { id: newId('resp'), createdAt: Date.now(), model: body.model, instructions: orUndefined(body.instructions) ?? null, metadata: metadata ?? {}, store: body.store !== false };
    reply.headers(await compat.admitCompletion(requester(request)));
    if (body.stream) {
      const parts = compat.stream(requester(request), completion);
      return streamResponse(request, reply, { ...head, model: await firstPart(parts) }, { parts });
    }
    const answer = answerOfCompletion(head.id, head.createdAt, await compat.complete(requester(request), completion));
    const response = responseView({ ...head, model: answer.model }, answer.finishReason === 'length' ? 'incomplete' : 'completed', answer);
    if (head.store) await compat.saveResponse(auth.scope, response, head.createdAt);
    return response;
  });

  app.get('/v1/responses/:id', {
    config: { openAiErrors: true },
    schema: {
      operationId: 'responses.retrieve', tags: TAGS, summary: 'Retrieve a response (OpenAI-compatible)',
      description: 'A response of an agent, read from its run: `in_progress` while the run runs, then `completed` (or `failed`, `cancelled`); '
        + 'or a kept response of a model (`resp_…`), as it was answered.',
      params: ResponseParams, response: { 200: ResponseObject },
    },
  }, async (request) => {
    const found = await compat.response(authOf(request).scope, request.params.id, 'id');
    return 'run' in found ? responseOfRun(found.run) : found.stored as ReturnType<typeof responseView>;
  });
}
