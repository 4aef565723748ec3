import jsonata from 'jsonata';

/**
 * The JSONata layer of workflows: compiled expressions (cached), evaluation under guardrails,
 * `{{ expression }}` templates, and the static list of steps an expression reads.
 *
 * Evaluation is bounded by JSONata 2.2's own `timeout` and `stack` guardrails rather than
 * `__evaluate_entry` / `__evaluate_exit` hooks set with `assign`: hooks live in the compiled
 * expression's environment, which the cache shares between concurrent evaluations, while the
 * guardrails keep their clock and depth in each evaluation's own frame. JSONata itself has no
 * access to JavaScript globals, I/O or `eval`; its `$eval` parses JSONata and runs under the same
 * guardrails.
 */

/** The document every workflow expression is evaluated against. */
export interface ExpressionScope {
  input: unknown;
  steps: Record<string, unknown>;
  /** Only inside a `map`. */
  item?: unknown;
  index?: number;
  run: { id: string; workflow_id: string; trigger: string };
}

export interface ExpressionLimits {
  /** Wall-clock time one evaluation may take. */
  timeoutMs: number;
  /** Deepest nesting of JSONata's evaluator (non-tail recursion of user functions grows it). */
  maxDepth: number;
}

export const DEFAULT_EXPRESSION_LIMITS: Readonly<ExpressionLimits> = { timeoutMs: 1_000, maxDepth: 500 };

/** A parsed expression. Shared through the cache: do not `assign` or `registerFunction` on it. */
export interface CompiledExpression {
  readonly source: string;
  readonly expression: jsonata.Expression;
  /**
   * Whether it can hold the event loop past its timeout: a range (`[1..10000000]` is built in one
   * native step), `$pad` (a string of any width, likewise), a regular expression (backtracking),
   * or `$eval` (which may contain any of them).
   * JSONata checks its clock between steps, never inside one.
   */
  readonly unbounded: boolean;
}

/** A syntax error, a runtime error, a guardrail tripped, or a result that is not JSON. */
export class ExpressionError extends Error {
  /** JSONata's error code (`S0201`, `T2001`, `D1012`…) when it raised the error. */
  readonly code: string | undefined;
  /** Character offset in the expression JSONata points at, when it gives one. */
  readonly position: number | undefined;

  constructor(message: string, options: { code?: string | undefined; position?: number | undefined } = {}) {
    super(message);
    this.name = 'ExpressionError';
    this.code = options.code;
    this.position = options.position;
  }
}

const CACHE_SIZE = 1_000;
const cache = new Map<string, CompiledExpression>();

/** Parse `source` (cached by source text); throws ExpressionError on a syntax error. */
export function compileExpression(source: string, limits: Readonly<ExpressionLimits> = DEFAULT_EXPRESSION_LIMITS): CompiledExpression {
  // The guardrails are fixed when JSONata compiles, so expressions with other limits are kept apart.
  const key = limits === DEFAULT_EXPRESSION_LIMITS ? source : `${limits.timeoutMs}:${limits.maxDepth}\u0000${source}`;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  let expression: jsonata.Expression;
  try {
    expression = jsonata(source, { timeout: limits.timeoutMs, stack: limits.maxDepth });
  } catch (error) {
    throw toExpressionError(error);
  }
  const compiled: CompiledExpression = { source, expression, unbounded: hasUnboundedStep(expression.ast()) };
  cache.set(key, compiled);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return compiled;
}

/** Evaluate `source` against `scope`; the result is plain JSON (`undefined` becomes null). */
export async function evaluateExpression(
  source: string,
  scope: ExpressionScope,
  limits: Readonly<ExpressionLimits> = DEFAULT_EXPRESSION_LIMITS,
): Promise<unknown> {
  const { expression } = compileExpression(source, limits);
  let result: unknown;
  try {
    result = await expression.evaluate(scope);
  } catch (error) {
    throw toExpressionError(error);
  }
  if (isFunction(result)) throw new ExpressionError('expression evaluates to a function');
  return toJson(result);
}

/** True when the syntax tree has a range, a regular expression, or a call of `$eval` or `$pad`. */
function hasUnboundedStep(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasUnboundedStep);
  if (node === null || typeof node !== 'object') return false;
  const { type, value } = node as { type?: unknown; value?: unknown };
  if (type === 'regex' || (type === 'binary' && value === '..') || (type === 'variable' && (value === 'eval' || value === 'pad'))) return true;
  return Object.values(node).some(hasUnboundedStep);
}

/** Evaluates one expression: `evaluateExpression`, or an equivalent that runs it elsewhere. */
export type Evaluate = (source: string, scope: ExpressionScope, limits?: Readonly<ExpressionLimits>) => Promise<unknown>;

/** `{{ expression }}` spans of a template; an expression cannot contain `}}`. */
function templateParts(template: string): Array<{ text: string } | { expression: string }> {
  const parts: Array<{ text: string } | { expression: string }> = [];
  let offset = 0;
  while (offset < template.length) {
    const open = template.indexOf('{{', offset);
    if (open === -1) break;
    const close = template.indexOf('}}', open + 2);
    if (close === -1) throw new ExpressionError(`'{{' at position ${open} is not closed by '}}'`, { position: open });
    if (open > offset) parts.push({ text: template.slice(offset, open) });
    parts.push({ expression: template.slice(open + 2, close).trim() });
    offset = close + 2;
  }
  if (offset < template.length) parts.push({ text: template.slice(offset) });
  return parts;
}

/** The expressions inside a template's `{{ }}`, trimmed; throws ExpressionError on an unclosed `{{`. */
export function templateExpressions(template: string): string[] {
  if (!template.includes('{{')) return [];
  return templateParts(template).flatMap((part) => ('expression' in part ? [part.expression] : []));
}

/** Replace each `{{ expression }}`: strings as they are, null as '', anything else as JSON text. */
export async function renderTemplate(
  template: string,
  scope: ExpressionScope,
  limits: Readonly<ExpressionLimits> = DEFAULT_EXPRESSION_LIMITS,
  evaluate: Evaluate = evaluateExpression,
): Promise<string> {
  if (!template.includes('{{')) return template;
  let out = '';
  for (const part of templateParts(template)) {
    if ('text' in part) {
      out += part.text;
      continue;
    }
    const value = await evaluate(part.expression, scope, limits);
    out += value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  }
  return out;
}

/**
 * The step ids an expression reads, in order of appearance, without repeats. Recognized: a path
 * that starts with the name `steps` (or `$$.steps`) followed by a name, wherever it appears
 * (function arguments, predicates, object constructors, lambdas, blocks, conditions…):
 * `steps.score`, `steps.score.value[0]`, `$$.steps.score`, ``steps.`score` ``. A `steps.x` inside
 * a predicate or a path step is counted even though it may read a field of the context item,
 * so the list may name more steps than are read, never fewer among literal names. Dynamic reads
 * are not seen: `steps[$x]`, `steps.*`, `$lookup(steps, "x")`, `$keys(steps)`, `$eval(…)`.
 */
export function stepReferences(source: string): string[] {
  const found = new Set<string>();
  const seen = new Set<object>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
      return;
    }
    const record = node as Record<string, unknown>;
    if (record.type === 'path' && Array.isArray(record.steps)) {
      const id = referencedStep(record.steps as unknown[]);
      if (id !== undefined) found.add(id);
    }
    for (const value of Object.values(record)) visit(value);
  };
  visit(compileExpression(source).expression.ast());
  return [...found];
}

function referencedStep(path: unknown[]): string | undefined {
  let first = 0;
  if (isNode(path[0], 'variable', '$')) first = 1;
  if (!isNode(path[first], 'name', 'steps')) return undefined;
  const next = path[first + 1] as { type?: unknown; value?: unknown } | undefined;
  return next?.type === 'name' && typeof next.value === 'string' ? next.value : undefined;
}

function isNode(node: unknown, type: string, value: string): boolean {
  if (typeof node !== 'object' || node === null) return false;
  const record = node as { type?: unknown; value?: unknown };
  return record.type === type && record.value === value;
}

/** JSONata lambdas and built-ins are objects tagged by JSONata, not JavaScript functions. */
function isFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return record._jsonata_lambda === true || record._jsonata_function === true;
}

/**
 * A plain JSON copy, with JSON.stringify's rules: functions and undefined are dropped from
 * objects and become null in arrays, non-finite numbers become null. Drops JSONata's sequence
 * flags, which a JSON round-trip would too, without serialising lambdas' environments.
 */
function toJson(value: unknown): unknown {
  if (value === undefined || value === null || isFunction(value)) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(toJson);
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (child === undefined || isFunction(child)) continue;
    out[key] = toJson(child);
  }
  return out;
}

function toExpressionError(error: unknown): ExpressionError {
  if (error instanceof ExpressionError) return error;
  if (typeof error === 'object' && error !== null) {
    const { message, code, position } = error as { message?: unknown; code?: unknown; position?: unknown };
    const text = typeof message === 'string' && message !== '' ? message : 'expression failed';
    const at = typeof position === 'number' ? position : undefined;
    return new ExpressionError(at === undefined ? text : `${text} (at position ${at})`, {
      code: typeof code === 'string' ? code : undefined,
      position: at,
    });
  }
  return new ExpressionError(String(error));
}
