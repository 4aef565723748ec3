import { useState } from 'react';
import { usePagedList } from '../api';
import { formatDate } from '../format';
import { Link, navigate } from '../router';
import { ListTable, Page, Section, SelectField, StatusBadge, type Column } from '../ui';
import { AgentForm, type Agent } from './agent-form';

const columns: Column<Agent>[] = [
  { header: 'Name', cell: (agent) => <Link to={`/agents/${agent.id}`}>{agent.name}</Link> },
  { header: 'Model', cell: (agent) => <code>{agent.model}</code> },
  { header: 'Version', cell: (agent) => agent.version, className: 'num' },
  { header: 'Tools', cell: (agent) => agent.tools.length, className: 'num' },
  { header: 'Status', cell: (agent) => <StatusBadge status={agent.status} /> },
  { header: 'Updated', cell: (agent) => formatDate(agent.updated_at) },
];

export function AgentsPage() {
  const [status, setStatus] = useState('');
  const agents = usePagedList((client, after) => client.get('/v1/agents', {
    params: { query: { limit: 50, after, status: (status || undefined) as 'active' | undefined } },
  }), [status]);
  return (
    <Page title="Agents" actions={<Link to="/agents/new" className="button-link">New agent</Link>}>
      <div className="filters">
        <SelectField label="Status" value={status} onChange={setStatus}
          options={[{ value: '', label: 'Any' }, ...['active', 'paused', 'archived'].map((v) => ({ value: v, label: v }))]} />
      </div>
      <ListTable list={agents} what="agents" columns={columns} rowKey={(agent) => agent.id}
        empty={<>No agents yet. <Link to="/agents/new">Create the first one</Link>.</>} />
    </Page>
  );
}

export function NewAgentPage() {
  return (
    <Page title="New agent">
      <Section title="Configuration">
        <AgentForm submitLabel="Create agent" onSaved={(agent) => navigate(`/agents/${agent.id}`)} />
      </Section>
    </Page>
  );
}
