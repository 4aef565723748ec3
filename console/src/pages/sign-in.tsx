import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useAction } from '../api';
import { Link, navigate } from '../router';
import { clientFor, modeOfKey, useSession, type Mode, type StoredSession } from '../session';
import { ErrorBanner, TextField } from '../ui';

/** Asks the server who a key belongs to: its workspace, and its mode as the server sees it. */
async function checkKey(key: string, field: string) {
  if (!modeOfKey(key)) throw new Error(`${field}: a secret key starts with sk_live_ or sk_test_.`);
  const workspace = await clientFor(key).get('/v1/workspace');
  return { workspace, mode: (workspace.livemode ? 'live' : 'test') as Mode };
}

/** Sign-in with a pasted API key, and optionally the key of the other mode to switch between them. */
export function SignInPage() {
  const { signIn } = useSession();
  const [key, setKey] = useState('');
  const [otherKey, setOtherKey] = useState('');
  const action = useAction();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = 'Sign in · KAIRO';
    heading.current?.focus();
  }, []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const first = await checkKey(key.trim(), 'API key');
      const keys: StoredSession['keys'] = { [first.mode]: key.trim() };
      if (otherKey.trim()) {
        const second = await checkKey(otherKey.trim(), 'Second key');
        if (second.workspace.id !== first.workspace.id) throw new Error('The two keys belong to different workspaces: give keys of one workspace.');
        if (second.mode === first.mode) throw new Error(`Both keys are ${first.mode} keys: the second key must be of the other mode.`);
        keys[second.mode] = otherKey.trim();
      }
      const { id, name, plan } = first.workspace;
      signIn({ keys, mode: first.mode, workspace: { id, name, plan } });
      navigate('/overview', { replace: true });
    });
  };

  return (
    <main id="main" className="sign-in">
      <form className="card sign-in-card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title" tabIndex={-1} ref={heading}>Sign in to KAIRO</h1>
        <p className="muted">
          Paste a secret API key. It stays in this browser tab only (session storage) and is removed when you sign out or close the tab.
        </p>
        <ErrorBanner error={action.error} />
        <TextField label="API key" value={key} onChange={setKey} type="password" autoComplete="off" required placeholder="sk_test_… or sk_live_…" />
        <TextField label="Key of the other mode (optional)" value={otherKey} onChange={setOtherKey} type="password" autoComplete="off"
          hint="Give the live and the test key of one workspace to switch between the modes." />
        <button type="submit" disabled={action.busy || key.trim() === ''}>{action.busy ? 'Checking the key…' : 'Sign in'}</button>
        <p className="small"><Link to="/status">Service status</Link> · <a href="/docs">API reference</a></p>
      </form>
    </main>
  );
}
