import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { describeError, type PagedList } from './api';
import { Link, navigate } from './router';
import { useSession } from './session';

/** The shared pieces of every page: headings, states, tables, form fields and buttons. */

export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · KAIRO`;
    // After a navigation, screen readers and keyboards start at the new page's heading.
    heading.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-header">
        <h1 id="page-title" tabIndex={-1} ref={heading}>{title}</h1>
        {actions && <div className="page-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Section({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  const id = useId();
  return (
    <section className="card" aria-labelledby={id}>
      <header className="card-header">
        <h2 id={id}>{title}</h2>
        {actions && <div className="card-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted" role="status">Loading {what}…</p>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

/** An error in plain words; a refused key offers to sign in again. */
export function ErrorBanner({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  const { signOut } = useSession();
  if (error === undefined || error === null) return null;
  const { message, details, signedOut } = describeError(error);
  return (
    <div className="banner banner-error" role="alert">
      <p>{message}</p>
      {details.length > 0 && <p className="banner-details">{details.join(' · ')}</p>}
      <div className="banner-actions">
        {signedOut && <button type="button" onClick={() => { signOut(); navigate('/sign-in'); }}>Sign in again</button>}
        {onDismiss && <button type="button" className="secondary" onClick={onDismiss}>Dismiss</button>}
      </div>
    </div>
  );
}

/** What a loaded view shows before its data: the loading line, or the error. */
export function LoadState({ loading, error, what }: { loading: boolean; error: unknown; what: string }) {
  if (error !== undefined) return <ErrorBanner error={error} />;
  return loading ? <Loading what={what} /> : null;
}

export interface Column<T> {
  header: string;
  cell(row: T): ReactNode;
  className?: string;
}

/** A table that scrolls sideways on a narrow screen; `empty` says what is missing when there are no rows. */
export function Table<T>({ caption, columns, rows, rowKey, empty }: {
  caption: string; columns: Column<T>[]; rows: T[]; rowKey(row: T): string; empty: ReactNode;
}) {
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <div className="table-wrap" role="region" aria-label={caption} tabIndex={0}>
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>{columns.map((column) => <th key={column.header} scope="col" className={column.className}>{column.header}</th>)}</tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)}>
              {columns.map((column) => <td key={column.header} className={column.className}>{column.cell(row)}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface FieldProps {
  label: string;
  hint?: ReactNode;
  children(id: string, describedBy: string | undefined): ReactNode;
}

/** A label, the control it names, and an optional hint the control is described by. */
export function Field({ label, hint, children }: FieldProps) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id, hintId)}
      {hint && <p className="hint" id={hintId}>{hint}</p>}
    </div>
  );
}

type TextProps = { label: string; value: string; onChange(value: string): void; hint?: ReactNode; required?: boolean; placeholder?: string; type?: string; autoComplete?: string };

export function TextField({ label, value, onChange, hint, ...rest }: TextProps) {
  return (
    <Field label={label} hint={hint}>
      {(id, describedBy) => <input id={id} aria-describedby={describedBy} value={value} onChange={(e) => onChange(e.target.value)} {...rest} type={rest.type ?? 'text'} />}
    </Field>
  );
}

export function TextAreaField({ label, value, onChange, hint, rows = 4, code = false, required }: {
  label: string; value: string; onChange(value: string): void; hint?: ReactNode; rows?: number; code?: boolean; required?: boolean;
}) {
  return (
    <Field label={label} hint={hint}>
      {(id, describedBy) => (
        <textarea id={id} aria-describedby={describedBy} rows={rows} className={code ? 'code' : undefined} spellCheck={!code}
          value={value} onChange={(e) => onChange(e.target.value)} required={required} />
      )}
    </Field>
  );
}

export function SelectField({ label, value, onChange, options, hint }: {
  label: string; value: string; onChange(value: string): void; options: Array<{ value: string; label: string }>; hint?: ReactNode;
}) {
  return (
    <Field label={label} hint={hint}>
      {(id, describedBy) => (
        <select id={id} aria-describedby={describedBy} value={value} onChange={(e) => onChange(e.target.value)}>
          {options.map((option) => <option key={option.value} value={option.value}>{option.label}</option>)}
        </select>
      )}
    </Field>
  );
}

export function CheckboxField({ label, checked, onChange }: { label: string; checked: boolean; onChange(checked: boolean): void }) {
  const id = useId();
  return (
    <div className="field-checkbox">
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} />
      <label htmlFor={id}>{label}</label>
    </div>
  );
}

/** Copies `text`, saying so where screen readers hear it. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState<'idle' | 'done' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('done');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <>
      <button type="button" className="secondary" onClick={copy}>{label}</button>
      <span role="status" className="muted small">{copied === 'done' ? 'Copied.' : copied === 'failed' ? 'Copy failed: select the text and copy it.' : ''}</span>
    </>
  );
}

/** A button that asks before it acts: the question replaces it until answered. */
export function ConfirmButton({ label, question, confirmLabel, onConfirm, busy = false }: {
  label: string; question: string; confirmLabel: string; onConfirm(): void; busy?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const confirm = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirm.current?.focus();
  }, [asking]);
  if (!asking) return <button type="button" className="danger" onClick={() => setAsking(true)} disabled={busy}>{label}</button>;
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button type="button" className="danger" ref={confirm} onClick={() => { setAsking(false); onConfirm(); }}>{confirmLabel}</button>
      <button type="button" className="secondary" onClick={() => setAsking(false)}>Cancel</button>
    </span>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status.replace(/[^a-z_]/g, '')}`}>{status.replace(/_/g, ' ')}</span>;
}

export function Json({ value, label }: { value: unknown; label?: string }) {
  return <pre className="json" aria-label={label} tabIndex={0}>{JSON.stringify(value, null, 2)}</pre>;
}

/** Links between the views of one area, the current one marked. */
export function Tabs({ tabs, current, label }: { tabs: Array<{ to: string; label: string }>; current: string; label: string }) {
  return (
    <nav className="tabs" aria-label={label}>
      {tabs.map((tab) => (
        <Link key={tab.to} to={tab.to} aria-current={tab.to === current ? 'page' : undefined}>{tab.label}</Link>
      ))}
    </nav>
  );
}

/** A "Load more" button for a list that has more pages. */
export function MoreButton({ hasMore, busy, onMore }: { hasMore: boolean; busy: boolean; onMore(): void }) {
  if (!hasMore) return null;
  return <button type="button" className="secondary" onClick={onMore} disabled={busy}>{busy ? 'Loading…' : 'Load more'}</button>;
}

/** A paged list as a table: loading and error states, its rows, and "Load more". */
export function ListTable<T>({ list, what, columns, rowKey, empty }: {
  list: PagedList<T>; what: string; columns: Column<T>[]; rowKey(row: T): string; empty: ReactNode;
}) {
  const first = list.loading && list.items.length === 0;
  const failed = list.error !== undefined;
  return (
    <>
      {failed ? <ErrorBanner error={list.error} /> : first && <Loading what={what} />}
      {!first && !(failed && list.items.length === 0) && (
        <Table caption={what[0]!.toUpperCase() + what.slice(1)} columns={columns} rows={list.items} rowKey={rowKey} empty={empty} />
      )}
      <MoreButton hasMore={list.hasMore} busy={list.loading} onMore={list.more} />
    </>
  );
}

/** A secret the API shows once (a new key's, a webhook endpoint's): copy it now, it is not shown again. */
export function SecretOnce({ title, secret, onDone }: { title: string; secret: string; onDone(): void }) {
  return (
    <div className="banner banner-success" role="status" aria-label={title}>
      <p><strong>{title}.</strong> Copy its secret now: it is not shown again.</p>
      <div className="secret">
        <code data-testid="new-secret">{secret}</code>
        <CopyButton text={secret} label="Copy secret" />
      </div>
      <p><button type="button" className="secondary" onClick={onDone}>I have copied it</button></p>
    </div>
  );
}

/** How much of a limit is used: a bar, and the figures in words. Turns red from 90 %. */
export function Meter({ label, used, limit, text }: { label: string; used: number; limit: number | null; text: string }) {
  const share = limit === null || limit <= 0 ? 0 : Math.min(1, used / limit);
  return (
    <div className="limit-row">
      <div className="limit-text"><span>{label}</span><span>{text}</span></div>
      {limit !== null && (
        <div className="meter" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={limit} aria-valuenow={Math.min(used, limit)} aria-valuetext={text}>
          <div className={`meter-fill ${share >= 0.9 ? 'high' : ''}`} style={{ width: `${share * 100}%` }} />
        </div>
      )}
    </div>
  );
}
