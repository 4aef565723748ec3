import { Ajv, type ValidateFunction } from 'ajv';
import { Type } from 'typebox';
import { KairoError, type ErrorCode } from '../errors.js';
import { parseDuration, type RetryPolicy, type Step } from './definition.js';
import { RetrySchema, StepSchema } from './step-schemas.js';
import { key, shapeError } from './schema-errors.js';

const MAX_STEPS = 200;
const MAX_NESTING = 8;
const MAX_DURATION_MS = 365 * 86_400_000;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

// Checked the way the HTTP API checks request bodies (src/http/app.ts): as sent, first error only.
const ajv = new Ajv({ coerceTypes: false, removeAdditional: false, allErrors: false, strict: false, verbose: true });
let validators: { steps: ValidateFunction; retry: ValidateFunction } | undefined;

function compiled() {
  // No maxItems: the steps are counted with the nested ones below, naming the one too many.
  validators ??= { steps: ajv.compile(Type.Array(StepSchema, { minItems: 1 })), retry: ajv.compile(RetrySchema) };
  return validators;
}

function fail(message: string, param: string, code: ErrorCode = 'parameter_invalid'): never {
  throw new KairoError(code, { message, param });
}

/** A retry policy as sent (fields set to null are left out). */
export function shapeRetry(raw: unknown, param: string): Partial<RetryPolicy> {
  const { retry } = compiled();
  if (!retry(raw)) throw shapeError(retry.errors![0]!, raw, param, 'retry');
  return withoutNulls(raw as Record<string, unknown>) as Partial<RetryPolicy>;
}

/**
 * Checks a definition's steps against their schemas and what the schemas cannot say: at most
 * 200 steps and 8 levels, unique ids and branch names, header names, one of a delay's
 * `duration` and `until`, durations up to 365 days, `on_timeout` only with a `timeout`.
 * Returns the steps as stored (null fields left out, http methods upper-cased) and each id's path.
 */
export function shapeSteps(raw: unknown, param: string): { steps: Step[]; ids: Map<string, string> } {
  const { steps: valid } = compiled();
  if (!valid(raw)) throw shapeError(valid.errors![0]!, raw, param, 'sequence');
  const steps = (raw as Array<Record<string, unknown>>).map(stored);
  const seen = { count: 0, ids: new Map<string, string>() };
  checkSequence(steps, param, 1, seen);
  return { steps, ids: seen.ids };
}

function checkSequence(steps: Step[], param: string, depth: number, seen: { count: number; ids: Map<string, string> }): void {
  if (depth > MAX_NESTING) fail(`Steps nest at most ${MAX_NESTING} levels deep.`, param);
  for (const [i, step] of steps.entries()) {
    const stepParam = `${param}[${i}]`;
    if (++seen.count > MAX_STEPS) fail(`A workflow has at most ${MAX_STEPS} steps, nested ones included.`, stepParam);
    const earlier = seen.ids.get(step.id);
    if (earlier !== undefined) fail(`Step id '${step.id}' is used twice: by ${earlier} and by ${stepParam}.`, key(stepParam, 'id'));
    seen.ids.set(step.id, stepParam);
    checkStep(step, stepParam);
    for (const sequence of nestedSequences(step, stepParam)) checkSequence(sequence.steps, sequence.param, depth + 1, seen);
  }
}

function checkStep(step: Step, param: string): void {
  const problem = (message: string, field: string, code?: ErrorCode) => fail(`Step '${step.id}': ${message}`, field, code);
  const duration = (field: 'duration' | 'timeout', value: string) => {
    if (parseDuration(value)! > MAX_DURATION_MS) problem(`'${field}' must be a duration such as 500ms, 30s, 5m, 2h, 1d or 1h30m, at most 365d.`, key(param, field));
  };
  switch (step.type) {
    case 'http':
      for (const name of Object.keys(step.headers ?? {})) {
        if (!HEADER_NAME.test(name)) problem(`'${name}' is not a valid header name.`, key(key(param, 'headers'), name));
      }
      break;
    case 'parallel': {
      const names = new Set<string>();
      for (const [i, branch] of step.branches.entries()) {
        if (names.has(branch.name)) problem(`two branches are named '${branch.name}'.`, `${param}.branches[${i}].name`);
        names.add(branch.name);
      }
      break;
    }
    case 'delay':
      if (step.duration !== undefined && step.until !== undefined) problem("a delay takes 'duration' or 'until', not both.", key(param, 'until'));
      if (step.duration === undefined && step.until === undefined) problem("a delay needs 'duration' or 'until'.", key(param, 'duration'), 'parameter_missing');
      if (step.duration !== undefined) duration('duration', step.duration);
      break;
    case 'approval':
      if (step.timeout !== undefined) duration('timeout', step.timeout);
      if (step.on_timeout !== undefined && step.timeout === undefined) problem("'on_timeout' needs a 'timeout'.", key(param, 'on_timeout'));
      break;
    default:
      break;
  }
}

/** A step as stored: fields sent as null (not set) left out, the http method upper-cased. */
function stored(raw: Record<string, unknown>): Step {
  const step = withoutNulls(raw);
  if (step.retry) step.retry = withoutNulls(step.retry as Record<string, unknown>);
  if (step.type === 'http') step.method = String(step.method).toUpperCase();
  if (step.headers) step.headers = { ...(step.headers as Record<string, string>) };
  for (const field of ['steps', 'default', 'on_timeout']) {
    if (Array.isArray(step[field])) step[field] = (step[field] as Array<Record<string, unknown>>).map(stored);
  }
  for (const field of ['cases', 'branches']) {
    if (Array.isArray(step[field])) {
      step[field] = (step[field] as Array<Record<string, unknown>>).map((entry) => ({ ...entry, steps: (entry.steps as Array<Record<string, unknown>>).map(stored) }));
    }
  }
  return step as unknown as Step;
}

function withoutNulls(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== null));
}

/** A sequence's steps paired with their paths, nested ones included, depth first. */
export function* walk(steps: Step[], param: string): Generator<{ step: Step; param: string }> {
  for (const [i, step] of steps.entries()) {
    const stepParam = `${param}[${i}]`;
    yield { step, param: stepParam };
    for (const sequence of nestedSequences(step, stepParam)) yield* walk(sequence.steps, sequence.param);
  }
}

/** The nested sequences of a step with their paths, in the order of childSequences. */
export function nestedSequences(step: Step, param: string): Array<{ steps: Step[]; param: string }> {
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
