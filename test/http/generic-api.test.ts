/**
 * Adversarial, property-based checks of every operation in the served OpenAPI document: routes
 * added later are covered without touching this file. Whatever a client sends, the answer is a
 * 2xx or a 4xx in the standard error shape (docs/api.md), never a 5xx; refused requests create
 * nothing.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/platform/api-key-secret.js';
import { createApiKey, revokeApiKey } from '../../src/platform/api-keys.js';
import { plans } from '../../src/platform/plans.js';
import { newId } from '../../src/ids.js';
import { startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import {
  declaredFields, encodeSegment, expectedPrefix, fetchOpenApi, fillPath, ID_PREFIXES, isListResponse, isValid, isValidQuery,
  operationsOf, paramName, parsesAsJson, placeholderParams, querySchemaOf, sampleValid, setOwn, withField,
  type JsonSchema, type Operation,
} from '../support/openapi.js';
import {
  checkInvariants, closeWireAgent, expectError, expectParam, expectStatus, send, type WireRequest, type WireResponse,
} from '../support/wire.js';

const TIMEOUT = 120_000;
const KB = 1024;

let server: TestServer;
let ent: TestWorkspace;
let ops: Operation[];
/** fast-check runs per operation and property: bounded so the file stays fast as routes are added. */
let RUNS = 25;

beforeAll(async () => {
  server = await startTestServer('sqlite');
  ent = await server.workspace('enterprise');
  ops = operationsOf(await fetchOpenApi(server.url));
  // 25 runs while the API is small, fewer (never under 8) as operations are added.
  RUNS = Math.max(8, Math.min(25, Math.floor(1000 / Math.max(1, ops.length))));
});

afterAll(async () => {
  closeWireAgent();
  await server?.close();
});

// --- helpers ---------------------------------------------------------------------------------

function pathOf(op: Operation): string {
  return fillPath(op.path, placeholderParams(op));
}

/** A body the server accepts for the operation (undefined when it takes none). */
function validBody(op: Operation): Record<string, unknown> | undefined {
  if (!op.bodySchema) return undefined;
  const body = sampleValid(op.bodySchema);
  if (body === undefined) throw new Error(`${op.name}: cannot build a valid sample body; give the schema \`examples\``);
  return body as Record<string, unknown>;
}

/** Whether an HTTP method may carry a body in our requests (GET/HEAD bodies are out of scope). */
function hasBody(op: Operation): boolean {
  return op.method !== 'GET';
}

function call(req: WireRequest): Promise<WireResponse> {
  return send(server.url, req);
}

/** Runs a property for each operation, naming the operation in the failure; no operation to run it on is a failure too. */
async function eachOp(filter: (op: Operation) => boolean, run: (op: Operation) => Promise<void>): Promise<number> {
  const matching = ops.filter(filter);
  if (matching.length === 0) throw new Error('no operation of the served document matches this case');
  let count = 0;
  for (const op of matching) {
    try {
      await run(op);
    } catch (error) {
      throw new Error(`${op.name}: ${(error as Error).message}`, { cause: error });
    }
    count++;
  }
  return count;
}

async function property<T>(arb: fc.Arbitrary<T>, check: (value: T) => Promise<void>, runs = RUNS): Promise<void> {
  await fc.assert(fc.asyncProperty(arb, check), { numRuns: runs, endOnFailure: true });
}

const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const latin1 = fc.integer({ min: 0x20, max: 0xff }).filter((c) => c < 0x7f || c > 0x9f).map((c) => String.fromCharCode(c));
const alnumChar = fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'.split(''));
const alnum = (length: number) => fc.string({ unit: alnumChar, minLength: length, maxLength: length });

/** Any JSON value (what a confused client might send). */
/**
 * Random JSON values. Keys that poison prototypes (`__proto__`, `constructor.prototype`) are left
 * out here: the JSON parser refuses such bodies as invalid_json by design, which the unknown-field
 * test checks on its own.
 */
const jsonValue = fc.jsonValue({ maxDepth: 2 }).filter((value) => !/"__proto__"|"prototype"/.test(JSON.stringify(value)));

/** Strings that are not JSON: random text, and valid JSON bodies cut or corrupted. */
function malformedJson(op: Operation): fc.Arbitrary<string> {
  const valid = JSON.stringify(validBody(op) ?? { name: 'x' });
  return fc
    .oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.nat({ max: Math.max(0, valid.length - 1) }).map((n) => valid.slice(0, n)),
      fc.tuple(fc.nat({ max: valid.length }), fc.constantFrom('{', '}', '"', ',', ':', "'", '\\', 'undefined', 'NaN', '\u0000', '//'))
        .map(([at, junk]) => valid.slice(0, at) + junk + valid.slice(at)),
      fc.constantFrom('{', '{"a":}', "{'a':1}", '{"a":1,}', 'undefined', 'NaN', '{"a":1}{"b":2}', '[1,]', '\u0000', ' ', '\ufeff'),
    )
    .filter((text) => !parsesAsJson(text));
}

/** Values that are not a JSON object. */
const notAnObject = fc.oneof(
  fc.array(jsonValue, { maxLength: 4 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constant(null),
  fc.string({ maxLength: 20 }),
  fc.boolean(),
);

/** Names a client might mistype or invent, including awkward ones. */
const fieldName = fc.oneof(
  fc.stringMatching(/^[a-z_][a-z0-9_]{0,15}$/),
  fc.string({ maxLength: 16 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom('', '0', '123', 'a.b', 'a/b', 'a~1b', '~0', '[0]', 'name ', ' name', 'NAME', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'id', 'object', 'livemode', 'workspace_id'),
);

/** The standard checks, with the rate-limit headers required when a valid key reached a secured route. */
function check(op: Operation, res: WireResponse, validKey: boolean, routed = true): void {
  checkInvariants(res, { rateLimited: validKey && op.secured && routed });
}

// --- the document itself ---------------------------------------------------------------------

/** True for a schema with no constraint: every JSON value is valid. */
function acceptsAnything(schema: JsonSchema): boolean {
  return Object.keys(schema).every((key) => ['description', 'title', 'default', 'examples'].includes(key));
}

describe('the OpenAPI document', () => {
  it('lists the platform operations, secured and public', () => {
    const names = ops.map((op) => op.name);
    expect(names).toEqual(expect.arrayContaining(['GET /v1/status', 'GET /v1/workspace', 'POST /v1/api_keys', 'GET /v1/api_keys', 'GET /v1/api_keys/{id}', 'DELETE /v1/api_keys/{id}']));
    expect(ops.find((op) => op.name === 'GET /v1/status')?.secured).toBe(false);
    expect(ops.filter((op) => op.secured).length).toBeGreaterThan(3);
  });

  it('declares strict JSON bodies for which a valid sample can be built', () => {
    const problems: string[] = [];
    for (const op of ops.filter((o) => o.bodySchema)) {
      if (op.bodySchema!.additionalProperties !== false) problems.push(`${op.name}: body schema does not refuse unknown fields`);
      if (sampleValid(op.bodySchema!) === undefined) problems.push(`${op.name}: no valid sample body (add \`examples\` to the schema)`);
    }
    expect(problems).toEqual([]);
  });
});

// --- refused requests create nothing ----------------------------------------------------------

/** Collections that can be listed and created in: `POST /v1/x` with a `GET /v1/x` list. */
function countedCollections(): Operation[] {
  return ops.filter(
    (op) => op.method === 'GET' && op.secured && op.pathParams.length === 0 && isListResponse(op.successSchema) &&
      ops.some((other) => other.method === 'POST' && other.path === op.path),
  );
}

async function countAll(list: Operation, key: string): Promise<number> {
  const pageSize = list.queryParams.some((p) => p.name === 'limit') ? 100 : undefined;
  let count = 0;
  let after: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const query = new URLSearchParams();
    if (pageSize) query.set('limit', String(pageSize));
    if (after) query.set('after', after);
    const res = await call({ method: 'GET', path: `${list.path}${query.size ? `?${query}` : ''}`, key });
    expectStatus(res, 200);
    count += res.body.data.length;
    if (!res.body.has_more) return count;
    after = res.body.last_id;
  }
  throw new Error(`${list.name}: pagination does not end`);
}

async function snapshotCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const list of countedCollections()) {
    counts[`${list.path} live`] = await countAll(list, ent.liveKey);
    counts[`${list.path} test`] = await countAll(list, ent.testKey);
  }
  return counts;
}

describe('refused requests (every operation)', () => {
  let before: Record<string, number>;

  beforeAll(async () => {
    before = await snapshotCounts();
  });

  it('(a) without Authorization: 401 missing_api_key on secured operations, served on public ones', async () => {
    const done = await eachOp(() => true, async (op) => {
      const body = hasBody(op) ? fc.option(fc.oneof(fc.constant(validBody(op) ?? {}), jsonValue), { nil: undefined }) : fc.constant(undefined);
      await property(body, async (payload) => {
        const res = await call({ method: op.method, path: pathOf(op), body: payload });
        check(op, res, false);
        if (op.secured) expectError(res, 'missing_api_key');
        else if (res.status === 401) throw new Error(`public operation answered 401: ${res.text}`);
      });
    });
    expect(done).toBe(ops.length);
  }, TIMEOUT);

  it('(b) malformed keys and Authorization headers: 401', async () => {
    const header = fc.oneof(
      fc.string({ unit: printable, maxLength: 60 }).map((s) => s.trim()),
      fc.string({ unit: latin1, maxLength: 40 }).map((s) => `Bearer ${s}`.trim()),
      fc.string({ unit: printable, maxLength: 60 }).map((s) => `Bearer ${s}`.trim()),
      fc.tuple(fc.constantFrom('Basic', 'Token', 'bearer', 'BEARER', 'Bearer:', 'Bearer  ', 'Bearer\t'), fc.string({ unit: printable, maxLength: 40 }))
        .map(([scheme, s]) => `${scheme} ${s}`.trim()),
      fc.tuple(fc.constantFrom('sk_live_', 'sk_test_', 'sk_', 'pk_live_', 'sk_prod_', 'SK_LIVE_', ''), fc.string({ unit: alnumChar, maxLength: 50 }))
        .map(([prefix, s]) => `Bearer ${prefix}${s}`),
      fc.constant(`Bearer ${ent.liveKey.slice(0, -1)}${ent.liveKey.endsWith('0') ? '1' : '0'}`), // checksum broken
      fc.constant(`Bearer ${ent.liveKey} extra`),
      fc.constant(`Bearer ${ent.liveKey.toUpperCase()}`),
    );
    await eachOp(() => true, async (op) => {
      await property(header, async (authorization) => {
        const res = await call({ method: op.method, path: pathOf(op), headers: authorization === '' ? {} : { authorization }, body: hasBody(op) ? validBody(op) : undefined });
        check(op, res, false);
        if (op.secured) expectError(res, ['missing_api_key', 'invalid_api_key']);
        else if (res.status === 401) throw new Error(`public operation answered 401: ${res.text}`);
      });
    });
  }, TIMEOUT);

  it('(c) well-formed but unknown keys, and revoked keys: 401', async () => {
    // In a workspace of its own, so that the object counts of `ent` stay as they were.
    const other = await server.workspace('enterprise');
    const revoked = await createApiKey(server.kairo.store, { workspaceId: other.id, livemode: true, name: 'revoked' });
    await revokeApiKey(server.kairo.store, { workspaceId: other.id, livemode: true }, revoked.key.id);
    const unknownKey = fc.oneof(
      alnum(36).map((s) => `sk_test_${s}`),
      alnum(36).map((s) => `sk_live_${s}`),
      fc.boolean().map((live) => generateSecret(live)), // valid checksum, never issued
    );
    await eachOp((op) => op.secured, async (op) => {
      await property(unknownKey, async (key) => {
        const res = await call({ method: op.method, path: pathOf(op), key, body: hasBody(op) ? validBody(op) : undefined });
        check(op, res, false);
        expectError(res, 'invalid_api_key');
      });
      const res = await call({ method: op.method, path: pathOf(op), key: revoked.secret, body: hasBody(op) ? validBody(op) : undefined });
      check(op, res, false);
      expectError(res, 'api_key_revoked');
    });
  }, TIMEOUT);

  it('(d) malformed JSON bodies: 400 invalid_json', async () => {
    await eachOp(hasBody, async (op) => {
      await property(malformedJson(op), async (text) => {
        const res = await call({ method: op.method, path: pathOf(op), key: ent.liveKey, body: text });
        check(op, res, true);
        expectError(res, 'invalid_json');
      });
      // Nothing at all, declared as JSON.
      const empty = await call({ method: op.method, path: pathOf(op), key: ent.liveKey, body: '' });
      check(op, empty, true);
      expectError(empty, 'invalid_json');
    });
  }, TIMEOUT);

  it('(d) bodies that are not JSON: 415 unsupported_media_type', async () => {
    const contentType = fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'text/html', 'application/xml', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/jsonx');
    await eachOp((op) => hasBody(op) && !op.raw.requestBody?.content?.['multipart/form-data'], async (op) => {
      await property(fc.tuple(contentType, fc.string({ maxLength: 40 })), async ([type, text]) => {
        const res = await call({ method: op.method, path: pathOf(op), key: ent.liveKey, body: text, headers: { 'content-type': type } });
        check(op, res, true);
        expectError(res, 'unsupported_media_type');
      });
    });
  }, TIMEOUT);

  it('(e) bodies of the wrong type: 400', async () => {
    await eachOp((op) => hasBody(op) && op.bodySchema !== undefined, async (op) => {
      await property(notAnObject, async (value) => {
        const res = await call({ method: op.method, path: pathOf(op), key: ent.liveKey, body: JSON.stringify(value) });
        check(op, res, true);
        expectError(res, ['invalid_request', 'parameter_invalid']);
      });
    });
  }, TIMEOUT);

  it('(e) a wrong value for any declared field: 400 parameter_invalid naming the field', async () => {
    let fields = 0;
    await eachOp((op) => hasBody(op) && op.bodySchema !== undefined, async (op) => {
      const schema = op.bodySchema!;
      const base = validBody(op)!;
      for (const field of declaredFields(schema)) {
        // A field that takes any JSON value (a run's input, an approval's data) has no wrong value.
        if (acceptsAnything(field.schema)) continue;
        fields++;
        const wrong = fc.oneof(notAnObject, fc.dictionary(fc.string({ maxLength: 5 }), jsonValue, { maxKeys: 2 }), fc.string({ minLength: 201, maxLength: 400 }))
          .filter((value) => !isValid(field.schema, value));
        await property(wrong, async (value) => {
          const body = withField(schema, base, field.path, value);
          fc.pre(!isValid(schema, body));
          const res = await call({ method: op.method, path: pathOf(op), key: ent.liveKey, body });
          check(op, res, true);
          expectError(res, ['parameter_invalid', 'parameter_missing', 'parameter_unknown']);
          expectParam(res, paramName(field.path));
        });
      }
    });
    expect(fields).toBeGreaterThan(0);
  }, TIMEOUT);

  it('(f) unknown fields: 400 parameter_unknown naming the field', async () => {
    await eachOp((op) => hasBody(op) && op.bodySchema !== undefined, async (op) => {
      const schema = op.bodySchema!;
      const base = validBody(op)!;
      // The root object and every nested object that refuses unknown fields.
      const objects: string[][] = [[], ...declaredFields(schema).filter((f) => f.schema.additionalProperties === false && f.schema.properties).map((f) => f.path)];
      for (const parent of objects) {
        const parentSchema = parent.reduce<JsonSchema>((s, name) => s.properties[name], schema);
        const declared = new Set(Object.keys(parentSchema.properties ?? {}));
        await property(fc.tuple(fieldName.filter((name) => !declared.has(name)), jsonValue), async ([name, value]) => {
          const body = parent.length === 0 ? setOwn(structuredClone(base), name, value) : withField(schema, base, [...parent, name], value);
          const text = JSON.stringify(body);
          const res = await call({ method: op.method, path: pathOf(op), key: ent.liveKey, body: text });
          check(op, res, true);
          // JSON that could poison prototypes is refused by the parser itself.
          const poisoning = name === '__proto__' || (name === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value);
          if (poisoning && res.body?.error?.code === 'invalid_json') return;
          expectError(res, 'parameter_unknown');
          expect(res.body.error.param, res.request).toBe(paramName([...parent, name]));
        });
      }
    });
  }, TIMEOUT);

  it('(g) bodies over the limit (1 MB, or the x-body-limit an operation documents): 413 body_too_large', async () => {
    await eachOp(hasBody, async (op) => {
      const limit: number = op.raw['x-body-limit'] ?? KB * KB;
      const huge = 'x'.repeat(limit + KB * KB);
      const base = validBody(op) ?? {};
      const stringField = op.bodySchema ? declaredFields(op.bodySchema).find((f) => f.path.length === 1 && f.schema.type === 'string') : undefined;
      const bodies: WireRequest[] = [
        { method: op.method, path: pathOf(op), key: ent.liveKey, body: { ...base, [stringField?.path[0] ?? 'padding']: huge } },
        { method: op.method, path: pathOf(op), key: ent.liveKey, body: { ...base, padding: huge }, chunked: true },
        { method: op.method, path: pathOf(op), key: ent.liveKey, body: `{"a":"${huge}` },
        ...(limit === KB * KB ? [{ method: op.method, path: pathOf(op), key: ent.liveKey, body: JSON.stringify(Array.from({ length: 300_000 }, (_, i) => i)) }] : []),
      ];
      for (const req of bodies) {
        const res = await call(req);
        check(op, res, true);
        expectError(res, 'body_too_large');
      }
    });
  }, TIMEOUT);

  it('(h) bad ids in path parameters: 400 or 404, never an object', async () => {
    const badId = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
      fc.constantFrom(...ID_PREFIXES).map((prefix) => newId(prefix)),
      fc.tuple(fc.constantFrom(...ID_PREFIXES), fc.string({ unit: alnumChar, maxLength: 40 })).map(([prefix, s]) => `${prefix}_${s}`),
      fc.integer({ min: 100, max: 4000 }).map((n) => 'k'.repeat(n)),
      fc.constantFrom('..', '.', '../', '../../v1/status', '..\\..\\', '%', '%zz', '%00', '\u0000', ' ', '/', '?', '#', '&', 'null', 'undefined',
        '-1', '0', 'key_', "key_'; DROP TABLE api_keys;--", '{id}', ':id', '*', 'KEY_01H455VB4PEX5VSKNK084SN02Q', 'ключ', '😀', '\u202e'),
    );
    await eachOp((op) => op.pathParams.length > 0, async (op) => {
      const body = hasBody(op) ? validBody(op) : undefined;
      for (const param of op.pathParams) {
        await property(badId, async (id) => {
          const values = { ...placeholderParams(op), [param.name]: id };
          const encoded = encodeSegment(id);
          const res = await call({ method: op.method, path: fillPath(op.path, values), key: ent.liveKey, body });
          check(op, res, true, encoded.length <= 128);
          expectStatus(res, [400, 404]);
          if (res.status === 404) expectError(res, 'resource_missing');
          if (res.body?.error?.code === 'parameter_invalid') expect(op.pathParams.map((p) => p.name)).toContain(res.body.error.param);
        });
        // The right prefix, well formed, but no such object.
        const prefix = expectedPrefix(param);
        if (prefix) {
          const res = await call({ method: op.method, path: fillPath(op.path, { ...placeholderParams(op), [param.name]: newId(prefix) }), key: ent.liveKey, body });
          check(op, res, true);
          expectError(res, 'resource_missing');
        }
        // Sent unencoded: traversal, broken escapes, extra segments. Any 2xx/4xx, well formed.
        const raw = fc.constantFrom('..', '../', '../..', '../../status', '..%2F..%2Fstatus', '%2e%2e', '%', '%zz', '%E0%A4%A', '%C0%AF', '%00', '?x=1', '#f', '//', 'a/b/c', ';', '%20', '.%2E');
        await property(raw, async (value) => {
          const values = { ...placeholderParams(op), [param.name]: value };
          const res = await call({ method: op.method, path: fillPath(op.path, values, { [param.name]: true }), key: ent.liveKey, body });
          check(op, res, true, false);
        }, Math.min(RUNS, 17));
      }
    });
  }, TIMEOUT);

  it('created no object', async () => {
    expect(Object.keys(before).length).toBeGreaterThan(0);
    expect(await snapshotCounts()).toEqual(before);
  });
});

// --- huge values, query strings, routing ------------------------------------------------------

describe('well-formed but unusual requests (every operation)', () => {
  it('(g) 100 KB strings in every string field, unknown field, header and query', async () => {
    const big = 'é'.repeat(50 * KB); // 100 KB of UTF-8
    await eachOp(() => true, async (op) => {
      if (hasBody(op) && op.bodySchema) {
        const schema = op.bodySchema;
        const base = validBody(op)!;
        for (const field of declaredFields(schema).filter((f) => f.schema.type === 'string')) {
          const body = withField(schema, base, field.path, big);
          const res = await call({ method: op.method, path: pathOf(op), key: ent.liveKey, body });
          check(op, res, true);
          if (!isValid(schema, body)) {
            expectError(res, 'parameter_invalid');
            expectParam(res, paramName(field.path));
          }
        }
        const unknown = await call({ method: op.method, path: pathOf(op), key: ent.liveKey, body: { ...base, extra: big } });
        check(op, unknown, true);
        expectError(unknown, 'parameter_unknown');
        expectParam(unknown, 'extra');
      }
      // Headers and URLs that big exceed the HTTP parser's limits: still a 4xx in the standard shape.
      check(op, await call({ method: op.method, path: `${pathOf(op)}?q=${'q'.repeat(100 * KB)}`, key: ent.liveKey }), true, false);
      check(op, await call({ method: op.method, path: pathOf(op), headers: { authorization: `Bearer sk_live_${'a'.repeat(100 * KB)}` } }), false);
      check(op, await call({ method: op.method, path: pathOf(op), key: ent.liveKey, headers: { 'x-padding': 'p'.repeat(20 * KB) } }), true, false);
    });
  }, TIMEOUT);

  it('(i) random query strings: rejected with the parameter named when the route declares them, never a 5xx', async () => {
    const value = fc.oneof(
      fc.constantFrom('-1', 'abc', '0', '101', '1e3', '1.5', '', ' 5', '20', '1', '100', 'null', 'true', '0x10', '١٢', '9'.repeat(30), '[]', '{}'),
      fc.string({ maxLength: 20 }),
      fc.string({ unit: 'binary', maxLength: 10 }),
      fc.integer().map(String),
      fc.integer({ min: 60, max: 200 }).map((n) => 'c'.repeat(n)),
    );
    await eachOp(() => true, async (op) => {
      const declared = op.queryParams.map((p) => p.name);
      const name = fc.oneof(
        ...(declared.length ? [fc.constantFrom(...declared)] : []),
        fc.stringMatching(/^[a-z_]{1,12}$/),
        fc.string({ minLength: 1, maxLength: 10 }),
        fc.constantFrom('limit', 'after', 'before', 'limit[]', 'LIMIT', '__proto__', 'constructor', 'expand', 'starting_after', 'page', 'offset'),
      );
      const entries = fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 4 });
      const schema = querySchemaOf(op);
      await property(entries, async (pairs) => {
        const query = pairs.map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join('&');
        const parsed: Record<string, unknown> = Object.create(null);
        for (const [k, v] of pairs) {
          const key = Buffer.from(k, 'utf8').toString('utf8');
          const val = Buffer.from(v, 'utf8').toString('utf8');
          const prev = parsed[key];
          parsed[key] = prev === undefined ? val : Array.isArray(prev) ? [...prev, val] : [prev, val];
        }
        const res = await call({ method: op.method, path: `${pathOf(op)}?${query}`, key: ent.liveKey, body: hasBody(op) ? validBody(op) : undefined });
        check(op, res, true);
        if (declared.length === 0) return; // No query schema: parameters are ignored.
        const code: string | undefined = res.body?.error?.code;
        if (isValidQuery(schema, { ...parsed })) {
          if (code && code.startsWith('parameter_') && Object.keys(parsed).includes(res.body.error.param)) {
            throw new Error(`a valid query was refused: ${res.request} → ${res.text}`);
          }
        } else {
          expectError(res, ['parameter_invalid', 'parameter_unknown', 'parameter_missing', 'invalid_request']);
          if (code !== 'invalid_request') expect([...Object.keys(parsed), ...declared], res.request).toContain(res.body.error.param);
        }
      });
      // A few raw, badly encoded query strings.
      for (const raw of ['limit=%zz', '%zz=1', 'limit=-1', 'limit=abc', '&&&', '=', '==', 'limit', 'limit=1&limit=2', '?', 'a[b]=1', 'after=%00']) {
        check(op, await call({ method: op.method, path: `${pathOf(op)}?${raw}`, key: ent.liveKey, body: hasBody(op) ? validBody(op) : undefined }), true);
      }
    });
  }, TIMEOUT);

  it('(j) every list endpoint refuses after and before together, naming before', async () => {
    const isList = (op: Operation) => op.method === 'GET' && ['after', 'before'].every((name) => op.queryParams.some((p) => p.name === name));
    const lists = await eachOp(isList, async (op) => {
      const [older, newer] = [newId('agent'), newId('agent')];
      const res = await call({ method: 'GET', path: `${pathOf(op)}?limit=5&after=${older}&before=${newer}`, key: ent.liveKey });
      check(op, res, true);
      expectStatus(res, [400]);
      expectError(res, 'parameter_invalid');
      expectParam(res, 'before');
      expect(res.body.error.message).toContain('after');
      // Either one alone passes validation.
      for (const query of [`after=${older}`, `before=${newer}`]) {
        const alone = await call({ method: 'GET', path: `${pathOf(op)}?${query}`, key: ent.liveKey });
        check(op, alone, true);
        expect(alone.body?.error?.code ?? 'none', alone.request).not.toMatch(/^parameter_/);
      }
    });
    expect(lists).toBeGreaterThanOrEqual(12);
  }, TIMEOUT);

  it('answers unknown routes and wrong methods with the error shape', async () => {
    const paths = [...new Set(ops.map((op) => op.path))];
    for (const path of paths) {
      const declared = new Set(ops.filter((op) => op.path === path).map((op) => op.method));
      if (declared.has('GET')) declared.add('HEAD');
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].filter((m) => !declared.has(m))) {
        const op = ops.find((o) => o.path === path)!;
        for (const key of [ent.liveKey, undefined]) {
          const res = await call({ method, path: pathOf(op), key, body: method === 'GET' ? undefined : {} });
          checkInvariants(res);
          expectError(res, ['route_not_found', 'method_not_allowed']);
        }
      }
    }
    const segment = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).map(encodeSegment);
    await property(fc.tuple(fc.constantFrom('/v1/no_such_', '/v2/', '/', '/api/v1/', '/v1/status/'), fc.array(segment, { minLength: 1, maxLength: 3 }), fc.constantFrom('GET', 'POST', 'DELETE')), async ([prefix, segments, method]) => {
      const res = await call({ method, path: prefix + segments.join('/'), key: ent.liveKey });
      checkInvariants(res);
      expectError(res, 'route_not_found');
    }, 30);
  }, TIMEOUT);
});

// --- rate limits on a metered plan ------------------------------------------------------------

describe('rate-limit headers on a free-plan workspace', () => {
  it('every secured operation reports the bucket, then answers 429 with Retry-After once it is empty', async () => {
    let free = await server.workspace('free');
    const limits = plans.free;
    const secured = ops.filter((op) => op.secured);
    /**
     * What one workspace's bucket showed: the operations outnumber a free bucket's tokens, so a
     * fresh workspace takes over before its bucket could run dry, and each is checked exactly.
     */
    interface Spell { startedAt: number; first: number | undefined; last: number; sent: number }
    const spells: Spell[] = [];
    let spell: Spell = { startedAt: Date.now(), first: undefined, last: 0, sent: 0 };
    for (const op of secured) {
      if (spell.first !== undefined && spell.last < 10) {
        spells.push(spell);
        free = await server.workspace('free');
        spell = { startedAt: Date.now(), first: undefined, last: 0, sent: 0 };
      }
      const requests: WireRequest[] = [
        { method: op.method, path: pathOf(op), key: free.liveKey, body: hasBody(op) ? validBody(op) : undefined },
        { method: op.method, path: `${pathOf(op)}?unknown_param=1`, key: free.testKey },
        ...(hasBody(op) ? [{ method: op.method, path: pathOf(op), key: free.liveKey, body: '{"broken' }] : []),
        ...(op.pathParams.length ? [{ method: op.method, path: fillPath(op.path, Object.fromEntries(op.pathParams.map((p) => [p.name, 'nope']))), key: free.testKey }] : []),
      ];
      for (const req of requests) {
        const res = await call(req);
        spell.sent++;
        check(op, res, true);
        expect(res.headers.get('x-ratelimit-limit'), res.request).toBe(String(limits.burst));
        const remaining = Number(res.headers.get('x-ratelimit-remaining'));
        expect(remaining, res.request).toBeLessThan(limits.burst!);
        expect(Number(res.headers.get('x-ratelimit-reset')), res.request).toBeLessThanOrEqual(Math.ceil((limits.burst! / limits.requestsPerMinute!) * 60));
        spell.first ??= remaining + 1;
        spell.last = remaining;
      }
    }
    spells.push(spell);
    // Each request took one token; at most the refill of the elapsed time came back.
    for (const { startedAt, first, last, sent } of spells) {
      const refill = Math.ceil(((Date.now() - startedAt) / 60_000) * limits.requestsPerMinute!) + 1;
      expect(last).toBeLessThanOrEqual(first! - sent + refill);
      expect(last).toBeGreaterThanOrEqual(first! - sent);
    }

    // Empty the bucket, then every secured operation is refused with Retry-After, whatever it carries.
    const drainer = secured.find((op) => op.method === 'GET' && op.pathParams.length === 0) ?? secured[0]!;
    const drain = async () => {
      for (let i = 0; i < limits.burst! + 50; i++) {
        const res = await call({ method: drainer.method, path: pathOf(drainer), key: free.liveKey });
        if (res.status === 429) return;
      }
      throw new Error('the bucket never emptied');
    };
    await drain();
    for (const op of secured) {
      for (const req of [
        { method: op.method, path: pathOf(op), key: free.liveKey, body: hasBody(op) ? validBody(op) : undefined },
        { method: op.method, path: pathOf(op), key: free.testKey, body: hasBody(op) ? '{"broken' : undefined },
      ] satisfies WireRequest[]) {
        let res = await call(req);
        if (res.status !== 429) {
          await drain(); // a token trickled back in meanwhile
          res = await call(req);
        }
        check(op, res, true);
        expectError(res, 'rate_limited');
        expect(res.headers.get('x-ratelimit-remaining'), res.request).toBe('0');
        expect(res.headers.get('x-ratelimit-limit'), res.request).toBe(String(limits.burst));
        expect(Number(res.headers.get('retry-after')), res.request).toBeGreaterThanOrEqual(1);
      }
    }
  }, TIMEOUT);
});
