import { useState, type FormEvent } from 'react';
import type { Body, Data, ListItem } from 'kairo/client';
import { useAction, useApi } from '../api';
import { formatJson, parseJson } from '../format';
import { useClient, useMode } from '../session';
import { CheckboxField, ErrorBanner, SelectField, TextAreaField, TextField } from '../ui';

export type Agent = ListItem<'/v1/agents'>;
type AgentBody = Body<'/v1/agents', 'post'>;
type Model = Data<'/v1/models', 'get', object>['data'][number];
type Source = ListItem<'/v1/context/sources'>;

const TOOLS_EXAMPLE = `[
  {"type": "function", "name": "refund", "description": "Refund an order",
   "parameters": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
   "requires_approval": true}
]`;

interface Draft {
  name: string;
  description: string;
  model: string;
  optimize: string;
  instructions: string;
  context: string[];
  contextMode: string;
  tools: string;
  temperature: string;
  maxSteps: string;
  status: string;
}

function draftOf(agent: Agent | undefined): Draft {
  return {
    name: agent?.name ?? '',
    description: agent?.description ?? '',
    model: agent?.model ?? 'auto',
    optimize: String(agent?.routing.optimize ?? 'balanced'),
    instructions: agent?.instructions ?? '',
    context: agent?.context ?? [],
    contextMode: agent?.context_mode ?? 'auto',
    tools: agent && agent.tools.length > 0 ? formatJson(agent.tools) : '[]',
    temperature: agent?.settings.temperature == null ? '' : String(agent.settings.temperature),
    maxSteps: agent?.settings.max_steps == null ? '' : String(agent.settings.max_steps),
    status: agent?.status ?? 'active',
  };
}

function bodyOf(draft: Draft, editing: boolean): AgentBody {
  const tools = parseJson(draft.tools.trim() || '[]', 'Tools');
  if (!Array.isArray(tools)) throw new Error('Tools must be a JSON array of tool definitions.');
  const number = (text: string, field: string) => {
    if (text.trim() === '') return undefined;
    const value = Number(text);
    if (Number.isNaN(value)) throw new Error(`${field} must be a number.`);
    return value;
  };
  return {
    name: draft.name.trim(),
    description: draft.description.trim() || null,
    model: draft.model,
    instructions: draft.instructions.trim() || null,
    context: draft.context,
    context_mode: draft.contextMode as AgentBody['context_mode'],
    tools: tools as AgentBody['tools'],
    settings: { temperature: number(draft.temperature, 'Temperature') ?? null, max_steps: number(draft.maxSteps, 'Max steps') },
    routing: draft.model === 'auto' ? { optimize: draft.optimize as 'balanced' } : undefined,
    ...(editing ? { status: draft.status as AgentBody['status'] } : {}),
  };
}

/** Creates an agent, or edits one (a change of configuration makes a new version). */
export function AgentForm({ agent, onSaved, submitLabel }: { agent?: Agent; onSaved(agent: Agent): void; submitLabel: string }) {
  const mode = useMode();
  const client = useClient();
  const [draft, setDraft] = useState<Draft>(() => draftOf(agent));
  const set = <K extends keyof Draft>(key: K) => (value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const options = useApi(async (client) => {
    const [models, sources] = await Promise.all([
      client.get('/v1/models'),
      client.get('/v1/context/sources', { params: { query: { limit: 100 } } }),
    ]);
    return { models: models.data, sources: sources.data };
  }, []);
  const action = useAction();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void action.run(async () => {
      const body = bodyOf(draft, agent !== undefined);
      const saved = agent
        ? await client.patch('/v1/agents/{id}', { params: { path: { id: agent.id } }, body })
        : await client.post('/v1/agents', { body });
      onSaved(saved);
    });
  };

  const models: Model[] = options.data?.models ?? [];
  const sources: Source[] = options.data?.sources ?? [];
  const modelOptions = [
    { value: 'auto', label: 'auto — KAIRO picks a model per run' },
    ...models.map((m) => ({ value: m.id, label: `${m.display_name} (${m.id})${mode === 'live' && !m.available ? ' — provider not configured' : ''}` })),
  ];
  if (!modelOptions.some((o) => o.value === draft.model)) modelOptions.push({ value: draft.model, label: draft.model });

  return (
    <form onSubmit={submit} aria-label={submitLabel}>
      <ErrorBanner error={action.error} onDismiss={action.clear} />
      <ErrorBanner error={options.error} />
      <div className="form-grid">
        <TextField label="Name" value={draft.name} onChange={set('name')} required />
        <SelectField label="Model" value={draft.model} onChange={set('model')} options={modelOptions}
          hint={mode === 'test' ? 'Test mode runs every model on the simulator.' : undefined} />
        {draft.model === 'auto' && (
          <SelectField label="Auto routing optimizes for" value={draft.optimize} onChange={set('optimize')}
            options={['balanced', 'cost', 'quality', 'latency'].map((v) => ({ value: v, label: v }))} />
        )}
        {agent && (
          <SelectField label="Status" value={draft.status} onChange={set('status')}
            options={['active', 'paused', 'archived'].map((v) => ({ value: v, label: v }))} />
        )}
      </div>
      <TextField label="Description" value={draft.description} onChange={set('description')} />
      <TextAreaField label="Instructions" value={draft.instructions} onChange={set('instructions')} rows={5} hint="The system prompt." />
      <fieldset>
        <legend>Context sources</legend>
        {sources.length === 0 && <p className="muted small">{options.loading ? 'Loading sources…' : 'No context sources yet: create one under Context.'}</p>}
        {sources.map((source) => (
          <CheckboxField key={source.id} label={source.name} checked={draft.context.includes(source.id)}
            onChange={(on) => set('context')(on ? [...draft.context, source.id] : draft.context.filter((id) => id !== source.id))} />
        ))}
        <SelectField label="Context mode" value={draft.contextMode} onChange={set('contextMode')} options={[
          { value: 'auto', label: 'auto — retrieve before the first call' },
          { value: 'tool', label: 'tool — the model searches when it wants' },
          { value: 'both', label: 'both' },
        ]} />
      </fieldset>
      <TextAreaField label="Tools (JSON)" value={draft.tools} onChange={set('tools')} rows={6} code
        hint={<>A JSON array of tool definitions (function, http, mcp, agent, context_search). For example: <code>{TOOLS_EXAMPLE.replace(/\s+/g, ' ')}</code></>} />
      <div className="form-grid">
        <TextField label="Temperature" value={draft.temperature} onChange={set('temperature')} hint="0 to 2; empty for the model's default." />
        <TextField label="Max steps" value={draft.maxSteps} onChange={set('maxSteps')} hint="Model calls per run (default 8)." />
      </div>
      <button type="submit" disabled={action.busy}>{action.busy ? 'Saving…' : submitLabel}</button>
    </form>
  );
}
