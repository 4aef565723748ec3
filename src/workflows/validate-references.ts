import { KairoError, type ErrorCode } from '../errors.js';
import { allSteps, type Step, type WorkflowDefinition } from './definition.js';
import { compileExpression, stepReferences, templateExpressions } from './expressions.js';
import { key } from './schema-errors.js';
import { nestedSequences, walk } from './validate-steps.js';

/** What validation needs to know beyond the definition itself, scoped to the caller. */
export interface DefinitionLookups {
  /** True when an agent with this id exists in the caller's workspace and mode. */
  agentExists(id: string): Promise<boolean>;
  /** The current definition of a workflow of the caller's workspace and mode, or undefined. */
  workflowDefinition(id: string): Promise<WorkflowDefinition | undefined>;
  /** The id of the workflow being replaced (PUT), undefined when creating. */
  selfId?: string;
}

/** Levels of workflow-calls-workflow below the one being validated. */
const MAX_CALL_DEPTH = 16;

function fail(message: string, param: string, code: ErrorCode = 'parameter_invalid'): never {
  throw new KairoError(code, { message, param });
}

export interface ExpressionField {
  /** Who reads: `Step 'x'` or `'output'`. */
  label: string;
  kind: 'expression' | 'template';
  /** The field as named in messages: `input`, `when`, `headers.X-Key`. */
  field: string;
  param: string;
  source: string;
}

/** The expressions a step evaluates itself, before any of its nested steps run. */
function ownExpressions(step: Step, param: string): ExpressionField[] {
  const label = `Step '${step.id}'`;
  const expression = (field: string, source: string | undefined, fieldParam = key(param, field)): ExpressionField[] =>
    source === undefined ? [] : [{ label, kind: 'expression', field, param: fieldParam, source }];
  switch (step.type) {
    case 'agent':
      return expression('input', step.input);
    case 'http':
      return [
        { label, kind: 'template', field: 'url', param: key(param, 'url'), source: step.url },
        ...Object.entries(step.headers ?? {}).map(([name, source]): ExpressionField => ({
          label,
          kind: 'template',
          field: `headers.${name}`,
          param: key(key(param, 'headers'), name),
          source,
        })),
        ...expression('body', step.body),
      ];
    case 'transform':
      return expression('expression', step.expression);
    case 'branch':
      return step.cases.flatMap((c, i) => expression('when', c.when, `${param}.cases[${i}].when`));
    case 'map':
      return expression('items', step.items);
    case 'delay':
      return expression('until', step.until);
    case 'workflow':
      return expression('input', step.input);
    default:
      return [];
  }
}

/**
 * Parse every expression of a sequence and check the steps it reads have finished by then:
 * earlier steps of this sequence and of every enclosing one, with everything nested in them.
 */
export function checkSequenceExpressions(steps: Step[], param: string, visibleBefore: Set<string>, ids: Map<string, string>): void {
  const visible = new Set(visibleBefore);
  for (const [i, step] of steps.entries()) {
    const stepParam = `${param}[${i}]`;
    for (const field of ownExpressions(step, stepParam)) checkExpression(field, visible, ids);
    for (const sequence of nestedSequences(step, stepParam)) checkSequenceExpressions(sequence.steps, sequence.param, visible, ids);
    for (const done of allSteps([step])) visible.add(done.id);
  }
}

export function checkExpression(field: ExpressionField, visible: Set<string>, ids: Map<string, string>): void {
  let sources: string[];
  try {
    sources = field.kind === 'template' ? templateExpressions(field.source) : [field.source];
    for (const source of sources) compileExpression(source);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const subject = field.label === "'output'" ? "Expression in 'output'" : `${field.label}: ${field.kind} in '${field.field}'`;
    fail(`${subject} does not parse: ${reason}`, field.param);
  }
  for (const source of sources) {
    for (const ref of stepReferences(source)) {
      if (!ids.has(ref)) fail(`${field.label} reads steps.${ref}, but there is no step '${ref}'.`, field.param);
      if (!visible.has(ref)) fail(`${field.label} reads steps.${ref}, which does not run before it (a cycle or forward reference).`, field.param);
    }
  }
}

export async function checkAgents(steps: Step[], param: string, lookups: DefinitionLookups): Promise<void> {
  const firstUse = new Map<string, { id: string; param: string }>();
  for (const { step, param: stepParam } of walk(steps, param)) {
    if (step.type === 'agent' && !firstUse.has(step.agent)) firstUse.set(step.agent, { id: step.id, param: key(stepParam, 'agent') });
  }
  const agents = [...firstUse.keys()];
  const exists = await Promise.all(agents.map((agent) => lookups.agentExists(agent)));
  const missing = agents.findIndex((_, i) => !exists[i]);
  if (missing !== -1) {
    const agent = agents[missing]!;
    const use = firstUse.get(agent)!;
    fail(`Step '${use.id}': no agent '${agent}'.`, use.param, 'resource_missing');
  }
}

class CallCycle extends Error {}
class CallsTooDeep extends Error {}

export async function checkWorkflowCalls(steps: Step[], param: string, lookups: DefinitionLookups): Promise<void> {
  const graph = new CallGraph(lookups);
  for (const { step, param: stepParam } of walk(steps, param)) {
    if (step.type !== 'workflow') continue;
    const callee = step.workflow;
    const calleeParam = key(stepParam, 'workflow');
    if (callee === lookups.selfId) fail(`Step '${step.id}' calls ${callee}, which is this workflow (a cycle).`, calleeParam);
    if ((await graph.definition(callee)) === undefined) fail(`Step '${step.id}': no workflow '${callee}'.`, calleeParam, 'resource_missing');
    let depth: number;
    try {
      depth = 1 + (await graph.height(callee, []));
    } catch (error) {
      if (error instanceof CallCycle) fail(`Step '${step.id}' calls ${callee}, which calls this workflow back (a cycle).`, calleeParam);
      if (error instanceof CallsTooDeep) depth = Infinity;
      else throw error;
    }
    if (depth > MAX_CALL_DEPTH) {
      fail(`Step '${step.id}' calls ${callee}, whose workflow calls nest more than ${MAX_CALL_DEPTH} levels deep.`, calleeParam);
    }
  }
}

/** The workflows reachable through workflow steps, fetched once each. */
class CallGraph {
  private readonly definitions = new Map<string, Promise<WorkflowDefinition | undefined>>();
  private readonly heights = new Map<string, number>();

  constructor(private readonly lookups: DefinitionLookups) {}

  definition(id: string): Promise<WorkflowDefinition | undefined> {
    let definition = this.definitions.get(id);
    if (!definition) {
      definition = this.lookups.workflowDefinition(id);
      this.definitions.set(id, definition);
    }
    return definition;
  }

  /**
   * Levels of workflow calls below `id` (0 when it calls none). Throws CallCycle when a path
   * leads back to the workflow being validated, CallsTooDeep past MAX_CALL_DEPTH levels.
   */
  async height(id: string, chain: string[]): Promise<number> {
    if (id === this.lookups.selfId) throw new CallCycle();
    const known = this.heights.get(id);
    if (known !== undefined) return known;
    // A loop among other workflows only (two concurrent replacements can store one): not this
    // definition's to report.
    if (chain.includes(id)) return 0;
    if (chain.length >= MAX_CALL_DEPTH) throw new CallsTooDeep();
    const definition = await this.definition(id);
    let height = 0;
    if (definition) {
      const callees = new Set<string>();
      for (const step of allSteps(definition.steps)) if (step.type === 'workflow') callees.add(step.workflow);
      for (const callee of callees) height = Math.max(height, 1 + (await this.height(callee, [...chain, id])));
    }
    this.heights.set(id, height);
    return height;
  }
}
