import { useState, type FormEvent } from 'react';
import type { Body, ListItem } from 'kairo/client';
import { useAction, usePagedList } from '../api';
import { formatDate, formatNumber, parseJson } from '../format';
import { Link, navigate } from '../router';
import { useClient } from '../session';
import { ErrorBanner, ListTable, Page, Section, SelectField, TextAreaField, TextField, type Column } from '../ui';
import { QueryPlayground } from './context-query';

export type Source = ListItem<'/v1/context/sources'>;
type SourceBody = Body<'/v1/context/sources', 'post'>;

const HTTP_EXAMPLE = `{"url": "https://crm.example.com/export", "items_path": "data", "id_field": "id", "title_field": "name"}`;

function CreateSourceForm() {
  const client = useClient();
  const action = useAction();
  const [name, setName] = useState('');
  const [type, setType] = useState('documents');
  const [description, setDescription] = useState('');
  const [urls, setUrls] = useState('');
  const [http, setHttp] = useState(HTTP_EXAMPLE);
  const [interval, setInterval] = useState('3600');

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const body: SourceBody = { name: name.trim(), description: description.trim() || undefined };
      if (type !== 'documents') {
        body.type = type as SourceBody['type'];
        body.refresh_interval_seconds = Number(interval);
        if (type === 'url') body.urls = urls.split('\n').map((u) => u.trim()).filter(Boolean);
        else body.http = parseJson(http, 'HTTP settings') as SourceBody['http'];
      }
      const created = await client.post('/v1/context/sources', { body });
      navigate(`/context/${created.id}`);
    });
  };

  return (
    <form onSubmit={submit} aria-label="Create a context source">
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      <div className="form-grid">
        <TextField label="Source name" value={name} onChange={setName} required hint="Letters, digits, _ . - ; agents refer to it by this name." />
        <SelectField label="Type" value={type} onChange={setType} options={[
          { value: 'documents', label: 'Documents you upload or push' },
          { value: 'url', label: 'Web pages KAIRO fetches' },
          { value: 'http', label: 'A JSON endpoint, one document per item' },
        ]} />
      </div>
      <TextField label="Description" value={description} onChange={setDescription} />
      {type === 'url' && <TextAreaField label="URLs, one per line" value={urls} onChange={setUrls} rows={3} code required />}
      {type === 'http' && <TextAreaField label="HTTP settings (JSON)" value={http} onChange={setHttp} rows={4} code />}
      {type !== 'documents' && (
        <TextField label="Refresh every (seconds)" value={interval} onChange={setInterval} type="number" hint="60 seconds to 30 days." />
      )}
      <button type="submit" disabled={action.busy}>{action.busy ? 'Creating…' : 'Create source'}</button>
    </form>
  );
}

const columns: Column<Source>[] = [
  { header: 'Name', cell: (s) => <Link to={`/context/${s.id}`}>{s.name}</Link> },
  { header: 'Type', cell: (s) => s.type },
  { header: 'Documents', cell: (s) => formatNumber(s.counts.documents), className: 'num' },
  { header: 'Indexed', cell: (s) => formatNumber(s.counts.indexed), className: 'num' },
  { header: 'Waiting', cell: (s) => formatNumber(s.counts.queued + s.counts.indexing), className: 'num' },
  { header: 'Failed', cell: (s) => formatNumber(s.counts.failed), className: 'num' },
  { header: 'Chunks', cell: (s) => formatNumber(s.counts.chunks), className: 'num' },
  { header: 'Last refreshed', cell: (s) => (s.type === 'documents' ? '—' : formatDate(s.refresh.last_refreshed_at)) },
];

/** Context sources with the state of their documents, a form to add one, and the query playground. */
export function ContextPage() {
  const sources = usePagedList((client, after) => client.get('/v1/context/sources', { params: { query: { limit: 50, after } } }), []);
  return (
    <Page title="Context">
      <Section title="Sources">
        <ListTable list={sources} what="context sources" columns={columns} rowKey={(s) => s.id} empty="No context sources yet: create one below." />
      </Section>
      <Section title="Create a source"><CreateSourceForm /></Section>
      <QueryPlayground sources={sources.items} />
    </Page>
  );
}
