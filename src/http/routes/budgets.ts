import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { budgetView } from '../../budgets/views.js';
import { authOf } from '../plugins/auth.js';
import { IdParams, ListOf, Nullable, PaginationQuery, StrictObject, Timestamp, toList } from '../schemas.js';
import type { AppDeps } from '../deps.js';

const Id = Type.String({ minLength: 1, maxLength: 128 });
const Scope = Type.Union([
  StrictObject({ type: Type.Literal('workspace') }),
  StrictObject({ type: Type.Literal('api_key'), id: Id }),
  StrictObject({ type: Type.Literal('agent'), id: Id }),
], { description: 'What the budget counts: every run of the workspace, or the runs of one API key (`key_…`) or one agent (`agent_…`).' });
const Period = Type.Union([Type.Literal('day'), Type.Literal('month')], { description: 'A UTC calendar day or month.' });
const LimitUsd = Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 1e9 }), Type.Null()], { description: 'Spending limit in USD per period (notional in test mode).' });
const LimitTokens = Type.Union([Type.Integer({ minimum: 1, maximum: 1e15 }), Type.Null()], { description: 'Token limit (input + output) per period.' });
const Thresholds = Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), {
  minItems: 0, maxItems: 10, description: 'Percentages of the limit that each raise `budget.threshold_reached` once per period.',
});
const Hard = Type.Boolean({ description: 'Refuse runs once the limit is reached (a soft budget only reports).' });

const BudgetObject = Type.Object({
  id: Type.String(),
  object: Type.Literal('budget'),
  scope: Type.Object({ type: Type.String(), id: Type.Optional(Type.String()) }),
  period: Type.String(),
  limit_usd: Nullable('number'),
  limit_tokens: Nullable('integer'),
  thresholds: Type.Array(Type.Integer()),
  hard: Type.Boolean(),
  status: Type.Union([Type.Literal('ok'), Type.Literal('threshold_reached'), Type.Literal('exceeded')]),
  usage: Type.Object({ cost_usd: Type.Number(), total_tokens: Type.Integer(), period_start: Timestamp, period_end: Timestamp }),
  last_threshold_reached: Nullable('integer', { description: 'The highest threshold reported in the current period.' }),
  livemode: Type.Boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
});

/** Budgets: limits on what runs spend or use per period (docs/budgets.md). */
export async function budgetRoutes(fastify: FastifyInstance, deps: AppDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { budgets } = deps.budgets;
  const tags = ['Budgets'];
  const params = IdParams('A budget id (budget_…).');

  app.post('/v1/budgets', {
    schema: {
      operationId: 'budgets.create',
      tags, summary: 'Create a budget',
      description: 'Set `limit_usd`, `limit_tokens` or both. A hard budget refuses runs once used up (403 `budget_exceeded`).',
      body: StrictObject({
        scope: Scope, period: Period, limit_usd: Type.Optional(LimitUsd), limit_tokens: Type.Optional(LimitTokens),
        thresholds: Type.Optional(Thresholds), hard: Type.Optional(Hard),
      }, { examples: [{ scope: { type: 'workspace' }, period: 'month', limit_usd: 100 }] }),
      response: { 201: BudgetObject },
    },
  }, async (request, reply) => {
    const created = await budgets.create(authOf(request).scope, request.body);
    return reply.code(201).send(budgetView(created.budget, created.usage));
  });

  app.get('/v1/budgets', {
    schema: { operationId: 'budgets.list', description: 'The budgets of the workspace and mode, newest first, each with its usage in the current period.', tags, summary: 'List budgets, newest first', querystring: PaginationQuery, response: { 200: ListOf(BudgetObject) } },
  }, async (request) => {
    const q = request.query;
    const page = await budgets.list(authOf(request).scope, { limit: q.limit ?? 20, after: q.after, before: q.before });
    return toList(page.data.map((b) => budgetView(b.budget, b.usage)), page.hasMore);
  });

  app.get('/v1/budgets/:id', {
    schema: { operationId: 'budgets.retrieve', description: 'The budget with its usage in the current period and its status.', tags, summary: 'Get a budget, with its usage in the current period', params, response: { 200: BudgetObject } },
  }, async (request) => {
    const found = await budgets.get(authOf(request).scope, request.params.id);
    return budgetView(found.budget, found.usage);
  });

  app.patch('/v1/budgets/:id', {
    schema: {
      operationId: 'budgets.update',
      tags, summary: 'Update a budget',
      description: 'Fields sent are changed (a limit set to null is removed; one must remain). A new period, limit or thresholds reports thresholds afresh.',
      params,
      body: StrictObject({
        period: Type.Optional(Period), limit_usd: Type.Optional(LimitUsd), limit_tokens: Type.Optional(LimitTokens),
        thresholds: Type.Optional(Thresholds), hard: Type.Optional(Hard),
      }),
      response: { 200: BudgetObject },
    },
  }, async (request) => {
    const updated = await budgets.update(authOf(request).scope, request.params.id, request.body);
    return budgetView(updated.budget, updated.usage);
  });

  app.delete('/v1/budgets/:id', {
    schema: {
      operationId: 'budgets.delete', description: 'The budget no longer counts usage or refuses runs.',
      tags, summary: 'Delete a budget', params,
      response: { 200: Type.Object({ object: Type.Literal('budget'), id: Type.String(), deleted: Type.Literal(true) }) },
    },
  }, async (request) => {
    const budget = await budgets.delete(authOf(request).scope, request.params.id);
    return { object: 'budget' as const, id: budget.id, deleted: true as const };
  });
}
