import { useCallback, useEffect, useRef, useState } from 'react';
import { KairoError, type Kairo } from 'kairo/client';
import { useClient } from './session';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again, keeping what is shown until the answer arrives. */
  reload(): void;
}

/**
 * Loads data through the signed-in client, again whenever `deps` (or the key, on a mode
 * switch) change; an answer that arrives after a newer request started is dropped.
 */
export function useApi<T>(load: (client: Kairo) => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const client = useClient();
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const ticket = ++latest.current;
    setState((previous) => ({ ...previous, loading: true }));
    load(client).then(
      (data) => ticket === latest.current && setState({ data, loading: false }),
      (error: unknown) => ticket === latest.current && setState((previous) => ({ data: previous.data, error, loading: false })),
    );
  }, [client, round, ...deps]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Calls `reload` every `ms` while `active` (a run or delivery still in progress). */
export function usePolling(reload: () => void, ms: number, active: boolean): void {
  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(reload, ms);
    return () => window.clearInterval(timer);
  }, [reload, ms, active]);
}

export interface Action {
  busy: boolean;
  error: unknown;
  /** Runs `work`, showing it busy and keeping its error; resolves to its result, or undefined when it failed. */
  run<T>(work: () => Promise<T>): Promise<T | undefined>;
  clear(): void;
}

/** A change made from a form or a button: busy while it runs, its error kept for the banner. */
export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = useCallback(async <T,>(work: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(undefined);
    try {
      return await work();
    } catch (caught) {
      setError(caught);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => setError(undefined), []);
  return { busy, error, run, clear };
}

/** A failure in plain words, with the field and request id when the API gave them. */
export function describeError(error: unknown): { message: string; details: string[]; signedOut: boolean } {
  if (error instanceof KairoError) {
    const details: string[] = [];
    if (error.param) details.push(`Field: ${error.param}`);
    if (error.code) details.push(`Code: ${error.code}`);
    if (error.requestId) details.push(`Request: ${error.requestId}`);
    const message = error.status === undefined ? `Could not reach KAIRO. ${error.message}` : error.message;
    return { message, details, signedOut: error.status === 401 };
  }
  return { message: error instanceof Error ? error.message : String(error), details: [], signedOut: false };
}

interface Page<T> {
  data: T[];
  has_more: boolean;
  last_id: string | null;
}

export interface PagedList<T> {
  items: T[];
  hasMore: boolean;
  loading: boolean;
  error: unknown;
  /** Fetches the next page (older objects) and adds it below. */
  more(): void;
  reload(): void;
}

/** A list endpoint page by page: the first page at once, the next ones on `more()`. */
export function usePagedList<T>(fetchPage: (client: Kairo, after: string | undefined) => Promise<Page<T>>, deps: readonly unknown[]): PagedList<T> {
  const client = useClient();
  const [state, setState] = useState<{ items: T[]; hasMore: boolean; lastId: string | null; error?: unknown; loading: boolean }>({ items: [], hasMore: false, lastId: null, loading: true });
  const [round, setRound] = useState(0);
  const latest = useRef(0);
  const load = useCallback((after: string | undefined) => {
    const ticket = ++latest.current;
    setState((previous) => ({ ...previous, loading: true }));
    fetchPage(client, after).then(
      (page) => ticket === latest.current && setState((previous) => ({
        items: after === undefined ? page.data : [...previous.items, ...page.data], hasMore: page.has_more, lastId: page.last_id, loading: false,
      })),
      (error: unknown) => ticket === latest.current && setState((previous) => ({ ...previous, error, loading: false })),
    );
  }, [client, ...deps]);
  useEffect(() => load(undefined), [load, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return {
    items: state.items, hasMore: state.hasMore, loading: state.loading, error: state.error,
    more: () => { if (state.lastId) load(state.lastId); },
    reload,
  };
}
