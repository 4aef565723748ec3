/** The storage port of agents: agents and their versions, and the threads their runs converse in. */
import type { Page, PageRequest, Scope } from './platform-port.js';

export type AgentStatus = 'active' | 'paused' | 'archived';

export interface Agent {
  id: string;
  scope: Scope;
  name: string;
  status: AgentStatus;
  version: number;
  /** The current version's configuration (model, instructions, context, tools, settings…). */
  config: Record<string, unknown>;
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

export interface AgentVersion {
  agentId: string;
  version: number;
  config: Record<string, unknown>;
  createdAt: number;
}

export interface AgentRepo {
  create(agent: Agent): Promise<Agent>;
  get(scope: Scope, id: string): Promise<Agent | undefined>;
  /** Agents of the scope called `name` (names need not be unique), newest first, at most `limit`. */
  named(scope: Scope, name: string, limit: number): Promise<Agent[]>;
  list(scope: Scope, page: PageRequest, filter?: { status?: AgentStatus }): Promise<Page<Agent>>;
  /** Saves a changed agent; with a new version, records the version too. */
  update(agent: Agent, newVersion: boolean): Promise<Agent>;
  delete(scope: Scope, id: string, at: number): Promise<boolean>;
  versions(agentId: string, page: PageRequest): Promise<Page<AgentVersion>>;
  getVersion(agentId: string, version: number): Promise<AgentVersion | undefined>;
}

export interface ThreadMessage {
  id: string;
  threadId: string;
  runId: string | null;
  role: 'user' | 'assistant' | 'tool';
  content: unknown;
  createdAt: number;
}

export interface ThreadRepo {
  create(thread: { id: string; scope: Scope; createdAt: number }): Promise<void>;
  exists(scope: Scope, id: string): Promise<boolean>;
  addMessages(messages: ThreadMessage[]): Promise<void>;
  messages(threadId: string, page: PageRequest): Promise<Page<ThreadMessage>>;
  /** Every message of a thread, oldest first (the model's memory). */
  history(threadId: string): Promise<ThreadMessage[]>;
}
