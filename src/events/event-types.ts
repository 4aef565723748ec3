import { KairoError } from '../errors.js';
import type { EventFilter } from '../store/port.js';

/** Every event type, in the order the docs list them. */
export const EVENT_TYPES = [
  'agent.run.created',
  'agent.run.requires_action',
  'agent.run.completed',
  'agent.run.failed',
  'agent.run.cancelled',
  'workflow.run.started',
  'workflow.run.waiting',
  'workflow.run.approval_requested',
  'workflow.run.completed',
  'workflow.run.failed',
  'workflow.run.cancelled',
  'context.document.indexed',
  'context.document.failed',
  'context.source.refreshed',
  'context.source.refresh_failed',
  'api_key.created',
  'api_key.revoked',
  'webhook_endpoint.disabled',
  'budget.threshold_reached',
  'budget.exceeded',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

const known = new Set<string>(EVENT_TYPES);

/** Every `prefix.*` wildcard that selects some type: `agent.*`, `agent.run.*`, … */
const WILDCARDS = [...new Set(EVENT_TYPES.flatMap((type) => {
  const parts = type.split('.');
  return parts.slice(1).map((_, i) => `${parts.slice(0, i + 1).join('.')}.*`);
}))];

/** One item of a `type` list, as a regular expression: a type, a wildcard, or `*`. */
export const EVENT_TYPE_ITEM = ['\\*', ...[...EVENT_TYPES, ...WILDCARDS].map((name) => name.replace(/[.*]/g, (c) => `\\${c}`))].join('|');

/**
 * A list of types as sent (`agent.run.completed,workflow.run.*`): exact types and wildcards,
 * `*` for every type and `prefix.*` for every type under a prefix. A name that matches no type is
 * refused, so that a typo never silently selects nothing. Undefined when every type is wanted.
 */
export function parseEventTypes(value: string | undefined, param: string): EventFilter['types'] {
  if (value === undefined) return undefined;
  const names = value.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length === 0) throw new KairoError('parameter_invalid', { param, message: `${param} names no event type.` });
  if (names.includes('*')) return undefined;
  return names.map((name) => {
    if (name.endsWith('.*')) {
      const prefix = name.slice(0, -1);
      if (!EVENT_TYPES.some((type) => type.startsWith(prefix))) throw unknownType(name, param);
      return { prefix };
    }
    if (!known.has(name)) throw unknownType(name, param);
    return { exact: name };
  });
}

/** Whether `type` is selected by `patterns` as `parseEventTypes` reads them (`*`, `prefix.*` or exact). */
export function typeMatches(type: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}

const unknownType = (name: string, param: string) =>
  new KairoError('parameter_invalid', { param, message: `Unknown event type "${name}". Types are listed in docs/events.md; use "*" or "agent.run.*" for several.` });
