import { useState, type ReactNode } from 'react';
import { Link, navigate, useLocation } from './router';
import { useSession, type Mode } from './session';

const NAV = [
  { to: '/overview', label: 'Overview' },
  { to: '/agents', label: 'Agents' },
  { to: '/runs', label: 'Runs and traces' },
  { to: '/workflows', label: 'Workflows' },
  { to: '/context', label: 'Context' },
  { to: '/events', label: 'Events' },
  { to: '/requests', label: 'Requests' },
  { to: '/settings/api-keys', label: 'Settings' },
];

/** The area a path belongs to, for marking the current link. */
function areaOf(path: string): string {
  const first = path.split('/')[1] ?? '';
  return first === 'settings' ? '/settings/api-keys' : `/${first}`;
}

/** Which mode every page shows, at all times; a switch when keys of both modes were given. */
function ModeSwitch() {
  const { session, switchMode } = useSession();
  if (!session) return null;
  const other: Mode = session.mode === 'live' ? 'test' : 'live';
  return (
    <div className={`mode mode-${session.mode}`}>
      <span className="mode-label" role="status">{session.mode === 'live' ? 'Live mode' : 'Test mode'}</span>
      {session.keys[other] && (
        <button type="button" className="secondary small" onClick={() => switchMode(other)}>Switch to {other} mode</button>
      )}
    </div>
  );
}

/** The frame of the signed-in pages: navigation (a menu button on a phone), mode and sign-out. */
export function Layout({ children }: { children: ReactNode }) {
  const { session, signOut } = useSession();
  const { path } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const current = areaOf(path);
  return (
    <div className={`shell ${session?.mode === 'live' ? 'shell-live' : 'shell-test'}`}>
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="topbar">
        <Link to="/overview" className="brand">KAIRO</Link>
        <span className="workspace" title={session?.workspace.id}>{session?.workspace.name} · {session?.workspace.plan} plan</span>
        <ModeSwitch />
        <button type="button" className="menu-button secondary" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
      </header>
      <nav id="main-nav" className={`sidenav ${menuOpen ? 'open' : ''}`} aria-label="Console">
        <ul>
          {NAV.map((item) => (
            <li key={item.to}>
              <Link to={item.to} aria-current={current === item.to ? 'page' : undefined} onClick={() => setMenuOpen(false)}>{item.label}</Link>
            </li>
          ))}
        </ul>
        <ul className="sidenav-secondary">
          <li><a href="/docs">API reference</a></li>
          <li><Link to="/status">Service status</Link></li>
          <li>
            <button type="button" className="link-button" onClick={() => { signOut(); navigate('/sign-in'); }}>Sign out</button>
          </li>
        </ul>
      </nav>
      <main id="main" className="main">{children}</main>
    </div>
  );
}
