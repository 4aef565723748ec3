import type { Database } from '../schema.js';
import type { Agent, AgentStatus, AgentVersion, ThreadMessage } from '../port.js';
import { json, scopeOf } from './column-values.js';

export function toAgent(row: Database['agents']): Agent {
  return {
    id: row.id,
    scope: scopeOf(row),
    name: row.name,
    status: row.status as AgentStatus,
    version: Number(row.version),
    config: json(row.config),
    metadata: json(row.metadata),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export const toAgentVersion = (row: Database['agent_versions']): AgentVersion => ({
  agentId: row.agent_id,
  version: Number(row.version),
  config: json<Record<string, unknown>>(row.config),
  createdAt: Number(row.created_at),
});

export const messageRow = (m: ThreadMessage): Database['thread_messages'] => ({
  id: m.id, thread_id: m.threadId, run_id: m.runId, role: m.role, content: JSON.stringify(m.content), created_at: m.createdAt,
});

/** The thread message columns, in the order messageRow lists them. */
export const MESSAGE_COLUMNS = ['id', 'thread_id', 'run_id', 'role', 'content', 'created_at'] as const satisfies ReadonlyArray<keyof Database['thread_messages']>;

export function toMessage(row: Database['thread_messages']): ThreadMessage {
  return { id: row.id, threadId: row.thread_id, runId: row.run_id, role: row.role as ThreadMessage['role'], content: json(row.content), createdAt: Number(row.created_at) };
}
