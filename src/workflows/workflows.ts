import { KairoError } from '../errors.js';
import { isId, newId } from '../ids.js';
import type { Page, PageRequest, Scope, Store, Workflow, WorkflowRun, WorkflowRunFilter, WorkflowStepState, WorkflowVersion } from '../store/port.js';
import type { WorkflowDefinition } from './definition.js';
import type { WorkflowEngine } from './engine/engine.js';
import { isFinal } from '../runs/statuses.js';
import { nextFireAt } from './schedule.js';
import { validateRunInput, validateWorkflowDefinition, type DefinitionLookups } from './validate.js';

/** What a client sends to create or replace a workflow (the definition plus metadata). */
export type WorkflowBody = Record<string, unknown> & { metadata?: Record<string, string> };

/** Workflows (each replace is a new immutable version) and their runs. */
export class WorkflowService {
  constructor(
    private readonly store: Store,
    private readonly engine: WorkflowEngine,
    private readonly options: { advanceInRequest: boolean },
    private readonly now: () => number = Date.now,
  ) {}

  private lookups(scope: Scope, selfId?: string): DefinitionLookups {
    return {
      agentExists: async (id) => isId('agent', id) && (await this.store.agents.get(scope, id)) !== undefined,
      workflowDefinition: async (id) => {
        const found = isId('wf', id) ? await this.store.workflows.get(scope, id) : undefined;
        return found?.definition as unknown as WorkflowDefinition | undefined;
      },
      ...(selfId ? { selfId } : {}),
    };
  }

  async create(scope: Scope, body: WorkflowBody): Promise<Workflow> {
    const { metadata, ...fields } = body;
    const definition = await validateWorkflowDefinition(fields, this.lookups(scope));
    const now = this.now();
    const workflow: Workflow = {
      id: newId('wf'), scope, name: definition.name, version: 1, definition: definition as unknown as Record<string, unknown>,
      metadata: metadata ?? {}, nextFireAt: nextFireAt(definition.schedule, now), createdAt: now, updatedAt: now,
    };
    return this.store.transaction((tx) => tx.workflows.create(workflow));
  }

  async get(scope: Scope, id: string): Promise<Workflow> {
    const workflow = isId('wf', id) ? await this.store.workflows.get(scope, id) : undefined;
    if (!workflow) throw new KairoError('resource_missing', { message: `No such workflow: '${id}'.`, param: 'id' });
    return workflow;
  }

  list(scope: Scope, page: PageRequest): Promise<Page<Workflow>> {
    return this.store.workflows.list(scope, page);
  }

  /** Replaces the definition: a new version. Runs in progress keep the version they started with. */
  async replace(scope: Scope, id: string, body: WorkflowBody): Promise<Workflow> {
    const workflow = await this.get(scope, id);
    const { metadata, ...fields } = body;
    const definition = await validateWorkflowDefinition(fields, this.lookups(scope, workflow.id));
    const now = this.now();
    const next: Workflow = {
      ...workflow, name: definition.name, version: workflow.version + 1, definition: definition as unknown as Record<string, unknown>,
      metadata: metadata ?? workflow.metadata, nextFireAt: nextFireAt(definition.schedule, now), updatedAt: now,
    };
    await this.store.transaction((tx) => tx.workflows.replace(next));
    return next;
  }

  /** Deletes a workflow; refused while it has runs queued, running or waiting (cancel them first). */
  async delete(scope: Scope, id: string): Promise<Workflow> {
    const workflow = await this.get(scope, id);
    const active = await this.store.workflowRuns.countActive(workflow.id);
    if (active > 0) {
      throw new KairoError('workflow_has_active_runs', {
        message: `Workflow '${id}' has ${active} run${active === 1 ? '' : 's'} queued, running or waiting. Cancel ${active === 1 ? 'it' : 'them'} first.`,
      });
    }
    await this.store.workflows.delete(scope, workflow.id, this.now());
    return workflow;
  }

  async versions(scope: Scope, id: string, page: PageRequest): Promise<Page<WorkflowVersion>> {
    const workflow = await this.get(scope, id);
    return this.store.workflows.versions(workflow.id, page);
  }

  /**
   * Starts a run with validated input. A wait or stream run is advanced at once by this process
   * when it runs jobs (see WorkflowEngine.startNow); otherwise the run is queued with its first job.
   */
  async start(
    scope: Scope, id: string, request: { input: unknown; mode: WorkflowRun['mode']; metadata?: Record<string, string>; apiKeyId: string | null },
  ): Promise<WorkflowRun> {
    const workflow = await this.get(scope, id);
    const definition = workflow.definition as unknown as WorkflowDefinition;
    validateRunInput(definition, request.input ?? {}, 'input');
    const tooLarge = this.engine.inputTooLarge(request.input);
    if (tooLarge) throw new KairoError('body_too_large', { message: tooLarge, param: 'input' });
    const start = {
      input: request.input ?? {}, mode: request.mode, trigger: 'api' as const, apiKeyId: request.apiKeyId, ...(request.metadata ? { metadata: request.metadata } : {}),
    };
    const workspace = this.options.advanceInRequest && request.mode !== 'background' ? await this.store.workspaces.get(scope.workspaceId) : undefined;
    return workspace ? this.engine.startNow(scope, workflow, start, workspace) : this.engine.create(scope, workflow, start);
  }

  async getRun(scope: Scope, workflowId: string, runId: string): Promise<WorkflowRun> {
    const run = isId('wfrun', runId) ? await this.store.workflowRuns.get(scope, runId) : undefined;
    if (!run || run.workflowId !== workflowId) throw new KairoError('resource_missing', { message: `No such workflow run: '${runId}'.`, param: 'run_id' });
    return run;
  }

  async listRuns(scope: Scope, filter: WorkflowRunFilter & { workflowId: string }, page: PageRequest): Promise<Page<WorkflowRun>> {
    const workflow = await this.get(scope, filter.workflowId);
    return this.store.workflowRuns.list(scope, { ...filter, workflowId: workflow.id }, page);
  }

  /** The run as stored now (after a stream ended, say); undefined once deleted. */
  currentRun(runId: string): Promise<WorkflowRun | undefined> {
    return this.store.workflowRuns.getById(runId);
  }

  steps(runId: string): Promise<WorkflowStepState[]> {
    return this.store.workflowRuns.steps(runId);
  }

  async cancel(scope: Scope, workflowId: string, runId: string): Promise<WorkflowRun> {
    const run = await this.getRun(scope, workflowId, runId);
    if (isFinal(run.status)) {
      throw new KairoError('run_not_cancellable', { message: `Workflow run '${runId}' has already finished (${run.status}).` });
    }
    return this.engine.cancel(run);
  }

  /**
   * Completes an approval step the run waits in, with the data given; the run continues in a
   * new advance. `step` names the step (its key, e.g. `each[2].review`) when several wait.
   */
  async resume(scope: Scope, workflowId: string, runId: string, request: { step?: string; data?: unknown }): Promise<WorkflowRun> {
    const run = await this.getRun(scope, workflowId, runId);
    const now = this.now();
    const waiting = (await this.store.workflowRuns.steps(run.id)).filter(
      (s) => s.type === 'approval' && s.status === 'waiting' && !s.state.resolution && (s.wakeAt === null || s.wakeAt > now),
    );
    if (isFinal(run.status) || waiting.length === 0) {
      throw new KairoError('run_not_waiting', { message: `Workflow run '${runId}' is not waiting for an approval.` });
    }
    const target = request.step === undefined ? waiting : waiting.filter((s) => s.key === request.step || s.stepId === request.step);
    if (target.length !== 1) {
      throw new KairoError('parameter_invalid', {
        param: 'step',
        message: request.step === undefined
          ? `Several approvals are waiting (${waiting.map((s) => s.key).join(', ')}); name one in 'step'.`
          : `No approval step '${request.step}' is waiting; waiting: ${waiting.map((s) => s.key).join(', ')}.`,
      });
    }
    const step = target[0]!;
    await this.store.transaction(async (tx) => {
      await tx.workflowRuns.saveStep({ ...step, state: { ...step.state, resolution: { data: request.data ?? null, at: now } }, updatedAt: now });
      await this.engine.wake(run.id, 0, tx);
    });
    return run;
  }
}
