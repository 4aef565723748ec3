/** Objects for the storage conformance suites: every field set, with values that exercise the columns. */
import { newId } from '../../src/ids.js';
import {
  emptyUsage, type Agent, type Run, type RunEvent, type Scope, type Store, type Span, type ThreadMessage, type Workflow, type WorkflowRun, type Workspace,
} from '../../src/store/port.js';
import { afterAll, beforeAll } from 'vitest';
import type { StoreHandle } from './services.js';

/** Times above 2^32, so that bigint columns are really exercised. */
export const T0 = 1_750_000_000_000;

export function workspace(overrides: Partial<Workspace> = {}): Workspace {
  return { id: newId('ws'), name: 'Acme', plan: 'free', createdAt: T0, ...overrides };
}

export function agent(scope: Scope, overrides: Partial<Agent> = {}): Agent {
  return {
    id: newId('agent'),
    scope,
    name: 'support bot',
    status: 'active',
    version: 1,
    config: { model: 'openai/gpt-4o-mini', instructions: 'Be brief ✓', tools: [{ type: 'http', url: 'https://example.com' }], temperature: 0.2 },
    metadata: { team: 'support', 'ünïcode': 'värde' },
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

export function run(scope: Scope, agentId: string, overrides: Partial<Run> = {}): Run {
  return {
    id: newId('run'),
    scope,
    agentId,
    agentVersion: 1,
    threadId: null,
    status: 'queued',
    mode: 'background',
    input: { messages: [{ role: 'user', content: 'hello' }] },
    state: {},
    output: null,
    errorCode: null,
    errorMessage: null,
    model: null,
    routing: null,
    usage: emptyUsage(),
    costUsd: 0,
    latency: {},
    requiredAction: null,
    cancelRequested: false,
    metadata: {},
    createdAt: T0,
    startedAt: null,
    completedAt: null,
    updatedAt: T0,
    apiKeyId: null,
    parentRunId: null,
    parentSpanId: null,
    workflowId: null,
    workflowVersion: null,
    ...overrides,
  };
}

export function workflow(scope: Scope, overrides: Partial<Workflow> = {}): Workflow {
  return {
    id: newId('wf'), scope, name: 'nightly report', version: 1, definition: { steps: [] }, metadata: {}, nextFireAt: null, createdAt: T0, updatedAt: T0,
    ...overrides,
  };
}

export function workflowRun(scope: Scope, workflowId: string, overrides: Partial<WorkflowRun> = {}): WorkflowRun {
  return {
    id: newId('wfrun'), scope, workflowId, workflowVersion: 1, status: 'queued', mode: 'background', trigger: 'api', scheduledFor: null,
    parentRunId: null, parentStepKey: null, input: null, output: null, errorCode: null, errorMessage: null, errorStep: null, cancelRequested: false,
    metadata: {}, createdAt: T0, startedAt: null, completedAt: null, updatedAt: T0, apiKeyId: null, usage: emptyUsage(), costUsd: 0, latency: {},
    ...overrides,
  };
}

export function span(runId: string, overrides: Partial<Span> = {}): Span {
  return {
    id: newId('span'), runId, parentId: null, kind: 'model_call', name: 'openai/gpt-4o-mini', status: 'running',
    attributes: { input_tokens: 12, nested: { list: [1, null, 'x'] } }, startedAt: T0, endedAt: null,
    ...overrides,
  };
}

export function message(threadId: string, overrides: Partial<ThreadMessage> = {}): ThreadMessage {
  return { id: newId('msg'), threadId, runId: null, role: 'user', content: 'hello', createdAt: T0, ...overrides };
}

export function runEvent(runId: string, seq: number, overrides: Partial<RunEvent> = {}): RunEvent {
  return { runId, seq, type: 'run.output.delta', data: { seq, text: `part ${seq}`, nested: { ok: true, list: [seq, null] } }, createdAt: T0 + seq, ...overrides };
}

export const ids = (items: Array<{ id: string }>): string[] => items.map((item) => item.id);

/** Runs `body` on a store of its own, for operations that read across all workspaces. */
export async function withFreshStore<T>(open: () => Promise<StoreHandle>, body: (fresh: StoreHandle['store']) => Promise<T>): Promise<T> {
  const own = await open();
  try {
    return await body(own.store);
  } finally {
    await own.dispose();
  }
}

/**
 * A store of `backend` for one suite (opened before its tests, closed after them) and the
 * test-mode scopes of two workspaces in it; the fields are set once the suite starts.
 */
export function storeWithTwoScopes(backend: { open(): Promise<StoreHandle> }): { store: Store; scope: Scope; other: Scope } {
  const opened = {} as { store: Store; scope: Scope; other: Scope };
  let handle: StoreHandle | undefined;
  beforeAll(async () => {
    handle = await backend.open();
    opened.store = handle.store;
    opened.scope = { workspaceId: (await handle.store.workspaces.create(workspace())).id, livemode: false };
    opened.other = { workspaceId: (await handle.store.workspaces.create(workspace())).id, livemode: false };
  });
  afterAll(async () => {
    await handle?.dispose();
  });
  return opened;
}
