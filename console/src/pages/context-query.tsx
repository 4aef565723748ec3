import { useState, type FormEvent } from 'react';
import type { Body, Data } from 'kairo/client';
import { useAction } from '../api';
import { formatMs, parseJson } from '../format';
import { Link } from '../router';
import { useClient } from '../session';
import { CheckboxField, ErrorBanner, Section, SelectField, Table, TextAreaField, TextField, type Column } from '../ui';

type QueryBody = Body<'/v1/context/query', 'post'>;
type Answer = Data<'/v1/context/query', 'post', { body: QueryBody }>;
type Hit = Answer['data'][number];

const columns: Column<Hit>[] = [
  { header: 'Score', cell: (hit) => hit.score.toFixed(4), className: 'num' },
  {
    header: 'Document',
    cell: (hit) => (
      <>
        <Link to={`/context/${hit.source.id}`}>{hit.source.name}</Link> › {hit.document.title ?? hit.document.external_id ?? hit.document.id}
        {hit.heading && <div className="muted small">{hit.heading}</div>}
      </>
    ),
  },
  { header: 'Chunk', cell: (hit) => <span className="small">{hit.text.length > 400 ? `${hit.text.slice(0, 400)}…` : hit.text}</span> },
  {
    header: 'Vector / keyword rank',
    cell: (hit) => `${hit.scores.vector_rank ?? '—'} / ${hit.scores.keyword_rank ?? '—'}`,
    className: 'num',
  },
];

/** Searches the sources as an agent's retrieval would, showing each scored chunk. */
export function QueryPlayground({ sources }: { sources: Array<{ id: string; name: string }> }) {
  const client = useClient();
  const action = useAction();
  const [query, setQuery] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [mode, setMode] = useState('hybrid');
  const [topK, setTopK] = useState('5');
  const [maxTokens, setMaxTokens] = useState('');
  const [filter, setFilter] = useState('');
  const [answer, setAnswer] = useState<Answer>();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const body: QueryBody = {
        query, top_k: Number(topK) || 5, mode: mode as QueryBody['mode'],
        sources: chosen.length > 0 ? chosen : undefined,
        max_tokens: maxTokens ? Number(maxTokens) : undefined,
        filter: filter.trim() ? (parseJson(filter, 'Filter') as QueryBody['filter']) : undefined,
      };
      setAnswer(await client.post('/v1/context/query', { body }));
    });
  };

  return (
    <Section title="Query playground">
      <form onSubmit={submit} aria-label="Query the context">
        <ErrorBanner error={action.error} onDismiss={action.clear} />
        <TextField label="Query" value={query} onChange={setQuery} required />
        <fieldset>
          <legend>Sources (none chosen: all of them)</legend>
          {sources.map((source) => (
            <CheckboxField key={source.id} label={source.name} checked={chosen.includes(source.id)}
              onChange={(on) => setChosen(on ? [...chosen, source.id] : chosen.filter((id) => id !== source.id))} />
          ))}
        </fieldset>
        <div className="form-grid">
          <SelectField label="Search mode" value={mode} onChange={setMode} options={[
            { value: 'hybrid', label: 'hybrid (vector and keyword)' }, { value: 'vector', label: 'vector' }, { value: 'keyword', label: 'keyword' },
          ]} />
          <TextField label="Chunks (top k)" value={topK} onChange={setTopK} type="number" />
          <TextField label="Context window (tokens)" value={maxTokens} onChange={setMaxTokens} type="number" hint="Optional: also build the window an agent would get." />
        </div>
        <TextAreaField label="Metadata filter (JSON)" value={filter} onChange={setFilter} rows={2} code hint='Optional, e.g. {"region": "emea", "year": {"gte": 2023}}' />
        <button type="submit" disabled={action.busy || query.trim() === ''}>{action.busy ? 'Searching…' : 'Search'}</button>
      </form>
      {answer && (
        <div aria-live="polite">
          <h3>{answer.data.length} chunks in {formatMs(answer.latency_ms.total)}</h3>
          <Table caption="Scored chunks" columns={columns} rows={answer.data} rowKey={(hit) => hit.id} empty="Nothing matched the query." />
          {answer.window && (
            <>
              <h3>Context window ({answer.window.token_count} of {answer.window.max_tokens} tokens)</h3>
              <pre className="json">{answer.window.text}</pre>
            </>
          )}
        </div>
      )}
    </Section>
  );
}
