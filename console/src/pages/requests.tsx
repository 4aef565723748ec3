import { useState, type FormEvent } from 'react';
import type { ListItem } from 'kairo/client';
import { usePagedList } from '../api';
import { formatDate } from '../format';
import { Link, setQuery, useLocation } from '../router';
import { ListTable, Page, SelectField, TextField, type Column } from '../ui';

type Request = ListItem<'/v1/requests'>;

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

const columns: Column<Request>[] = [
  { header: 'When', cell: (r) => formatDate(r.created_at) },
  { header: 'Request', cell: (r) => <><code>{r.method}</code> <code className="small">{r.path}</code></> },
  { header: 'Status', cell: (r) => <span className={r.status >= 400 ? 'error-text' : undefined}>{r.status}{r.error_code ? ` ${r.error_code}` : ''}</span>, className: 'num' },
  { header: 'Latency', cell: (r) => `${r.latency_ms.toFixed(1)} ms`, className: 'num' },
  { header: 'Key', cell: (r) => <code className="small">{r.api_key_id}</code> },
  { header: 'Run created', cell: (r) => (r.run_id ? <Link to={`/runs/${r.run_id}`}>{r.run_id}</Link> : <span className="muted">—</span>) },
  { header: 'Id', cell: (r) => <code className="small">{r.id}</code> },
];

/** The request log, newest first: one request by its id (X-Request-Id), or filtered by status, method and route. */
export function RequestsPage() {
  const { query } = useLocation();
  const applied = { id: query.get('id') ?? '', status: query.get('status') ?? '', method: query.get('method') ?? '', route: query.get('route') ?? '' };
  const [draft, setDraft] = useState(applied);
  const requests = usePagedList(async (client, after) => {
    if (applied.id) {
      const request = await client.get('/v1/requests/{id}', { params: { path: { id: applied.id } } });
      return { data: [request], has_more: false, last_id: null };
    }
    return client.get('/v1/requests', {
      params: {
        query: {
          limit: 25, after, route: applied.route || undefined,
          status: applied.status ? Number(applied.status) : undefined,
          method: METHODS.includes(applied.method as Method) ? (applied.method as Method) : undefined,
        },
      },
    });
  }, [applied.id, applied.status, applied.method, applied.route]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setQuery({ id: draft.id.trim(), status: draft.status.trim(), method: draft.method, route: draft.route.trim() });
  };

  return (
    <Page title="Requests">
      <p className="muted small">Every authenticated API request of this mode, kept 7 days: never bodies or secrets. Requests appear about a second after they end.</p>
      <form onSubmit={submit} className="card" role="search" aria-label="Search requests">
        <div className="filters">
          <TextField label="Request id" value={draft.id} onChange={(id) => setDraft({ ...draft, id })} placeholder="req_…" hint="As the X-Request-Id header gave it." />
          <TextField label="Status" value={draft.status} onChange={(status) => setDraft({ ...draft, status })} placeholder="429" type="number" />
          <SelectField label="Method" value={draft.method} onChange={(method) => setDraft({ ...draft, method })}
            options={[{ value: '', label: 'Any' }, ...METHODS.map((m) => ({ value: m, label: m }))]} />
          <TextField label="Route" value={draft.route} onChange={(route) => setDraft({ ...draft, route })} placeholder="/v1/agents/{id}/runs" />
        </div>
        <div className="form-actions">
          <button type="submit">Search</button>
          <button type="button" className="secondary" onClick={() => { setDraft({ id: '', status: '', method: '', route: '' }); setQuery({}); }}>Clear</button>
        </div>
      </form>
      <ListTable list={requests} what="requests" columns={columns} rowKey={(r) => r.id} empty="No requests match." />
    </Page>
  );
}
