import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/** Largest tool parameter schema accepted, serialised. */
export const MAX_SCHEMA_BYTES = 32 * 1024;
/** Deepest nesting of objects and arrays accepted in a tool parameter schema. */
const MAX_SCHEMA_DEPTH = 32;
/** Compiled validators kept, least recently used dropped first. */
const CACHE_SIZE = 512;

type Dialect = 'draft-07' | '2019-09' | '2020-12';
type AnyAjv = Ajv | Ajv2019 | Ajv2020;

/** Arguments checked against a tool's schema: `ok`, or a short message naming the first problem. */
export type ArgumentsCheck = { ok: true; error?: undefined } | { ok: false; error: string };

/** Why a schema was refused, or the compiled validator. */
type Compiled = { validate: ValidateFunction; problem?: undefined } | { validate?: undefined; problem: string };

/**
 * Compiled schemas. A process-wide cache of pure functions (no configuration, no I/O), so one
 * agent's schema is compiled once, not once per run: keyed by object for the same definition
 * object and by serialised text for the same schema loaded again.
 */
const byObject = new WeakMap<object, Compiled>();
const byText = new Map<string, Compiled>();
/** One shared Ajv per dialect; schemas that declare ids or anchors get a fresh one (see compile). */
const shared = new Map<Dialect, AnyAjv>();

/**
 * Why `schema` cannot be a tool's parameter schema, or undefined when it can: it must be a JSON
 * Schema (draft-07 by default; `$schema` may name 2019-09 or 2020-12) whose `type` is
 * `"object"`, that Ajv compiles (non-strict: unknown keywords are ignored), at most 32 KiB
 * serialised and 32 levels deep.
 */
export function schemaProblem(schema: unknown): string | undefined {
  return compileSchema(schema).problem;
}

/**
 * Check tool-call arguments against a tool's parameter schema. The message is short enough to
 * hand back to the model, e.g. `arguments.a must be number`. An unusable schema is reported as
 * such rather than thrown.
 */
export function validateArguments(schema: unknown, args: unknown): ArgumentsCheck {
  const compiled = compileSchema(schema);
  if (compiled.problem !== undefined) return { ok: false, error: `The tool's parameter schema is unusable: ${compiled.problem}` };
  if (compiled.validate(args)) return { ok: true };
  return { ok: false, error: describeErrors(compiled.validate.errors ?? []) };
}

function compileSchema(schema: unknown): Compiled {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return { problem: 'must be a JSON Schema object' };
  const cached = byObject.get(schema);
  if (cached) return cached;

  let text: string;
  try {
    text = JSON.stringify(schema);
  } catch {
    return remember(schema, undefined, { problem: 'must be plain JSON' });
  }
  const hit = byText.get(text);
  if (hit) {
    byText.delete(text);
    byText.set(text, hit);
    return remember(schema, undefined, hit);
  }
  return remember(schema, text, compileFresh(schema as Record<string, unknown>, text));
}

function remember(schema: object, text: string | undefined, compiled: Compiled): Compiled {
  byObject.set(schema, compiled);
  if (text !== undefined) {
    byText.set(text, compiled);
    if (byText.size > CACHE_SIZE) byText.delete(byText.keys().next().value!);
  }
  return compiled;
}

function compileFresh(schema: Record<string, unknown>, text: string): Compiled {
  if (Buffer.byteLength(text) > MAX_SCHEMA_BYTES) return { problem: `must be at most ${MAX_SCHEMA_BYTES} bytes as JSON` };
  if (depthOf(schema) > MAX_SCHEMA_DEPTH) return { problem: `must be nested at most ${MAX_SCHEMA_DEPTH} levels deep` };
  if (schema.type !== 'object') return { problem: 'must have "type": "object"' };

  const dialect = dialectOf(schema.$schema);
  if (dialect === undefined) {
    return { problem: 'declares an unsupported "$schema"; use draft-07 (the default), 2019-09 or 2020-12' };
  }
  // Ids and anchors register in an Ajv instance and would clash with another tenant's schema of
  // the same id, so such schemas are compiled in an instance of their own (slower, and rare).
  const isolated = /"\$(?:id|anchor|dynamicAnchor|recursiveAnchor)"\s*:/.test(text);
  const ajv = isolated ? createAjv(dialect) : sharedAjv(dialect);
  try {
    return { validate: ajv.compile(schema) };
  } catch (error) {
    return { problem: error instanceof Error ? error.message.replace(/^schema is invalid: /, '') : String(error) };
  } finally {
    // The validator is self-contained once compiled; dropping the entry keeps the shared
    // instance from growing with every schema it has seen.
    if (!isolated) ajv.removeSchema(schema);
  }
}

function dialectOf(declared: unknown): Dialect | undefined {
  if (declared === undefined) return 'draft-07';
  if (typeof declared !== 'string') return undefined;
  const uri = declared.replace(/^https?:\/\//, '').replace(/#$/, '');
  if (uri === 'json-schema.org/draft-07/schema') return 'draft-07';
  if (uri === 'json-schema.org/draft/2019-09/schema') return '2019-09';
  if (uri === 'json-schema.org/draft/2020-12/schema') return '2020-12';
  return undefined;
}

function sharedAjv(dialect: Dialect): AnyAjv {
  let ajv = shared.get(dialect);
  if (!ajv) {
    ajv = createAjv(dialect);
    shared.set(dialect, ajv);
  }
  return ajv;
}

function createAjv(dialect: Dialect): AnyAjv {
  // Not strict: schemas written for other validators carry keywords Ajv does not know. One
  // error at a time (allErrors off): cheaper on hostile input and enough for the model.
  const options = { strict: false, allErrors: false, logger: false, addUsedSchema: false } as const;
  const ajv = dialect === '2020-12' ? new Ajv2020(options) : dialect === '2019-09' ? new Ajv2019(options) : new Ajv(options);
  (addFormats as unknown as (instance: AnyAjv) => void)(ajv);
  return ajv;
}

function depthOf(value: unknown, depth = 0): number {
  if (typeof value !== 'object' || value === null || depth > MAX_SCHEMA_DEPTH) return depth;
  let deepest = depth + 1;
  for (const child of Object.values(value)) deepest = Math.max(deepest, depthOf(child, depth + 1));
  return deepest;
}

function describeErrors(errors: ErrorObject[]): string {
  const first = errors[0];
  if (!first) return 'arguments do not match the schema';
  const path = 'arguments' + first.instancePath.split('/').slice(1).map(pathSegment).join('');
  let detail = first.message ?? 'is invalid';
  const params = first.params as Record<string, unknown>;
  if (first.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    detail += ` ('${params.additionalProperty}')`;
  } else if (first.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    const shown = params.allowedValues.slice(0, 10).map((value) => JSON.stringify(value));
    detail += `: ${shown.join(', ')}${params.allowedValues.length > 10 ? ', …' : ''}`;
  }
  const message = `${path} ${detail}`;
  return message.length > 500 ? `${message.slice(0, 499)}…` : message;
}

function pathSegment(segment: string): string {
  const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
  if (/^\d+$/.test(key)) return `[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
