import { useState } from 'react';
import type { Data, Kairo } from 'kairo/client';
import { useApi } from '../api';
import { TimeChart, type Point } from '../charts';
import { formatBucket, formatBytes, formatMs, formatNumber, formatPercent, formatUsd } from '../format';
import { Link } from '../router';
import { Empty, LoadState, Meter, Page, Section, SelectField } from '../ui';
import { BudgetUsage, scopeText } from './budgets';

type Workspace = Data<'/v1/workspace', 'get', object>;
type Width = '1m' | '1h' | '1d';

const RANGES: Record<string, { label: string; width: Width; ms: number }> = {
  '1h': { label: 'Last hour, by minute', width: '1m', ms: 3_600_000 },
  '24h': { label: 'Last 24 hours, by hour', width: '1h', ms: 86_400_000 },
  '7d': { label: 'Last 7 days, by day', width: '1d', ms: 7 * 86_400_000 },
  '30d': { label: 'Last 30 days, by day', width: '1d', ms: 30 * 86_400_000 },
};

/** The usage, cost and latency reports over the range, bucket by bucket. */
async function loadReports(client: Kairo, range: string) {
  const { width, ms } = RANGES[range]!;
  const query = { bucket_width: width, start: new Date(Date.now() - ms).toISOString() };
  const [usage, costs, latency, budgets] = await Promise.all([
    client.get('/v1/analytics/usage', { params: { query } }),
    client.get('/v1/analytics/costs', { params: { query } }),
    client.get('/v1/analytics/latency', { params: { query: { ...query, percentiles: '50,95,99', metrics: 'total,time_to_first_token' } } }),
    client.get('/v1/budgets', { params: { query: { limit: 5 } } }),
  ]);
  const points: Point[] = usage.data.map((bucket, i) => {
    const u = bucket.results[0];
    const total = latency.data[i]?.results[0]?.total_ms;
    return {
      label: formatBucket(bucket.start_time, width),
      requests: u?.requests ?? 0, request_errors: u?.request_errors ?? 0,
      runs: (u?.runs ?? 0) + (u?.workflow_runs ?? 0), run_errors: (u?.run_errors ?? 0) + (u?.workflow_run_errors ?? 0),
      tokens: u?.total_tokens ?? 0,
      cost: costs.data[i]?.results[0]?.cost_usd ?? 0,
      p50: (total?.p50 as number | null | undefined) ?? null, p95: (total?.p95 as number | null | undefined) ?? null,
    };
  });
  return { points, usage: usage.totals[0], cost: costs.total_cost_usd, notional: costs.cost_notional, latency: latency.totals[0], budgets: budgets.data };
}

function Limits({ workspace }: { workspace: Workspace }) {
  const { limits, usage } = workspace;
  const capacity = (used: number, limit: number | null, format = formatNumber) =>
    (limit === null ? `${format(used)} (unlimited)` : `${format(used)} of ${format(limit)}`);
  const burstUsed = limits.burst === null || usage.rate_limit_remaining === null ? 0 : limits.burst - usage.rate_limit_remaining;
  return (
    <Section title={`Plan: ${workspace.plan}`}>
      <Meter label="Rate limit bucket in use" used={burstUsed} limit={limits.burst}
        text={limits.burst === null ? 'unlimited' : `${formatNumber(burstUsed)} of ${formatNumber(limits.burst)} (${formatNumber(limits.requests_per_minute)} requests a minute)`} />
      <Meter label="Concurrent runs" used={usage.concurrent_runs} limit={limits.concurrent_runs} text={capacity(usage.concurrent_runs, limits.concurrent_runs)} />
      <Meter label="Ingestion jobs" used={usage.concurrent_ingestion_jobs} limit={limits.concurrent_ingestion_jobs}
        text={capacity(usage.concurrent_ingestion_jobs, limits.concurrent_ingestion_jobs)} />
      <Meter label="Document storage" used={usage.storage_bytes} limit={limits.storage_bytes} text={capacity(usage.storage_bytes, limits.storage_bytes, formatBytes)} />
      <p className="muted small">
        {limits.documents_per_source === null ? 'No limit on documents per source.' : `Up to ${formatNumber(limits.documents_per_source)} documents per source.`}
      </p>
    </Section>
  );
}

const Stat = ({ label, value }: { label: string; value: string }) => (
  <div className="stat"><div className="stat-label">{label}</div><div className="stat-value">{value}</div></div>
);

/** The workspace at a glance: traffic, runs, tokens, cost, errors and latency over time, and how close it is to its limits. */
export function OverviewPage() {
  const [range, setRange] = useState('24h');
  const workspace = useApi((client) => client.get('/v1/workspace'), []);
  const reports = useApi((client) => loadReports(client, range), [range]);
  const r = reports.data;
  const share = (part: number | undefined, whole: number | undefined) => (whole ? ((part ?? 0) / whole) * 100 : null);
  const runsTotal = (r?.usage?.runs ?? 0) + (r?.usage?.workflow_runs ?? 0);
  const runErrors = (r?.usage?.run_errors ?? 0) + (r?.usage?.workflow_run_errors ?? 0);

  return (
    <Page title="Overview" actions={
      <SelectField label="Period" value={range} onChange={setRange} options={Object.entries(RANGES).map(([value, { label }]) => ({ value, label }))} />
    }>
      <LoadState loading={reports.loading && !r} error={reports.error} what="the reports" />
      {r && (
        <>
          <div className="stats" aria-label="Totals over the period">
            <Stat label="Requests" value={formatNumber(r.usage?.requests ?? 0)} />
            <Stat label="Request error rate" value={formatPercent(share(r.usage?.request_errors, r.usage?.requests))} />
            <Stat label="Runs" value={formatNumber(runsTotal)} />
            <Stat label="Run error rate" value={formatPercent(share(runErrors, runsTotal))} />
            <Stat label="Tokens" value={formatNumber(r.usage?.total_tokens ?? 0)} />
            <Stat label={r.notional ? 'Cost (notional)' : 'Cost'} value={formatUsd(r.cost)} />
            <Stat label="Run latency p50" value={formatMs(r.latency?.total_ms?.p50 as number | undefined)} />
            <Stat label="Run latency p95" value={formatMs(r.latency?.total_ms?.p95 as number | undefined)} />
            <Stat label="Time to first token p50" value={formatMs(r.latency?.time_to_first_token_ms?.p50 as number | undefined)} />
          </div>
          <div className="grid-2">
            <TimeChart title="Requests" counts data={r.points} series={[{ key: 'requests', label: 'Requests', color: '#4f46e5' }, { key: 'request_errors', label: 'Errors (4xx, 5xx)', color: '#dc2626' }]}
              caption={`${formatNumber(r.usage?.requests ?? 0)} requests, ${formatNumber(r.usage?.request_errors ?? 0)} answered with an error.`} />
            <TimeChart title="Runs" counts data={r.points} series={[{ key: 'runs', label: 'Agent and workflow runs', color: '#0891b2' }, { key: 'run_errors', label: 'Failed', color: '#dc2626' }]}
              caption={`${formatNumber(runsTotal)} runs finished, ${formatNumber(runErrors)} failed.`} />
            <TimeChart title="Tokens" counts data={r.points} series={[{ key: 'tokens', label: 'Tokens', color: '#7c3aed' }]}
              caption={`${formatNumber(r.usage?.total_tokens ?? 0)} tokens of agent runs.`} />
            <TimeChart title={r.notional ? 'Cost (notional in test mode)' : 'Cost'} data={r.points} format={formatUsd}
              series={[{ key: 'cost', label: 'Cost (USD)', color: '#16a34a' }]} caption={`${formatUsd(r.cost)} over the period.`} />
            <TimeChart title="Run latency" kind="line" data={r.points} format={formatMs}
              series={[{ key: 'p50', label: 'p50', color: '#4f46e5' }, { key: 'p95', label: 'p95', color: '#ea580c' }]}
              caption={`Over ${formatNumber(r.latency?.total_ms?.count as number | undefined ?? 0)} runs: p50 ${formatMs(r.latency?.total_ms?.p50 as number | undefined)}, p95 ${formatMs(r.latency?.total_ms?.p95 as number | undefined)}, p99 ${formatMs(r.latency?.total_ms?.p99 as number | undefined)}.`} />
          </div>
        </>
      )}
      <div className="grid-2">
        <div>
          <LoadState loading={workspace.loading && !workspace.data} error={workspace.error} what="the plan and limits" />
          {workspace.data && <Limits workspace={workspace.data} />}
        </div>
        <Section title="Budgets" actions={<Link to="/settings/budgets">All budgets</Link>}>
          {r && r.budgets.length === 0 && <Empty>No budgets in this mode. <Link to="/settings/budgets">Create one</Link> to cap spending.</Empty>}
          {r?.budgets.map((budget) => (
            <div key={budget.id} className="limit-row">
              <p className="small"><strong>{scopeText(budget)}</strong> · per {budget.period} · {budget.status.replace('_', ' ')}</p>
              <BudgetUsage budget={budget} />
            </div>
          ))}
        </Section>
      </div>
    </Page>
  );
}
