import { useState, type FormEvent } from 'react';
import type { Body, ListItem } from 'kairo/client';
import { useAction, usePagedList } from '../api';
import { formatDate, parseJson } from '../format';
import { Link, navigate } from '../router';
import { useClient } from '../session';
import { ErrorBanner, ListTable, Page, Section, TextAreaField, type Column } from '../ui';

export type Workflow = ListItem<'/v1/workflows'>;
export type WorkflowBody = Body<'/v1/workflows', 'post'>;

/** A definition to start from: a transform, an approval a person answers, and an output that uses both. */
export const EXAMPLE_DEFINITION = `{
  "name": "Refund approval",
  "input_schema": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
  "steps": [
    {"id": "summary", "type": "transform", "expression": "\\"Refund for order \\" & input.order"},
    {"id": "approve", "type": "approval", "prompt": "Approve the refund?", "timeout": "1d"}
  ],
  "output": "{\\"summary\\": steps.summary, \\"decision\\": steps.approve}"
}`;

const columns: Column<Workflow>[] = [
  { header: 'Name', cell: (w) => <Link to={`/workflows/${w.id}`}>{w.name}</Link> },
  { header: 'Steps', cell: (w) => w.steps.length, className: 'num' },
  { header: 'Version', cell: (w) => w.version, className: 'num' },
  { header: 'Schedule', cell: (w) => (w.schedule ? `${String(w.schedule.cron)} (next ${formatDate(w.next_run_at)})` : '—') },
  { header: 'Updated', cell: (w) => formatDate(w.updated_at) },
];

export function WorkflowsPage() {
  const workflows = usePagedList((client, after) => client.get('/v1/workflows', { params: { query: { limit: 50, after } } }), []);
  return (
    <Page title="Workflows" actions={<Link to="/workflows/new" className="button-link">New workflow</Link>}>
      <ListTable list={workflows} what="workflows" columns={columns} rowKey={(w) => w.id}
        empty={<>No workflows yet. <Link to="/workflows/new">Create the first one</Link>.</>} />
    </Page>
  );
}

/** A workflow definition as JSON, created or replaced (a replacement is a new version). */
export function DefinitionForm({ initial, submitLabel, onSubmit }: { initial: string; submitLabel: string; onSubmit(body: WorkflowBody): Promise<void> }) {
  const action = useAction();
  const [text, setText] = useState(initial);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(() => onSubmit(parseJson(text, 'The definition') as WorkflowBody));
  };
  return (
    <form onSubmit={submit} aria-label={submitLabel}>
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      <TextAreaField label="Definition (JSON)" value={text} onChange={setText} rows={16} code required
        hint={<>Steps: agent, http, transform, branch, parallel, map, delay, approval, workflow. Expressions are JSONata; see <a href="/docs">the reference</a>.</>} />
      <button type="submit" disabled={action.busy}>{action.busy ? 'Saving…' : submitLabel}</button>
    </form>
  );
}

export function NewWorkflowPage() {
  const client = useClient();
  return (
    <Page title="New workflow">
      <Section title="Definition">
        <DefinitionForm initial={EXAMPLE_DEFINITION} submitLabel="Create workflow" onSubmit={async (body) => {
          const created = await client.post('/v1/workflows', { body });
          navigate(`/workflows/${created.id}`);
        }} />
      </Section>
    </Page>
  );
}
