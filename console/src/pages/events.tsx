import { useState, type FormEvent } from 'react';
import type { ListItem } from 'kairo/client';
import { usePagedList } from '../api';
import { formatDate } from '../format';
import { Link, setQuery, useLocation } from '../router';
import { Json, ListTable, Page, TextField, type Column } from '../ui';

type Event = ListItem<'/v1/events'>;

/** Where the console shows the object an event is about. */
export function objectLink(object: Record<string, unknown>): { to: string; label: string } | null {
  const id = String(object.id ?? '');
  switch (object.object) {
    case 'api_key': return { to: '/settings/api-keys', label: `API key ${object.name ?? id}` };
    case 'run': return { to: `/runs/${id}`, label: `Agent run ${id}` };
    case 'workflow_run': return { to: `/workflows/${String(object.workflow_id)}/runs/${id}`, label: `Workflow run ${id}` };
    case 'context_document': return { to: `/context/${String(object.source_id)}`, label: `Document ${object.title ?? object.external_id ?? id}` };
    case 'context_source': return { to: `/context/${id}`, label: `Source ${object.name ?? id}` };
    case 'budget': return { to: '/settings/budgets', label: `Budget ${id}` };
    case 'webhook_endpoint': return { to: `/settings/webhooks?endpoint=${id}`, label: `Webhook endpoint ${object.url ?? id}` };
    case 'agent': return { to: `/agents/${id}`, label: `Agent ${object.name ?? id}` };
    case 'workflow': return { to: `/workflows/${id}`, label: `Workflow ${object.name ?? id}` };
    default: return null;
  }
}

const columns: Column<Event>[] = [
  { header: 'Type', cell: (e) => <code>{e.type}</code> },
  {
    header: 'Object',
    cell: (e) => {
      const link = objectLink(e.data.object as Record<string, unknown>);
      return link ? <Link to={link.to}>{link.label}</Link> : String((e.data.object as { id?: unknown }).id ?? '—');
    },
  },
  { header: 'When', cell: (e) => formatDate(e.created_at) },
  { header: 'Request', cell: (e) => (e.request_id ? <code className="small">{e.request_id}</code> : <span className="muted small">background</span>) },
  {
    header: 'Data',
    cell: (e) => <details><summary>Show <span className="visually-hidden">{e.id}</span></summary><p className="small"><code>{e.id}</code></p><Json value={e.data} /></details>,
  },
];

/** The workspace's events, newest first: search by an event's or an object's id, and filter by type. */
export function EventsPage() {
  const { query } = useLocation();
  const applied = { q: query.get('q') ?? '', type: query.get('type') ?? '' };
  const [draft, setDraft] = useState(applied);
  const events = usePagedList(async (client, after) => {
    if (applied.q.startsWith('evt_')) {
      const event = await client.get('/v1/events/{id}', { params: { path: { id: applied.q } } });
      return { data: [event], has_more: false, last_id: null };
    }
    return client.get('/v1/events', {
      params: { query: { limit: 25, after, type: applied.type || undefined, object_id: applied.q || undefined } },
    });
  }, [applied.q, applied.type]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setQuery({ q: draft.q.trim(), type: draft.type.trim() });
  };

  return (
    <Page title="Events">
      <form onSubmit={submit} className="card" role="search" aria-label="Search events">
        <div className="filters">
          <TextField label="Event or object id" value={draft.q} onChange={(q) => setDraft({ ...draft, q })} placeholder="evt_…, run_…, key_…, src_…"
            hint="An object's id finds its events and those of what belongs to it." />
          <TextField label="Types" value={draft.type} onChange={(type) => setDraft({ ...draft, type })} placeholder="agent.run.*, api_key.revoked" hint="Comma-separated; * wildcards." />
        </div>
        <div className="form-actions">
          <button type="submit">Search</button>
          <button type="button" className="secondary" onClick={() => { setDraft({ q: '', type: '' }); setQuery({}); }}>Clear</button>
        </div>
      </form>
      <ListTable list={events} what="events" columns={columns} rowKey={(e) => e.id} empty="No events match." />
    </Page>
  );
}
