import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { Kairo } from 'kairo/client';

export type Mode = 'live' | 'test';

export interface WorkspaceSummary {
  id: string;
  name: string;
  plan: string;
}

/** What sign-in keeps in sessionStorage: gone when the tab closes, and at sign-out. */
export interface StoredSession {
  keys: Partial<Record<Mode, string>>;
  mode: Mode;
  workspace: WorkspaceSummary;
}

const STORAGE_KEY = 'kairo.console.session';

/** A client for this server, sending with the page's own fetch (bound: browsers refuse a detached one) unless given another. */
export function clientFor(apiKey: string, fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis)): Kairo {
  return new Kairo({ apiKey, baseUrl: window.location.origin, fetch: fetchImpl, maxRetries: 1 });
}

/** The mode a key is for, by its prefix; null for something that is not a secret key. */
export function modeOfKey(key: string): Mode | null {
  if (key.startsWith('sk_live_')) return 'live';
  if (key.startsWith('sk_test_')) return 'test';
  return null;
}

function readStored(): StoredSession | null {
  try {
    const text = window.sessionStorage.getItem(STORAGE_KEY);
    if (!text) return null;
    const stored = JSON.parse(text) as StoredSession;
    return stored.keys?.[stored.mode] ? stored : null;
  } catch {
    return null;
  }
}

interface SessionValue {
  session: StoredSession | null;
  signIn(session: StoredSession): void;
  signOut(): void;
  switchMode(mode: Mode): void;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<StoredSession | null>(readStored);
  const save = useCallback((next: StoredSession | null) => {
    if (next) window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    else window.sessionStorage.removeItem(STORAGE_KEY);
    setSession(next);
  }, []);
  const value = useMemo<SessionValue>(() => ({
    session,
    signIn: (next) => save(next),
    signOut: () => save(null),
    switchMode: (mode) => {
      if (session?.keys[mode]) save({ ...session, mode });
    },
  }), [session, save]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}

const clients = new Map<string, Kairo>();

/** The client of the signed-in key of the current mode (one per key, kept while the page lives). */
export function useClient(): Kairo {
  const { session } = useSession();
  const key = session?.keys[session.mode];
  if (!key) throw new Error('useClient without a signed-in key');
  let client = clients.get(key);
  if (!client) {
    client = clientFor(key);
    clients.set(key, client);
  }
  return client;
}

/** The mode of the signed-in key (what every page shows data of). */
export function useMode(): Mode {
  return useSession().session?.mode ?? 'test';
}
