import { useState, type FormEvent } from 'react';
import type { ListItem } from 'kairo/client';
import { useAction, usePagedList } from '../api';
import { formatDate } from '../format';
import { useClient, useSession } from '../session';
import { CheckboxField, ConfirmButton, ErrorBanner, SecretOnce, ListTable, Page, Section, SelectField, StatusBadge, TextField, type Column } from '../ui';
import { SettingsTabs } from './settings-tabs';

type ApiKey = ListItem<'/v1/api_keys'>;

const AREAS = ['agents', 'workflows', 'context', 'analytics', 'events', 'webhooks', 'budgets', 'api_keys'] as const;
type Area = (typeof AREAS)[number];
type Level = 'none' | 'read' | 'write';
const LEVELS = [{ value: 'none', label: 'None' }, { value: 'read', label: 'Read' }, { value: 'write', label: 'Read and write' }];

const areaLabel = (area: string) => area.replace('_', ' ');

function permissionsText(key: ApiKey): string {
  if (!key.permissions) return 'Standard: everything';
  const granted = Object.entries(key.permissions).filter(([, level]) => level !== 'none').map(([area, level]) => `${areaLabel(area)}: ${level}`);
  return granted.length === 0 ? 'Restricted: nothing' : `Restricted: ${granted.join(', ')}`;
}

function CreateKeyForm({ onCreated }: { onCreated(key: ApiKey): void }) {
  const { session } = useSession();
  const action = useAction();
  const [name, setName] = useState('');
  const [restricted, setRestricted] = useState(false);
  const [levels, setLevels] = useState<Record<Area, Level>>(() => Object.fromEntries(AREAS.map((area) => [area, 'read'])) as Record<Area, Level>);
  const client = useClient();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const created = await client.post('/v1/api_keys', { body: { name: name.trim() || undefined, permissions: restricted ? levels : undefined } });
      setName('');
      onCreated(created);
    });
  };

  return (
    <form onSubmit={submit} aria-label="Create an API key">
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      <TextField label="Name" value={name} onChange={setName} hint={`A ${session?.mode} key, like the key you signed in with.`} />
      <CheckboxField label="Restricted: choose what the key may do" checked={restricted} onChange={setRestricted} />
      {restricted && (
        <fieldset>
          <legend>Permissions</legend>
          <div className="form-grid">
            {AREAS.map((area) => (
              <SelectField key={area} label={areaLabel(area)} value={levels[area]} options={LEVELS}
                onChange={(value) => setLevels({ ...levels, [area]: value as Level })} />
            ))}
          </div>
        </fieldset>
      )}
      <button type="submit" disabled={action.busy}>{action.busy ? 'Creating…' : 'Create key'}</button>
    </form>
  );
}

export function ApiKeysPage() {
  const { session } = useSession();
  const client = useClient();
  const keys = usePagedList((c, after) => c.get('/v1/api_keys', { params: { query: { limit: 50, after } } }), []);
  const [created, setCreated] = useState<ApiKey>();
  const revoke = useAction();
  const ownKey = session?.keys[session.mode] ?? '';

  const columns: Column<ApiKey>[] = [
    { header: 'Name', cell: (key) => key.name ?? <span className="muted">unnamed</span> },
    {
      header: 'Key',
      cell: (key) => (
        <span className="nowrap">
          <code>{key.livemode ? 'sk_live_' : 'sk_test_'}…{key.last4}</code>
          {ownKey.endsWith(key.last4) && key.status === 'active' && <span className="muted small"> (this session)</span>}
        </span>
      ),
    },
    { header: 'Permissions', cell: permissionsText },
    { header: 'Created', cell: (key) => formatDate(key.created_at) },
    { header: 'Last used', cell: (key) => (key.last_used_at ? formatDate(key.last_used_at) : 'Never') },
    { header: 'Status', cell: (key) => <StatusBadge status={key.status} /> },
    {
      header: 'Actions',
      cell: (key) => key.status === 'active' && (
        <ConfirmButton label="Revoke" confirmLabel="Yes, revoke" busy={revoke.busy}
          question={`Revoke ${key.name ?? key.id}? Requests with it are refused at once.`}
          onConfirm={() => void revoke.run(async () => {
            await client.delete('/v1/api_keys/{id}', { params: { path: { id: key.id } } });
            keys.reload();
          })} />
      ),
    },
  ];

  return (
    <Page title="Settings">
      <SettingsTabs />
      {created && <SecretOnce title={`Key ${created.name ?? created.id} created`} secret={created.secret ?? ''} onDone={() => setCreated(undefined)} />}
      <Section title="Create an API key">
        <CreateKeyForm onCreated={(key) => { setCreated(key); keys.reload(); }} />
      </Section>
      <Section title="API keys">
        <ErrorBanner error={revoke.error} onDismiss={revoke.clear} />
        <ListTable list={keys} what="API keys" columns={columns} rowKey={(key) => key.id} empty="No API keys in this mode." />
      </Section>
    </Page>
  );
}
