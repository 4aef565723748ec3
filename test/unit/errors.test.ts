import { describe, expect, it } from 'vitest';
import { ComputeError } from '../../src/compute/process-pool.js';
import { EmbeddingError, FetchError } from '../../src/context/ports.js';
import { errorCatalogue, KairoError, type ErrorCode } from '../../src/errors.js';
import { errorAnswer, errorStatuses } from '../../src/http/error-status.js';
import { newId } from '../../src/ids.js';
import { isRetryableProviderStatus, isRetryableStatus } from '../../src/net/retryable-status.js';
import type { AgentsModule } from '../../src/agents/agents-module.js';
import type { Store } from '../../src/store/port.js';
import type { AgentCaller } from '../../src/workflows/engine/ports.js';
import { agentCaller } from '../../src/workflows/workflows-module.js';

const codes = Object.keys(errorCatalogue) as ErrorCode[];

describe('error catalogue and its HTTP mapping', () => {
  it('gives every code an HTTP status, and no status to a code the catalogue lacks', () => {
    expect(Object.keys(errorStatuses).sort()).toEqual([...codes].sort());
    for (const code of codes) expect(errorStatuses[code], code).toBeGreaterThanOrEqual(400);
  });

  it('answers retryable codes with 409, 429 or a 5xx, and never a non-retryable code with a 5xx', () => {
    for (const code of codes) {
      const status = errorStatuses[code];
      if (errorCatalogue[code].retryable) expect(status === 409 || status === 429 || status >= 500, `${code} ${status}`).toBe(true);
      else expect(status, code).toBeLessThan(500);
    }
  });

  it('takes retryable from the catalogue unless the thrower overrides it; the status stays the code’s', () => {
    expect(new KairoError('rate_limited').retryable).toBe(true);
    expect(new KairoError('parameter_invalid').retryable).toBe(false);
    const refused = new KairoError('embedding_failed', { retryable: false });
    expect(refused.retryable).toBe(false);
    expect(errorAnswer(refused, 'req_1').status).toBe(502);
    expect('status' in refused).toBe(false);
  });

  it('answers a missing object that a request field refers to with 400 invalid_request_error', () => {
    const missing = new KairoError('resource_missing', { param: 'agent_id', message: 'No such agent.' });
    expect(errorAnswer(missing, 'req_1')).toMatchObject({ status: 404, body: { error: { type: 'not_found_error', param: 'agent_id' } } });
    expect(errorAnswer(missing, 'req_1', { reference: true })).toEqual({
      status: 400,
      body: { error: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such agent.', param: 'agent_id', request_id: 'req_1' } },
    });
  });
});

describe('retryable', () => {
  it('retries 408, 429 and 5xx from an upstream, and a 409 only from a model provider (the AI SDK rule)', () => {
    for (const status of [408, 429, 500, 502, 503]) {
      expect(isRetryableStatus(status), String(status)).toBe(true);
      expect(isRetryableProviderStatus(status), String(status)).toBe(true);
    }
    for (const status of [400, 401, 403, 404, 422]) {
      expect(isRetryableStatus(status), String(status)).toBe(false);
      expect(isRetryableProviderStatus(status), String(status)).toBe(false);
    }
    expect(isRetryableStatus(409)).toBe(false);
    expect(isRetryableProviderStatus(409)).toBe(true);
  });

  it('is a property of the errors that decide a retry', () => {
    expect(new FetchError('bad_status', 'HTTP 503', 503).retryable).toBe(true);
    expect(new FetchError('bad_status', 'HTTP 404', 404).retryable).toBe(false);
    expect(new FetchError('timeout', 'slow').retryable).toBe(true);
    expect(new FetchError('address_blocked', 'private').retryable).toBe(false);
    const embedding = new EmbeddingError('HTTP 400', false);
    expect(embedding).toBeInstanceOf(KairoError);
    expect([embedding.code, embedding.retryable, embedding.name]).toEqual(['embedding_failed', false, 'EmbeddingError']);
    expect(new ComputeError('busy', 'queue full').retryable).toBe(true);
    expect(new ComputeError('out_of_memory', 'heap').retryable).toBe(false);
  });
});

describe('agent step of a workflow refused before its run starts', () => {
  const refusedBy = (error: Error): AgentCaller => {
    const store = { agents: { get: async () => ({ id: newId('agent') }) } } as unknown as Store;
    const agents = { engine: { start: async () => Promise.reject(error) } } as unknown as AgentsModule;
    return agentCaller(store, agents);
  };
  const call = (caller: AgentCaller) => caller.run({ agentId: newId('agent') } as Parameters<AgentCaller['run']>[0]);

  it('is retried exactly when the refusal is retryable', async () => {
    expect(await call(refusedBy(new KairoError('concurrency_limited')))).toMatchObject({ ok: false, code: 'concurrency_limited', retryable: true });
    expect(await call(refusedBy(new KairoError('agent_not_active')))).toMatchObject({ ok: false, code: 'agent_not_active', retryable: false });
    expect(await call(refusedBy(new KairoError('internal_error', { retryable: false })))).toMatchObject({ ok: false, retryable: false });
    expect(await call(refusedBy(new EmbeddingError('HTTP 503', true)))).toMatchObject({ ok: false, code: 'embedding_failed', retryable: true });
  });

  it('lets errors that are not KairoErrors through', async () => {
    await expect(call(refusedBy(new Error('boom')))).rejects.toThrow('boom');
  });
});
