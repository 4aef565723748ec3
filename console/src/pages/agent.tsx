import type { ListItem } from 'kairo/client';
import { useApi, usePagedList } from '../api';
import { changes } from '../diff';
import { formatDate } from '../format';
import { Link } from '../router';
import { ListTable, LoadState, Page, Section, StatusBadge, Tabs, Json, type Column } from '../ui';
import { AgentForm } from './agent-form';
import { Playground } from './playground';

type Version = ListItem<'/v1/agents/{id}/versions'>;

const shown = (value: unknown) => (value === undefined ? '(not set)' : JSON.stringify(value));

/** What a version changed from the one before it (the first version: everything it set). */
function VersionChanges({ version, previous }: { version: Version; previous: Version | undefined }) {
  if (!previous) return <span className="muted">{version.version === 1 ? 'First version' : 'Earlier version not loaded'}</span>;
  const list = changes(previous.config, version.config);
  if (list.length === 0) return <span className="muted">No change</span>;
  return (
    <ul className="changes" aria-label={`Changes in version ${version.version}`}>
      {list.map((change) => (
        <li key={change.path}>
          <code>{change.path}</code>: <del>{shown(change.before)}</del> → <ins>{shown(change.after)}</ins>
        </li>
      ))}
    </ul>
  );
}

function Versions({ agentId }: { agentId: string }) {
  const versions = usePagedList((client, after) => client.get('/v1/agents/{id}/versions', { params: { path: { id: agentId }, query: { limit: 20, after } } }), [agentId]);
  // Newest first: the version before each one is the next in the list.
  const before = new Map(versions.items.map((v, i) => [v.id, versions.items[i + 1]]));
  const columns: Column<Version>[] = [
    { header: 'Version', cell: (v) => v.version, className: 'num' },
    { header: 'Created', cell: (v) => formatDate(v.created_at) },
    { header: 'Model', cell: (v) => <code>{String(v.config.model ?? '')}</code> },
    { header: 'Changes', cell: (v) => <VersionChanges version={v} previous={before.get(v.id)} /> },
    {
      header: 'Configuration',
      cell: (v) => (
        <details>
          <summary>Show version {v.version}</summary>
          <Json value={v.config} label={`Configuration of version ${v.version}`} />
        </details>
      ),
    },
  ];
  return (
    <Section title="Version history">
      <p className="muted small">Every change of configuration makes a new immutable version; each run keeps the version it started with.</p>
      <ListTable list={versions} what="versions" columns={columns} rowKey={(v) => v.id} empty="No versions." />
    </Section>
  );
}

/** One agent: the playground, its configuration (editable) and its versions. */
export function AgentPage({ id, tab }: { id: string; tab: 'playground' | 'configuration' | 'versions' }) {
  const agent = useApi((client) => client.get('/v1/agents/{id}', { params: { path: { id } } }), [id]);
  const tabs = [
    { to: `/agents/${id}`, label: 'Playground' },
    { to: `/agents/${id}/configuration`, label: 'Configuration' },
    { to: `/agents/${id}/versions`, label: 'Versions' },
  ];
  const current = tab === 'playground' ? tabs[0]!.to : `/agents/${id}/${tab}`;
  const data = agent.data;
  return (
    <Page title={data ? data.name : 'Agent'} actions={<Link to={`/runs?agent_id=${id}`}>Runs of this agent</Link>}>
      <LoadState loading={agent.loading && !data} error={agent.error} what="the agent" />
      {data && (
        <>
          <p className="muted small">
            <code>{data.id}</code> · version {data.version} · model <code>{data.model}</code> · <StatusBadge status={data.status} />
          </p>
          <Tabs tabs={tabs} current={current} label="Agent" />
          {tab === 'playground' && <Playground agent={data} />}
          {tab === 'configuration' && (
            <Section title="Configuration">
              <AgentForm key={data.version} agent={data} submitLabel="Save changes" onSaved={() => agent.reload()} />
            </Section>
          )}
          {tab === 'versions' && <Versions key={data.version} agentId={id} />}
        </>
      )}
    </Page>
  );
}
