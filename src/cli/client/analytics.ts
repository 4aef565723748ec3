import { Option, type Command } from 'commander';
import { CLIENT_COMMANDS, collect, openSession, pageSize, parseAmount, parseCount, withClientOptions } from './connection.js';
import { UsageError, usd, type Column, type Output } from './output.js';

type Row = Record<string, unknown>;
interface BucketPage {
  data: Array<{ start_time: string; results: Row[] }>;
  totals: Row[];
  has_more: boolean;
  next_page: string | null;
}

interface BucketOptions {
  bucketWidth?: string; start?: string; end?: string; groupBy?: string; limit?: string; page?: string;
  agent?: string; agentVersion?: string; workflow?: string; workflowVersion?: string; apiKeyId?: string; model?: string; provider?: string; status?: string;
}

/** The field of a result each `group_by` name fills. */
const GROUP_FIELDS: Record<string, string> = {
  agent: 'agent_id', agent_version: 'agent_version', workflow: 'workflow_id', workflow_version: 'workflow_version',
  api_key: 'api_key_id', model: 'model', provider: 'provider', status: 'status',
};

/** A time as the API takes it (RFC 3339): anything Date can read, e.g. 2026-12-01 or 2026-12-01T09:00 (local). */
function time(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`${flag} is not a time: ${value} (e.g. 2026-12-01 or 2026-12-01T09:00:00Z)`);
  return new Date(ms).toISOString();
}

function withBucketOptions(command: Command): Command {
  return withClientOptions(
    command
      .addOption(new Option('--bucket-width <width>', 'bucket width, aligned to UTC (default 1d)').choices(['1m', '1h', '1d']))
      .option('--start <time>', 'start of the range (default: 60 minutes, 24 hours or 7 days before --end)')
      .option('--end <time>', 'end of the range, exclusive (default: now)')
      .option('--group-by <list>', `comma-separated: ${Object.keys(GROUP_FIELDS).join(', ')}`)
      .option('--agent <id>', 'only this agent (agent_…)')
      .option('--agent-version <n>', 'only this version of --agent')
      .option('--workflow <id>', 'only this workflow (wf_…)')
      .option('--workflow-version <n>', 'only this version of --workflow')
      .option('--api-key-id <id>', 'only work started with this key (key_…)')
      .option('--model <id>', 'only this model')
      .option('--provider <id>', 'only this provider')
      .option('--status <status>', 'completed, failed or cancelled (runs), ok or error (model calls), or an HTTP status (requests)')
      .option('--limit <n>', 'buckets per answer (default and cap: 1440 of 1m, 168 of 1h, 31 of 1d)')
      .option('--page <time>', 'the next_page of a previous answer'),
  );
}

function bucketQuery(options: BucketOptions) {
  const query: Record<string, string | number> = {};
  const set = (name: string, value: string | number | undefined) => {
    if (value !== undefined) query[name] = value;
  };
  set('bucket_width', options.bucketWidth);
  set('start', time(options.start, '--start'));
  set('end', time(options.end, '--end'));
  set('group_by', options.groupBy);
  set('agent_id', options.agent);
  set('agent_version', parseCount(options.agentVersion, '--agent-version'));
  set('workflow_id', options.workflow);
  set('workflow_version', parseCount(options.workflowVersion, '--workflow-version'));
  set('api_key_id', options.apiKeyId);
  set('model', options.model);
  set('provider', options.provider);
  set('status', options.status);
  set('limit', parseCount(options.limit, '--limit', 1, 1440));
  set('page', time(options.page, '--page'));
  return query;
}

/** The group columns of `--group-by`, in its order. */
function groupColumns(groupBy: string | undefined): Column<Row>[] {
  const names = (groupBy ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  return names.map((name) => [name, (row: Row) => row[GROUP_FIELDS[name] ?? name]]);
}

/** One table row per bucket and group that has results, then the page's totals. */
function bucketTable(out: Output, page: BucketPage, groupBy: string | undefined, metrics: Column<Row>[]): void {
  const rows: Array<{ bucket: string; row: Row }> = page.data.flatMap((b) => b.results.map((row) => ({ bucket: b.start_time, row })));
  rows.push(...page.totals.map((row) => ({ bucket: 'total', row })));
  const columns: Column<{ bucket: string; row: Row }>[] = [
    ['bucket', (r) => r.bucket],
    ...[...groupColumns(groupBy), ...metrics].map(([heading, value]): Column<{ bucket: string; row: Row }> => [heading, (r) => value(r.row)]),
  ];
  out.table(page.totals.length === 0 ? [] : rows, columns, '(no data in this range)');
  if (page.has_more) out.line(out.dim(`more buckets: --page ${page.next_page}`));
}

/** Latency: one row per bucket, group and metric, with a column per percentile. */
function latencyTable(out: Output, page: BucketPage, groupBy: string | undefined): void {
  type Line = { bucket: string; row: Row; metric: string; values: Record<string, number | null> };
  const lines: Line[] = [];
  const add = (bucket: string, row: Row) => {
    for (const [metric, values] of Object.entries(row)) {
      if (metric.endsWith('_ms') && values && typeof values === 'object') lines.push({ bucket, row, metric: metric.slice(0, -3), values: values as Line['values'] });
    }
  };
  for (const bucket of page.data) for (const row of bucket.results) add(bucket.start_time, row);
  for (const row of page.totals) add('total', row);
  const percentiles = Object.keys(lines[0]?.values ?? {}).filter((key) => key !== 'count');
  out.table(lines, [
    ['bucket', (l) => l.bucket],
    ...groupColumns(groupBy).map(([heading, value]): Column<Line> => [heading, (l) => value(l.row)]),
    ['metric', (l) => l.metric], ['count', (l) => l.values.count],
    ...percentiles.map((p): Column<Line> => [`${p} ms`, (l) => l.values[p]]),
  ], '(no data in this range)');
}

/** `kairo analytics usage|costs|latency|traces`. */
export function registerAnalyticsCommands(program: Command): void {
  const analytics = program.command('analytics').description('usage, costs, latency and traces').helpGroup(CLIENT_COMMANDS);

  withBucketOptions(analytics.command('usage').description('requests, runs, workflow runs, steps and tokens per bucket')).action(
    async (options: BucketOptions, command: Command) => {
      const { kairo, out } = openSession(command);
      const page = await kairo.get('/v1/analytics/usage', { params: { query: bucketQuery(options) } });
      out.result(page, () =>
        bucketTable(out, page, options.groupBy, [
          ['requests', (r) => r.requests], ['request errors', (r) => r.request_errors], ['runs', (r) => r.runs], ['run errors', (r) => r.run_errors],
          ['workflow runs', (r) => r.workflow_runs], ['steps', (r) => r.steps], ['tokens', (r) => r.total_tokens],
        ]),
      );
    },
  );

  withBucketOptions(analytics.command('costs').description('cost per bucket, with the total')).action(async (options: BucketOptions, command: Command) => {
    const { kairo, out } = openSession(command);
    const page = await kairo.get('/v1/analytics/costs', { params: { query: bucketQuery(options) } });
    out.result(page, () => {
      bucketTable(out, page, options.groupBy, [['runs', (r) => r.runs], ['cost', (r) => usd(r.cost_usd)]]);
      out.line(`total ${usd(page.total_cost_usd)}${page.cost_notional ? ' (notional: test mode)' : ''}`);
    });
  });

  withBucketOptions(
    analytics
      .command('latency')
      .description('latency percentiles of agent runs per bucket, in milliseconds')
      .option('--percentiles <list>', 'comma-separated, e.g. 50,95,99 (default 50,90,95,99)')
      .option('--metrics <list>', 'comma-separated: total, queue, slot_wait, retrieval, model, time_to_first_token, tools (default all)'),
  ).action(async (options: BucketOptions & { percentiles?: string; metrics?: string }, command: Command) => {
    const { kairo, out } = openSession(command);
    const query = {
      ...bucketQuery(options),
      ...(options.percentiles ? { percentiles: options.percentiles } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    };
    const page = await kairo.get('/v1/analytics/latency', { params: { query } });
    out.result(page, () => latencyTable(out, page as unknown as BucketPage, options.groupBy));
  });

  withClientOptions(
    analytics
      .command('traces')
      .description('list agent and workflow runs as traces, newest first; with an id, show one trace and its spans')
      .argument('[id]', 'a run id (run_… or wfrun_…)')
      .addOption(new Option('--type <type>', 'agent_run or workflow_run').choices(['agent_run', 'workflow_run']))
      .option('--agent <id>', 'only runs of this agent')
      .option('--workflow <id>', 'only runs of this workflow and its agent steps')
      .option('--status <status>', 'only runs with this status')
      .option('--model <id>', 'only agent runs that finished on this model')
      .option('--min-latency-ms <ms>', 'only finished runs that took at least this long')
      .option('--min-cost-usd <usd>', 'only runs that cost at least this much')
      .option('--start <time>', 'only runs created at or after this time')
      .option('--end <time>', 'only runs created before this time')
      .option('--limit <n>', 'how many traces to show', '20'),
  ).action(async (id: string | undefined, options: Record<string, string | undefined>, command: Command) => {
    const { kairo, out } = openSession(command);
    if (id) {
      const trace = await kairo.get('/v1/analytics/traces/{id}', { params: { path: { id } } });
      out.result(trace, () => {
        out.object(trace, ['object', 'spans', 'children']);
        out.line();
        out.table(trace.spans, [['span', (s) => s.type], ['name', (s) => s.name], ['status', (s) => s.status], ['ms', (s) => s.duration_ms], ['started', (s) => s.started_at]]);
        if (trace.children.length > 0) out.table(trace.children, [['child trace', (c) => c.id], ['type', (c) => c.type], ['status', (c) => c.status]]);
      });
      return;
    }
    const limit = parseCount(options.limit, '--limit', 1)!;
    const query = {
      limit: pageSize(limit),
      ...(options.type ? { type: options.type as 'agent_run' | 'workflow_run' } : {}),
      ...(options.agent ? { agent_id: options.agent } : {}),
      ...(options.workflow ? { workflow_id: options.workflow } : {}),
      ...(options.status ? { status: options.status as 'completed' } : {}),
      ...(options.model ? { model: options.model } : {}),
      ...(options.minLatencyMs ? { min_latency_ms: parseAmount(options.minLatencyMs, '--min-latency-ms') } : {}),
      ...(options.minCostUsd ? { min_cost_usd: parseAmount(options.minCostUsd, '--min-cost-usd') } : {}),
      ...(options.start ? { start: time(options.start, '--start') } : {}),
      ...(options.end ? { end: time(options.end, '--end') } : {}),
    };
    const traces = await collect(kairo.list('/v1/analytics/traces', { params: { query } }), limit);
    out.result(traces, () =>
      out.table(traces, [
        ['id', (t) => t.id], ['type', (t) => t.type], ['status', (t) => t.status], ['model', (t) => t.model], ['tokens', (t) => t.usage.total_tokens],
        ['cost', (t) => usd(t.cost_usd)], ['ms', (t) => t.duration_ms], ['created', (t) => t.created_at],
      ]),
    );
  });
}
