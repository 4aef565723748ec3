import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Data, RunEvent } from 'kairo/client';
import { formatJson, formatMs, formatNumber, formatUsd, parseJson } from '../format';
import { Link } from '../router';
import { useClient } from '../session';
import { CheckboxField, ErrorBanner, Section, StatusBadge, TextAreaField } from '../ui';
import type { Agent } from './agent-form';

type Run = Data<'/v1/agents/{id}/runs/{run_id}', 'get', { params: { path: { id: string; run_id: string } } }>;

interface ToolCall {
  id: string;
  name: string;
  arguments: unknown;
  ok?: boolean;
  output?: unknown;
}

interface PendingCall {
  id: string;
  type: 'function' | 'approval';
  name: string;
  arguments: unknown;
}

interface Answer {
  approve: boolean;
  reason: string;
  output: string;
}

interface RunState {
  status: string;
  runId?: string;
  text: string;
  toolCalls: ToolCall[];
  notes: string[];
  pending: PendingCall[];
  lastEventId: number;
  log: string[];
  error?: unknown;
  final?: Run;
}

const IDLE: RunState = { status: 'idle', text: '', toolCalls: [], notes: [], pending: [], lastEventId: 0, log: [] };

/** What one event of the run's stream changes in what the playground shows. */
function apply(state: RunState, event: RunEvent): RunState {
  const data = event.data as Record<string, any>;
  const next: RunState = { ...state, lastEventId: event.id, log: [...state.log, `${event.id} ${event.event}`] };
  switch (event.event) {
    case 'run.created': return { ...next, runId: String(data.run_id), status: String(data.status ?? 'queued') };
    case 'run.started': case 'run.resumed': return { ...next, status: 'running', pending: [] };
    case 'run.output_text.delta': return { ...next, text: next.text + String(data.delta ?? '') };
    case 'run.tool_call.started':
      return { ...next, toolCalls: [...next.toolCalls, { id: String(data.tool_call_id), name: String(data.name), arguments: data.arguments }] };
    case 'run.tool_call.completed':
      return { ...next, toolCalls: next.toolCalls.map((c) => (c.id === data.tool_call_id ? { ...c, ok: Boolean(data.ok), output: data.output } : c)) };
    case 'run.model_fallback': return { ...next, notes: [...next.notes, `Fell back from ${data.model}: ${data.error}`] };
    case 'run.requires_action': return { ...next, status: 'requires_action', pending: (data.required_action?.tool_calls ?? []) as PendingCall[] };
    case 'run.completed': return { ...next, status: 'completed' };
    case 'run.failed': return { ...next, status: 'failed', notes: [...next.notes, `Failed: ${data.error?.message ?? 'unknown error'}`] };
    case 'run.cancelled': return { ...next, status: 'cancelled' };
    default: return next;
  }
}

function PendingCalls({ calls, busy, onSubmit }: { calls: PendingCall[]; busy: boolean; onSubmit(answers: Record<string, Answer>): void }) {
  const [answers, setAnswers] = useState<Record<string, Answer>>(() =>
    Object.fromEntries(calls.map((call) => [call.id, { approve: true, reason: '', output: '{}' }])));
  const set = (id: string, change: Partial<Answer>) => setAnswers((all) => ({ ...all, [id]: { ...all[id]!, ...change } }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit(answers);
  };
  return (
    <form onSubmit={submit} className="card" aria-label="The run waits for you">
      <h3>The run waits for you</h3>
      {calls.map((call) => (
        <fieldset key={call.id}>
          <legend>{call.type === 'approval' ? `Approve the call to ${call.name}?` : `Output of ${call.name}`}</legend>
          <pre className="json">{formatJson(call.arguments)}</pre>
          {call.type === 'approval' ? (
            <>
              <CheckboxField label={`Approve ${call.name}`} checked={answers[call.id]!.approve} onChange={(approve) => set(call.id, { approve })} />
              {!answers[call.id]!.approve && (
                <TextAreaField label="Reason for denying" value={answers[call.id]!.reason} onChange={(reason) => set(call.id, { reason })} rows={2} />
              )}
            </>
          ) : (
            <TextAreaField label={`Output of ${call.name} (JSON)`} value={answers[call.id]!.output} onChange={(output) => set(call.id, { output })} rows={3} code />
          )}
        </fieldset>
      ))}
      <button type="submit" disabled={busy}>Send answers and continue</button>
    </form>
  );
}

/** Runs the agent and shows its stream live: text as it comes, tool calls, fallbacks and what it waits for. */
export function Playground({ agent }: { agent: Agent }) {
  const client = useClient();
  const [input, setInput] = useState('');
  const [continueThread, setContinueThread] = useState(false);
  const [run, setRun] = useState<RunState>(IDLE);
  const [busy, setBusy] = useState(false);
  const stop = useRef<AbortController | null>(null);
  useEffect(() => () => stop.current?.abort(), []);

  /**
   * Follows a stream of the run to its end (or its next stop), then reads the finished run.
   * The run id is taken from the events themselves: React may apply the queued state updates
   * only after the stream has ended.
   */
  const follow = async (events: AsyncGenerator<RunEvent>, knownRunId?: string) => {
    setBusy(true);
    let runId = knownRunId;
    try {
      for await (const event of events) {
        if (event.event === 'run.created') runId = String((event.data as { run_id?: unknown }).run_id);
        setRun((current) => apply(current, event));
      }
      if (runId) {
        const final = await client.get('/v1/agents/{id}/runs/{run_id}', { params: { path: { id: agent.id, run_id: runId } } });
        setRun((current) => ({ ...current, final }));
      }
    } catch (error) {
      if (!stop.current?.signal.aborted) setRun((current) => ({ ...current, error }));
    } finally {
      setBusy(false);
    }
  };

  const start = (event: FormEvent) => {
    event.preventDefault();
    const threadId = continueThread ? run.final?.thread_id ?? undefined : undefined;
    stop.current = new AbortController();
    setRun(IDLE);
    void follow(client.streamAgentRun(agent.id, { input, thread_id: threadId }, { signal: stop.current.signal }));
  };

  const cancel = async () => {
    stop.current?.abort();
    if (!run.runId) return;
    try {
      await client.post('/v1/agents/{id}/runs/{run_id}/cancel', { params: { path: { id: agent.id, run_id: run.runId } }, body: {} });
      setRun((current) => ({ ...current, status: 'cancelled' }));
    } catch (error) {
      setRun((current) => ({ ...current, error }));
    }
  };

  const answer = (answers: Record<string, Answer>) => {
    const runId = run.runId!;
    void (async () => {
      try {
        const tool_outputs = run.pending.map((call) => {
          const given = answers[call.id]!;
          if (call.type === 'approval') return { tool_call_id: call.id, approve: given.approve, reason: given.approve ? undefined : given.reason || undefined };
          return { tool_call_id: call.id, output: parseJson(given.output, `Output of ${call.name}`) };
        });
        setRun((current) => ({ ...current, pending: [], status: 'running', error: undefined, final: undefined }));
        stop.current = new AbortController();
        const resumed = client.post('/v1/agents/{id}/runs/{run_id}/tool_outputs', { params: { path: { id: agent.id, run_id: runId } }, body: { tool_outputs } });
        await resumed;
        await follow(client.streamRunEvents(agent.id, runId, { lastEventId: run.lastEventId, signal: stop.current.signal }), runId);
      } catch (error) {
        setRun((current) => ({ ...current, error }));
      }
    })();
  };

  const final = run.final;
  return (
    <Section title="Playground">
      <form onSubmit={start} aria-label="Run the agent">
        <TextAreaField label="Input" value={input} onChange={setInput} rows={3} required
          hint={<>In test mode the simulator answers; <code>call &lt;tool&gt; {'{json}'}</code> makes it call a tool.</>} />
        <CheckboxField label="Continue the last conversation" checked={continueThread} onChange={setContinueThread} />
        <div className="form-actions">
          <button type="submit" disabled={busy || input.trim() === ''}>{busy ? 'Running…' : 'Run'}</button>
          {busy && <button type="button" className="danger" onClick={() => void cancel()}>Stop</button>}
          {run.status !== 'idle' && <span>Status: <StatusBadge status={run.status} /></span>}
          {run.runId && <Link to={`/runs/${run.runId}`}>Open trace of {run.runId}</Link>}
        </div>
      </form>
      {run.error !== undefined && <ErrorBanner error={run.error} />}
      {run.status !== 'idle' && (
        <>
          <h3>Output</h3>
          <div className="output" aria-live="polite" data-testid="run-output">{run.text || (busy ? '…' : '')}</div>
          {run.notes.map((note) => <p key={note} className="small">{note}</p>)}
          {run.toolCalls.length > 0 && (
            <>
              <h3>Tool calls</h3>
              <ul>
                {run.toolCalls.map((call) => (
                  <li key={call.id}>
                    <code>{call.name}</code> {formatJson(call.arguments)}{' '}
                    {call.ok === undefined ? <StatusBadge status="running" /> : <StatusBadge status={call.ok ? 'ok' : 'error'} />}
                    {call.output !== undefined && <pre className="json">{formatJson(call.output)}</pre>}
                  </li>
                ))}
              </ul>
            </>
          )}
          {run.pending.length > 0 && !busy && <PendingCalls key={run.lastEventId} calls={run.pending} busy={busy} onSubmit={answer} />}
          {final && (
            <p className="small muted">
              {final.model ?? 'no model'} · {formatNumber(final.usage.total_tokens)} tokens · {formatUsd(final.cost_usd)}
              {final.cost_notional ? ' (notional)' : ''} · {formatMs(final.latency_ms.total_ms)}
              {final.error ? ` · ${final.error.code}: ${final.error.message}` : ''}
            </p>
          )}
          <details>
            <summary>Events ({run.log.length})</summary>
            <ol className="event-log">{run.log.map((line) => <li key={line}>{line}</li>)}</ol>
          </details>
        </>
      )}
    </Section>
  );
}
