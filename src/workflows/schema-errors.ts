import type { ErrorObject } from 'ajv';
import { KairoError } from '../errors.js';

/** The path of a field as an error's `param` names it: `steps[0].headers["X-Key"]`. */
export function key(base: string, name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return `${base}[${JSON.stringify(name)}]`;
  return base === '' ? name : `${base}.${name}`;
}

export function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

/** What a value on the path to an error is: a step, a list of steps, a case or branch, a retry policy. */
type Role = 'sequence' | 'step' | 'entries' | 'entry' | 'retry' | 'other';

function roleOf(parent: Role, field: string): Role {
  switch (parent) {
    case 'sequence':
      return 'step';
    case 'step':
      if (field === 'steps' || field === 'default' || field === 'on_timeout') return 'sequence';
      if (field === 'cases' || field === 'branches') return 'entries';
      return field === 'retry' ? 'retry' : 'other';
    case 'entries':
      return 'entry';
    case 'entry':
      return field === 'steps' ? 'sequence' : 'other';
    default:
      return 'other';
  }
}

/**
 * The first schema error of a list of steps (or of a retry policy) as the KairoError a client gets:
 * `param` is the field's path under `base`, and the message names the step.
 */
export function shapeError(error: ErrorObject, root: unknown, base: string, rootRole: 'sequence' | 'retry'): KairoError {
  let value = root;
  let param = base;
  let role: Role = rootRole;
  let step: Record<string, unknown> | undefined;
  let stepParam = '';
  for (const raw of error.instancePath.split('/').slice(1)) {
    const field = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    param = Array.isArray(value) ? `${param}[${field}]` : key(param, field);
    value = (value as Record<string, unknown>)[field];
    role = roleOf(role, field);
    if (role === 'step') {
      step = value as Record<string, unknown>;
      stepParam = param;
    }
  }
  const id = typeof step?.id === 'string' ? step.id : undefined;
  const type = String(step?.type);
  const prefix = id !== undefined ? `Step '${id}': ` : step ? `The step at ${stepParam}: ` : '';
  const label = step ? param.slice(stepParam.length + 1) : param;
  const invalid = (message: string, at = param) => new KairoError('parameter_invalid', { message, param: at });

  if (error.keyword === 'required') {
    const field = String(error.params.missingProperty);
    const missing = (message: string) => new KairoError('parameter_missing', { message, param: key(param, field) });
    if (role === 'step' && field === 'id') return missing(`The step at ${param} has no 'id'.`);
    if (role === 'step' && field === 'type') return missing(`Step '${id}' has no 'type'.`);
    if (role === 'step') return missing(`${prefix}${article(type)} ${type} step needs '${field}'.`);
    return missing(`${prefix}${param} needs '${field}'.`);
  }
  if (error.keyword === 'additionalProperties') {
    const field = String(error.params.additionalProperty);
    const where = role === 'step' ? ` for ${article(type)} ${type} step` : role === 'retry' ? " in 'retry'" : '';
    return new KairoError('parameter_unknown', { message: `${prefix}unknown field '${field}'${where}.`, param: key(param, field) });
  }
  if (role === 'step' && error.keyword === 'type') return invalid(`The step at ${param} must be an object.`);
  if (error.keyword === 'enum') return invalid(`${prefix}'${label}' must be one of ${(error.params.allowedValues as unknown[]).join(', ')}.`);
  const description = (error.parentSchema as { description?: string } | undefined)?.description;
  if (error.keyword === 'pattern' && description) return invalid(`${prefix}'${label}' is not valid: ${description}`);
  return invalid(`${prefix}'${label}' ${error.message ?? 'is not valid'}.`);
}
