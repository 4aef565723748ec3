import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorStatuses } from '../../src/http/error-status.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { tempDir } from '../support/services.js';
import { fetchOpenApi, operationsOf, type OpenApiDoc } from '../support/openapi.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

interface LintReport {
  totals: { errors: number; warnings: number };
  problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer?: string }> }>;
}

/** Redocly's verdict on `doc` with the repository's redocly.yaml; nothing leaves the machine. */
async function lint(doc: OpenApiDoc): Promise<LintReport> {
  const dir = tempDir();
  const file = path.join(dir, 'openapi.json');
  fs.writeFileSync(file, JSON.stringify(doc));
  const result = await run(path.join(root, 'node_modules/.bin/redocly'), ['lint', file, '--config', path.join(root, 'redocly.yaml'), '--format=json'], {
    cwd: root,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string }) => {
    // Redocly exits 1 when there are errors; its report is on stdout all the same.
    if (!error.stdout) throw new Error(`redocly lint failed: ${error.stderr ?? String(error)}`);
    return { stdout: error.stdout };
  }).finally(() => fs.rmSync(dir, { recursive: true, force: true }));
  return JSON.parse(result.stdout) as LintReport;
}

describe('the served OpenAPI document', () => {
  let server: TestServer;
  // Read freely: the assertions below say what shape they expect.
  let doc: any;

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    doc = await fetchOpenApi(server.url);
  });
  afterAll(async () => server?.close());

  it('passes redocly lint with no errors and no warnings', async () => {
    const report = await lint(doc);
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}`);
    expect(problems, problems.join('\n')).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);

  it('fails the lint when an operation loses what the rules require', async () => {
    const broken = structuredClone(doc);
    delete broken.paths['/v1/agents'].post.operationId;
    broken.paths['/v1/agents'].get.operationId = 'listAgents';
    const report = await lint(broken);
    expect(report.problems.map((p) => p.ruleId)).toEqual(expect.arrayContaining(['operation-operationId', 'rule/operation-id-dotted']));
  }, 60_000);

  it('names every operation once, in dotted resource form, with a tag the document describes', () => {
    const ops = operationsOf(doc);
    const ids = ops.map((op) => op.raw.operationId);
    expect(new Set(ids).size).toBe(ops.length);
    expect(ids).toEqual(expect.arrayContaining([
      'agents.create', 'agents.list', 'agents.retrieve', 'agents.update', 'agents.delete', 'agents.runs.create', 'agents.runs.retrieve',
      'workflows.runs.create', 'context.sources.documents.create', 'events.list', 'webhook_endpoints.rotate_secret', 'analytics.usage', 'status.retrieve',
    ]));
    const described = new Set(doc.tags.filter((tag: any) => tag.description).map((tag: any) => tag.name));
    for (const op of ops) {
      expect(op.raw.tags, op.name).toHaveLength(1);
      expect(described.has(op.raw.tags[0]), `${op.name}: tag ${op.raw.tags[0]}`).toBe(true);
      expect(op.raw.summary && op.raw.description, op.name).toBeTruthy();
    }
  });

  it('lists each error status with its codes, in the standard shape, instead of 4XX/5XX', () => {
    for (const op of operationsOf(doc)) {
      const statuses = Object.keys(op.raw.responses);
      expect(statuses.filter((s) => /X/i.test(s)), op.name).toEqual([]);
      // The OpenAI-compatible operations answer errors in OpenAI's shape, with two codes of their own.
      const openAi = op.raw.tags[0] === 'OpenAI compatibility';
      for (const status of statuses.filter((s) => Number(s) >= 400)) {
        const media = op.raw.responses[status].content['application/json'];
        expect(media.schema, `${op.name} ${status}`).toEqual({ $ref: `#/components/schemas/${openAi ? 'OpenAiErrorResponse' : 'ErrorResponse'}` });
        for (const code of Object.keys(media.examples)) {
          if (openAi) {
            expect(Object.keys(media.examples[code].value.error).sort(), `${op.name} ${status} ${code}`).toEqual(['code', 'message', 'param', 'type']);
            if (code === 'model_not_found' || code === 'model_failed') continue;
            expect(errorStatuses[code as keyof typeof errorStatuses], `${op.name} ${status} ${code}`).toBe(Number(status));
            continue;
          }
          expect(errorStatuses[code as keyof typeof errorStatuses], `${op.name} ${status} ${code}`).toBe(Number(status));
          expect(doc.components.examples[code].value.error.code).toBe(code);
        }
      }
    }
    const codesOf = (path: string, method: string, status: number) => Object.keys(doc.paths[path][method].responses[status]?.content['application/json'].examples ?? {});
    expect(codesOf('/v1/agents/{id}/runs', 'post', 403)).toEqual(expect.arrayContaining(['permission_denied', 'budget_exceeded']));
    expect(codesOf('/v1/agents/{id}/runs', 'post', 429)).toEqual(expect.arrayContaining(['rate_limited', 'concurrency_limited']));
    expect(codesOf('/v1/agents/{id}', 'get', 404)).toEqual(['resource_missing']);
    expect(codesOf('/v1/agents', 'post', 409)).toEqual(['idempotency_key_in_use']);
    expect(codesOf('/v1/agents', 'get', 404)).toEqual([]);
    expect(codesOf('/v1/context/sources/{id}/documents', 'post', 413)).toEqual(expect.arrayContaining(['body_too_large', 'document_too_large']));
    expect(codesOf('/v1/workspace', 'get', 403)).toEqual(['https_required']);
    expect(codesOf('/v1/status', 'get', 401)).toEqual([]);
    expect(codesOf('/v1/status', 'get', 503)).toEqual(['service_unavailable']);
    expect(codesOf('/v1/chat/completions', 'post', 404)).toEqual(['model_not_found']);
    expect(codesOf('/v1/responses/{id}', 'get', 404)).toEqual(['resource_missing']);
  });

  it('documents security, idempotency, streaming, rate-limit and budget headers from the routes', () => {
    const status = doc.paths['/v1/status'].get;
    expect(status.security).toEqual([]);
    expect(status.responses['200'].headers['X-RateLimit-Limit']).toBeUndefined();
    expect(doc.paths['/v1/workspace'].get.security).toEqual([{ bearerAuth: [] }]);

    const createRun = doc.paths['/v1/agents/{id}/runs'].post;
    expect(createRun.parameters).toContainEqual({ $ref: '#/components/parameters/IdempotencyKey' });
    expect(createRun.responses['200'].content['text/event-stream']).toBeDefined();
    expect(Object.keys(createRun.responses['200'].headers)).toEqual(expect.arrayContaining([
      'X-Request-Id', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Idempotent-Replayed',
      'KAIRO-Budget-Remaining-USD', 'KAIRO-Budget-Remaining-Tokens',
    ]));
    expect(createRun.responses['429'].headers['Retry-After']).toBeDefined();
    expect(createRun.responses['401'].headers['X-RateLimit-Limit']).toBeUndefined();

    const getRun = doc.paths['/v1/agents/{id}/runs/{run_id}'].get;
    expect(getRun.parameters).toContainEqual({ $ref: '#/components/parameters/LastEventId' });
    expect(getRun.parameters).not.toContainEqual({ $ref: '#/components/parameters/IdempotencyKey' });
    expect(doc.paths['/v1/workflows/{id}/runs/{run_id}'].get.responses['200'].content['text/event-stream']).toBeDefined();
    expect(doc.paths['/v1/agents/{id}'].get.responses['200'].content['text/event-stream']).toBeUndefined();
    expect(doc.paths['/v1/agents'].post.responses['201'].headers['KAIRO-Budget-Remaining-USD']).toBeUndefined();
  });

  it('shows request and response examples of the create and run operations (the lint checks them against the schemas)', () => {
    const json = (path: string, method: string) => doc.paths[path][method];
    for (const [path, method, status] of [
      ['/v1/agents', 'post', '201'], ['/v1/agents/{id}/runs', 'post', '200'], ['/v1/workflows/{id}/runs', 'post', '200'],
      ['/v1/context/sources', 'post', '201'], ['/v1/context/sources/{id}/documents', 'post', '201'], ['/v1/context/query', 'post', '200'],
    ] as const) {
      const op = json(path, method);
      expect(Object.keys(op.requestBody.content['application/json'].examples ?? {}).length, `${method} ${path}`).toBeGreaterThan(0);
      expect(op.responses[status].content['application/json'].examples?.[status]?.value, `${method} ${path} ${status}`).toBeTypeOf('object');
    }
    expect(Object.keys(json('/v1/agents/{id}/runs', 'post').requestBody.content['application/json'].examples)).toEqual(['wait', 'stream', 'background']);
    expect(json('/v1/budgets', 'post').requestBody.content['application/json'].example).toMatchObject({ period: 'month' });
  });
});
