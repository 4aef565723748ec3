import { Cron } from 'croner';
import { schemaProblem, validateArguments } from '../agents/tools/json-schema.js';
import { KairoError, type ErrorCode } from '../errors.js';
import { DEFAULT_RETRY, type ScheduleDefinition, type WorkflowDefinition } from './definition.js';
import { key } from './schema-errors.js';
import { checkAgents, checkExpression, checkSequenceExpressions, checkWorkflowCalls, type DefinitionLookups } from './validate-references.js';
import { shapeRetry, shapeSteps } from './validate-steps.js';

export type { DefinitionLookups } from './validate-references.js';

const MAX_NAME = 200;
const MAX_DESCRIPTION = 2_000;

const TOP_LEVEL_FIELDS = new Set(['name', 'description', 'input_schema', 'steps', 'output', 'retry', 'schedule', 'metadata']);
const SCHEDULE_FIELDS = new Set(['cron', 'timezone', 'input']);

type Json = Record<string, unknown>;

/**
 * Check a workflow definition as the client sent it and return it normalized: top-level
 * defaults filled, steps as given (http `method` upper-cased). Every problem is a KairoError
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
  const { steps, ids } = shapeSteps(body.steps, stepsParam);
  checkSequenceExpressions(steps, stepsParam, new Set(), ids);

  const output = body.output ?? null;
  if (output !== null) {
    const outputParam = key(param, 'output');
    if (typeof output !== 'string') fail("'output' must be a string (a JSONata expression), or null.", outputParam);
    checkExpression({ label: "'output'", kind: 'expression', field: 'output', param: outputParam, source: output }, new Set(ids.keys()), ids);
  }

  const retry = { ...DEFAULT_RETRY, ...(body.retry === undefined || body.retry === null ? {} : shapeRetry(body.retry, key(param, 'retry'))) };
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
  throw new KairoError(code, { message, param });
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

