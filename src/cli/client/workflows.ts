import type { Command } from 'commander';
import type { Body, Kairo } from '../../client/index.js';
import {
  CLIENT_COMMANDS, collect, openSession, pageSize, parseCount, parseJson, readJsonFile, withClientOptions, withLimit,
} from './connection.js';
import type { Output } from './output.js';
import { RunEventPrinter, failIfRunFailed, runSummary, type RunLike } from './runs.js';

type WorkflowStep = { key: string; type: string; status: string; attempts?: number; duration_ms?: number | null; output?: unknown };
type WorkflowRun = RunLike & { workflow_id: string; output?: unknown; steps?: WorkflowStep[] };

const getRun = (kairo: Kairo, workflowId: string, runId: string) =>
  kairo.get('/v1/workflows/{id}/runs/{run_id}', { params: { path: { id: workflowId, run_id: runId } } });

/** A workflow run for people: its fields, then each step's state. */
function showRun(run: WorkflowRun & object, out: Output): void {
  out.object(run, ['object', 'steps']);
  if (!run.steps || run.steps.length === 0) return;
  out.line();
  out.table(run.steps, [
    ['step', (s) => s.key], ['type', (s) => s.type], ['status', (s) => s.status], ['attempts', (s) => s.attempts], ['ms', (s) => s.duration_ms],
    ['output', (s) => { const text = JSON.stringify(s.output) ?? '-'; return text.length > 60 ? `${text.slice(0, 59)}…` : text; }],
  ]);
}

/** What to do about a run that waits for an approval: the command that resumes it. */
function approvalHint(run: WorkflowRun): string | undefined {
  if (run.status !== 'waiting') return undefined;
  const waiting = (run.steps ?? []).filter((s) => s.status === 'waiting' && s.type === 'approval').map((s) => s.key);
  if (waiting.length === 0) return undefined;
  const step = waiting.length > 1 ? ` --step ${waiting[0]}` : '';
  return `waiting for approval (${waiting.join(', ')}): kairo workflows approve ${run.workflow_id} ${run.id}${step} --data '{"approved": true}'`;
}

/** The end of a run command: the run under --json, else its summary (and how to approve it). */
function finish(run: WorkflowRun, out: Output): void {
  if (out.json) out.result(run, () => {});
  out.liveLine(out.dim(runSummary(run, out, 'live'), 'live'));
  const hint = approvalHint(run);
  if (hint) out.liveLine(hint);
  failIfRunFailed(run);
}

/** `kairo workflows create|list|get|run|watch|approve`. */
export function registerWorkflowCommands(program: Command): void {
  const workflows = program.command('workflows').description('create, list and run workflows; approve waiting runs').helpGroup(CLIENT_COMMANDS);

  withClientOptions(
    workflows
      .command('create')
      .description('create a workflow from its JSON definition (docs/workflows.md)')
      .requiredOption('--file <path>', 'the definition, a JSON file (- for standard input)'),
  ).action(async (options: { file: string }, command: Command) => {
    const { kairo, out } = openSession(command);
    const definition = readJsonFile(options.file, '--file') as Body<'/v1/workflows', 'post'>;
    const workflow = await kairo.post('/v1/workflows', { body: definition });
    out.result(workflow, () => out.object({ ...workflow, steps: workflow.steps.map((s) => `${String(s.id)} (${String(s.type)})`) }));
  });

  withClientOptions(withLimit(workflows.command('list').description('list workflows, newest first'), 'workflows')).action(
    async (options: { limit: string }, command: Command) => {
      const { kairo, out } = openSession(command);
      const limit = parseCount(options.limit, '--limit', 1)!;
      const list = await collect(kairo.list('/v1/workflows', { params: { query: { limit: pageSize(limit) } } }), limit);
      out.result(list, () =>
        out.table(list, [
          ['id', (w) => w.id], ['name', (w) => w.name], ['version', (w) => w.version], ['steps', (w) => w.steps.length],
          ['next run', (w) => w.next_run_at], ['created', (w) => w.created_at],
        ]),
      );
    },
  );

  withClientOptions(
    workflows
      .command('get')
      .description('show a workflow, or one of its runs with the state of each step')
      .argument('<workflow>', 'workflow id (wf_…)')
      .argument('[run]', 'a run id (wfrun_…)'),
  ).action(async (id: string, runId: string | undefined, _options: unknown, command: Command) => {
    const { kairo, out } = openSession(command);
    if (runId) {
      const run = await getRun(kairo, id, runId);
      out.result(run, () => showRun(run, out));
      return;
    }
    const workflow = await kairo.get('/v1/workflows/{id}', { params: { path: { id } } });
    out.result(workflow, () => out.object({ ...workflow, steps: workflow.steps.map((s) => `${String(s.id)} (${String(s.type)})`) }));
  });

  withClientOptions(
    workflows
      .command('run')
      .description('start a run and wait until it finishes or waits for an approval or a long delay')
      .argument('<workflow>', 'workflow id (wf_…)')
      .option('--input <json>', 'the run input, JSON', '{}')
      .option('--stream', 'print each step as it starts and ends'),
  ).action(async (id: string, options: { input: string; stream?: boolean }, command: Command) => {
    const { kairo, out } = openSession(command);
    const input = parseJson(options.input, '--input');
    if (!options.stream) {
      const run = await kairo.post('/v1/workflows/{id}/runs', { params: { path: { id } }, body: { input } });
      if (!out.json && run.output !== null && run.output !== undefined) out.line(typeof run.output === 'string' ? run.output : JSON.stringify(run.output, null, 2));
      finish(run, out);
      return;
    }
    const printer = new RunEventPrinter(out);
    for await (const event of kairo.streamWorkflowRun(id, { input })) printer.print(event);
    printer.end();
    if (!printer.runId) throw new Error('The event stream ended before it named the run.');
    finish(await getRun(kairo, id, printer.runId), out);
  });

  withClientOptions(
    workflows
      .command('watch')
      .description("follow a run's steps until it finishes or waits")
      .argument('<workflow>', 'workflow id (wf_…)')
      .argument('<run>', 'run id (wfrun_…)'),
  ).action(async (id: string, runId: string, _options: unknown, command: Command) => {
    const { kairo, out } = openSession(command);
    const printer = new RunEventPrinter(out);
    for await (const event of kairo.streamWorkflowRunEvents(id, runId)) printer.print(event);
    printer.end();
    finish(await getRun(kairo, id, runId), out);
  });

  withClientOptions(
    workflows
      .command('approve')
      .description('complete the approval step a run waits in; the run goes on in the background')
      .argument('<workflow>', 'workflow id (wf_…)')
      .argument('<run>', 'run id (wfrun_…)')
      .option('--step <id>', 'the approval step, when several wait')
      .option('--data <json>', "the step's output, JSON"),
  ).action(async (id: string, runId: string, options: { step?: string; data?: string }, command: Command) => {
    const { kairo, out } = openSession(command);
    const body = {
      ...(options.step ? { step: options.step } : {}),
      ...(options.data !== undefined ? { data: parseJson(options.data, '--data') } : {}),
    };
    const run = await kairo.post('/v1/workflows/{id}/runs/{run_id}/resume', { params: { path: { id, run_id: runId } }, body });
    out.result(run, () => out.line(`Approved: ${runSummary(run, out)} (kairo workflows watch ${id} ${run.id} follows it)`));
  });
}
