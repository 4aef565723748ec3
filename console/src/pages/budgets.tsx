import { useState, type FormEvent } from 'react';
import type { Body, ListItem } from 'kairo/client';
import { useAction, usePagedList } from '../api';
import { formatDate, formatNumber, formatUsd } from '../format';
import { Link } from '../router';
import { useClient } from '../session';
import { CheckboxField, ConfirmButton, ErrorBanner, ListTable, Meter, Page, Section, SelectField, StatusBadge, TextField, type Column } from '../ui';
import { SettingsTabs } from './settings-tabs';

export type Budget = ListItem<'/v1/budgets'>;
type BudgetBody = Body<'/v1/budgets', 'post'>;

export function scopeText(budget: Budget) {
  if (budget.scope.type === 'workspace') return 'The whole workspace';
  if (budget.scope.type === 'agent') return <>Agent <Link to={`/agents/${budget.scope.id}`}>{budget.scope.id}</Link></>;
  return <>API key <code>{budget.scope.id}</code></>;
}

/** The usage of a budget against its limits, one meter per limit. */
export function BudgetUsage({ budget }: { budget: Budget }) {
  return (
    <>
      {budget.limit_usd !== null && (
        <Meter label="Cost" used={budget.usage.cost_usd} limit={budget.limit_usd}
          text={`${formatUsd(budget.usage.cost_usd)} of ${formatUsd(budget.limit_usd)}`} />
      )}
      {budget.limit_tokens !== null && (
        <Meter label="Tokens" used={budget.usage.total_tokens} limit={budget.limit_tokens}
          text={`${formatNumber(budget.usage.total_tokens)} of ${formatNumber(budget.limit_tokens)}`} />
      )}
    </>
  );
}

function CreateBudgetForm({ onCreated }: { onCreated(): void }) {
  const client = useClient();
  const action = useAction();
  const [scopeType, setScopeType] = useState('workspace');
  const [scopeId, setScopeId] = useState('');
  const [period, setPeriod] = useState('month');
  const [limitUsd, setLimitUsd] = useState('');
  const [limitTokens, setLimitTokens] = useState('');
  const [thresholds, setThresholds] = useState('50, 80, 100');
  const [hard, setHard] = useState(false);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const scope = (scopeType === 'workspace' ? { type: 'workspace' } : { type: scopeType, id: scopeId.trim() }) as BudgetBody['scope'];
      const body: BudgetBody = {
        scope, period: period as BudgetBody['period'], hard,
        limit_usd: limitUsd ? Number(limitUsd) : null,
        limit_tokens: limitTokens ? Number(limitTokens) : null,
        thresholds: thresholds.split(',').map((t) => t.trim()).filter(Boolean).map(Number),
      };
      await client.post('/v1/budgets', { body });
      onCreated();
    });
  };

  return (
    <form onSubmit={submit} aria-label="Create a budget">
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      <div className="form-grid">
        <SelectField label="Counts the runs of" value={scopeType} onChange={setScopeType} options={[
          { value: 'workspace', label: 'the whole workspace' }, { value: 'agent', label: 'one agent' }, { value: 'api_key', label: 'one API key' },
        ]} />
        {scopeType !== 'workspace' && (
          <TextField label={scopeType === 'agent' ? 'Agent id' : 'API key id'} value={scopeId} onChange={setScopeId} required
            placeholder={scopeType === 'agent' ? 'agent_…' : 'key_…'} />
        )}
        <SelectField label="Period" value={period} onChange={setPeriod} options={[{ value: 'day', label: 'a UTC day' }, { value: 'month', label: 'a UTC month' }]} />
        <TextField label="Cost limit (USD)" value={limitUsd} onChange={setLimitUsd} type="number" />
        <TextField label="Token limit" value={limitTokens} onChange={setLimitTokens} type="number" hint="Give a cost limit, a token limit, or both." />
        <TextField label="Thresholds (%)" value={thresholds} onChange={setThresholds} hint="Each raises an event once per period." />
      </div>
      <CheckboxField label="Hard: refuse new runs once the budget is used up" checked={hard} onChange={setHard} />
      <button type="submit" disabled={action.busy}>{action.busy ? 'Creating…' : 'Create budget'}</button>
    </form>
  );
}

export function BudgetsPage() {
  const client = useClient();
  const budgets = usePagedList((c, after) => c.get('/v1/budgets', { params: { query: { limit: 50, after } } }), []);
  const remove = useAction();
  const columns: Column<Budget>[] = [
    { header: 'Counts', cell: scopeText },
    { header: 'Period', cell: (b) => <>{b.period}<div className="muted small">until {formatDate(b.usage.period_end)}</div></> },
    { header: 'Usage', cell: (b) => <BudgetUsage budget={b} /> },
    { header: 'Thresholds', cell: (b) => b.thresholds.map((t) => `${t} %`).join(', ') },
    { header: 'Kind', cell: (b) => (b.hard ? 'hard' : 'soft') },
    { header: 'Status', cell: (b) => <StatusBadge status={b.status} /> },
    {
      header: 'Actions',
      cell: (b) => (
        <ConfirmButton label="Delete" confirmLabel="Yes, delete" question="Delete this budget?" busy={remove.busy}
          onConfirm={() => void remove.run(async () => {
            await client.delete('/v1/budgets/{id}', { params: { path: { id: b.id } } });
            budgets.reload();
          })} />
      ),
    },
  ];
  return (
    <Page title="Settings">
      <SettingsTabs />
      <Section title="Budgets">
        <ErrorBanner error={remove.error} onDismiss={remove.clear} />
        <ListTable list={budgets} what="budgets" columns={columns} rowKey={(b) => b.id} empty="No budgets in this mode." />
      </Section>
      <Section title="Create a budget"><CreateBudgetForm onCreated={budgets.reload} /></Section>
    </Page>
  );
}
