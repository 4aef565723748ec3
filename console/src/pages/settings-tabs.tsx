import { useLocation } from '../router';
import { Tabs } from '../ui';

const SETTINGS = [
  { to: '/settings/api-keys', label: 'API keys' },
  { to: '/settings/webhooks', label: 'Webhooks' },
  { to: '/settings/budgets', label: 'Budgets' },
];

/** The tabs of Settings. */
export function SettingsTabs() {
  const { path } = useLocation();
  return <Tabs tabs={SETTINGS} current={path === '/settings' ? '/settings/api-keys' : path} label="Settings" />;
}
