import { useState, type FormEvent } from 'react';
import type { ListItem } from 'kairo/client';
import { useAction, usePagedList, usePolling } from '../api';
import { formatDate, formatMs } from '../format';
import { Link, setQuery, useLocation } from '../router';
import { useClient } from '../session';
import { ConfirmButton, ErrorBanner, ListTable, Page, SecretOnce, Section, StatusBadge, TextField, type Column } from '../ui';
import { SettingsTabs } from './settings-tabs';

type Endpoint = ListItem<'/v1/webhook_endpoints'>;
type Delivery = ListItem<'/v1/webhook_endpoints/{id}/deliveries'>;

function CreateEndpointForm({ onCreated }: { onCreated(endpoint: Endpoint): void }) {
  const client = useClient();
  const action = useAction();
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState('*');
  const [description, setDescription] = useState('');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const enabled_events = events.split(',').map((e) => e.trim()).filter(Boolean);
      const created = await client.post('/v1/webhook_endpoints', { body: { url: url.trim(), enabled_events, description: description.trim() || null } });
      setUrl('');
      onCreated(created);
    });
  };
  return (
    <form onSubmit={submit} aria-label="Add a webhook endpoint">
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      <TextField label="Endpoint URL" value={url} onChange={setUrl} required type="url" placeholder="https://example.com/kairo-webhooks" />
      <div className="form-grid">
        <TextField label="Events" value={events} onChange={setEvents} required hint="Comma-separated types; * for all, agent.run.* for every type under a prefix." />
        <TextField label="Description" value={description} onChange={setDescription} />
      </div>
      <button type="submit" disabled={action.busy}>{action.busy ? 'Adding…' : 'Add endpoint'}</button>
    </form>
  );
}

/** One endpoint's delivery attempts, newest first, each of which can be sent again. */
function Deliveries({ endpoint }: { endpoint: Endpoint }) {
  const client = useClient();
  const deliveries = usePagedList((c, after) => c.get('/v1/webhook_endpoints/{id}/deliveries', {
    params: { path: { id: endpoint.id }, query: { limit: 25, after } },
  }), [endpoint.id]);
  usePolling(deliveries.reload, 1500, deliveries.items.some((d) => d.status === 'pending'));
  const redeliver = useAction();
  const [sent, setSent] = useState<string>();

  const columns: Column<Delivery>[] = [
    { header: 'Event', cell: (d) => <><code>{d.event_type}</code><div className="small"><Link to={`/events?q=${d.event_id}`}>{d.event_id}</Link></div></> },
    { header: 'Attempt', cell: (d) => d.attempt, className: 'num' },
    { header: 'Status', cell: (d) => <StatusBadge status={d.status} /> },
    { header: 'Answer', cell: (d) => (d.response_status === null ? '—' : `HTTP ${d.response_status}`) },
    { header: 'Took', cell: (d) => formatMs(d.latency_ms), className: 'num' },
    { header: 'When', cell: (d) => formatDate(d.created_at) },
    { header: 'Error', cell: (d) => d.error ?? (d.next_attempt_at ? `Next try ${formatDate(d.next_attempt_at)}` : '') },
    {
      header: 'Actions',
      cell: (d) => (
        <button type="button" className="secondary small" disabled={redeliver.busy} aria-label={`Redeliver ${d.event_type} (${d.event_id})`}
          onClick={() => void redeliver.run(async () => {
            await client.post('/v1/events/{id}/redeliver', { params: { path: { id: d.event_id } }, body: { endpoint_id: endpoint.id } });
            setSent(`Redelivery of ${d.event_id} queued.`);
            deliveries.reload();
          })}>
          Redeliver
        </button>
      ),
    },
  ];

  return (
    <Section title={`Deliveries to ${endpoint.url}`} actions={<button type="button" className="secondary" onClick={deliveries.reload}>Refresh</button>}>
      <ErrorBanner error={redeliver.error} onDismiss={redeliver.clear} />
      {sent && <p role="status" className="small">{sent}</p>}
      <ListTable list={deliveries} what="deliveries" columns={columns} rowKey={(d) => d.id} empty="Nothing delivered to this endpoint yet." />
    </Section>
  );
}

/** Webhook endpoints: add one (its secret shown once), enable or disable, rotate, delete, and see its deliveries. */
export function WebhooksPage() {
  const client = useClient();
  const { query } = useLocation();
  const selected = query.get('endpoint') ?? undefined;
  const endpoints = usePagedList((c, after) => c.get('/v1/webhook_endpoints', { params: { query: { limit: 50, after } } }), []);
  const [secret, setSecret] = useState<{ title: string; secret: string }>();
  const action = useAction();

  const change = (work: () => Promise<unknown>) => void action.run(async () => {
    await work();
    endpoints.reload();
  });
  const columns: Column<Endpoint>[] = [
    {
      header: 'URL',
      cell: (e) => (
        <button type="button" className="link-button" aria-pressed={e.id === selected} onClick={() => setQuery({ endpoint: e.id })}>{e.url}</button>
      ),
    },
    { header: 'Events', cell: (e) => e.enabled_events.join(', ') },
    { header: 'Status', cell: (e) => <StatusBadge status={e.status} /> },
    { header: 'Description', cell: (e) => e.description ?? '' },
    { header: 'Created', cell: (e) => formatDate(e.created_at) },
    {
      header: 'Actions',
      cell: (e) => (
        <span className="form-actions">
          <button type="button" className="secondary small" onClick={() => change(() => client.patch('/v1/webhook_endpoints/{id}', {
            params: { path: { id: e.id } }, body: { status: e.status === 'enabled' ? 'disabled' : 'enabled' },
          }))}>{e.status === 'enabled' ? 'Disable' : 'Enable'}</button>
          <button type="button" className="secondary small" onClick={() => change(async () => {
            const rotated = await client.post('/v1/webhook_endpoints/{id}/rotate_secret', { params: { path: { id: e.id } }, body: {} });
            setSecret({ title: `New secret of ${e.url} (the old one signs for a day more)`, secret: rotated.secret ?? '' });
          })}>Rotate secret</button>
          <ConfirmButton label="Delete" confirmLabel="Yes, delete" question={`Delete the endpoint ${e.url}?`}
            onConfirm={() => change(async () => {
              await client.delete('/v1/webhook_endpoints/{id}', { params: { path: { id: e.id } } });
              if (selected === e.id) setQuery({});
            })} />
        </span>
      ),
    },
  ];
  const chosen = endpoints.items.find((e) => e.id === selected);

  return (
    <Page title="Settings">
      <SettingsTabs />
      {secret && <SecretOnce title={secret.title} secret={secret.secret} onDone={() => setSecret(undefined)} />}
      <Section title="Add a webhook endpoint">
        <CreateEndpointForm onCreated={(endpoint) => {
          setSecret({ title: `Endpoint ${endpoint.url} added`, secret: endpoint.secret ?? '' });
          endpoints.reload();
          setQuery({ endpoint: endpoint.id });
        }} />
      </Section>
      <Section title="Webhook endpoints">
        <ErrorBanner error={action.error} onDismiss={action.clear} />
        <p className="muted small">Choose an endpoint's URL to see its deliveries.</p>
        <ListTable list={endpoints} what="webhook endpoints" columns={columns} rowKey={(e) => e.id} empty="No webhook endpoints in this mode." />
      </Section>
      {chosen && <Deliveries endpoint={chosen} />}
    </Page>
  );
}
