import { Cron } from 'croner';
import { schemaProblem, validateArguments } from '../agents/tools/json-schema.js';
import { ApiError, type ErrorCode } from '../errors.js';
import { isId } from '../ids.js';
import {
  DEFAULT_RETRY,
  STEP_TYPES,
  allSteps,
  parseDuration,
  type RetryPolicy,
  type ScheduleDefinition,
  type Step,
  type StepType,
  type WorkflowDefinition,
} from './definition.js';
import { compileExpression, stepReferences, templateExpressions } from './expressions.js';

/** What validation needs to know beyond the definition itself, scoped to the caller. */
export interface DefinitionLookups {
  /** True when an agent with this id exists in the caller's workspace and mode. */
  agentExists(id: string): Promise<boolean>;
  /** The current definition of a workflow of the caller's workspace and mode, or undefined. */
  workflowDefinition(id: string): Promise<WorkflowDefinition | undefined>;
  /** The id of the workflow being replaced (PUT), undefined when creating. */
  selfId?: string;
}

const MAX_NAME = 200;
const MAX_DESCRIPTION = 2_000;
const MAX_PROMPT = 2_000;
const MAX_STEPS = 200;
const MAX_NESTING = 8;
const MAX_BRANCHES = 20;
const MAX_DURATION_MS = 365 * 86_400_000;
/** Levels of workflow-calls-workflow below the one being validated. */
const MAX_CALL_DEPTH = 16;
const ID_PATTERN = /^[a-zA-Z][a-zA-Z0-9_]{0,63}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

const TOP_LEVEL_FIELDS = new Set(['name', 'description', 'input_schema', 'steps', 'output', 'retry', 'schedule', 'metadata']);
const SCHEDULE_FIELDS = new Set(['cron', 'timezone', 'input']);
const RETRY_LIMITS: Record<keyof RetryPolicy, [number, number]> = {
  max_attempts: [1, 20],
  backoff_ms: [0, 3_600_000],
  max_backoff_ms: [0, 86_400_000],
};
const COMMON_FIELDS = ['id', 'type', 'name', 'retry'];
const STEP_FIELDS: Record<StepType, Set<string>> = {
  agent: new Set([...COMMON_FIELDS, 'agent', 'input']),
  http: new Set([...COMMON_FIELDS, 'method', 'url', 'headers', 'body', 'timeout_ms']),
  transform: new Set([...COMMON_FIELDS, 'expression']),
  branch: new Set([...COMMON_FIELDS, 'cases', 'default']),
  parallel: new Set([...COMMON_FIELDS, 'branches']),
  map: new Set([...COMMON_FIELDS, 'items', 'steps', 'concurrency']),
  delay: new Set([...COMMON_FIELDS, 'duration', 'until']),
  approval: new Set([...COMMON_FIELDS, 'prompt', 'timeout', 'on_timeout']),
  workflow: new Set([...COMMON_FIELDS, 'workflow', 'input']),
};

type Json = Record<string, unknown>;

/**
 * Check a workflow definition as the client sent it and return it normalized: top-level
 * defaults filled, steps as given (http `method` upper-cased). Every problem is an ApiError
 * whose `param` is the JSON path of the offending field, prefixed by `param`.
 */
export async function validateWorkflowDefinition(body: unknown, lookups: DefinitionLookups, param = ''): Promise<WorkflowDefinition> {
  if (!isObject(body)) fail('The workflow definition must be an object.', param);
  for (const field of Object.keys(body)) {
    if (!TOP_LEVEL_FIELDS.has(field)) fail(`Unknown field '${field}'.`, key(param, field), 'parameter_unknown');
  }

  const name = body.name;
  if (name === undefined || name === null) fail("The workflow needs a 'name'.", key(param, 'name'), 'parameter_missing');
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_NAME) {
    fail(`'name' must be a non-empty string of at most ${MAX_NAME} characters.`, key(param, 'name'));
  }

  const description = body.description ?? null;
  if (description !== null && (typeof description !== 'string' || description.length > MAX_DESCRIPTION)) {
    fail(`'description' must be a string of at most ${MAX_DESCRIPTION} characters, or null.`, key(param, 'description'));
  }

  const inputSchema = body.input_schema ?? null;
  if (inputSchema !== null) {
    const problem = schemaProblem(inputSchema);
    if (problem !== undefined) fail(`'input_schema' ${problem}.`, key(param, 'input_schema'));
  }

  const stepsParam = key(param, 'steps');
  if (body.steps === undefined || body.steps === null) fail("The workflow needs 'steps'.", stepsParam, 'parameter_missing');
  const shaping: Shaping = { count: 0, ids: new Map() };
  const steps = shapeSequence(body.steps, stepsParam, shaping, 1, "'steps'", false);
  checkSequenceExpressions(steps, stepsParam, new Set(), shaping.ids);

  const output = body.output ?? null;
  if (output !== null) {
    const outputParam = key(param, 'output');
    if (typeof output !== 'string') fail("'output' must be a string (a JSONata expression), or null.", outputParam);
    const visible = new Set(shaping.ids.keys());
    checkExpression({ label: "'output'", kind: 'expression', field: 'output', param: outputParam, source: output }, visible, shaping.ids);
  }

  const retry = { ...DEFAULT_RETRY, ...(body.retry === undefined || body.retry === null ? {} : parseRetry(body.retry, key(param, 'retry'), '')) };
  const schedule = parseSchedule(body.schedule, key(param, 'schedule'), inputSchema as Json | null);

  await checkAgents(steps, stepsParam, lookups);
  await checkWorkflowCalls(steps, stepsParam, lookups);

  return {
    name,
    description,
    input_schema: inputSchema as Json | null,
    steps,
    output,
    retry,
    schedule,
  } as WorkflowDefinition;
}

/** Check a run's input against the workflow's `input_schema` (nothing to check without one). */
export function validateRunInput(definition: WorkflowDefinition, input: unknown, param = 'input'): void {
  if (definition.input_schema === null) return;
  const problem = schemaProblem(definition.input_schema);
  if (problem !== undefined) fail(`The workflow's input_schema is unusable: ${problem}.`, param);
  const check = validateArguments(definition.input_schema, input);
  if (!check.ok) fail(check.error.replace(/^arguments/, param), param);
}

function fail(message: string, param: string, code: ErrorCode = 'parameter_invalid'): never {
  throw new ApiError(code, { message, param });
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

function key(base: string, name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `${base}[${JSON.stringify(name)}]`;
  return base === '' ? name : `${base}.${name}`;
}

function parseRetry(raw: unknown, param: string, prefix: string): Partial<RetryPolicy> {
  if (!isObject(raw)) fail(`${prefix}'retry' must be an object.`, param);
  const retry: Partial<RetryPolicy> = {};
  for (const [field, value] of Object.entries(raw)) {
    const limits = RETRY_LIMITS[field as keyof RetryPolicy] as [number, number] | undefined;
    if (!limits) fail(`${prefix}unknown field '${field}' in 'retry'.`, key(param, field), 'parameter_unknown');
    if (value === undefined || value === null) continue;
    retry[field as keyof RetryPolicy] = integer(value, limits, key(param, field), `${prefix}'retry.${field}'`);
  }
  return retry;
}

function integer(value: unknown, [min, max]: [number, number], param: string, label: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${label} must be an integer from ${min} to ${max}.`, param);
  }
  return value;
}

function parseSchedule(raw: unknown, param: string, inputSchema: Json | null): ScheduleDefinition | null {
  if (raw === undefined || raw === null) return null;
  if (!isObject(raw)) fail("'schedule' must be an object, or null.", param);
  for (const field of Object.keys(raw)) {
    if (!SCHEDULE_FIELDS.has(field)) fail(`Unknown field '${field}' in 'schedule'.`, key(param, field), 'parameter_unknown');
  }

  const timezone = raw.timezone ?? 'UTC';
  const timezoneParam = key(param, 'timezone');
  if (typeof timezone !== 'string' || !isTimeZone(timezone)) fail("'schedule.timezone' must be an IANA time zone such as 'Europe/Paris'.", timezoneParam);

  const cron = raw.cron;
  const cronParam = key(param, 'cron');
  if (cron === undefined || cron === null) fail("'schedule' needs a 'cron' pattern.", cronParam, 'parameter_missing');
  if (typeof cron !== 'string') fail("'schedule.cron' must be a string.", cronParam);
  const fields = cron.trim().split(/\s+/).length;
  if (!cron.trim().startsWith('@') && fields !== 5 && fields !== 6) {
    fail("'schedule.cron' must have five fields, or six with seconds first.", cronParam);
  }
  let next: Date | null;
  try {
    const job = new Cron(cron, { timezone, paused: true });
    next = job.nextRun();
    job.stop();
  } catch (error) {
    fail(`'schedule.cron' is invalid: ${error instanceof Error ? error.message : String(error)}`, cronParam);
  }
  if (next === null) fail("'schedule.cron' never fires.", cronParam);

  const input = raw.input === undefined ? {} : raw.input;
  if (inputSchema !== null) {
    const check = validateArguments(inputSchema, input);
    if (!check.ok) fail(check.error.replace(/^arguments/, 'schedule.input'), key(param, 'input'));
  }
  return { cron, timezone, input };
}

function isTimeZone(name: string): boolean {
  if (name === '') return false;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

// ---- Step shapes

interface Shaping {
  /** Steps seen so far, nested ones included. */
  count: number;
  /** Every step id, with the path of the step that declared it. */
  ids: Map<string, string>;
}

function shapeSequence(raw: unknown, param: string, shaping: Shaping, depth: number, label: string, allowEmpty: boolean): Step[] {
  if (!Array.isArray(raw) || (!allowEmpty && raw.length === 0)) {
    fail(`${label} must be ${allowEmpty ? 'an' : 'a non-empty'} array of steps.`, param);
  }
  if (depth > MAX_NESTING) fail(`Steps nest at most ${MAX_NESTING} levels deep.`, param);
  return raw.map((step, i) => shapeStep(step, `${param}[${i}]`, shaping, depth));
}

function shapeStep(raw: unknown, param: string, shaping: Shaping, depth: number): Step {
  if (!isObject(raw)) fail(`The step at ${param} must be an object.`, param);
  if (++shaping.count > MAX_STEPS) fail(`A workflow has at most ${MAX_STEPS} steps, nested ones included.`, param);

  const id = raw.id;
  if (id === undefined || id === null) fail(`The step at ${param} has no 'id'.`, key(param, 'id'), 'parameter_missing');
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    fail(`Step id ${JSON.stringify(id)} is invalid: use a letter, then up to 63 letters, digits or underscores.`, key(param, 'id'));
  }
  const earlier = shaping.ids.get(id);
  if (earlier !== undefined) fail(`Step id '${id}' is used twice: by ${earlier} and by ${param}.`, key(param, 'id'));
  shaping.ids.set(id, param);

  const type = raw.type;
  if (type === undefined || type === null) fail(`Step '${id}' has no 'type'.`, key(param, 'type'), 'parameter_missing');
  if (typeof type !== 'string' || !(STEP_TYPES as readonly string[]).includes(type)) {
    fail(`Step '${id}': 'type' must be one of ${STEP_TYPES.join(', ')}.`, key(param, 'type'));
  }
  const allowed = STEP_FIELDS[type as StepType];
  for (const field of Object.keys(raw)) {
    if (!allowed.has(field)) fail(`Step '${id}': unknown field '${field}' for ${article(type)} ${type} step.`, key(param, field), 'parameter_unknown');
  }

  const fields = new StepFields(raw, param, id, type);
  const step: Json = { id, type };
  const name = fields.optional('name');
  if (name !== undefined) step.name = fields.string('name', MAX_NAME);
  if (fields.optional('retry') !== undefined) step.retry = parseRetry(raw.retry, key(param, 'retry'), `Step '${id}': `);
  const nested = (field: string, value: unknown, fieldParam: string, allowEmpty = false): Step[] =>
    shapeSequence(value, fieldParam, shaping, depth + 1, `Step '${id}': '${field}'`, allowEmpty);

  switch (type as StepType) {
    case 'agent':
      step.agent = fields.reference('agent', 'agent');
      step.input = fields.text('input');
      break;
    case 'http': {
      const method = fields.required('method');
      if (typeof method !== 'string' || !HTTP_METHODS.includes(method.toUpperCase())) {
        fail(`Step '${id}': 'method' must be one of ${HTTP_METHODS.join(', ')}.`, key(param, 'method'));
      }
      step.method = method.toUpperCase();
      step.url = fields.text('url');
      if (step.url === '') fail(`Step '${id}': 'url' must not be empty.`, key(param, 'url'));
      if (fields.optional('headers') !== undefined) step.headers = fields.headers();
      if (fields.optional('body') !== undefined) step.body = fields.text('body');
      if (fields.optional('timeout_ms') !== undefined) step.timeout_ms = integer(raw.timeout_ms, [1, 60_000], key(param, 'timeout_ms'), `Step '${id}': 'timeout_ms'`);
      break;
    }
    case 'transform':
      step.expression = fields.text('expression');
      break;
    case 'branch': {
      const cases = fields.required('cases');
      const casesParam = key(param, 'cases');
      if (!Array.isArray(cases) || cases.length === 0) fail(`Step '${id}': 'cases' must be a non-empty array.`, casesParam);
      step.cases = cases.map((item, i) => {
        const caseParam = `${casesParam}[${i}]`;
        const entry = fields.entry(item, caseParam, ['when', 'steps']);
        if (typeof entry.when !== 'string') fail(`Step '${id}': 'when' must be a string (a JSONata expression).`, key(caseParam, 'when'));
        return { when: entry.when, steps: nested('steps', entry.steps, key(caseParam, 'steps')) };
      });
      if (fields.optional('default') !== undefined) step.default = nested('default', raw.default, key(param, 'default'), true);
      break;
    }
    case 'parallel': {
      const branches = fields.required('branches');
      const branchesParam = key(param, 'branches');
      if (!Array.isArray(branches) || branches.length === 0 || branches.length > MAX_BRANCHES) {
        fail(`Step '${id}': 'branches' must be an array of 1 to ${MAX_BRANCHES} branches.`, branchesParam);
      }
      const names = new Set<string>();
      step.branches = branches.map((item, i) => {
        const branchParam = `${branchesParam}[${i}]`;
        const entry = fields.entry(item, branchParam, ['name', 'steps']);
        const branchName = entry.name;
        if (typeof branchName !== 'string' || !ID_PATTERN.test(branchName)) {
          fail(`Step '${id}': a branch 'name' must be a letter, then up to 63 letters, digits or underscores.`, key(branchParam, 'name'));
        }
        if (names.has(branchName)) fail(`Step '${id}': two branches are named '${branchName}'.`, key(branchParam, 'name'));
        names.add(branchName);
        return { name: branchName, steps: nested('steps', entry.steps, key(branchParam, 'steps')) };
      });
      break;
    }
    case 'map':
      step.items = fields.text('items');
      step.steps = nested('steps', fields.required('steps'), key(param, 'steps'));
      if (fields.optional('concurrency') !== undefined) step.concurrency = integer(raw.concurrency, [1, 50], key(param, 'concurrency'), `Step '${id}': 'concurrency'`);
      break;
    case 'delay': {
      const duration = fields.optional('duration');
      const until = fields.optional('until');
      if (duration !== undefined && until !== undefined) fail(`Step '${id}': a delay takes 'duration' or 'until', not both.`, key(param, 'until'));
      if (duration === undefined && until === undefined) fail(`Step '${id}': a delay needs 'duration' or 'until'.`, key(param, 'duration'), 'parameter_missing');
      if (duration !== undefined) step.duration = fields.duration('duration');
      else step.until = fields.text('until');
      break;
    }
    case 'approval':
      if (fields.optional('prompt') !== undefined) step.prompt = fields.string('prompt', MAX_PROMPT);
      if (fields.optional('timeout') !== undefined) step.timeout = fields.duration('timeout');
      if (fields.optional('on_timeout') !== undefined) {
        if (step.timeout === undefined) fail(`Step '${id}': 'on_timeout' needs a 'timeout'.`, key(param, 'on_timeout'));
        step.on_timeout = nested('on_timeout', raw.on_timeout, key(param, 'on_timeout'), true);
      }
      break;
    case 'workflow':
      step.workflow = fields.reference('workflow', 'wf');
      if (fields.optional('input') !== undefined) step.input = fields.text('input');
      break;
  }
  return step as unknown as Step;
}

/** Typed reads of one step's fields, with errors that name the step and the field. */
class StepFields {
  constructor(
    private readonly raw: Json,
    private readonly param: string,
    private readonly id: string,
    private readonly type: string,
  ) {}

  /** The value, or undefined when absent or null (null means "not set"). */
  optional(field: string): unknown {
    const value = this.raw[field];
    return value === null ? undefined : value;
  }

  required(field: string): unknown {
    const value = this.optional(field);
    if (value === undefined) fail(`Step '${this.id}': ${article(this.type)} ${this.type} step needs '${field}'.`, key(this.param, field), 'parameter_missing');
    return value;
  }

  string(field: string, max: number): string {
    const value = this.required(field);
    if (typeof value !== 'string' || value.length > max) fail(`Step '${this.id}': '${field}' must be a string of at most ${max} characters.`, key(this.param, field));
    return value;
  }

  /** An expression or template; whether it parses is checked once all step ids are known. */
  text(field: string): string {
    const value = this.required(field);
    if (typeof value !== 'string') fail(`Step '${this.id}': '${field}' must be a string.`, key(this.param, field));
    return value;
  }

  reference(field: string, prefix: 'agent' | 'wf'): string {
    const value = this.required(field);
    if (typeof value !== 'string' || !isId(prefix, value)) fail(`Step '${this.id}': '${field}' must be a ${field} id (${prefix}_…).`, key(this.param, field));
    return value;
  }

  duration(field: string): string {
    const value = this.required(field);
    const ms = typeof value === 'string' ? parseDuration(value) : undefined;
    if (ms === undefined || ms > MAX_DURATION_MS) {
      fail(`Step '${this.id}': '${field}' must be a duration such as 500ms, 30s, 5m, 2h, 1d or 1h30m, at most 365d.`, key(this.param, field));
    }
    return value as string;
  }

  headers(): Record<string, string> {
    const value = this.required('headers');
    const param = key(this.param, 'headers');
    if (!isObject(value)) fail(`Step '${this.id}': 'headers' must be an object of header names to strings.`, param);
    for (const [name, text] of Object.entries(value)) {
      if (!HEADER_NAME.test(name)) fail(`Step '${this.id}': '${name}' is not a valid header name.`, key(param, name));
      if (typeof text !== 'string') fail(`Step '${this.id}': header '${name}' must be a string.`, key(param, name));
    }
    return { ...(value as Record<string, string>) };
  }

  /** An element of `cases` or `branches`: an object with exactly these fields (all required). */
  entry(raw: unknown, param: string, fields: string[]): Json {
    if (!isObject(raw)) fail(`Step '${this.id}': each element of ${param} must be an object.`, param);
    for (const field of Object.keys(raw)) {
      if (!fields.includes(field)) fail(`Step '${this.id}': unknown field '${field}'.`, key(param, field), 'parameter_unknown');
    }
    for (const field of fields) {
      if (raw[field] === undefined || raw[field] === null) fail(`Step '${this.id}': ${param} needs '${field}'.`, key(param, field), 'parameter_missing');
    }
    return raw;
  }
}

// ---- Expressions and the steps they read

interface ExpressionField {
  /** Who reads: `Step 'x'` or `'output'`. */
  label: string;
  kind: 'expression' | 'template';
  /** The field as named in messages: `input`, `when`, `headers.X-Key`. */
  field: string;
  param: string;
  source: string;
}

/** A sequence's steps paired with their paths, nested ones included, depth first. */
function* walk(steps: Step[], param: string): Generator<{ step: Step; param: string }> {
  for (const [i, step] of steps.entries()) {
    const stepParam = `${param}[${i}]`;
    yield { step, param: stepParam };
    for (const sequence of nestedSequences(step, stepParam)) yield* walk(sequence.steps, sequence.param);
  }
}

/** The nested sequences of a step with their paths, in the order of childSequences. */
function nestedSequences(step: Step, param: string): Array<{ steps: Step[]; param: string }> {
  switch (step.type) {
    case 'branch':
      return [
        ...step.cases.map((c, i) => ({ steps: c.steps, param: `${param}.cases[${i}].steps` })),
        ...(step.default ? [{ steps: step.default, param: `${param}.default` }] : []),
      ];
    case 'parallel':
      return step.branches.map((b, i) => ({ steps: b.steps, param: `${param}.branches[${i}].steps` }));
    case 'map':
      return [{ steps: step.steps, param: `${param}.steps` }];
    case 'approval':
      return step.on_timeout ? [{ steps: step.on_timeout, param: `${param}.on_timeout` }] : [];
    default:
      return [];
  }
}

/** The expressions a step evaluates itself, before any of its nested steps run. */
function ownExpressions(step: Step, param: string): ExpressionField[] {
  const label = `Step '${step.id}'`;
  const expression = (field: string, source: string | undefined, fieldParam = key(param, field)): ExpressionField[] =>
    source === undefined ? [] : [{ label, kind: 'expression', field, param: fieldParam, source }];
  switch (step.type) {
    case 'agent':
      return expression('input', step.input);
    case 'http':
      return [
        { label, kind: 'template', field: 'url', param: key(param, 'url'), source: step.url },
        ...Object.entries(step.headers ?? {}).map(([name, source]): ExpressionField => ({
          label,
          kind: 'template',
          field: `headers.${name}`,
          param: key(key(param, 'headers'), name),
          source,
        })),
        ...expression('body', step.body),
      ];
    case 'transform':
      return expression('expression', step.expression);
    case 'branch':
      return step.cases.flatMap((c, i) => expression('when', c.when, `${param}.cases[${i}].when`));
    case 'map':
      return expression('items', step.items);
    case 'delay':
      return expression('until', step.until);
    case 'workflow':
      return expression('input', step.input);
    default:
      return [];
  }
}

/**
 * Parse every expression of a sequence and check the steps it reads have finished by then:
 * earlier steps of this sequence and of every enclosing one, with everything nested in them.
 */
function checkSequenceExpressions(steps: Step[], param: string, visibleBefore: Set<string>, ids: Map<string, string>): void {
  const visible = new Set(visibleBefore);
  for (const [i, step] of steps.entries()) {
    const stepParam = `${param}[${i}]`;
    for (const field of ownExpressions(step, stepParam)) checkExpression(field, visible, ids);
    for (const sequence of nestedSequences(step, stepParam)) checkSequenceExpressions(sequence.steps, sequence.param, visible, ids);
    for (const done of allSteps([step])) visible.add(done.id);
  }
}

function checkExpression(field: ExpressionField, visible: Set<string>, ids: Map<string, string>): void {
  let sources: string[];
  try {
    sources = field.kind === 'template' ? templateExpressions(field.source) : [field.source];
    for (const source of sources) compileExpression(source);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const subject = field.label === "'output'" ? "Expression in 'output'" : `${field.label}: ${field.kind} in '${field.field}'`;
    fail(`${subject} does not parse: ${reason}`, field.param);
  }
  for (const source of sources) {
    for (const ref of stepReferences(source)) {
      if (!ids.has(ref)) fail(`${field.label} reads steps.${ref}, but there is no step '${ref}'.`, field.param);
      if (!visible.has(ref)) fail(`${field.label} reads steps.${ref}, which does not run before it (a cycle or forward reference).`, field.param);
    }
  }
}

// ---- Lookups

async function checkAgents(steps: Step[], param: string, lookups: DefinitionLookups): Promise<void> {
  const firstUse = new Map<string, { id: string; param: string }>();
  for (const { step, param: stepParam } of walk(steps, param)) {
    if (step.type === 'agent' && !firstUse.has(step.agent)) firstUse.set(step.agent, { id: step.id, param: key(stepParam, 'agent') });
  }
  const agents = [...firstUse.keys()];
  const exists = await Promise.all(agents.map((agent) => lookups.agentExists(agent)));
  const missing = agents.findIndex((_, i) => !exists[i]);
  if (missing !== -1) {
    const agent = agents[missing]!;
    const use = firstUse.get(agent)!;
    fail(`Step '${use.id}': no agent '${agent}'.`, use.param, 'resource_missing');
  }
}

class CallCycle extends Error {}
class CallsTooDeep extends Error {}

async function checkWorkflowCalls(steps: Step[], param: string, lookups: DefinitionLookups): Promise<void> {
  const graph = new CallGraph(lookups);
  for (const { step, param: stepParam } of walk(steps, param)) {
    if (step.type !== 'workflow') continue;
    const callee = step.workflow;
    const calleeParam = key(stepParam, 'workflow');
    if (callee === lookups.selfId) fail(`Step '${step.id}' calls ${callee}, which is this workflow (a cycle).`, calleeParam);
    if ((await graph.definition(callee)) === undefined) fail(`Step '${step.id}': no workflow '${callee}'.`, calleeParam, 'resource_missing');
    let depth: number;
    try {
      depth = 1 + (await graph.height(callee, []));
    } catch (error) {
      if (error instanceof CallCycle) fail(`Step '${step.id}' calls ${callee}, which calls this workflow back (a cycle).`, calleeParam);
      if (error instanceof CallsTooDeep) depth = Infinity;
      else throw error;
    }
    if (depth > MAX_CALL_DEPTH) {
      fail(`Step '${step.id}' calls ${callee}, whose workflow calls nest more than ${MAX_CALL_DEPTH} levels deep.`, calleeParam);
    }
  }
}

/** The workflows reachable through workflow steps, fetched once each. */
class CallGraph {
  private readonly definitions = new Map<string, Promise<WorkflowDefinition | undefined>>();
  private readonly heights = new Map<string, number>();

  constructor(private readonly lookups: DefinitionLookups) {}

  definition(id: string): Promise<WorkflowDefinition | undefined> {
    let definition = this.definitions.get(id);
    if (!definition) {
      definition = this.lookups.workflowDefinition(id);
      this.definitions.set(id, definition);
    }
    return definition;
  }

  /**
   * Levels of workflow calls below `id` (0 when it calls none). Throws CallCycle when a path
   * leads back to the workflow being validated, CallsTooDeep past MAX_CALL_DEPTH levels.
   */
  async height(id: string, chain: string[]): Promise<number> {
    if (id === this.lookups.selfId) throw new CallCycle();
    const known = this.heights.get(id);
    if (known !== undefined) return known;
    // A loop among other workflows only (two concurrent replacements can store one): not this
    // definition's to report.
    if (chain.includes(id)) return 0;
    if (chain.length >= MAX_CALL_DEPTH) throw new CallsTooDeep();
    const definition = await this.definition(id);
    let height = 0;
    if (definition) {
      const callees = new Set<string>();
      for (const step of allSteps(definition.steps)) if (step.type === 'workflow') callees.add(step.workflow);
      for (const callee of callees) height = Math.max(height, 1 + (await this.height(callee, [...chain, id])));
    }
    this.heights.set(id, height);
    return height;
  }
}
