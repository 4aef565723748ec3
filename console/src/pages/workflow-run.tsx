import { useState, type FormEvent } from 'react';
import type { Data } from 'kairo/client';
import { useAction, useApi, usePolling } from '../api';
import { formatDate, formatJson, formatMs, formatNumber, formatUsd, parseJson } from '../format';
import { Link } from '../router';
import { useClient } from '../session';
import { ConfirmButton, ErrorBanner, LoadState, Page, Section, StatusBadge, Table, TextAreaField, type Column } from '../ui';

type Run = Data<'/v1/workflows/{id}/runs/{run_id}', 'get', { params: { path: { id: string; run_id: string } } }>;
type Step = NonNullable<Run['steps']>[number];

const ACTIVE = new Set(['queued', 'running', 'waiting']);

const stepColumns: Column<Step>[] = [
  { header: 'Step', cell: (s) => <><code>{s.key}</code> <span className="muted small">{s.type}</span></> },
  { header: 'State', cell: (s) => <StatusBadge status={s.status} /> },
  { header: 'Attempts', cell: (s) => s.attempts, className: 'num' },
  { header: 'Duration', cell: (s) => formatMs(s.duration_ms), className: 'num' },
  {
    header: 'Input and output',
    cell: (s) => (
      <details>
        <summary>Show</summary>
        <h4 className="small">Input</h4>
        <pre className="json">{formatJson(s.input)}</pre>
        <h4 className="small">Output</h4>
        <pre className="json">{formatJson(s.output)}</pre>
      </details>
    ),
  },
  {
    header: 'Details',
    cell: (s) => (
      <>
        {s.error && <div>{s.error.code}: {s.error.message}</div>}
        {s.wake_at && <div className="small">{s.type === 'approval' ? 'Times out at' : 'Wakes at'} {formatDate(s.wake_at)}</div>}
        {s.agent_run_ids?.map((runId) => <div key={runId}><Link to={`/runs/${runId}`}>Agent run {runId}</Link></div>)}
        {s.child_run_id && <div><Link to={`/runs/${s.child_run_id}`}>Called run {s.child_run_id}</Link></div>}
      </>
    ),
  },
];

/** The form of one waiting approval: the data it sends becomes the approval step's output. */
function ApprovalForm({ step, onApprove, busy }: { step: Step; onApprove(step: Step, data: unknown): void; busy: boolean }) {
  const [data, setData] = useState('{\n  "approved": true\n}');
  const [error, setError] = useState<unknown>();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    try {
      setError(undefined);
      onApprove(step, parseJson(data, 'Approval data'));
    } catch (caught) {
      setError(caught);
    }
  };
  const prompt = (step.input as { prompt?: string } | null)?.prompt;
  return (
    <form onSubmit={submit} className="card" aria-label={`Approve step ${step.key}`}>
      <h3>Step <code>{step.key}</code> waits for approval</h3>
      {prompt && <p>{prompt}</p>}
      <ErrorBanner error={error} />
      <TextAreaField label="Approval data (JSON)" value={data} onChange={setData} rows={3} code hint="Becomes the output of the approval step." />
      <button type="submit" disabled={busy}>Approve with this data</button>
    </form>
  );
}

/** One workflow run: every step's state, live while it runs; cancel, and approve what waits. */
export function WorkflowRunPage({ workflowId, runId }: { workflowId: string; runId: string }) {
  const client = useClient();
  const params = { path: { id: workflowId, run_id: runId } };
  const run = useApi((c) => c.get('/v1/workflows/{id}/runs/{run_id}', { params }), [workflowId, runId]);
  usePolling(run.reload, 1500, run.data !== undefined && ACTIVE.has(run.data.status));
  const action = useAction();
  const data = run.data;
  const waitingApprovals = (data?.steps ?? []).filter((s) => s.type === 'approval' && s.status === 'waiting');

  const approve = (step: Step, approval: unknown) => void action.run(async () => {
    await client.post('/v1/workflows/{id}/runs/{run_id}/resume', { params, body: { step: step.key, data: approval } });
    run.reload();
  });

  return (
    <Page title={`Workflow run ${runId}`} actions={
      <>
        <Link to={`/workflows/${workflowId}`}>Back to the workflow</Link>
        <Link to={`/runs/${runId}`}>Open trace</Link>
        {data && ACTIVE.has(data.status) && (
          <ConfirmButton label="Cancel run" confirmLabel="Yes, cancel" question="Cancel this run? Steps not finished are skipped."
            onConfirm={() => void action.run(async () => {
              await client.post('/v1/workflows/{id}/runs/{run_id}/cancel', { params, body: {} });
              run.reload();
            })} />
        )}
      </>
    }>
      <LoadState loading={run.loading && !data} error={run.error} what="the run" />
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      {data && (
        <>
          <div className="stats">
            <div className="stat"><div className="stat-label">Status</div><div className="stat-value" role="status"><StatusBadge status={data.status} /></div></div>
            <div className="stat"><div className="stat-label">Duration</div><div className="stat-value">{formatMs(data.latency_ms.total_ms)}</div></div>
            <div className="stat"><div className="stat-label">Tokens</div><div className="stat-value">{formatNumber(data.usage.total_tokens)}</div></div>
            <div className="stat"><div className="stat-label">Cost{data.cost_notional ? ' (notional)' : ''}</div><div className="stat-value">{formatUsd(data.cost_usd)}</div></div>
          </div>
          {waitingApprovals.map((step) => <ApprovalForm key={step.key} step={step} onApprove={approve} busy={action.busy} />)}
          <Section title="Steps">
            <Table caption="Steps" columns={stepColumns} rows={data.steps ?? []} rowKey={(s) => s.key} empty="No step has started yet." />
          </Section>
          <Section title="Input and output">
            <dl className="facts">
              <dt>Trigger</dt><dd>{data.trigger}{data.scheduled_for ? ` (due ${formatDate(data.scheduled_for)})` : ''}</dd>
              <dt>Version</dt><dd>{data.workflow_version}</dd>
              <dt>Created</dt><dd>{formatDate(data.created_at)}</dd>
              {data.error && <><dt>Error</dt><dd>{data.error.code}: {data.error.message}{data.error.step ? ` (step ${data.error.step})` : ''}</dd></>}
            </dl>
            <h3>Input</h3>
            <pre className="json">{formatJson(data.input)}</pre>
            <h3>Output</h3>
            <pre className="json" data-testid="workflow-output">{formatJson(data.output)}</pre>
          </Section>
        </>
      )}
    </Page>
  );
}
