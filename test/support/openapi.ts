/**
 * Walks the served OpenAPI document so that HTTP suites cover every operation, including the ones
 * added after the suite was written. Schemas are validated with an Ajv configured like the
 * server's (src/http/app.ts), so "valid for the test" means "valid for the server".
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { newId, type IdPrefix } from '../../src/ids.js';
import { call } from './server.js';

export type JsonSchema = Record<string, any>;

export interface OpenApiDoc {
  openapi: string;
  paths: Record<string, Record<string, any>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: JsonSchema;
  description?: string;
}

export interface Operation {
  /** `GET /v1/api_keys/{id}`: how failures name the operation. */
  name: string;
  method: string;
  /** The path template as documented, e.g. `/v1/api_keys/{id}`. */
  path: string;
  /** True when the operation documents `security` (needs an API key). */
  secured: boolean;
  pathParams: Parameter[];
  queryParams: Parameter[];
  /** The JSON body schema (refs resolved), when the operation takes a JSON body. */
  bodySchema: JsonSchema | undefined;
  /** The 200/201 response schema (refs resolved), when documented. */
  successSchema: JsonSchema | undefined;
  raw: any;
}

export const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Every id prefix of docs/api.md. */
export const ID_PREFIXES: IdPrefix[] = ['ws', 'key', 'req', 'job', 'agent', 'run', 'thread', 'wf', 'wfrun', 'src', 'doc', 'span'];

export async function fetchOpenApi(baseUrl: string): Promise<OpenApiDoc> {
  const res = await call(baseUrl, 'GET', '/v1/openapi.json');
  if (res.status !== 200 || !res.body?.paths) throw new Error(`GET /v1/openapi.json answered ${res.status}: ${res.text.slice(0, 200)}`);
  return res.body as OpenApiDoc;
}

/** Resolves `$ref`s (`#/components/schemas/X`) deeply; a cycle is left as `{}` (accepts anything). */
export function deref(doc: OpenApiDoc, schema: unknown, seen: string[] = []): any {
  if (Array.isArray(schema)) return schema.map((s) => deref(doc, s, seen));
  if (schema === null || typeof schema !== 'object') return schema;
  const obj = schema as Record<string, unknown>;
  if (typeof obj.$ref === 'string') {
    const ref = obj.$ref;
    if (seen.includes(ref)) return {};
    const name = ref.replace(/^#\/components\/schemas\//, '').replace(/#$/, '');
    const target = doc.components?.schemas?.[name];
    if (!target) throw new Error(`OpenAPI document: unresolved $ref ${ref}`);
    const { $ref: _ignored, ...rest } = obj;
    return { ...deref(doc, target, [...seen, ref]), ...deref(doc, rest, seen) };
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) out[key] = deref(doc, value, seen);
  return out;
}

/** The operations of the document, in document order. */
export function operationsOf(doc: OpenApiDoc): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    const shared: any[] = Array.isArray(item.parameters) ? item.parameters : [];
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!op) continue;
      const params: Parameter[] = [...shared, ...(op.parameters ?? [])].map((p: any) => ({
        name: p.name,
        in: p.in,
        required: Boolean(p.required),
        schema: deref(doc, p.schema ?? {}),
        description: p.description,
      }));
      const json = op.requestBody?.content?.['application/json'];
      const success = op.responses?.['200'] ?? op.responses?.['201'] ?? op.responses?.['202'];
      const successSchema = success?.content?.['application/json']?.schema;
      ops.push({
        name: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        secured: Array.isArray(op.security) && op.security.length > 0,
        pathParams: params.filter((p) => p.in === 'path'),
        queryParams: params.filter((p) => p.in === 'query'),
        bodySchema: json ? bodySchemaOf(doc, json) : undefined,
        successSchema: successSchema ? deref(doc, successSchema) : undefined,
        raw: op,
      });
    }
  }
  return ops;
}

/**
 * The JSON body schema of an operation. The document carries a route schema's `examples` as the
 * media type's `example`; it goes back on the schema, where `sampleValid` looks for it (a body
 * whose required fields alone are not a useful request, such as a JSON-RPC message, needs it).
 */
function bodySchemaOf(doc: OpenApiDoc, media: { schema?: JsonSchema; example?: unknown }): JsonSchema {
  const schema = deref(doc, media.schema ?? {});
  return media.example === undefined || schema.examples !== undefined ? schema : { ...schema, examples: [media.example] };
}

/** The names of `{param}` placeholders in a path template, in order. */
export function templateParams(path: string): string[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
}

/**
 * Percent-encodes every byte outside the URL-unreserved set (like encodeURIComponent, but also for
 * strings with lone surrogates, which are sent as U+FFFD).
 */
export function encodeSegment(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Fills a path template; values are percent-encoded unless `raw` is set for that parameter. */
export function fillPath(path: string, values: Record<string, string>, raw: Record<string, boolean> = {}): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`fillPath: no value for {${name}} in ${path}`);
    return raw[name] ? value : encodeSegment(value);
  });
}

/** Sets an own enumerable property, even one named `__proto__`. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return target;
}

/** The id prefix a path parameter expects, read from its pattern (`^key_…`) or description (`(key_…)`). */
export function expectedPrefix(param: Parameter): IdPrefix | undefined {
  const fromPattern = typeof param.schema.pattern === 'string' ? /^\^([a-z]+)_/.exec(param.schema.pattern)?.[1] : undefined;
  const fromDescription = param.description ? /\b([a-z]+)_…/.exec(param.description)?.[1] : undefined;
  const prefix = fromPattern ?? fromDescription;
  return prefix && (ID_PREFIXES as string[]).includes(prefix) ? (prefix as IdPrefix) : undefined;
}

/** A well-formed id that does not exist, of the prefix the parameter expects (or `key_`). */
export function unknownIdFor(param: Parameter): string {
  return newId(expectedPrefix(param) ?? 'key');
}

/** Well-formed placeholder values for all path parameters of an operation. */
export function placeholderParams(op: Operation): Record<string, string> {
  return Object.fromEntries(op.pathParams.map((p) => [p.name, unknownIdFor(p)]));
}

// ---------------------------------------------------------------------------------------------
// Schema validation and sampling
// ---------------------------------------------------------------------------------------------

function serverLikeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({ coerceTypes: coerce ? 'array' : false, removeAdditional: false, useDefaults: true, allErrors: false, strict: false });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv;
}

const bodyAjv = serverLikeAjv(false);
const queryAjv = serverLikeAjv(true);
const compiled = new WeakMap<object, ValidateFunction>();
const compiledQuery = new WeakMap<object, ValidateFunction>();

function stripDocKeywords(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(stripDocKeywords);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$id' || key === '$schema') continue;
    out[key] = stripDocKeywords(value);
  }
  return out;
}

/** True when the server would accept `value` (as it arrives after a JSON round trip) for `schema`. */
export function isValid(schema: JsonSchema, value: unknown): boolean {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = bodyAjv.compile(stripDocKeywords(schema) as object);
    compiled.set(schema, validate);
  }
  const wire = value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  return validate(wire) as boolean;
}

/** The query parameters of an operation as one object schema, the way the route declares them. */
export function querySchemaOf(op: Operation): JsonSchema {
  const names = op.queryParams.map((p) => p.name);
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(op.queryParams.map((p) => [p.name, p.schema])),
    required: op.queryParams.filter((p) => p.required).map((p) => p.name),
    // docs/api.md: a list takes `after` or `before`, not both (query parameters cannot say so in OpenAPI).
    ...(names.includes('after') && names.includes('before') ? { dependencies: { after: { properties: { before: false } } } } : {}),
  };
}

/** True when the server would accept a parsed query object (strings, coerced) for the operation. */
export function isValidQuery(schema: JsonSchema, query: Record<string, unknown>): boolean {
  let validate = compiledQuery.get(schema);
  if (!validate) {
    validate = queryAjv.compile(schema);
    compiledQuery.set(schema, validate);
  }
  return validate(structuredClone(query)) as boolean;
}

function firstType(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t: string) => t !== 'null') ?? schema.type[0];
  if (typeof schema.type === 'string') return schema.type;
  if (schema.properties) return 'object';
  if (schema.items) return 'array';
  return undefined;
}

function sampleString(schema: JsonSchema): string {
  const formats: Record<string, string> = {
    'date-time': new Date().toISOString(),
    date: new Date().toISOString().slice(0, 10),
    email: 'sample@example.com',
    uri: 'https://example.com/sample',
    url: 'https://example.com/sample',
    uuid: '00000000-0000-4000-8000-000000000000',
  };
  if (typeof schema.format === 'string' && formats[schema.format]) return formats[schema.format]!;
  if (typeof schema.pattern === 'string') {
    const prefix = /^\^([a-z]+)_/.exec(schema.pattern)?.[1];
    if (prefix && (ID_PREFIXES as string[]).includes(prefix)) return newId(prefix as IdPrefix);
  }
  const min = schema.minLength ?? 1;
  const max = schema.maxLength ?? Math.max(min, 6);
  return 'sample'.padEnd(min, 'x').slice(0, Math.max(min, Math.min(max, 6)));
}

function sampleNumber(schema: JsonSchema, integer: boolean): number {
  let value = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
  if (schema.maximum !== undefined && value > schema.maximum) value = schema.maximum;
  if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) value = schema.exclusiveMaximum - 1;
  return integer ? Math.ceil(value) : value;
}

function rawSample(schema: JsonSchema, depth: number): unknown {
  if (depth > 8) return undefined;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if (schema.example !== undefined) return schema.example;
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[key])) {
      for (const branch of schema[key]) {
        const value = rawSample(branch, depth + 1);
        if (value !== undefined && isValid(schema, value)) return value;
      }
      return undefined;
    }
  }
  if (Array.isArray(schema.allOf)) {
    const merged = Object.assign({}, ...schema.allOf);
    return rawSample(merged, depth + 1);
  }
  switch (firstType(schema)) {
    case 'string':
      return sampleString(schema);
    case 'integer':
      return sampleNumber(schema, true);
    case 'number':
      return sampleNumber(schema, false);
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'array': {
      const count = schema.minItems ?? 0;
      const items: unknown[] = [];
      for (let i = 0; i < count; i++) items.push(rawSample(schema.items ?? {}, depth + 1));
      return items;
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const name of schema.required ?? []) {
        const value = rawSample(schema.properties?.[name] ?? {}, depth + 1);
        if (value === undefined) return undefined;
        out[name] = value;
      }
      return out;
    }
    default:
      return 'sample';
  }
}

/** A value the server accepts for `schema` (only required fields), or undefined when none could be built. */
export function sampleValid(schema: JsonSchema): unknown {
  const value = rawSample(schema, 0);
  return value !== undefined && isValid(schema, value) ? value : undefined;
}

/** The declared object properties of a schema, nested objects included, each with its path. */
export function declaredFields(schema: JsonSchema, parent: string[] = [], depth = 0): Array<{ path: string[]; schema: JsonSchema }> {
  if (depth > 3 || !schema.properties) return [];
  const out: Array<{ path: string[]; schema: JsonSchema }> = [];
  for (const [name, child] of Object.entries<JsonSchema>(schema.properties)) {
    const path = [...parent, name];
    out.push({ path, schema: child });
    if (firstType(child) === 'object' && child.properties) out.push(...declaredFields(child, path, depth + 1));
  }
  return out;
}

/** The dotted form of a field path, the way the error `param` names it (`tools.name`). */
export function paramName(path: string[]): string {
  return path.join('.');
}

/** `base` with `value` set at `path`, filling missing parent objects with valid samples. */
export function withField(root: JsonSchema, base: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const out = structuredClone(base);
  let node: Record<string, unknown> = out;
  let schema = root;
  for (let i = 0; i < path.length - 1; i++) {
    const name = path[i]!;
    schema = schema.properties?.[name] ?? {};
    const existing = node[name];
    if (existing === null || typeof existing !== 'object' || Array.isArray(existing)) {
      node[name] = (sampleValid(schema) as Record<string, unknown> | undefined) ?? {};
    }
    node = node[name] as Record<string, unknown>;
  }
  setOwn(node, path.at(-1)!, value);
  return out;
}

/** True when the string is one the server's JSON parser accepts (it strips a leading BOM). */
export function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text.replace(/^\uFEFF/, ''));
    return true;
  } catch {
    return false;
  }
}

/** The single-object schema of a list response (`{object: 'list', data: [...]}`), if it is one. */
export function isListResponse(schema: JsonSchema | undefined): boolean {
  return Boolean(schema?.properties?.object?.enum?.includes('list') && schema?.properties?.data);
}
