import type { Data } from 'kairo/client';
import { useApi, usePolling } from '../api';
import { formatDate, formatJson, formatMs, formatNumber, formatUsd } from '../format';
import { Link } from '../router';
import { Json, LoadState, Page, Section, StatusBadge, Table, type Column } from '../ui';

type Trace = Data<'/v1/analytics/traces/{id}', 'get', { params: { path: { id: string } } }>;
type Span = Trace['spans'][number];
type Child = Trace['children'][number];

interface Row {
  span: Span;
  depth: number;
}

/** Spans in tree order (each after its parent, siblings by start), with their depth. */
function treeOrder(spans: Span[]): Row[] {
  const byParent = new Map<string | null, Span[]>();
  for (const span of spans) {
    const parent = span.parent_id && spans.some((s) => s.id === span.parent_id) ? span.parent_id : null;
    byParent.set(parent, [...(byParent.get(parent) ?? []), span]);
  }
  const rows: Row[] = [];
  const visit = (parent: string | null, depth: number) => {
    const children = [...(byParent.get(parent) ?? [])].sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
    for (const span of children) {
      rows.push({ span, depth });
      visit(span.id, depth + 1);
    }
  };
  visit(null, 0);
  return rows;
}

const attribute = (span: Span, name: string): number | undefined => {
  const value = span.attributes[name];
  return typeof value === 'number' ? value : undefined;
};

function tokensOf(span: Span): string {
  const input = attribute(span, 'input_tokens');
  const output = attribute(span, 'output_tokens');
  if (input === undefined && output === undefined) return '';
  return `${formatNumber(input ?? 0)} in / ${formatNumber(output ?? 0)} out`;
}

/** The spans as a waterfall: each bar placed on the trace's time line, with tokens and cost beside it. */
function Waterfall({ trace }: { trace: Trace }) {
  const start = Date.parse(trace.created_at);
  const end = Math.max(
    start + 1,
    Date.parse(trace.completed_at ?? '') || 0,
    ...trace.spans.map((s) => (s.ended_at ? Date.parse(s.ended_at) : Date.now())),
  );
  const total = end - start;
  const columns: Column<Row>[] = [
    {
      header: 'Span',
      cell: ({ span, depth }) => (
        <details style={{ paddingLeft: `${depth * 1.1}rem` }}>
          <summary><span className="nowrap">{span.name}</span> <span className="muted small">{span.type}</span></summary>
          <Json value={span.attributes} label={`Attributes of ${span.name}`} />
          {span.child_trace_ids.map((id) => <div key={id}><Link to={`/runs/${id}`}>Trace {id}</Link></div>)}
        </details>
      ),
    },
    {
      header: 'Timeline',
      cell: ({ span }) => {
        const left = ((Date.parse(span.started_at) - start) / total) * 100;
        const width = (((span.ended_at ? Date.parse(span.ended_at) : end) - Date.parse(span.started_at)) / total) * 100;
        return (
          <div className="span-track" role="img" aria-label={`${span.name}: starts at ${formatMs(Date.parse(span.started_at) - start)}, lasts ${formatMs(span.duration_ms)}`}>
            <div className={`span-bar type-${span.type} status-${span.status}`} style={{ left: `${Math.max(0, left)}%`, width: `${Math.min(100, width)}%` }} />
          </div>
        );
      },
      className: 'timeline',
    },
    { header: 'Status', cell: ({ span }) => <StatusBadge status={span.status} /> },
    { header: 'Duration', cell: ({ span }) => formatMs(span.duration_ms), className: 'num' },
    { header: 'Tokens', cell: ({ span }) => tokensOf(span), className: 'num' },
    { header: 'Cost', cell: ({ span }) => (attribute(span, 'cost_usd') === undefined ? '' : formatUsd(attribute(span, 'cost_usd'))), className: 'num' },
  ];
  return <Table caption="Spans" columns={columns} rows={treeOrder(trace.spans)} rowKey={({ span }) => span.id} empty="No spans recorded for this trace." />;
}

function Routing({ routing }: { routing: Record<string, unknown> }) {
  const candidates = Array.isArray(routing.candidates) ? (routing.candidates as string[]) : [];
  const fallbacks = Array.isArray(routing.fallbacks) ? (routing.fallbacks as Array<{ model: string; error: string }>) : [];
  return (
    <Section title="Routing decision">
      <dl className="facts">
        <dt>Model chosen</dt><dd><code>{String(routing.model ?? '—')}</code></dd>
        {routing.task !== undefined && <><dt>Task</dt><dd>{String(routing.task)}</dd></>}
        {routing.reason !== undefined && <><dt>Reason</dt><dd>{String(routing.reason)}</dd></>}
        {candidates.length > 0 && <><dt>Candidates in order</dt><dd>{candidates.join(', ')}</dd></>}
        <dt>Fallbacks</dt>
        <dd>{fallbacks.length === 0 ? 'None: the first model answered.' : fallbacks.map((f) => `${f.model} (${f.error})`).join('; ')}</dd>
      </dl>
      <details>
        <summary>Signals and everything recorded</summary>
        <pre className="json">{formatJson(routing)}</pre>
      </details>
    </Section>
  );
}

const childColumns: Column<Child>[] = [
  { header: 'Trace', cell: (child) => <Link to={`/runs/${child.id}`}>{child.id}</Link> },
  { header: 'Type', cell: (child) => child.type.replace('_', ' ') },
  { header: 'Status', cell: (child) => <StatusBadge status={child.status} /> },
  { header: 'Duration', cell: (child) => formatMs(child.duration_ms), className: 'num' },
  { header: 'Cost', cell: (child) => formatUsd(child.cost_usd), className: 'num' },
];

const RUNNING = new Set(['queued', 'running', 'waiting', 'requires_action']);

/** One trace: what ran, how long each part took, what it used and cost, and how the model was chosen. */
export function TracePage({ id }: { id: string }) {
  const trace = useApi((client) => client.get('/v1/analytics/traces/{id}', { params: { path: { id } } }), [id]);
  usePolling(trace.reload, 2000, trace.data !== undefined && RUNNING.has(trace.data.status));
  const data = trace.data;
  const ownerLink = data?.workflow_id && data.type === 'workflow_run'
    ? <Link to={`/workflows/${data.workflow_id}/runs/${data.id}`}>Open the workflow run</Link>
    : data?.agent_id ? <Link to={`/agents/${data.agent_id}`}>Open the agent</Link> : null;
  return (
    <Page title={data ? `Trace of ${data.name ?? data.id}` : 'Trace'} actions={ownerLink}>
      <LoadState loading={trace.loading && !data} error={trace.error} what="the trace" />
      {data && (
        <>
          <div className="stats">
            <div className="stat"><div className="stat-label">Status</div><div className="stat-value"><StatusBadge status={data.status} /></div></div>
            <div className="stat"><div className="stat-label">Duration</div><div className="stat-value">{formatMs(data.duration_ms)}</div></div>
            <div className="stat"><div className="stat-label">Tokens</div><div className="stat-value">{formatNumber(data.usage.total_tokens)}</div></div>
            <div className="stat">
              <div className="stat-label">Cost{data.cost_notional ? ' (notional)' : ''}</div>
              <div className="stat-value">{formatUsd(data.cost_usd)}</div>
            </div>
          </div>
          <Section title="Summary">
            <dl className="facts">
              <dt>Run</dt><dd><code>{data.id}</code> ({data.type.replace('_', ' ')})</dd>
              {data.model && <><dt>Model</dt><dd><code>{data.model}</code></dd></>}
              {data.agent_id && <><dt>Agent</dt><dd><Link to={`/agents/${data.agent_id}`}>{data.agent_id}</Link> version {data.agent_version}</dd></>}
              {data.workflow_id && <><dt>Workflow</dt><dd><Link to={`/workflows/${data.workflow_id}`}>{data.workflow_id}</Link> version {data.workflow_version}</dd></>}
              {data.parent_trace_id && <><dt>Started by</dt><dd><Link to={`/runs/${data.parent_trace_id}`}>{data.parent_trace_id}</Link></dd></>}
              <dt>Created</dt><dd>{formatDate(data.created_at)}</dd>
              <dt>Latency</dt><dd>{Object.entries(data.latency_ms).map(([part, ms]) => `${part.replace(/_ms$/, '').replace(/_/g, ' ')} ${formatMs(ms)}`).join(' · ') || '—'}</dd>
              {data.error && <><dt>Error</dt><dd>{data.error.code}: {data.error.message}</dd></>}
            </dl>
          </Section>
          <Section title="Spans"><Waterfall trace={data} /></Section>
          {data.routing && <Routing routing={data.routing} />}
          {data.children.length > 0 && (
            <Section title="Traces it started">
              <Table caption="Child traces" columns={childColumns} rows={data.children} rowKey={(child) => child.id} empty="" />
            </Section>
          )}
        </>
      )}
    </Page>
  );
}
