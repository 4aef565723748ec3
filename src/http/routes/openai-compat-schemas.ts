import { Type } from 'typebox';
import { StrictObject } from '../schemas.js';

/** Request and response schemas of the OpenAI-compatible routes: the fields of OpenAI's APIs KAIRO takes. */

const ModelField = Type.String({
  minLength: 1, maxLength: 200,
  description: 'An agent (its id or its name) to run it, `auto` for a routed completion, or a model id of GET /v1/models.',
});
const Metadata = Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 500 }), { maxProperties: 50 });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

/** A content part: only text parts are taken (`text`, `input_text`, `output_text`); others are refused with a message naming the part. */
const ContentPart = Type.Object({ type: Type.String({ maxLength: 64 }) }, { additionalProperties: true });
const Content = Type.Union([Type.String({ maxLength: 1_000_000 }), Type.Array(ContentPart, { maxItems: 100 })]);

const ChatToolCall = StrictObject({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  type: Type.Literal('function'),
  function: StrictObject({ name: Type.String({ minLength: 1, maxLength: 200 }), arguments: Type.String({ maxLength: 1_000_000 }) }),
});

const ChatMessage = StrictObject({
  role: Type.Union([Type.Literal('system'), Type.Literal('developer'), Type.Literal('user'), Type.Literal('assistant'), Type.Literal('tool')]),
  content: Type.Optional(Nullable(Content)),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  refusal: Type.Optional(Nullable(Type.String({ maxLength: 100_000 }))),
  tool_calls: Type.Optional(Type.Array(ChatToolCall, { maxItems: 64 })),
  tool_call_id: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
});

const FunctionParameters = Type.Object({}, { additionalProperties: true, description: 'JSON Schema of the arguments.' });

const ChatTool = StrictObject({
  type: Type.Literal('function'),
  function: StrictObject({
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9_-]+$' }),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    parameters: Type.Optional(FunctionParameters),
    strict: Type.Optional(Nullable(Type.Boolean())),
  }),
});

const NoEffect = 'Accepted for compatibility with OpenAI clients; it has no effect on KAIRO.';

/** Fields OpenAI clients send that KAIRO has no use for: taken, so that those clients work, and documented as without effect. */
const IgnoredFields = {
  prompt_cache_key: Type.Optional(Nullable(Type.String({ maxLength: 200, description: NoEffect }))),
  prompt_cache_retention: Type.Optional(Nullable(Type.String({ maxLength: 32, description: NoEffect }))),
  safety_identifier: Type.Optional(Nullable(Type.String({ maxLength: 200, description: NoEffect }))),
  service_tier: Type.Optional(Nullable(Type.String({ maxLength: 32, description: NoEffect }))),
};

const Sampling = {
  temperature: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 2 }))),
  top_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
  parallel_tool_calls: Type.Optional(Nullable(Type.Boolean())),
  user: Type.Optional(Type.String({ maxLength: 200 })),
  metadata: Type.Optional(Nullable(Metadata)),
  store: Type.Optional(Nullable(Type.Boolean())),
};

export const ChatCompletionBody = StrictObject({
  model: ModelField,
  messages: Type.Array(ChatMessage, { minItems: 1, maxItems: 1000 }),
  stream: Type.Optional(Nullable(Type.Boolean({ description: 'Answer with server-sent `chat.completion.chunk` events, then `data: [DONE]`.' }))),
  stream_options: Type.Optional(Nullable(StrictObject({ include_usage: Type.Optional(Type.Boolean()), include_obfuscation: Type.Optional(Type.Boolean()) }))),
  max_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 200_000 }))),
  max_completion_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 200_000 }))),
  stop: Type.Optional(Nullable(Type.Union([Type.String({ maxLength: 200 }), Type.Array(Type.String({ maxLength: 200 }), { maxItems: 4 })]))),
  n: Type.Optional(Nullable(Type.Literal(1, { description: 'One choice only.' }))),
  seed: Type.Optional(Nullable(Type.Integer())),
  presence_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
  frequency_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
  response_format: Type.Optional(StrictObject({ type: Type.Literal('text') })),
  tools: Type.Optional(Type.Array(ChatTool, { maxItems: 64, description: 'Functions the model may call (models only: an agent has its own tools).' })),
  tool_choice: Type.Optional(Type.Union([
    Type.Literal('none'), Type.Literal('auto'), Type.Literal('required'),
    StrictObject({ type: Type.Literal('function'), function: StrictObject({ name: Type.String({ minLength: 1, maxLength: 64 }) }) }),
  ])),
  reasoning_effort: Type.Optional(Nullable(Type.String({ maxLength: 32, description: NoEffect }))),
  verbosity: Type.Optional(Nullable(Type.String({ maxLength: 32, description: NoEffect }))),
  logprobs: Type.Optional(Nullable(Type.Literal(false, { description: 'Log probabilities are not available.' }))),
  ...Sampling,
  ...IgnoredFields,
}, { examples: [{ model: 'auto', messages: [{ role: 'user', content: 'Say hello.' }] }] });

const Usage = Type.Object({
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
  prompt_tokens_details: Type.Object({ cached_tokens: Type.Integer() }),
  completion_tokens_details: Type.Object({ reasoning_tokens: Type.Integer() }),
});

export const ChatCompletionObject = Type.Object({
  id: Type.String({ description: 'The run\'s id (`run_…`) when `model` named an agent; else `chatcmpl_…`.' }),
  object: Type.Literal('chat.completion'),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(Type.Object({
    index: Type.Integer(),
    message: Type.Object({
      role: Type.Literal('assistant'),
      content: Nullable(Type.String()),
      refusal: Type.Null(),
      tool_calls: Type.Optional(Type.Array(Type.Object({
        id: Type.String(), type: Type.Literal('function'), function: Type.Object({ name: Type.String(), arguments: Type.String() }),
      }))),
    }),
    finish_reason: Type.String(),
    logprobs: Type.Null(),
  })),
  usage: Usage,
});

const ResponseMessage = StrictObject({
  type: Type.Optional(Type.Literal('message')),
  id: Type.Optional(Type.String({ maxLength: 200 })),
  status: Type.Optional(Type.String({ maxLength: 32 })),
  role: Type.Union([Type.Literal('system'), Type.Literal('developer'), Type.Literal('user'), Type.Literal('assistant')]),
  content: Content,
});
const FunctionCallItem = StrictObject({
  type: Type.Literal('function_call'),
  id: Type.Optional(Type.String({ maxLength: 200 })),
  status: Type.Optional(Type.String({ maxLength: 32 })),
  call_id: Type.String({ minLength: 1, maxLength: 200 }),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  arguments: Type.String({ maxLength: 1_000_000 }),
});
const FunctionCallOutputItem = StrictObject({
  type: Type.Literal('function_call_output'),
  id: Type.Optional(Type.String({ maxLength: 200 })),
  status: Type.Optional(Type.String({ maxLength: 32 })),
  call_id: Type.String({ minLength: 1, maxLength: 200 }),
  output: Type.String({ maxLength: 1_000_000 }),
});

export const ResponseBody = StrictObject({
  model: ModelField,
  input: Type.Union([Type.String({ minLength: 1, maxLength: 1_000_000 }), Type.Array(Type.Union([ResponseMessage, FunctionCallItem, FunctionCallOutputItem]), { minItems: 1, maxItems: 1000 })]),
  instructions: Type.Optional(Nullable(Type.String({ maxLength: 100_000 }))),
  stream: Type.Optional(Nullable(Type.Boolean({ description: 'Answer with server-sent Responses events (response.created … response.completed).' }))),
  max_output_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 200_000 }))),
  tools: Type.Optional(Type.Array(StrictObject({
    type: Type.Literal('function'),
    name: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9_-]+$' }),
    description: Type.Optional(Nullable(Type.String({ maxLength: 10_000 }))),
    parameters: Type.Optional(Nullable(FunctionParameters)),
    strict: Type.Optional(Nullable(Type.Boolean())),
  }), { maxItems: 64, description: 'Functions the model may call (models only: an agent has its own tools).' })),
  tool_choice: Type.Optional(Type.Union([
    Type.Literal('none'), Type.Literal('auto'), Type.Literal('required'),
    StrictObject({ type: Type.Literal('function'), name: Type.String({ minLength: 1, maxLength: 64 }) }),
  ])),
  include: Type.Optional(Nullable(Type.Array(Type.String({ maxLength: 100 }), { maxItems: 20, description: NoEffect }))),
  text: Type.Optional(Nullable(StrictObject({
    format: Type.Optional(StrictObject({ type: Type.Literal('text') }, { description: 'Text only.' })),
    verbosity: Type.Optional(Nullable(Type.String({ maxLength: 32, description: NoEffect }))),
  }))),
  reasoning: Type.Optional(Nullable(Type.Object({}, { additionalProperties: true, description: NoEffect }))),
  truncation: Type.Optional(Nullable(Type.Union([Type.Literal('auto'), Type.Literal('disabled')], { description: NoEffect }))),
  ...Sampling,
  ...IgnoredFields,
}, { examples: [{ model: 'auto', input: 'Say hello.' }] });

const OpenObject = Type.Object({}, { additionalProperties: true });

export const ResponseObject = Type.Object({
  id: Type.String({ description: 'The run\'s id (`run_…`) when `model` named an agent; else `resp_…`.' }),
  object: Type.Literal('response'),
  created_at: Type.Integer(),
  status: Type.String(),
  model: Type.String(),
  output: Type.Array(OpenObject),
  output_text: Type.String(),
  usage: Nullable(OpenObject),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  incomplete_details: Type.Null(),
  instructions: Nullable(Type.String()),
  metadata: Type.Record(Type.String(), Type.String()),
  parallel_tool_calls: Type.Boolean(),
  tool_choice: Type.String(),
  tools: Type.Array(OpenObject),
  temperature: Type.Null(),
  top_p: Type.Null(),
  store: Type.Boolean({ description: 'True when the response can be retrieved: a response of an agent is its run; one of a model is kept (for the trace retention) unless the request sent `store: false`.' }),
});

export const ResponseParams = StrictObject({ id: Type.String({ minLength: 1, maxLength: 128, description: 'The response\'s id: an agent run\'s id.' }) });
