import type { Command } from 'commander';
import type { RunEvent } from '../../client/index.js';
import { CLIENT_COMMANDS, openSession, parseCount, withClientOptions } from './connection.js';
import { WorkFailedError, cell, usd, type Output } from './output.js';

/** What the summary line and the failure check read of an agent run or a workflow run. */
export interface RunLike {
  id: string;
  status: string;
  model?: string | null;
  usage?: { total_tokens?: number };
  cost_usd?: number;
  cost_notional?: boolean;
  error?: { code: string; message: string } | null;
}

/** One line about a run: id, status, model, tokens and cost (`notional` in test mode). */
export function runSummary(run: RunLike, out: Output, stream: 'stdout' | 'live' = 'stdout'): string {
  const parts = [run.id, out.status(run.status, stream)];
  if (run.model !== undefined) parts.push(`model ${run.model ?? '-'}`);
  if (run.usage?.total_tokens !== undefined) parts.push(`${run.usage.total_tokens} tokens`);
  if (run.cost_usd !== undefined) parts.push(`${usd(run.cost_usd)}${run.cost_notional ? ' (notional)' : ''}`);
  return parts.join(' · ');
}

/** A failed run ends the command with its error code, exit code 1, after it was shown. */
export function failIfRunFailed(run: RunLike): void {
  if (run.status !== 'failed') return;
  throw new WorkFailedError(run.error?.code ?? 'run_failed', run.error?.message ?? `Run ${run.id} failed.`);
}

const short = (value: unknown, max = 80) => {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
};

/**
 * Prints a run's events as they arrive: text deltas as they come, in one flow, and the other
 * events that say something (tools, fallbacks, steps, waits) as notes on lines of their own.
 * Everything goes to the live stream, so stdout stays parseable under --json.
 */
export class RunEventPrinter {
  #midLine = false;
  /** The run id, from `run.created`. */
  runId: string | undefined;

  constructor(private readonly out: Output) {}

  print(event: RunEvent): void {
    const data = event.data;
    if (event.event === 'run.created' && typeof data.run_id === 'string') this.runId = data.run_id;
    if (event.event === 'run.output_text.delta') {
      this.out.live.write(String(data.delta ?? ''));
      this.#midLine = true;
      return;
    }
    const note = this.#note(event);
    if (note !== undefined) this.#noteLine(note);
  }

  /** Ends the streamed text with a newline when it did not. */
  end(): void {
    if (this.#midLine) this.out.live.write('\n');
    this.#midLine = false;
  }

  #noteLine(text: string): void {
    this.end();
    this.out.liveLine(this.out.dim(`· ${text}`, 'live'));
  }

  #note({ event, data }: RunEvent): string | undefined {
    const error = data.error as { code?: string; message?: string } | undefined;
    switch (event) {
      case 'run.tool_call.started': return `tool ${String(data.name)} ${short(data.arguments)}`;
      case 'run.tool_call.completed': return `tool ${String(data.name)} ${data.ok ? 'returned' : 'failed'}: ${short(data.output)}`;
      case 'run.model_fallback': return `model ${String(data.model)} failed, falling back: ${short(data.error)}`;
      case 'run.requires_action': return `requires action: ${short(data.required_action, 200)}`;
      case 'run.waiting': return `run waiting for ${String(data.waiting_for)}${data.wake_at ? ` until ${cell(data.wake_at)}` : ''}`;
      case 'run.resumed': return 'run resumed';
      case 'run.failed': return `run failed: ${error?.code ?? ''} ${error?.message ?? ''}`.trimEnd();
      case 'run.cancelled': return 'run cancelled';
      case 'step.started': return `step ${String(data.key)} started (${String(data.type)}${Number(data.attempt) > 1 ? `, attempt ${String(data.attempt)}` : ''})`;
      case 'step.completed': return `step ${String(data.key)} completed: ${short(data.output)}`;
      case 'step.retrying': return `step ${String(data.key)} retrying at ${cell(data.retry_at)}: ${error?.code ?? ''}`;
      case 'step.failed': return `step ${String(data.key)} failed: ${error?.code ?? ''} ${error?.message ?? ''}`.trimEnd();
      case 'step.waiting': return `step ${String(data.key)} waiting${data.prompt ? `: ${short(data.prompt)}` : ''}`;
      case 'step.timed_out': return `step ${String(data.key)} timed out`;
      default: return undefined;
    }
  }
}

interface AgentRunSteps {
  steps?: Array<Record<string, unknown>>;
}

/** An agent run for people: its fields, then its steps (model calls, tools, retrieval) as a table. */
export function showAgentRun(run: RunLike & AgentRunSteps & object, out: Output): void {
  out.object(run, ['object', 'steps']);
  if (!run.steps || run.steps.length === 0) return;
  out.line();
  out.table(run.steps, [
    ['step', (s) => s.type], ['name', (s) => s.name], ['status', (s) => s.status], ['ms', (s) => s.duration_ms],
    ['tokens', (s) => (s.input_tokens === undefined ? undefined : `${String(s.input_tokens)} in, ${String(s.output_tokens)} out`)],
  ]);
}

/** `kairo runs get|watch`: agent runs. */
export function registerRunCommands(program: Command): void {
  const runs = program.command('runs').description('read and follow agent runs').helpGroup(CLIENT_COMMANDS);

  withClientOptions(
    runs.command('get').description('show a run with its steps').argument('<agent>', 'agent id (agent_…)').argument('<run>', 'run id (run_…)'),
  ).action(async (agentId: string, runId: string, _options: unknown, command: Command) => {
    const { kairo, out } = openSession(command);
    const run = await kairo.get('/v1/agents/{id}/runs/{run_id}', { params: { path: { id: agentId, run_id: runId } } });
    out.result(run, () => showAgentRun(run, out));
  });

  withClientOptions(
    runs
      .command('watch')
      .description("follow a run's events to its end (from the first event, or after --after), then print its summary")
      .argument('<agent>', 'agent id (agent_…)')
      .argument('<run>', 'run id (run_…)')
      .option('--after <event>', 'start after this event id', '0'),
  ).action(async (agentId: string, runId: string, options: { after: string }, command: Command) => {
    const { kairo, out } = openSession(command);
    const printer = new RunEventPrinter(out);
    const lastEventId = parseCount(options.after, '--after', 0) ?? 0;
    for await (const event of kairo.streamRunEvents(agentId, runId, { lastEventId })) printer.print(event);
    printer.end();
    const run = await kairo.get('/v1/agents/{id}/runs/{run_id}', { params: { path: { id: agentId, run_id: runId } } });
    if (out.json) out.result(run, () => {});
    out.liveLine(out.dim(runSummary(run, out, 'live'), 'live'));
    failIfRunFailed(run);
  });
}
