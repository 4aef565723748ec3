import { useState, type FormEvent } from 'react';
import type { ListItem } from 'kairo/client';
import { usePagedList } from '../api';
import { formatDate, formatMs, formatNumber, formatUsd } from '../format';
import { Link, setQuery, useLocation } from '../router';
import { ListTable, Page, SelectField, StatusBadge, TextField, type Column } from '../ui';

type Trace = ListItem<'/v1/analytics/traces'>;

const FILTERS = ['type', 'status', 'agent_id', 'workflow_id', 'model', 'min_latency_ms', 'min_cost_usd'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

const STATUSES = ['queued', 'running', 'requires_action', 'waiting', 'completed', 'failed', 'cancelled'];

const columns: Column<Trace>[] = [
  { header: 'Run', cell: (t) => <Link to={`/runs/${t.id}`}>{t.id}</Link> },
  { header: 'Type', cell: (t) => (t.type === 'agent_run' ? 'agent run' : 'workflow run') },
  {
    header: 'Of',
    cell: (t) => (t.agent_id ? <Link to={`/agents/${t.agent_id}`}>{t.agent_id}</Link> : t.workflow_id ? <Link to={`/workflows/${t.workflow_id}`}>{t.workflow_id}</Link> : '—'),
  },
  { header: 'Status', cell: (t) => <StatusBadge status={t.status} /> },
  { header: 'Model', cell: (t) => (t.model ? <code>{t.model}</code> : '—') },
  { header: 'Tokens', cell: (t) => formatNumber(t.usage.total_tokens), className: 'num' },
  { header: 'Cost', cell: (t) => formatUsd(t.cost_usd), className: 'num' },
  { header: 'Duration', cell: (t) => formatMs(t.duration_ms), className: 'num' },
  { header: 'Created', cell: (t) => formatDate(t.created_at) },
];

function filtersOf(query: URLSearchParams): Filters {
  return Object.fromEntries(FILTERS.map((name) => [name, query.get(name) ?? ''])) as Filters;
}

/** Agent and workflow runs as traces, newest first, filtered through the URL (so a filtered list can be shared). */
export function RunsPage() {
  const { query } = useLocation();
  const applied = filtersOf(query);
  const [draft, setDraft] = useState<Filters>(applied);
  const set = (name: keyof Filters) => (value: string) => setDraft((d) => ({ ...d, [name]: value }));
  const key = JSON.stringify(applied);
  const traces = usePagedList((client, after) => {
    const number = (text: string) => (text === '' ? undefined : Number(text));
    return client.get('/v1/analytics/traces', {
      params: {
        query: {
          limit: 25, after,
          type: (applied.type || undefined) as 'agent_run' | 'workflow_run' | undefined,
          status: (applied.status || undefined) as 'completed' | undefined,
          agent_id: applied.agent_id || undefined,
          workflow_id: applied.workflow_id || undefined,
          model: applied.model || undefined,
          min_latency_ms: number(applied.min_latency_ms),
          min_cost_usd: number(applied.min_cost_usd),
        },
      },
    });
  }, [key]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setQuery(draft);
  };

  return (
    <Page title="Runs and traces">
      <form onSubmit={apply} aria-label="Filter runs" className="card">
        <div className="filters">
          <SelectField label="Type" value={draft.type} onChange={set('type')}
            options={[{ value: '', label: 'Any' }, { value: 'agent_run', label: 'Agent runs' }, { value: 'workflow_run', label: 'Workflow runs' }]} />
          <SelectField label="Status" value={draft.status} onChange={set('status')}
            options={[{ value: '', label: 'Any' }, ...STATUSES.map((s) => ({ value: s, label: s.replace('_', ' ') }))]} />
          <TextField label="Agent id" value={draft.agent_id} onChange={set('agent_id')} placeholder="agent_…" />
          <TextField label="Workflow id" value={draft.workflow_id} onChange={set('workflow_id')} placeholder="wf_…" />
          <TextField label="Model" value={draft.model} onChange={set('model')} placeholder="openai/gpt-4o-mini" />
          <TextField label="Took at least (ms)" value={draft.min_latency_ms} onChange={set('min_latency_ms')} type="number" />
          <TextField label="Cost at least (USD)" value={draft.min_cost_usd} onChange={set('min_cost_usd')} type="number" />
        </div>
        <div className="form-actions">
          <button type="submit">Apply filters</button>
          <button type="button" className="secondary" onClick={() => { setDraft(filtersOf(new URLSearchParams())); setQuery({}); }}>Clear</button>
        </div>
      </form>
      <ListTable list={traces} what="runs" columns={columns} rowKey={(t) => t.id} empty="No runs match these filters." />
    </Page>
  );
}
