/**
 * The agents area on a real SQLite store, wired as `kairo serve` wires it (queue, slots, context,
 * analytics), with a clock the test moves. The queue is not started: tests run jobs' work by
 * calling the engine, or start it themselves.
 */
import fs from 'node:fs';
import { AgentsModule } from '../../src/agents/agents-module.js';
import type { AgentInput } from '../../src/agents/agents.js';
import { RunEngine, type ToolRuntime } from '../../src/agents/run-engine.js';
import { AnalyticsModule } from '../../src/analytics/analytics-module.js';
import { ProcessPool } from '../../src/compute/process-pool.js';
import { computeTasks } from '../../src/compute-tasks.js';
import { loadConfig, type ConfigFlags } from '../../src/config.js';
import { ContextService } from '../../src/context/context-service.js';
import { DocumentWork } from '../../src/context/document-work.js';
import { createEmbedderRegistry } from '../../src/context/embedders/registry.js';
import { newId } from '../../src/ids.js';
import { openLimits } from '../../src/limits/open-limits.js';
import { createModelCatalogue } from '../../src/models/catalogue.js';
import { createModelRouter } from '../../src/models/router.js';
import { createSafeFetcher } from '../../src/net/safe-fetch.js';
import { INGESTION_SLOTS, RunSlots } from '../../src/platform/run-slots.js';
import { createWorkspace } from '../../src/platform/workspaces.js';
import { LocalQueue } from '../../src/queue/local-queue.js';
import type { Agent, PlanName, Run, Scope, Store, Workspace } from '../../src/store/port.js';
import { storeBackends, tempDir } from '../support/services.js';

export interface EngineHarness {
  store: Store;
  module: AgentsModule;
  /** An engine on the same store, queue, slots and event log whose tools are `tools` (a stand-in for the agents' tool runtime). */
  engineWith(tools: ToolRuntime): RunEngine;
  queue: LocalQueue;
  /** The concurrent-run slots the engine takes from (tests fill a workspace with them). */
  slots: RunSlots;
  clock: { now: number; advance(ms: number): void };
  workspace(plan?: PlanName): Promise<Workspace>;
  /** A workspace on `plan` and its scope in the given mode (test mode by default). */
  scope(plan?: PlanName, livemode?: boolean): Promise<{ workspace: Workspace; scope: Scope }>;
  agent(scope: Scope, input: AgentInput): Promise<Agent>;
  /** The run as stored now. */
  run(id: string): Promise<Run>;
  /** The types of a run's events, in order. */
  eventTypes(runId: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function openEngineHarness(flags: ConfigFlags = {}): Promise<EngineHarness> {
  const handle = await storeBackends.find((backend) => backend.name === 'sqlite')!.open();
  const store = handle.store;
  const dataDir = tempDir();
  const config = loadConfig({ dataDir, logLevel: 'silent', ...flags }, {});
  const clock = {
    now: Date.UTC(2026, 0, 5, 9, 0, 0),
    advance(ms: number) {
      clock.now += ms;
    },
  };
  const now = () => clock.now;
  const queue = new LocalQueue({ store, pollIntervalMs: 50 });
  const limits = openLimits();
  const slots = new RunSlots(limits.concurrency);
  const catalogue = createModelCatalogue(config);
  const fetcher = createSafeFetcher({ allowCidrs: config.outboundAllowCidrs });
  const compute = new ProcessPool({ script: '', size: 0, inline: computeTasks, heapMb: config.computeHeapMb, timeoutMs: config.documentTimeoutMs, maxQueuedPerTenant: 100 });
  const context = new ContextService({
    store, queue, embedders: createEmbedderRegistry(config), fetcher,
    work: new DocumentWork(compute, {
      heapMb: config.computeHeapMb, timeoutMs: config.documentTimeoutMs,
      limits: { maxPdfPages: config.maxPdfPages, maxCsvCells: config.maxCsvCells, maxDocumentChars: config.maxDocumentChars },
    }),
    uploadLimits: { maxFileBytes: config.maxFileBytes, maxUploadBytes: config.maxUploadBytes },
    ingestionSlots: new RunSlots(limits.concurrency, undefined, undefined, INGESTION_SLOTS),
    now,
  });
  const analytics = new AnalyticsModule({ config, store, queue, catalogue, version: 'test', onError: () => {} });
  const router = createModelRouter(catalogue);
  const module = new AgentsModule({
    store, queue, catalogue, router, context, slots, fetcher, outboundAllowCidrs: config.outboundAllowCidrs,
    spans: analytics.spans, observer: analytics.observer, now,
  });
  module.registerJobs(queue);

  const workspace = (plan: PlanName = 'enterprise') => createWorkspace(store, { name: newId('ws'), plan }, clock.now);
  return {
    store, module, queue, slots, clock, workspace,
    engineWith: (tools) => new RunEngine({
      store, queue, catalogue, router, context, slots, tools, events: module.events, spans: analytics.spans, observer: analytics.observer, now,
    }),
    async scope(plan = 'enterprise', livemode = false) {
      const ws = await workspace(plan);
      return { workspace: ws, scope: { workspaceId: ws.id, livemode } };
    },
    agent: (scope, input) => module.agents.create(scope, { name: 'Agent', ...input }),
    run: async (id) => (await store.runs.getById(id))!,
    eventTypes: async (runId) => (await module.events.read(runId, 0, 1000)).map((event) => event.type),
    async close() {
      await queue.stop(1000);
      await queue.close();
      await limits.close();
      await fetcher.close();
      await compute.close();
      await handle.dispose();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
