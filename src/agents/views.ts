/** Agents, their versions and runs as the API shows them (responses and events alike). */
import type { Agent, AgentVersion, Run } from '../store/port.js';
import { isNotional } from '../models/pricing.js';
import { toNullableTimestamp, toTimestamp } from '../timestamps.js';
import { readConfig } from './agent-config.js';

export function agentView(agent: Agent) {
  const config = readConfig(agent.config);
  return {
    object: 'agent' as const,
    id: agent.id,
    name: agent.name,
    status: agent.status,
    livemode: agent.scope.livemode,
    version: agent.version,
    description: config.description,
    model: config.model,
    instructions: config.instructions,
    context: config.context,
    context_mode: config.context_mode,
    context_max_tokens: config.context_max_tokens,
    tools: redactTools(config.tools as unknown as Array<Record<string, unknown>>),
    settings: config.settings,
    routing: config.routing,
    metadata: agent.metadata,
    created_at: toTimestamp(agent.createdAt),
    updated_at: toTimestamp(agent.updatedAt),
  };
}

/** Header values of http and mcp tools may carry credentials: write-only. */
function redactTools(tools: Array<Record<string, unknown>>) {
  return tools.map((t) => (t.headers && typeof t.headers === 'object' ? { ...t, headers: Object.fromEntries(Object.keys(t.headers).map((k) => [k, '[redacted]'])) } : t));
}

export function runView(run: Run) {
  return {
    object: 'run' as const,
    id: run.id,
    agent_id: run.agentId,
    agent_version: run.agentVersion,
    thread_id: run.threadId,
    livemode: run.scope.livemode,
    status: run.status,
    mode: run.mode,
    output: run.output,
    error: run.errorCode ? { code: run.errorCode, message: run.errorMessage ?? '' } : null,
    required_action: run.requiredAction,
    model: run.model,
    routing: run.routing,
    usage: run.usage,
    cost_usd: run.costUsd,
    cost_notional: isNotional(run.scope.livemode),
    latency_ms: run.latency,
    api_key_id: run.apiKeyId,
    parent_run_id: run.parentRunId,
    metadata: run.metadata,
    created_at: toTimestamp(run.createdAt),
    started_at: toNullableTimestamp(run.startedAt),
    completed_at: toNullableTimestamp(run.completedAt),
  };
}

export function versionView(version: AgentVersion) {
  return { object: 'agent_version' as const, id: `${version.agentId}@${version.version}`, agent_id: version.agentId, version: version.version, config: version.config, created_at: toTimestamp(version.createdAt) };
}
