import { describe, expect, it } from 'vitest';
import {
  ExpressionError,
  compileExpression,
  evaluateExpression,
  renderTemplate,
  stepReferences,
  templateExpressions,
  type ExpressionScope,
} from '../../src/workflows/expressions.js';

const scope: ExpressionScope = {
  input: { name: 'Ada', lead: { id: 42, tags: ['a', 'b'] } },
  steps: { score: { value: 0.9 }, fetch: { items: [{ n: 1 }, { n: 2 }, { n: 3 }] } },
  item: { sku: 'X1' },
  index: 2,
  run: { id: 'wfrun_1', workflow_id: 'wf_1', trigger: 'api' },
};

async function failure(promise: Promise<unknown>): Promise<ExpressionError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ExpressionError);
    return error as ExpressionError;
  }
  throw new Error('expected the expression to fail');
}

describe('evaluateExpression', () => {
  it('reads input, steps, item, index and run from the scope', async () => {
    expect(await evaluateExpression('input.name', scope)).toBe('Ada');
    expect(await evaluateExpression('steps.score.value > 0.5', scope)).toBe(true);
    expect(await evaluateExpression('$sum(steps.fetch.items.n)', scope)).toBe(6);
    expect(await evaluateExpression('item.sku & "#" & $string(index)', scope)).toBe('X1#2');
    expect(await evaluateExpression('run.workflow_id', scope)).toBe('wf_1');
    expect(await evaluateExpression('{"id": input.lead.id, "tags": input.lead.tags}', scope)).toEqual({ id: 42, tags: ['a', 'b'] });
  });

  it('returns null for undefined and plain arrays for sequences', async () => {
    expect(await evaluateExpression('input.missing', scope)).toBeNull();
    const items = await evaluateExpression('steps.fetch.items.n', scope);
    expect(items).toEqual([1, 2, 3]);
    expect(Object.keys(items as object)).toEqual(['0', '1', '2']);
    expect((items as { sequence?: boolean }).sequence).toBeUndefined();
    const nested = (await evaluateExpression('{"n": steps.fetch.items.n, "none": input.missing}', scope)) as Record<string, unknown>;
    expect(nested).toEqual({ n: [1, 2, 3] });
    expect(JSON.stringify(nested)).toBe('{"n":[1,2,3]}');
  });

  it('refuses a function result and drops nested functions', async () => {
    const error = await failure(evaluateExpression('function($x) { $x }', scope));
    expect(error.message).toBe('expression evaluates to a function');
    await expect(evaluateExpression('$string', scope)).rejects.toThrow('expression evaluates to a function');
    expect(await evaluateExpression('{"f": function($x) { $x }, "n": 1}', scope)).toEqual({ n: 1 });
  });

  it('reports runtime errors with their position', async () => {
    const error = await failure(evaluateExpression('"a" + 1', scope));
    expect(error.code).toBe('T2001');
    expect(error.position).toBe(5);
    expect(error.message).toMatch(/"\+" operator must evaluate to a number \(at position 5\)/);
    await expect(evaluateExpression('$error("boom")', scope)).rejects.toThrow(/boom/);
  });

  it('stops endless tail recursion at the time limit', async () => {
    const started = Date.now();
    const error = await failure(evaluateExpression('( $f := function($n){ $f($n+1) }; $f(0) )', scope, { timeoutMs: 200, maxDepth: 500 }));
    expect(error.code).toBe('D1012');
    expect(error.message).toMatch(/timeout/i);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('stops deep recursion at the depth limit', async () => {
    const error = await failure(evaluateExpression('( $f := function($n){ $f($n+1) + 1 }; $f(0) )', scope));
    expect(error.code).toBe('D1011');
  });

  it('stops a long loop at the time limit', async () => {
    const error = await failure(evaluateExpression('$sum([1..5000000].($ * 2))', scope, { timeoutMs: 100, maxDepth: 500 }));
    expect(error.code).toBe('D1012');
  });

  it('keeps legitimate recursion within the limits', async () => {
    expect(await evaluateExpression('( $f := function($n){ $n <= 1 ? 1 : $n * $f($n-1) }; $f(10) )', scope)).toBe(3628800);
  });
});

describe('compileExpression', () => {
  it('reports syntax errors with their position', () => {
    let error: unknown;
    try {
      compileExpression('input.name +');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ExpressionError);
    expect((error as ExpressionError).position).toBe(12);
    expect((error as ExpressionError).message).toBe('Unexpected end of expression (at position 12)');
    expect(() => compileExpression('foo(')).toThrow(/Expected "\)" before end of expression/);
  });

  it('caches compiled expressions by source', () => {
    expect(compileExpression('input.a + 1')).toBe(compileExpression('input.a + 1'));
  });
});

describe('templates', () => {
  it('interpolates strings as they are, null as empty and the rest as JSON', async () => {
    expect(await renderTemplate('https://api.example.com/leads/{{ input.lead.id }}?n={{input.name}}', scope)).toBe(
      'https://api.example.com/leads/42?n=Ada',
    );
    expect(await renderTemplate('[{{ input.missing }}] {{ input.lead.tags }} {{ steps.score }}', scope)).toBe('[] ["a","b"] {"value":0.9}');
  });

  it('returns text without {{ unchanged', async () => {
    expect(await renderTemplate('plain } text {', scope)).toBe('plain } text {');
    expect(templateExpressions('plain')).toEqual([]);
  });

  it('lists the expressions inside a template', () => {
    expect(templateExpressions('Bearer {{ input.token }} / {{steps.auth.key}}')).toEqual(['input.token', 'steps.auth.key']);
  });

  it('refuses an unclosed {{', async () => {
    expect(() => templateExpressions('a {{ input.x')).toThrow(ExpressionError);
    await expect(renderTemplate('a {{ input.x } b', scope)).rejects.toThrow(/not closed/);
  });

  it('passes evaluation errors through', async () => {
    await expect(renderTemplate('x {{ "a" + 1 }}', scope)).rejects.toBeInstanceOf(ExpressionError);
  });
});

describe('stepReferences', () => {
  it('finds steps.<id> in the common forms', () => {
    expect(stepReferences('steps.score')).toEqual(['score']);
    expect(stepReferences('steps.score.value[0] > 1 and $$.steps.fetch.ok')).toEqual(['score', 'fetch']);
    expect(stepReferences('steps.`quoted`')).toEqual(['quoted']);
  });

  it('finds references nested anywhere', () => {
    expect(stepReferences('$count(steps.a) + $sum(steps.b.n)')).toEqual(['a', 'b']);
    expect(stepReferences('{"x": steps.c, "y": [steps.d]}')).toEqual(['c', 'd']);
    expect(stepReferences('input.items[value > steps.e.min]')).toEqual(['e']);
    expect(stepReferences('flag ? steps.f : steps.g')).toEqual(['f', 'g']);
    expect(stepReferences('( $h := function($v) { $v + steps.h.n }; $map(input.list, $h) )')).toEqual(['h']);
    expect(stepReferences('steps.i ~> $string()')).toEqual(['i']);
    expect(stepReferences('input.list^(steps.j.order)')).toEqual(['j']);
    expect(stepReferences('input.list{ "k": steps.k }')).toEqual(['k']);
    expect(stepReferences('| input | {"l": steps.l} |')).toEqual(['l']);
    expect(stepReferences('steps.m.(steps.n)')).toEqual(['m', 'n']);
  });

  it('lists each step once', () => {
    expect(stepReferences('steps.a + steps.a + steps.b')).toEqual(['a', 'b']);
  });

  it('ignores dynamic reads and other paths', () => {
    expect(stepReferences('steps')).toEqual([]);
    expect(stepReferences('steps.*')).toEqual([]);
    expect(stepReferences('steps[$x]')).toEqual([]);
    expect(stepReferences('steps.$x')).toEqual([]);
    expect(stepReferences('$lookup(steps, "a")')).toEqual([]);
    expect(stepReferences('input.steps.a')).toEqual([]);
    expect(stepReferences('$x.steps.a')).toEqual([]);
  });

  it('throws ExpressionError on a syntax error', () => {
    expect(() => stepReferences('steps.')).toThrow(ExpressionError);
  });
});
