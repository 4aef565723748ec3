import { FetchError } from '../../../context/ports.js';
import type { WorkflowStepState } from '../../../store/port.js';
import type { HttpStep } from '../../definition.js';
import { AttemptFailed } from '../errors.js';
import type { Frame } from '../execution.js';
import type { Walker } from '../walker.js';
import type { StepExecutor } from './executor.js';

const HTTP_DEFAULT_TIMEOUT_MS = 15_000;
const HTTP_MAX_RESPONSE_BYTES = 1024 * 1024;

/** One request per attempt; the output is `{ status, headers, body }`. */
export const httpStep: StepExecutor<HttpStep> = {
  run: (walker, step, state, frame) => walker.attempts(step, state, () => request(walker, step, state, frame), true),
};

async function request(walker: Walker, step: HttpStep, state: WorkflowStepState, frame: Frame) {
  const { ex } = walker;
  const url = await walker.template(frame, step.url, state.key, 'url');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(step.headers ?? {})) headers[name.toLowerCase()] = await walker.template(frame, value, state.key, `headers.${name}`);
  const hasBody = step.method !== 'GET' && step.method !== 'DELETE';
  const body = hasBody && step.body !== undefined ? JSON.stringify(await walker.evaluate(frame, step.body, state.key, 'body')) : undefined;
  // Stable for the step across attempts, restarts and engines: a receiver applies the effect once.
  const idempotencyKey = `${ex.run.id}:${state.key}`;
  Object.assign(headers, {
    accept: headers.accept ?? 'application/json, text/plain;q=0.9, */*;q=0.1',
    ...(body !== undefined ? { 'content-type': headers['content-type'] ?? 'application/json' } : {}),
    'idempotency-key': idempotencyKey,
    'kairo-workflow-run-id': ex.run.id,
  });
  const input = { method: step.method, url, headers: redactHeaders(headers), body: body === undefined ? null : JSON.parse(body) };
  try {
    const response = await walker.deps.fetcher.fetch(url, {
      method: step.method, headers, ...(body !== undefined ? { body } : {}), maxBytes: HTTP_MAX_RESPONSE_BYTES,
      timeoutMs: step.timeout_ms ?? HTTP_DEFAULT_TIMEOUT_MS, signal: ex.signal,
    });
    return { input, output: { status: response.status, headers: response.headers, body: parseBody(response.body, response.headers['content-type']) } };
  } catch (error) {
    if (ex.signal.aborted) throw error;
    if (error instanceof FetchError) {
      throw new AttemptFailed(error.status !== undefined ? 'http_status' : `http_${error.code}`, error.message, error.retryable);
    }
    throw error;
  }
}

function parseBody(body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0) return null;
  const text = body.toString('utf8');
  if (contentType?.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** Header values that look like credentials are not stored with the step's input. */
function redactHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, /authorization|token|secret|key|cookie/i.test(name) && name !== 'idempotency-key' ? '[redacted]' : value]));
}
