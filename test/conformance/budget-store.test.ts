/**
 * Storage conformance for budgets: every operation of BudgetRepo (src/store/budget-port.ts), and
 * the usage a budget reads from rollups (day, hour and minute rows, filtered by key or agent), on
 * every backend in `storeBackends`, with real rows.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { idMadeAt } from '../../src/ids.js';
import { COMPACTED_UNTIL_KEY } from '../../src/analytics/compaction.js';
import { GROUPINGS, regroup } from '../../src/analytics/groupings.js';
import { HOUR_MS, minuteRow } from '../../src/analytics/rollup-writer.js';
import { periodAt, readUsage } from '../../src/budgets/usage.js';
import type { Budget, Scope, Store } from '../../src/store/port.js';
import { storeBackends } from '../support/services.js';
import { T0, workspace, storeWithTwoScopes } from '../support/store-fixtures.js';

function budget(scope: Scope, at: number, overrides: Partial<Budget> = {}): Budget {
  return {
    id: idMadeAt('budget', at), scope, subject: { type: 'workspace' }, period: 'day', limitUsd: 10, limitTokens: null, thresholds: [50, 80, 100],
    hard: false, reportedPeriodStart: null, reportedPercent: 0, createdAt: at, updatedAt: at, ...overrides,
  };
}

describe.each(storeBackends)('budget store conformance: $name', (backend) => {
  let store: Store;
  let scope: Scope;
  let other: Scope;
  const opened = storeWithTwoScopes(backend);
  beforeAll(() => ({ store, scope, other } = opened));

  it('stores, lists, updates and deletes budgets within their workspace and mode', async () => {
    const first = budget(scope, T0);
    const second = budget(scope, T0 + 1, { subject: { type: 'agent', id: 'agent_x' }, period: 'month', limitUsd: null, limitTokens: 5_000_000_000, hard: true, thresholds: [] });
    const foreign = budget(other, T0 + 2, { subject: { type: 'api_key', id: 'key_y' }, limitUsd: 0.25 });
    for (const b of [first, second, foreign]) await store.budgets.insert(b);

    expect(await store.budgets.get(scope, first.id)).toEqual(first);
    expect(await store.budgets.get(scope, second.id)).toEqual(second);
    expect(await store.budgets.get(other, foreign.id)).toEqual(foreign);
    expect(await store.budgets.get(other, first.id)).toBeUndefined();
    expect(await store.budgets.get({ ...scope, livemode: true }, first.id)).toBeUndefined();
    expect(await store.budgets.list(scope, { limit: 1 })).toEqual({ data: [second], hasMore: true });
    expect((await store.budgets.list(scope, { limit: 10, after: second.id })).data).toEqual([first]);
    expect(await store.budgets.listAll(scope)).toEqual([first, second]);

    const changed = await store.budgets.update(scope, first.id, { limitUsd: null, limitTokens: 100, thresholds: [10], hard: true, period: 'month', updatedAt: T0 + 9 });
    expect(changed).toEqual({ ...first, limitUsd: null, limitTokens: 100, thresholds: [10], hard: true, period: 'month', updatedAt: T0 + 9 });
    expect(await store.budgets.update(other, first.id, { hard: false, updatedAt: T0 + 10 })).toBeUndefined();

    expect(await store.budgets.delete(other, first.id)).toBe(false);
    expect(await store.budgets.delete(scope, first.id)).toBe(true);
    expect(await store.budgets.delete(scope, first.id)).toBe(false);
    expect(await store.budgets.listAll(scope)).toEqual([second]);
  });

  it('marks each reported level once per period, and afresh in a new period or after a reset', async () => {
    const b = budget(scope, T0 + 20);
    await store.budgets.insert(b);
    const day = periodAt('day', T0).start;
    expect(await store.budgets.markReported(b.id, day, 50)).toBe(true);
    expect(await store.budgets.markReported(b.id, day, 50)).toBe(false);
    expect(await store.budgets.markReported(b.id, day, 30)).toBe(false);
    expect(await store.budgets.markReported(b.id, day, 80)).toBe(true);
    expect(await store.budgets.get(scope, b.id)).toMatchObject({ reportedPeriodStart: day, reportedPercent: 80 });
    const nextDay = day + 24 * HOUR_MS;
    expect(await store.budgets.markReported(b.id, nextDay, 50)).toBe(true);
    expect(await store.budgets.get(scope, b.id)).toMatchObject({ reportedPeriodStart: nextDay, reportedPercent: 50 });
    await store.budgets.update(scope, b.id, { reportedPeriodStart: null, reportedPercent: 0, updatedAt: T0 + 21 });
    expect(await store.budgets.markReported(b.id, nextDay, 50)).toBe(true);
  });

  it('reads usage of the period from derived rows before the watermark and minute rows after, filtered by key or agent', async () => {
    const usageScope = { workspaceId: (await store.workspaces.create(workspace())).id, livemode: true };
    const hour = Math.floor(T0 / HOUR_MS) * HOUR_MS;
    const { start } = periodAt('day', T0);
    const row = (at: number, apiKeyId: string, agentId: string, costUsd: number, tokens: number) =>
      minuteRow(usageScope, 'agent_run', at, { apiKeyId, agentId, status: 'completed' }, { count: 1, costUsd, inputTokens: tokens, outputTokens: 1 });
    const earlier = [row(start + HOUR_MS, 'key_a', 'agent_x', 1, 10), row(start + HOUR_MS + 60_000, 'key_b', 'agent_y', 2, 20)];
    const recent = [row(hour + 60_000, 'key_a', 'agent_y', 4, 40)];
    const yesterday = [row(start - 60_000, 'key_a', 'agent_x', 100, 1000)];
    await store.rollups.add([...earlier, ...recent, ...yesterday]);
    // The earlier hour is derived (its minute rows stay, and must not count twice).
    await store.rollups.replaceBetween('hour', start + HOUR_MS, start + 2 * HOUR_MS, regroup(earlier, 'hour', start + HOUR_MS, Object.keys(GROUPINGS)));
    // Yesterday is derived into a day row (counted by a month budget, not by a day budget).
    await store.rollups.replaceBetween('day', start - 24 * HOUR_MS, start, regroup(yesterday, 'day', start - 24 * HOUR_MS, Object.keys(GROUPINGS)));
    await store.meta.set(COMPACTED_UNTIL_KEY, String(hour));

    const usage = (overrides: Partial<Budget>) => readUsage(store, budget(usageScope, T0, overrides), T0);
    expect(await usage({})).toEqual({ costUsd: 7, totalTokens: 73, periodStart: start, periodEnd: start + 24 * HOUR_MS });
    expect(await usage({ subject: { type: 'api_key', id: 'key_a' } })).toMatchObject({ costUsd: 5, totalTokens: 52 });
    expect(await usage({ subject: { type: 'agent', id: 'agent_y' } })).toMatchObject({ costUsd: 6, totalTokens: 62 });
    expect(await usage({ subject: { type: 'agent', id: 'agent_z' } })).toMatchObject({ costUsd: 0, totalTokens: 0 });
    expect(await readUsage(store, budget(scope, T0), T0)).toMatchObject({ costUsd: 0, totalTokens: 0 });
    const month = await usage({ period: 'month' });
    expect(month.periodStart).toBe(periodAt('month', T0).start);
    expect(month).toMatchObject({ costUsd: 107, totalTokens: 1074 });
  });
});
