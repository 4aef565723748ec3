import { useState, type FormEvent } from 'react';
import type { ListItem } from 'kairo/client';
import { useAction, useApi, usePagedList, usePolling } from '../api';
import { formatDate, formatJson, formatMs, formatUsd, parseJson } from '../format';
import { Link, navigate } from '../router';
import { useClient } from '../session';
import { ConfirmButton, ErrorBanner, Json, ListTable, LoadState, Page, Section, SelectField, StatusBadge, TextAreaField, type Column } from '../ui';
import { DefinitionForm, type Workflow } from './workflows';

type WorkflowRun = ListItem<'/v1/workflows/{id}/runs'>;
type Version = ListItem<'/v1/workflows/{id}/versions'>;

const ACTIVE = new Set(['queued', 'running', 'waiting']);

/** What the definition form edits: the workflow's own fields, without the server's. */
function definitionOf(workflow: Workflow): string {
  const { name, description, input_schema, steps, output, retry, schedule, metadata } = workflow;
  return formatJson({ name, description, input_schema, steps, output, retry, schedule, metadata });
}

function StartRunForm({ workflow }: { workflow: Workflow }) {
  const client = useClient();
  const action = useAction();
  const [input, setInput] = useState('{\n  "order": "A-1"\n}');
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const run = await client.post('/v1/workflows/{id}/runs', {
        params: { path: { id: workflow.id } },
        body: { input: parseJson(input, 'Input'), background: true },
      });
      navigate(`/workflows/${workflow.id}/runs/${run.id}`);
    });
  };
  return (
    <form onSubmit={submit} aria-label="Start a run">
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      <TextAreaField label="Run input (JSON)" value={input} onChange={setInput} rows={4} code
        hint={workflow.input_schema ? 'Checked against the input schema of the definition.' : undefined} />
      <button type="submit" disabled={action.busy}>{action.busy ? 'Starting…' : 'Start run'}</button>
    </form>
  );
}

const runColumns = (workflowId: string): Column<WorkflowRun>[] => [
  { header: 'Run', cell: (r) => <Link to={`/workflows/${workflowId}/runs/${r.id}`}>{r.id}</Link> },
  { header: 'Status', cell: (r) => <StatusBadge status={r.status} /> },
  { header: 'Trigger', cell: (r) => r.trigger },
  { header: 'Version', cell: (r) => r.workflow_version, className: 'num' },
  { header: 'Cost', cell: (r) => formatUsd(r.cost_usd), className: 'num' },
  { header: 'Duration', cell: (r) => formatMs(r.latency_ms.total_ms), className: 'num' },
  { header: 'Created', cell: (r) => formatDate(r.created_at) },
];

const versionColumns: Column<Version>[] = [
  { header: 'Version', cell: (v) => v.version, className: 'num' },
  { header: 'Created', cell: (v) => formatDate(v.created_at) },
  { header: 'Definition', cell: (v) => <details><summary>Show version {v.version}</summary><Json value={v.definition} /></details> },
];

/** One workflow: its definition (replaceable), runs and versions, and a form to start a run. */
export function WorkflowPage({ id }: { id: string }) {
  const client = useClient();
  const workflow = useApi((c) => c.get('/v1/workflows/{id}', { params: { path: { id } } }), [id]);
  const [status, setStatus] = useState('');
  const runs = usePagedList((c, after) => c.get('/v1/workflows/{id}/runs', {
    params: { path: { id }, query: { limit: 20, after, status: (status || undefined) as 'queued' | undefined } },
  }), [id, status]);
  usePolling(runs.reload, 2000, runs.items.some((r) => ACTIVE.has(r.status)));
  const versions = usePagedList((c, after) => c.get('/v1/workflows/{id}/versions', { params: { path: { id }, query: { limit: 10, after } } }), [id, workflow.data?.version]);
  const [editing, setEditing] = useState(false);
  const remove = useAction();
  const data = workflow.data;

  return (
    <Page title={data ? data.name : 'Workflow'} actions={data && (
      <ConfirmButton label="Delete workflow" confirmLabel="Yes, delete" question={`Delete ${data.name}?`}
        onConfirm={() => void remove.run(async () => {
          await client.delete('/v1/workflows/{id}', { params: { path: { id } } });
          navigate('/workflows');
        })} />
    )}>
      <LoadState loading={workflow.loading && !data} error={workflow.error} what="the workflow" />
      <ErrorBanner error={remove.error} onDismiss={remove.clear} />
      {data && (
        <>
          <p className="muted small"><code>{data.id}</code> · version {data.version} · {data.steps.length} top-level steps</p>
          <Section title="Start a run"><StartRunForm workflow={data} /></Section>
          <Section title="Runs">
            <div className="filters">
              <SelectField label="Status" value={status} onChange={setStatus}
                options={[{ value: '', label: 'Any' }, ...['queued', 'running', 'waiting', 'completed', 'failed', 'cancelled'].map((s) => ({ value: s, label: s }))]} />
            </div>
            <ListTable list={runs} what="workflow runs" columns={runColumns(id)} rowKey={(r) => r.id} empty="No runs yet." />
          </Section>
          <Section title="Definition" actions={
            <button type="button" className="secondary" aria-expanded={editing} onClick={() => setEditing(!editing)}>{editing ? 'Stop editing' : 'Edit definition'}</button>
          }>
            {editing ? (
              <DefinitionForm key={data.version} initial={definitionOf(data)} submitLabel="Save as a new version" onSubmit={async (body) => {
                await client.put('/v1/workflows/{id}', { params: { path: { id } }, body });
                setEditing(false);
                workflow.reload();
              }} />
            ) : (
              <Json value={JSON.parse(definitionOf(data))} label="Definition" />
            )}
          </Section>
          <Section title="Versions">
            <ListTable list={versions} what="versions" columns={versionColumns} rowKey={(v) => v.id} empty="No versions." />
          </Section>
        </>
      )}
    </Page>
  );
}
