/**
 * Request and response examples of the main operations, by operationId, as a test-mode server
 * answers them (ids and times from a real run). The document's lint (redocly.yaml,
 * `no-invalid-media-type-examples`) checks each against its operation's schema, so an example
 * that no longer fits fails the build instead of misleading a reader.
 */

interface OperationExamples {
  /** Named request bodies (the first is the one a reader sees first). */
  request?: Record<string, { summary: string; value: unknown }>;
  /** A response body per success status. */
  responses?: Record<string, unknown>;
}

const timestamps = { created_at: '2026-12-07T20:17:01.690Z', updated_at: '2026-12-07T20:17:01.690Z' };

const agent = {
  object: 'agent', id: 'agent_01m992e47tfvdtgxzy51q6ng54', name: 'Lead Qualifier', status: 'active', livemode: false, version: 1,
  description: null, model: 'auto', instructions: 'Qualify sales leads in two sentences.', context: ['src_01m992e40xekkb844zx6rjh5p7'],
  context_mode: 'auto', context_max_tokens: 1500, tools: [],
  settings: { temperature: null, max_output_tokens: null, max_steps: 8, timeout_ms: 120000 },
  routing: { optimize: 'balanced', allowed_models: null }, metadata: {}, ...timestamps,
};

const run = {
  object: 'run', id: 'run_01m992e4b4e28t26jcptc1jtg4', agent_id: agent.id, agent_version: 1, thread_id: 'thread_01m992e4b5ersbhs2hyrqp27nr',
  livemode: false, status: 'completed', mode: 'wait', output: 'Acme Corp is a qualified lead: 200 seats with an approved budget.',
  error: null, required_action: null, model: 'openai/gpt-4o-mini',
  routing: {
    model: 'openai/gpt-4o-mini', candidates: ['openai/gpt-4o-mini', 'google/gemini-2.5-flash', 'anthropic/claude-sonnet-4'], task: 'chat',
    reason: 'Picked openai/gpt-4o-mini for a chat task, optimizing for balanced.', fallbacks: [],
  },
  usage: { input_tokens: 21, output_tokens: 18, cached_input_tokens: 0, reasoning_tokens: 0, total_tokens: 39 },
  cost_usd: 0.00001395, cost_notional: true,
  latency_ms: { queue_ms: 0, retrieval_ms: 67, model_ms: 27, tools_ms: 0, time_to_first_token_ms: 27, total_ms: 1277 },
  api_key_id: 'key_01m992e3nef3vv1rh0mrmx21z6', parent_run_id: null, metadata: {},
  created_at: '2026-12-07T20:17:01.796Z', started_at: '2026-12-07T20:17:01.796Z', completed_at: '2026-12-07T20:17:03.073Z',
};

const source = {
  object: 'context_source', id: 'src_01m992e40xekkb844zx6rjh5p7', name: 'crm', type: 'documents', description: null, livemode: false,
  embedding_model: 'kairo/hash-384', embedding_dimensions: 384, chunking: { max_tokens: 512, overlap_tokens: 64 },
  refresh_interval_seconds: null, refresh: { last_refreshed_at: null, next_refresh_at: null, last_error: null, running: false },
  counts: { documents: 0, chunks: 0, queued: 0, indexing: 0, indexed: 0, failed: 0 }, metadata: {}, ...timestamps,
};

const document = {
  object: 'context_document', id: 'doc_01m992ea02e1pt4gn59hrgpayn', source_id: source.id, livemode: false, external_id: 'acme',
  title: 'Acme Corp', content_type: 'text/plain', status: 'indexed', error: null, url: null, size_bytes: 84, chunk_count: 1, token_count: 20,
  content_hash: '6985765e941c7206db8959769911e81debf415acea6c26dd12c4670c82a64ed9', version: 1, metadata: { stage: 'proposal', seats: 200 },
  created_at: '2026-12-07T20:17:07.586Z', updated_at: '2026-12-07T20:17:08.940Z', indexed_at: '2026-12-07T20:17:08.940Z',
};

const workflowRun = {
  object: 'workflow_run', id: 'wfrun_01m992ecf0ea8sykkv85f4e4cz', workflow_id: 'wf_01m992ecb2frjrcf2ebwcbqb42', workflow_version: 1, livemode: false,
  status: 'completed', mode: 'wait', trigger: 'api', scheduled_for: null, parent_run_id: null, input: { company: 'Acme' },
  output: 'Score: 9. Acme Corp wants 200 seats with an approved budget.', error: null, cancel_requested: false,
  usage: { input_tokens: 56, output_tokens: 29, cached_input_tokens: 0, reasoning_tokens: 0, total_tokens: 85 },
  cost_usd: 0.0000258, cost_notional: true, latency_ms: { queue_ms: 18, total_ms: 79 }, api_key_id: 'key_01m992e3nef3vv1rh0mrmx21z6', metadata: {},
  created_at: '2026-12-07T20:17:10.112Z', started_at: '2026-12-07T20:17:10.130Z', completed_at: '2026-12-07T20:17:10.191Z',
  steps: [{
    key: 'score', step_id: 'score', type: 'agent', status: 'succeeded', attempts: 1, input: 'Score this lead 1-10: Acme',
    output: 'Score: 9. Acme Corp wants 200 seats with an approved budget.', error: null, wake_at: null,
    started_at: '2026-12-07T20:17:10.141Z', completed_at: '2026-12-07T20:17:10.191Z', duration_ms: 50, agent_run_ids: ['run_01m992ecg5fem9719tyem9pg7g'],
  }],
};

const query = {
  object: 'context_query', query: 'which accounts have an approved budget', mode: 'hybrid',
  data: [{
    object: 'context_chunk', id: 'chunk_01m992ebacerev2mjg1nspxt1b', text: 'Acme Corp wants 200 seats. Budget approved in January; the decision is due in March.',
    score: 0.0328, scores: { vector: 0.2432, keyword: 0.000002, vector_rank: 1, keyword_rank: 1 }, position: 0, heading: null, token_count: 20,
    source: { id: source.id, name: 'crm' }, document: { id: document.id, title: 'Acme Corp', external_id: 'acme', url: null }, metadata: { stage: 'proposal', seats: 200 },
  }],
  window: {
    text: '[1] Acme Corp\nAcme Corp wants 200 seats. Budget approved in January; the decision is due in March.', token_count: 27, max_tokens: 500,
    citations: [{ index: 1, chunk_id: 'chunk_01m992ebacerev2mjg1nspxt1b', document_id: document.id, source_id: source.id, title: 'Acme Corp', url: null, external_id: 'acme' }],
  },
  latency_ms: { embedding: 0.15, vector: 0.71, keyword: 1.02, total: 2.03 },
};

const list = <T extends { id: string }>(data: T[]) => ({ object: 'list', data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });

export const operationExamples: Record<string, OperationExamples> = {
  'agents.create': {
    request: { agent: { summary: 'An agent that routes each run and retrieves from a source', value: { name: 'Lead Qualifier', model: 'auto', instructions: 'Qualify sales leads in two sentences.', context: ['crm'] } } },
    responses: { 201: agent },
  },
  'agents.runs.create': {
    request: {
      wait: { summary: 'Wait for the result', value: { input: 'Qualify Acme Corp: 200 seats, budget approved.' } },
      stream: { summary: 'Stream the events', value: { input: 'Qualify Acme Corp: 200 seats, budget approved.', stream: true } },
      background: { summary: 'Answer at once, run in the background', value: { input: 'Qualify Acme Corp: 200 seats, budget approved.', background: true } },
    },
    responses: { 200: run, 202: { ...run, status: 'queued', mode: 'background', output: null, model: null, routing: null, usage: { ...run.usage, input_tokens: 0, output_tokens: 0, total_tokens: 0 }, cost_usd: 0, latency_ms: {}, started_at: null, completed_at: null } },
  },
  'agents.runs.submit_tool_outputs': {
    request: {
      output: { summary: 'The output of a function tool', value: { tool_outputs: [{ tool_call_id: 'call_01m992f1x7v0d2q8s3k5n9r4tb', output: { refunded: true, order: 'A-1' } }] } },
      approval: { summary: 'Refuse a call that needs approval', value: { tool_outputs: [{ tool_call_id: 'call_01m992f1x7v0d2q8s3k5n9r4tb', approve: false, reason: 'Refunds over 500 USD need a manager.' }] } },
    },
  },
  'workflows.create': {
    request: {
      workflow: {
        summary: 'Score a lead with an agent step',
        value: {
          name: 'Qualify lead', input_schema: { type: 'object', properties: { company: { type: 'string' } }, required: ['company'] },
          steps: [{ id: 'score', type: 'agent', agent: agent.id, input: '"Score this lead 1-10: " & input.company' }],
        },
      },
    },
  },
  'workflows.runs.create': {
    request: { wait: { summary: 'Run with this input and wait for the result', value: { input: { company: 'Acme' } } } },
    responses: { 200: workflowRun },
  },
  'context.sources.create': {
    request: { documents: { summary: 'A source of uploaded documents', value: { name: 'crm' } } },
    responses: { 201: source },
  },
  'context.sources.documents.create': {
    request: {
      json: {
        summary: 'One document with metadata',
        value: { documents: [{ external_id: 'acme', title: 'Acme Corp', metadata: { stage: 'proposal', seats: 200 }, text: 'Acme Corp wants 200 seats. Budget approved in January; the decision is due in March.' }] },
      },
    },
    responses: { 201: list([document]) },
  },
  'context.query': {
    request: { filtered: { summary: 'Search one source with a metadata filter', value: { query: 'which accounts have an approved budget', sources: ['crm'], filter: { seats: { gte: 100 } }, max_tokens: 500 } } },
    responses: { 200: query },
  },
  'webhook_endpoints.create': {
    request: { endpoint: { summary: 'Receive every API key event', value: { url: 'https://hooks.example.com/kairo', enabled_events: ['api_key.*'], description: 'key audit' } } },
  },
  'api_keys.create': {
    request: { restricted: { summary: 'A read-only key for a dashboard, with its own rate limit', value: { name: 'dashboard', permissions: { agents: 'read', analytics: 'read' }, rate_limit_per_minute: 30 } } },
  },
};

/** Puts the examples of `operation` (by its operationId) on its request body and success responses. */
export function addExamples(operation: Record<string, any>): void {
  const examples = operationExamples[operation.operationId];
  if (!examples) return;
  const body = operation.requestBody?.content?.['application/json'];
  if (body && examples.request) {
    delete body.example;
    body.examples = examples.request;
  }
  for (const [status, value] of Object.entries(examples.responses ?? {})) {
    const media = operation.responses?.[status]?.content?.['application/json'];
    if (media) media.examples = { [status]: { summary: operation.responses[status].description, value } };
  }
}
