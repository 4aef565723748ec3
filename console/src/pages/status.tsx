import { useCallback, useEffect, useRef, useState } from 'react';
import type { Data } from 'kairo/client';
import { clientFor } from '../session';
import { formatDate, formatDecimal, formatMs, formatNumber } from '../format';
import { ErrorBanner, Loading, StatusBadge } from '../ui';
import { Link } from '../router';

type Status = Data<'/v1/status', 'get', object>;

/** `/v1/status` is public: a client whose Authorization header is taken off every request. */
const publicClient = clientFor('public');
const loadStatus = () => publicClient.get('/v1/status', { headers: { Authorization: null } });

const CHECKS: Array<{ key: keyof Status['checks']; label: string }> = [
  { key: 'database', label: 'Database' },
  { key: 'queue', label: 'Job queue' },
  { key: 'limits', label: 'Rate limits and run slots' },
];

/** The public status page: no key needed. Refreshes every 30 seconds. */
export function StatusPage() {
  const [status, setStatus] = useState<Status>();
  const [error, setError] = useState<unknown>();
  const heading = useRef<HTMLHeadingElement>(null);
  const refresh = useCallback(() => {
    loadStatus().then((next) => { setStatus(next); setError(undefined); }, setError);
  }, []);
  useEffect(() => {
    document.title = 'Service status · KAIRO';
    heading.current?.focus();
    refresh();
    const timer = window.setInterval(refresh, 30_000);
    return () => window.clearInterval(timer);
  }, [refresh]);

  return (
    <main id="main" className="status-page">
      <header className="page-header">
        <h1 tabIndex={-1} ref={heading}>KAIRO service status</h1>
        <button type="button" className="secondary" onClick={refresh}>Refresh</button>
      </header>
      <ErrorBanner error={error} />
      {!status && !error && <Loading what="the service status" />}
      {status && (
        <>
          <p className={`status-summary status-${status.status}`} role="status">
            {status.status === 'operational' ? 'All systems operational' : 'Some systems are degraded'}
          </p>
          <div className="status-grid">
            <div className="card">
              <h2>API</h2>
              <p><StatusBadge status={status.load.status === 'ok' ? 'ok' : 'shedding'} /></p>
              <p className="muted small">
                Version {status.version} · up since {formatDate(status.started_at)} · event-loop delay {formatMs(status.load.event_loop_delay_ms)}
              </p>
            </div>
            {CHECKS.map(({ key, label }) => (
              <div className="card" key={key}>
                <h2>{label}</h2>
                <p><StatusBadge status={status.checks[key].status} /></p>
                <p className="muted small">Answered in {formatMs(status.checks[key].latency_ms)}</p>
                {status.checks[key].error && <p className="small">{status.checks[key].error}</p>}
              </div>
            ))}
            <div className="card">
              <h2>Background work</h2>
              <p className="small">
                {formatNumber(status.load.compute.workers)} worker processes, {formatNumber(status.load.compute.running)} running,
                {' '}{formatNumber(status.load.compute.queued)} queued
              </p>
            </div>
          </div>
          <section className="card" aria-labelledby="uptime-title">
            <h2 id="uptime-title">Uptime over {status.uptime.window_days} days</h2>
            <p className="uptime-figure">{formatDecimal(status.uptime.percent)} %</p>
            <div className="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={status.uptime.percent} aria-label="Uptime">
              <div className="meter-fill" style={{ width: `${Math.min(100, status.uptime.percent)}%` }} />
            </div>
            <p className="muted small">
              {formatNumber(status.uptime.minutes_up)} of {formatNumber(status.uptime.minutes_total)} minutes with a heartbeat since {formatDate(status.uptime.since)}.
            </p>
          </section>
        </>
      )}
      <p className="small"><Link to="/overview">Console</Link> · <a href="/docs">API reference</a></p>
    </main>
  );
}
