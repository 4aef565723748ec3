import { useRef, useState, type FormEvent } from 'react';
import type { ListItem } from 'kairo/client';
import { useAction, useApi, usePagedList, usePolling } from '../api';
import { formatBytes, formatDate, formatNumber, parseJson } from '../format';
import { navigate } from '../router';
import { clientFor, useClient, useSession } from '../session';
import { fetchWithUploadProgress } from '../upload';
import { CheckboxField, ConfirmButton, ErrorBanner, Field, ListTable, LoadState, Page, Section, StatusBadge, TextAreaField, type Column } from '../ui';

type Document = ListItem<'/v1/context/sources/{id}/documents'>;

const columns: Column<Document>[] = [
  { header: 'Document', cell: (d) => d.title ?? d.external_id ?? d.id },
  { header: 'Status', cell: (d) => <StatusBadge status={d.status} /> },
  { header: 'Chunks', cell: (d) => formatNumber(d.chunk_count), className: 'num' },
  { header: 'Size', cell: (d) => formatBytes(d.size_bytes), className: 'num' },
  { header: 'Version', cell: (d) => d.version, className: 'num' },
  { header: 'Updated', cell: (d) => formatDate(d.updated_at) },
  { header: 'Error', cell: (d) => (d.error ? `${d.error.code}: ${d.error.message}` : '') },
];

/** Uploads files through the typed client, sent with XMLHttpRequest so that the progress shows. */
function UploadForm({ sourceId, onUploaded }: { sourceId: string; onUploaded(): void }) {
  const { session } = useSession();
  const action = useAction();
  const files = useRef<HTMLInputElement>(null);
  const [metadata, setMetadata] = useState('');
  const [background, setBackground] = useState(false);
  const [progress, setProgress] = useState<{ sent: number; total: number }>();
  const [result, setResult] = useState<string>();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const chosen = [...(files.current?.files ?? [])];
    void action.run(async () => {
      if (chosen.length === 0) throw new Error('Choose at least one file to upload.');
      const form = new FormData();
      for (const file of chosen) form.append('file', file, file.name);
      if (metadata.trim()) form.append('metadata', JSON.stringify(parseJson(metadata, 'Metadata')));
      if (background) form.append('background', 'true');
      setResult(undefined);
      setProgress({ sent: 0, total: chosen.reduce((sum, f) => sum + f.size, 0) });
      const uploader = clientFor(session!.keys[session!.mode]!, fetchWithUploadProgress((sent, total) => setProgress({ sent, total })));
      const answer = await uploader.post('/v1/context/sources/{id}/documents', {
        params: { path: { id: sourceId } },
        // A multipart body: the client passes FormData through as it is.
        body: form as never,
      });
      const statuses = answer.data.map((d) => `${d.title ?? d.external_id}: ${d.status}`).join(', ');
      setResult(`Uploaded ${answer.data.length} file${answer.data.length === 1 ? '' : 's'} — ${statuses}.`);
      if (files.current) files.current.value = '';
      onUploaded();
    });
  };

  const percent = progress && progress.total > 0 ? Math.round((progress.sent / progress.total) * 100) : 0;
  return (
    <form onSubmit={submit} aria-label="Upload documents">
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      <Field label="Files" hint="Plain text, Markdown, HTML, PDF, JSON or CSV; up to 20 at once. A file's name is its external id: uploading it again replaces it.">
        {(id, describedBy) => <input id={id} ref={files} type="file" multiple aria-describedby={describedBy} />}
      </Field>
      <TextAreaField label="Metadata for every file (JSON, optional)" value={metadata} onChange={setMetadata} rows={2} code />
      <CheckboxField label="Index in the background (answer at once)" checked={background} onChange={setBackground} />
      <div className="form-actions">
        <button type="submit" disabled={action.busy}>{action.busy ? 'Uploading…' : 'Upload'}</button>
        {progress && (
          <label className="small">
            {action.busy && percent === 100 ? 'Sent; indexing…' : `Sent ${formatBytes(progress.sent)} of ${formatBytes(progress.total)}`}{' '}
            <progress max={100} value={percent}>{percent} %</progress>
          </label>
        )}
      </div>
      {result && <p role="status" className="small">{result}</p>}
    </form>
  );
}

/** One source: its documents and their indexing state, uploads, refresh and deletion. */
export function SourcePage({ id }: { id: string }) {
  const client = useClient();
  const source = useApi((c) => c.get('/v1/context/sources/{id}', { params: { path: { id } } }), [id]);
  const documents = usePagedList((c, after) => c.get('/v1/context/sources/{id}/documents', { params: { path: { id }, query: { limit: 50, after } } }), [id]);
  const waiting = documents.items.some((d) => d.status === 'queued' || d.status === 'indexing') || source.data?.refresh.running === true;
  const refreshAll = () => { source.reload(); documents.reload(); };
  usePolling(refreshAll, 1500, waiting);
  const action = useAction();
  const data = source.data;

  return (
    <Page title={data ? `Source ${data.name}` : 'Context source'}>
      <LoadState loading={source.loading && !data} error={source.error} what="the source" />
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      {data && (
        <>
          <Section title="About this source" actions={
            <>
              {data.type !== 'documents' && (
                <button type="button" className="secondary" disabled={action.busy || data.refresh.running}
                  onClick={() => void action.run(async () => {
                    await client.post('/v1/context/sources/{id}/refresh', { params: { path: { id } }, body: {} });
                    refreshAll();
                  })}>
                  {data.refresh.running ? 'Refreshing…' : 'Refresh now'}
                </button>
              )}
              <ConfirmButton label="Delete source" confirmLabel="Yes, delete" question={`Delete ${data.name} with its documents?`}
                onConfirm={() => void action.run(async () => {
                  await client.delete('/v1/context/sources/{id}', { params: { path: { id } } });
                  navigate('/context');
                })} />
            </>
          }>
            <dl className="facts">
              <dt>Id</dt><dd><code>{data.id}</code></dd>
              <dt>Type</dt><dd>{data.type}</dd>
              {data.description && <><dt>Description</dt><dd>{data.description}</dd></>}
              <dt>Embedding model</dt><dd><code>{data.embedding_model}</code> ({data.embedding_dimensions} dimensions)</dd>
              <dt>Documents</dt>
              <dd>{formatNumber(data.counts.documents)} ({formatNumber(data.counts.indexed)} indexed, {formatNumber(data.counts.queued + data.counts.indexing)} waiting, {formatNumber(data.counts.failed)} failed), {formatNumber(data.counts.chunks)} chunks</dd>
              {data.urls && <><dt>URLs</dt><dd>{data.urls.join(', ')}</dd></>}
              {data.type !== 'documents' && (
                <>
                  <dt>Refreshed</dt><dd>{formatDate(data.refresh.last_refreshed_at)}; next {formatDate(data.refresh.next_refresh_at)}</dd>
                  {data.refresh.last_error && <><dt>Last error</dt><dd>{data.refresh.last_error}</dd></>}
                </>
              )}
            </dl>
          </Section>
          {data.type === 'documents' && <Section title="Upload documents"><UploadForm sourceId={id} onUploaded={refreshAll} /></Section>}
        </>
      )}
      <Section title="Documents">
        <ListTable list={documents} what="documents" columns={columns} rowKey={(d) => d.id} empty="No documents in this source yet." />
      </Section>
    </Page>
  );
}
