import { Option, type Command } from 'commander';
import { CLIENT_COMMANDS, collect, openSession, pageSize, parseCount, withClientOptions, withLimit } from './connection.js';
import { UsageError } from './output.js';
import { RunEventPrinter, failIfRunFailed, runSummary, showAgentRun } from './runs.js';

interface AgentOptions {
  name?: string;
  model?: string;
  instructions?: string;
  description?: string;
  context?: string[];
  status?: 'active' | 'paused' | 'archived';
}

/** The fields of an agent the command line sets (create and update share them). */
function agentFields(options: AgentOptions) {
  return {
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.model !== undefined ? { model: options.model } : {}),
    ...(options.instructions !== undefined ? { instructions: options.instructions } : {}),
    ...(options.description !== undefined ? { description: options.description } : {}),
    ...(options.context !== undefined ? { context: options.context } : {}),
    ...(options.status !== undefined ? { status: options.status } : {}),
  };
}

const statusOption = () => new Option('--status <status>', 'active, paused (runs refused) or archived').choices(['active', 'paused', 'archived']);

/** `kairo agents create|list|get|run|update|delete`. */
export function registerAgentCommands(program: Command): void {
  const agents = program.command('agents').description('create, list, run, change and delete agents').helpGroup(CLIENT_COMMANDS);

  withClientOptions(
    agents
      .command('create')
      .description('create an agent')
      .requiredOption('--name <name>', 'its name')
      .option('--model <model>', '"auto" or a model id from GET /v1/models', 'auto')
      .option('--instructions <text>', 'the system prompt')
      .option('--description <text>', 'what it is for')
      .option('--context <source...>', 'context source names or ids it draws on'),
  ).action(async (options: AgentOptions & { name: string }, command: Command) => {
    const { kairo, out } = openSession(command);
    const agent = await kairo.post('/v1/agents', { body: { ...agentFields(options), name: options.name } });
    out.result(agent, () => out.object(agent));
  });

  withClientOptions(withLimit(agents.command('list').description('list agents, newest first'), 'agents').addOption(statusOption())).action(
    async (options: { limit: string; status?: 'active' | 'paused' | 'archived' }, command: Command) => {
      const { kairo, out } = openSession(command);
      const limit = parseCount(options.limit, '--limit', 1)!;
      const query = { limit: pageSize(limit), ...(options.status ? { status: options.status } : {}) };
      const list = await collect(kairo.list('/v1/agents', { params: { query } }), limit);
      out.result(list, () =>
        out.table(list, [['id', (a) => a.id], ['name', (a) => a.name], ['model', (a) => a.model], ['status', (a) => a.status], ['version', (a) => a.version], ['created', (a) => a.created_at]]),
      );
    },
  );

  withClientOptions(agents.command('get').description('show an agent').argument('<agent>', 'agent id (agent_…)')).action(
    async (id: string, _options: unknown, command: Command) => {
      const { kairo, out } = openSession(command);
      const agent = await kairo.get('/v1/agents/{id}', { params: { path: { id } } });
      out.result(agent, () => out.object(agent));
    },
  );

  withClientOptions(
    agents
      .command('run')
      .description('run an agent: waits and prints its answer, or --stream prints the text as it comes')
      .argument('<agent>', 'agent id (agent_…)')
      .argument('<input>', 'what to ask')
      .option('--stream', 'print the text live as the model writes it')
      .option('--thread <id>', 'continue this conversation (thread_…)'),
  ).action(async (id: string, input: string, options: { stream?: boolean; thread?: string }, command: Command) => {
    const { kairo, out } = openSession(command);
    const body = { input, ...(options.thread ? { thread_id: options.thread } : {}) };
    if (!options.stream) {
      const run = await kairo.post('/v1/agents/{id}/runs', { params: { path: { id } }, body });
      out.result(run, () => {
        if (run.output !== null) out.line(run.output);
        if (run.required_action) out.line(`requires action: ${JSON.stringify(run.required_action)}`);
        out.line(out.dim(runSummary(run, out)));
      });
      failIfRunFailed(run);
      return;
    }
    const printer = new RunEventPrinter(out);
    for await (const event of kairo.streamAgentRun(id, body)) printer.print(event);
    printer.end();
    if (!printer.runId) throw new Error('The event stream ended before it named the run.');
    const run = await kairo.get('/v1/agents/{id}/runs/{run_id}', { params: { path: { id, run_id: printer.runId } } });
    if (out.json) out.result(run, () => {});
    out.liveLine(out.dim(runSummary(run, out, 'live'), 'live'));
    failIfRunFailed(run);
  });

  withClientOptions(
    agents
      .command('update')
      .description('change an agent; a change of its configuration makes a new version')
      .argument('<agent>', 'agent id (agent_…)')
      .option('--name <name>', 'a new name')
      .option('--model <model>', '"auto" or a model id')
      .option('--instructions <text>', 'the system prompt')
      .option('--description <text>', 'what it is for')
      .option('--context <source...>', 'context source names or ids (replaces the list)')
      .addOption(statusOption()),
  ).action(async (id: string, options: AgentOptions, command: Command) => {
    const { kairo, out } = openSession(command);
    const body = agentFields(options);
    if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give --name, --model, --instructions, --description, --context or --status.');
    const agent = await kairo.patch('/v1/agents/{id}', { params: { path: { id } }, body });
    out.result(agent, () => out.object(agent));
  });

  withClientOptions(agents.command('delete').description('delete an agent').argument('<agent>', 'agent id (agent_…)')).action(
    async (id: string, _options: unknown, command: Command) => {
      const { kairo, out } = openSession(command);
      const deleted = await kairo.delete('/v1/agents/{id}', { params: { path: { id } } });
      out.result(deleted, () => out.line(`Deleted ${deleted.id}`));
    },
  );
}
