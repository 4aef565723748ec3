import { Type, type Static, type TSchema } from 'typebox';

/**
 * The JSON Schema of every step type: what the HTTP API validates and documents, what
 * validate.ts checks a definition's shape against, and (through Static) the step types the
 * engine reads. What a schema cannot say (unique ids, references, nesting depth, one of
 * `duration` / `until` …) validate-steps.ts checks.
 */

/** An optional field that may also be sent as null, meaning "not set": the stored step leaves it out. */
function Omittable<T extends TSchema>(schema: T) {
  return Type.Optional(Type.Unsafe<Static<T>>(Type.Union([schema, Type.Null()])));
}

export const STEP_ID_PATTERN = '^[a-zA-Z][a-zA-Z0-9_]{0,63}$';
const ID_SUFFIX = '[0-7][0-9a-hjkmnp-tv-z]{25}$';

const StepId = Type.String({ pattern: STEP_ID_PATTERN, description: 'A letter, then up to 63 letters, digits or underscores; unique in the whole definition, nested steps included.' });
const Expression = (description: string) => Type.String({ description });
const Duration = (description: string) =>
  Type.String({ pattern: '^(\\d+(ms|s|m|h|d))+$', description: `${description}: 500ms, 30s, 5m, 2h, 1d or combined (1h30m), at most 365d.` });
/** Nested steps (a case, a branch, a map's iteration, an approval's timeout path). */
const Steps = (options: { minItems?: number; description: string }) => Type.Array(Type.Ref('WorkflowStep'), options);
/** Nested steps that may be left out (or sent as null). */
const OptionalSteps = (description: string) => Type.Optional(Type.Union([Steps({ description }), Type.Null()]));

export const RetrySchema = Type.Object({
  max_attempts: Omittable(Type.Integer({ minimum: 1, maximum: 20, description: 'Attempts in all, the first included (1: no retry). Default 3.' })),
  backoff_ms: Omittable(Type.Integer({ minimum: 0, maximum: 3_600_000, description: 'The first backoff; each retry waits backoff_ms × 2^(attempt-1). Default 1000.' })),
  max_backoff_ms: Omittable(Type.Integer({ minimum: 0, maximum: 86_400_000, description: 'The longest backoff. Default 60000.' })),
}, { additionalProperties: false, description: 'A retry policy: agent, http and workflow steps retry failures that a new attempt can fix.' });

/** The fields every step has, then its type and its own fields. */
function StepObject<T extends string, P extends Record<string, TSchema>>(type: T, fields: P, description: string) {
  return Type.Object({
    id: StepId,
    type: Type.Literal(type),
    name: Omittable(Type.String({ maxLength: 200 })),
    retry: Omittable(RetrySchema),
    ...fields,
  }, { additionalProperties: false, description });
}

const HttpMethod = Type.Unsafe<'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'>(Type.String({
  pattern: '^([Gg][Ee][Tt]|[Pp][Oo][Ss][Tt]|[Pp][Uu][Tt]|[Pp][Aa][Tt][Cc][Hh]|[Dd][Ee][Ll][Ee][Tt][Ee])$',
  // Any case is accepted; the stored step has it upper-cased.
  description: 'GET, POST, PUT, PATCH or DELETE.',
}));

const STEP_OBJECTS = {
  agent: StepObject('agent', {
    agent: Type.String({ pattern: `^agent_${ID_SUFFIX}`, description: 'An agent of the same workspace and mode; its active version when the step runs.' }),
    input: Expression("Expression: the agent's input (a string; anything else is sent as JSON text)."),
  }, "Runs an agent to completion; the output is the agent's answer."),
  http: StepObject('http', {
    method: HttpMethod,
    url: Type.String({ minLength: 1, description: 'Template: https://api.example.com/leads/{{ input.id }}.' }),
    headers: Omittable(Type.Record(Type.String(), Type.String(), { description: 'Header names to templates. Idempotency-Key is always set by KAIRO.' })),
    body: Omittable(Expression('Expression: the JSON body (not sent for GET and DELETE).')),
    timeout_ms: Omittable(Type.Integer({ minimum: 1, maximum: 60_000, description: 'Default 15000.' })),
  }, 'Sends a request; the output is { status, headers, body } (body parsed when JSON).'),
  transform: StepObject('transform', {
    expression: Expression("Expression: the step's output."),
  }, "The expression's value is the output."),
  branch: StepObject('branch', {
    cases: Type.Array(Type.Object({
      when: Expression('Expression: this case runs when it is truthy.'),
      steps: Steps({ minItems: 1, description: 'The steps this case runs.' }),
    }, { additionalProperties: false }), { minItems: 1, description: 'In order; the first case whose when is truthy runs.' }),
    default: OptionalSteps('Runs when no case matches (nothing runs without it).'),
  }, "Runs the steps of one case; the output is that sequence's last output."),
  parallel: StepObject('parallel', {
    branches: Type.Array(Type.Object({
      name: Type.String({ pattern: STEP_ID_PATTERN, description: 'Unique in the step: the key of its output.' }),
      steps: Steps({ minItems: 1, description: 'The steps of this branch.' }),
    }, { additionalProperties: false }), { minItems: 1, maxItems: 20, description: 'Run at once and joined.' }),
  }, 'Runs its branches at once; the output is { <branch name>: <last output> }.'),
  map: StepObject('map', {
    items: Expression('Expression: the array to iterate (evaluated once; the list is stored).'),
    steps: Steps({ minItems: 1, description: 'Run for each item, with item and index in scope.' }),
    concurrency: Omittable(Type.Integer({ minimum: 1, maximum: 50, description: 'Items processed at once. Default 4.' })),
  }, 'Runs its steps once per item; the output is one last output per item, in item order.'),
  delay: StepObject('delay', {
    duration: Omittable(Duration('How long to wait (one of duration and until)')),
    until: Omittable(Expression('Expression: an RFC 3339 time or epoch milliseconds to wait until (one of duration and until).')),
  }, 'Waits; the output is { waited_until }.'),
  approval: StepObject('approval', {
    prompt: Omittable(Type.String({ maxLength: 2_000, description: 'Shown to whoever resumes the run.' })),
    timeout: Omittable(Duration('How long to wait; without it the run waits until resumed or cancelled')),
    on_timeout: OptionalSteps('Runs when the timeout passes (the output is then null); without it the step fails. Needs a timeout.'),
  }, "Waits for POST …/resume; the output is the data sent with it."),
  workflow: StepObject('workflow', {
    workflow: Type.String({ pattern: `^wf_${ID_SUFFIX}`, description: 'A workflow of the same workspace and mode; its current version.' }),
    input: Omittable(Expression("Expression: the called workflow's input. Default {}.")),
  }, "Runs another workflow; the output is the called run's output."),
};

type StepTypeName = keyof typeof STEP_OBJECTS;
const defName = (type: string) => `Workflow${type[0]!.toUpperCase()}${type.slice(1)}Step`;

/** The step types with their nested steps resolved: the source of the Step type. */
const StepTypes = Type.Cyclic({
  WorkflowStep: Type.Union([
    Type.Ref('WorkflowAgentStep'), Type.Ref('WorkflowHttpStep'), Type.Ref('WorkflowTransformStep'), Type.Ref('WorkflowBranchStep'),
    Type.Ref('WorkflowParallelStep'), Type.Ref('WorkflowMapStep'), Type.Ref('WorkflowDelayStep'), Type.Ref('WorkflowApprovalStep'),
    Type.Ref('WorkflowWorkflowStep'),
  ]),
  WorkflowAgentStep: STEP_OBJECTS.agent,
  WorkflowHttpStep: STEP_OBJECTS.http,
  WorkflowTransformStep: STEP_OBJECTS.transform,
  WorkflowBranchStep: STEP_OBJECTS.branch,
  WorkflowParallelStep: STEP_OBJECTS.parallel,
  WorkflowMapStep: STEP_OBJECTS.map,
  WorkflowDelayStep: STEP_OBJECTS.delay,
  WorkflowApprovalStep: STEP_OBJECTS.approval,
  WorkflowWorkflowStep: STEP_OBJECTS.workflow,
}, 'WorkflowStep');

export type Step = Static<typeof StepTypes>;

/**
 * A step as validated and documented. The union is checked by `type` first (an if/then per
 * type) instead of as an `anyOf`: a validator then reports the problem in the step's own type
 * ("transform step needs 'expression'"), not the first other type it does not match.
 */
export const StepSchema = Type.Unsafe<Step>({
  ...StepTypes,
  $defs: {
    ...StepTypes.$defs,
    WorkflowStep: {
      $id: 'WorkflowStep',
      type: 'object',
      description: 'A step; its type says which fields it takes (see docs/workflows.md).',
      examples: [{ id: 'double', type: 'transform', expression: 'input.n * 2' }],
      required: ['id', 'type'],
      properties: { id: StepId, type: { type: 'string', enum: Object.keys(STEP_OBJECTS) } },
      allOf: (Object.keys(STEP_OBJECTS) as StepTypeName[]).map((type) => ({
        if: { properties: { type: { const: type } }, required: ['type'] },
        then: { $ref: defName(type) },
      })),
    },
  },
});
