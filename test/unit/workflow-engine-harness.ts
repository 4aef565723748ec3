/**
 * The workflow engine on a real SQLite store, driven by hand: each `advance` is what one
 * `workflows.run` job does, so a test decides when a run moves on. The clock is real time plus
 * an offset a test can move forward (waits longer than the engine sleeps through park the run).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { newId } from '../../src/ids.js';
import { LocalQueue } from '../../src/queue/local-queue.js';
import { MemoryConcurrencyLimiter } from '../../src/limits/memory-concurrency-limiter.js';
import { RunSlots } from '../../src/platform/run-slots.js';
import { createSafeFetcher, type ClosableSafeFetcher } from '../../src/net/safe-fetch.js';
import { ProcessPool } from '../../src/compute/process-pool.js';
import { RunEventLog } from '../../src/runs/event-log.js';
import { SpanWriter } from '../../src/runs/spans.js';
import type { RunObserver } from '../../src/runs/observer.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { emptyUsage, type RunEvent, type Scope, type Store, type Workflow, type WorkflowRun, type WorkflowStepState, type Workspace } from '../../src/store/port.js';
import { DEFAULT_RETRY, type Step, type WorkflowDefinition } from '../../src/workflows/definition.js';
import { WorkflowEngine } from '../../src/workflows/engine/engine.js';
import type { AgentCaller, AgentCallResult } from '../../src/workflows/engine/ports.js';
import { ExpressionEvaluator } from '../../src/workflows/expression-evaluator.js';
import { evaluateTask } from '../../src/workflows/expression-tasks.js';
import { tempDir } from '../support/services.js';

export interface HarnessOptions {
  maxMapItems?: number;
  maxWorkflowDataBytes?: number;
}

/** What an agent step's call gets: scripted per agent id, recorded per call. */
export type AgentScript = (request: Parameters<AgentCaller['run']>[0]) => Promise<AgentCallResult> | AgentCallResult;

export const agentAnswer = (output: string): AgentCallResult => ({ ok: true, runId: newId('run'), output, usage: { ...emptyUsage(), input_tokens: 3, output_tokens: 2, total_tokens: 5 }, costUsd: 0.5 });
export const agentError = (code: string, retryable: boolean): AgentCallResult => ({ ok: false, runId: newId('run'), code, message: `the agent failed (${code})`, retryable, usage: emptyUsage(), costUsd: 0 });

export interface Harness {
  store: Store;
  engine: WorkflowEngine;
  slots: RunSlots;
  workspace: Workspace;
  scope: Scope;
  /** Moves the engine's clock forward. */
  later(ms: number): void;
  now(): number;
  /** Agent ids to scripts; every call is recorded in `agentCalls`. */
  agents: Map<string, AgentScript>;
  agentCalls: Array<{ agentId: string; input: string; attempt: string }>;
  /** Runs the observer was told of, as they finished. */
  finished: WorkflowRun[];
  /** A loopback receiver: `/status/<n>` answers n, `/slow` never answers, anything else echoes. */
  url: string;
  requests: Array<{ method: string; path: string; headers: http.IncomingHttpHeaders; body: string }>;
  workflow(steps: Step[], extra?: Partial<WorkflowDefinition>): Promise<Workflow>;
  start(workflow: Workflow, input?: unknown): Promise<WorkflowRun>;
  advance(runId: string, signal?: AbortSignal): Promise<string>;
  run(runId: string): Promise<WorkflowRun>;
  step(runId: string, key: string): Promise<WorkflowStepState>;
  events(runId: string): Promise<RunEvent[]>;
  close(): Promise<void>;
}

export async function openHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = tempDir('kairo-engine-');
  const store = await openSqliteStore({ dataDir: dir });
  let offset = 0;
  const now = () => Date.now() + offset;
  const workspace: Workspace = { id: newId('ws'), name: 'Acme', plan: 'free', createdAt: now() };
  await store.workspaces.create(workspace);
  const scope: Scope = { workspaceId: workspace.id, livemode: false };
  const queue = new LocalQueue({ store, now });
  const events = new RunEventLog(store, now, (repos) => repos.workflowRunEvents);
  const slots = new RunSlots(new MemoryConcurrencyLimiter());
  const fetcher: ClosableSafeFetcher = createSafeFetcher({ allowCidrs: ['127.0.0.0/8'] });
  const pool = new ProcessPool({ script: '', size: 0, inline: { evaluate: evaluateTask }, heapMb: 64, timeoutMs: 5_000, maxQueuedPerTenant: 64 });
  const maxWorkflowDataBytes = options.maxWorkflowDataBytes ?? 64 * 1024;
  const agents = new Map<string, AgentScript>();
  const agentCalls: Harness['agentCalls'] = [];
  const finished: WorkflowRun[] = [];
  const observer: RunObserver = {
    modelCalls: async () => {},
    agentRunFinished: async () => {},
    workflowRunFinished: async (_tx, run) => void finished.push(run),
    completionFinished: async () => {},
  };
  const engine = new WorkflowEngine({
    store, queue, events, slots, fetcher, spans: new SpanWriter(store, true, now), observer, leaseMs: 30_000,
    expressions: new ExpressionEvaluator(pool, 64, maxWorkflowDataBytes),
    limits: { maxMapItems: options.maxMapItems ?? 100, maxWorkflowDataBytes },
    now,
    agents: {
      async run(request) {
        agentCalls.push({ agentId: request.agentId, input: request.input, attempt: request.metadata.workflow_step_attempt! });
        const script = agents.get(request.agentId);
        if (!script) return { ok: false, runId: null, code: 'agent_missing', message: `Agent ${request.agentId} no longer exists.`, retryable: false, usage: emptyUsage(), costUsd: 0 };
        return script(request);
      },
    },
  });

  const requests: Harness['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      requests.push({ method: req.method ?? '', path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (path.startsWith('/slow')) return;
      const status = /^\/status\/(\d+)/.exec(path);
      res.writeHead(status ? Number(status[1]) : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path, method: req.method }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    store, engine, slots, workspace, scope, agents, agentCalls, finished, url, requests,
    later: (ms) => void (offset += ms),
    now,
    async workflow(steps, extra = {}) {
      const definition: WorkflowDefinition = {
        name: 'engine test', description: null, input_schema: null, steps, output: null, retry: { ...DEFAULT_RETRY, backoff_ms: 0 }, schedule: null, ...extra,
      };
      const workflow: Workflow = {
        id: newId('wf'), scope, name: definition.name, version: 1, definition: definition as unknown as Record<string, unknown>,
        metadata: {}, nextFireAt: null, createdAt: now(), updatedAt: now(),
      };
      return store.transaction((tx) => tx.workflows.create(workflow));
    },
    start: (workflow, input = {}) => engine.create(scope, workflow, { input, mode: 'background', trigger: 'api' }),
    async advance(runId, signal = new AbortController().signal) {
      return (await engine.advance(runId, signal)).status;
    },
    async run(runId) {
      return (await store.workflowRuns.getById(runId))!;
    },
    async step(runId, key) {
      const found = (await store.workflowRuns.steps(runId)).find((s) => s.key === key);
      if (!found) throw new Error(`no step ${key} in run ${runId}`);
      return found;
    },
    events: (runId) => events.read(runId, 0, 1_000),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fetcher.close();
      await pool.close();
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
