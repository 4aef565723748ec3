import { describe, expect, it } from 'vitest';
import { KairoError } from '../../src/errors.js';
import { newId } from '../../src/ids.js';
import { DEFAULT_RETRY, type WorkflowDefinition } from '../../src/workflows/definition.js';
import { validateRunInput, validateWorkflowDefinition, type DefinitionLookups } from '../../src/workflows/validate.js';

const scorer = newId('agent');
const writer = newId('agent');
const missingAgent = newId('agent');
const enrich = newId('wf');
const notify = newId('wf');
const self = newId('wf');

function definition(steps: unknown[], extra: Record<string, unknown> = {}): WorkflowDefinition {
  return {
    name: 'stored',
    description: null,
    input_schema: null,
    steps: steps as WorkflowDefinition['steps'],
    output: null,
    retry: DEFAULT_RETRY,
    schedule: null,
    ...extra,
  };
}

/** In-memory lookups: enrich calls notify; notify calls nothing. */
function lookups(workflows: Record<string, WorkflowDefinition> = {}, selfId?: string): DefinitionLookups & { agentCalls: string[] } {
  const agents = new Set([scorer, writer]);
  const stored: Record<string, WorkflowDefinition> = {
    [enrich]: definition([{ id: 'n', type: 'workflow', workflow: notify }]),
    [notify]: definition([{ id: 't', type: 'transform', expression: '1' }]),
    ...workflows,
  };
  const agentCalls: string[] = [];
  return {
    agentCalls,
    async agentExists(id) {
      agentCalls.push(id);
      return agents.has(id);
    },
    async workflowDefinition(id) {
      return stored[id];
    },
    ...(selfId === undefined ? {} : { selfId }),
  };
}

const transform = (id: string, expression = '1'): Record<string, unknown> => ({ id, type: 'transform', expression });
const body = (steps: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'Lead intake', steps, ...extra });

async function rejection(input: unknown, using: DefinitionLookups = lookups()): Promise<{ code: string; param: string | undefined; message: string }> {
  try {
    await validateWorkflowDefinition(input, using);
  } catch (error) {
    expect(error).toBeInstanceOf(KairoError);
    const apiError = error as KairoError;
    return { code: apiError.code, param: apiError.param, message: apiError.message };
  }
  throw new Error('expected the definition to be refused');
}

describe('validateWorkflowDefinition', () => {
  it('accepts every step type and normalizes the definition', async () => {
    const steps = [
      { id: 'score', type: 'agent', name: 'Score the lead', agent: scorer, input: 'input.lead', retry: { max_attempts: 5 } },
      {
        id: 'fetch',
        type: 'http',
        method: 'post',
        url: 'https://api.example.com/leads/{{ input.lead.id }}',
        headers: { 'X-Score': '{{ steps.score }}' },
        body: '{"score": steps.score}',
        timeout_ms: 5000,
      },
      transform('shape', 'steps.fetch.body'),
      {
        id: 'route',
        type: 'branch',
        cases: [{ when: 'steps.shape.hot', steps: [{ id: 'wait', type: 'delay', duration: '1h30m' }] }],
        default: [{ id: 'later', type: 'delay', until: 'input.follow_up_at' }],
      },
      {
        id: 'fan',
        type: 'parallel',
        branches: [
          { name: 'crm', steps: [transform('crm_note', 'steps.wait')] },
          { name: 'mail', steps: [{ id: 'draft', type: 'agent', agent: writer, input: '"Write to " & input.lead.name' }] },
        ],
      },
      { id: 'each', type: 'map', items: 'input.lead.contacts', concurrency: 2, steps: [transform('contact', 'item.email & $string(index)')] },
      { id: 'ok', type: 'approval', prompt: 'Send it?', timeout: '2d', on_timeout: [transform('expired', 'steps.fan.crm')] },
      { id: 'call', type: 'workflow', workflow: enrich, input: '{"lead": input.lead, "draft": steps.draft}' },
    ];
    const using = lookups();
    const result = await validateWorkflowDefinition(
      body(steps, {
        input_schema: { type: 'object', properties: { lead: { type: 'object' } }, required: ['lead'] },
        output: '{"score": steps.score, "contacts": steps.contact}',
        retry: { backoff_ms: 500 },
        schedule: { cron: '0 9 * * 1-5', input: { lead: {} } },
        metadata: { team: 'sales' },
      }),
      using,
    );
    expect(result).toEqual({
      name: 'Lead intake',
      description: null,
      input_schema: { type: 'object', properties: { lead: { type: 'object' } }, required: ['lead'] },
      steps: steps.map((step) => (step.id === 'fetch' ? { ...step, method: 'POST' } : step)),
      output: '{"score": steps.score, "contacts": steps.contact}',
      retry: { ...DEFAULT_RETRY, backoff_ms: 500 },
      schedule: { cron: '0 9 * * 1-5', timezone: 'UTC', input: { lead: {} } },
    });
    expect(using.agentCalls.sort()).toEqual([scorer, writer].sort());
  });

  it('fills top-level defaults', async () => {
    const result = await validateWorkflowDefinition(body([transform('a')]), lookups());
    expect(result).toEqual({
      name: 'Lead intake',
      description: null,
      input_schema: null,
      steps: [{ id: 'a', type: 'transform', expression: '1' }],
      output: null,
      retry: DEFAULT_RETRY,
      schedule: null,
    });
    const scheduled = await validateWorkflowDefinition(body([transform('a')], { schedule: { cron: '*/5 * * * *', timezone: 'Europe/Paris' } }), lookups());
    expect(scheduled.schedule).toEqual({ cron: '*/5 * * * *', timezone: 'Europe/Paris', input: {} });
  });

  it('prefixes params with the given path', async () => {
    await expect(validateWorkflowDefinition(body([{ id: 'a', type: 'transform' }]), lookups(), 'definition')).rejects.toMatchObject({
      param: 'definition.steps[0].expression',
    });
  });

  describe('top level', () => {
    it('requires a name and steps', async () => {
      expect(await rejection({ steps: [transform('a')] })).toMatchObject({ code: 'parameter_missing', param: 'name' });
      expect(await rejection({ name: ' ', steps: [transform('a')] })).toMatchObject({ code: 'parameter_invalid', param: 'name' });
      expect(await rejection({ name: 'x'.repeat(201), steps: [transform('a')] })).toMatchObject({ param: 'name' });
      expect(await rejection({ name: 'x' })).toMatchObject({ code: 'parameter_missing', param: 'steps' });
      expect(await rejection(body([]))).toMatchObject({ code: 'parameter_invalid', param: 'steps' });
    });

    it('checks description, input_schema, retry and unknown fields', async () => {
      expect(await rejection(body([transform('a')], { description: 'x'.repeat(2001) }))).toMatchObject({ param: 'description' });
      expect(await rejection(body([transform('a')], { input_schema: { type: 'string' } }))).toMatchObject({
        param: 'input_schema',
        message: expect.stringContaining('"type": "object"'),
      });
      expect(await rejection(body([transform('a')], { retry: { max_attempts: 0 } }))).toMatchObject({ param: 'retry.max_attempts' });
      expect(await rejection(body([transform('a')], { retry: { jitter: true } }))).toMatchObject({ code: 'parameter_unknown', param: 'retry.jitter' });
      expect(await rejection(body([transform('a')], { version: 2 }))).toMatchObject({ code: 'parameter_unknown', param: 'version' });
    });

    it('limits the number of steps and their nesting', async () => {
      const many = Array.from({ length: 201 }, (_, i) => transform(`s${i}`));
      expect(await rejection(body(many))).toMatchObject({ param: 'steps[200]', message: expect.stringContaining('at most 200 steps') });
      let nested: Record<string, unknown> = transform('leaf');
      for (let level = 8; level >= 1; level--) nested = { id: `m${level}`, type: 'map', items: '[1]', steps: [nested] };
      expect(await rejection(body([nested]))).toMatchObject({
        param: 'steps[0].steps[0].steps[0].steps[0].steps[0].steps[0].steps[0].steps[0].steps',
        message: expect.stringContaining('at most 8 levels'),
      });
      await expect(validateWorkflowDefinition(body([(nested.steps as unknown[])[0]]), lookups())).resolves.toBeDefined();
    });
  });

  describe('steps', () => {
    it('refuses duplicate ids, nested ones included, naming both places', async () => {
      const error = await rejection(
        body([transform('a'), { id: 'b', type: 'branch', cases: [{ when: 'true', steps: [transform('x'), transform('a')] }] }]),
      );
      expect(error).toMatchObject({ code: 'parameter_invalid', param: 'steps[1].cases[0].steps[1].id' });
      expect(error.message).toBe("Step id 'a' is used twice: by steps[0] and by steps[1].cases[0].steps[1].");
    });

    it('refuses bad ids, unknown types and unknown fields', async () => {
      expect(await rejection(body([{ type: 'transform', expression: '1' }]))).toMatchObject({ code: 'parameter_missing', param: 'steps[0].id' });
      expect(await rejection(body([transform('1st')]))).toMatchObject({ param: 'steps[0].id' });
      expect(await rejection(body([{ id: 'a', type: 'script', code: 'x' }]))).toMatchObject({
        code: 'parameter_invalid',
        param: 'steps[0].type',
        message: expect.stringContaining("Step 'a'"),
      });
      expect(await rejection(body([{ ...transform('a'), url: 'https://x' }]))).toMatchObject({
        code: 'parameter_unknown',
        param: 'steps[0].url',
        message: "Step 'a': unknown field 'url' for a transform step.",
      });
      expect(await rejection(body([{ ...transform('a'), retry: { max_attempts: 21 } }]))).toMatchObject({ param: 'steps[0].retry.max_attempts' });
    });

    it('requires the fields of each type', async () => {
      expect(await rejection(body([{ id: 'a', type: 'agent', input: 'input' }]))).toMatchObject({
        code: 'parameter_missing',
        param: 'steps[0].agent',
        message: "Step 'a': an agent step needs 'agent'.",
      });
      expect(await rejection(body([{ id: 'a', type: 'http', method: 'GET' }]))).toMatchObject({ code: 'parameter_missing', param: 'steps[0].url' });
      expect(await rejection(body([{ id: 'a', type: 'http', method: 'GET', url: '' }]))).toMatchObject({ code: 'parameter_invalid', param: 'steps[0].url' });
      expect(await rejection(body([{ id: 'a', type: 'http', method: 'FETCH', url: 'https://x' }]))).toMatchObject({ param: 'steps[0].method' });
      expect(await rejection(body([{ id: 'a', type: 'http', method: 'GET', url: 'https://x', timeout_ms: 60001 }]))).toMatchObject({
        param: 'steps[0].timeout_ms',
      });
      expect(await rejection(body([{ id: 'a', type: 'http', method: 'GET', url: 'https://x', headers: { 'Bad Header': 'x' } }]))).toMatchObject({
        param: 'steps[0].headers["Bad Header"]',
      });
      expect(await rejection(body([{ id: 'a', type: 'branch', cases: [] }]))).toMatchObject({ param: 'steps[0].cases' });
      expect(await rejection(body([{ id: 'a', type: 'branch', cases: [{ when: 'true' }] }]))).toMatchObject({
        code: 'parameter_missing',
        param: 'steps[0].cases[0].steps',
      });
      expect(await rejection(body([{ id: 'a', type: 'branch', cases: [{ when: 'true', steps: [transform('b')], then: 1 }] }]))).toMatchObject({
        code: 'parameter_unknown',
        param: 'steps[0].cases[0].then',
      });
      expect(await rejection(body([{ id: 'a', type: 'map', items: 'input', steps: [] }]))).toMatchObject({ param: 'steps[0].steps' });
      expect(await rejection(body([{ id: 'a', type: 'map', items: 'input', steps: [transform('b')], concurrency: 51 }]))).toMatchObject({
        param: 'steps[0].concurrency',
      });
      expect(await rejection(body([{ id: 'a', type: 'workflow', workflow: 'enrich' }]))).toMatchObject({ param: 'steps[0].workflow' });
    });

    it('checks parallel branches', async () => {
      const branch = (name: string, id: string): Record<string, unknown> => ({ name, steps: [transform(id)] });
      expect(await rejection(body([{ id: 'p', type: 'parallel', branches: [] }]))).toMatchObject({ param: 'steps[0].branches' });
      expect(await rejection(body([{ id: 'p', type: 'parallel', branches: [branch('x', 'a'), branch('x', 'b')] }]))).toMatchObject({
        param: 'steps[0].branches[1].name',
        message: "Step 'p': two branches are named 'x'.",
      });
      const tooMany = Array.from({ length: 21 }, (_, i) => branch(`b${i}`, `s${i}`));
      expect(await rejection(body([{ id: 'p', type: 'parallel', branches: tooMany }]))).toMatchObject({ param: 'steps[0].branches' });
    });

    it('needs exactly one of duration and until on a delay', async () => {
      expect(await rejection(body([{ id: 'd', type: 'delay' }]))).toMatchObject({ code: 'parameter_missing', param: 'steps[0].duration' });
      expect(await rejection(body([{ id: 'd', type: 'delay', duration: '5m', until: 'input.at' }]))).toMatchObject({
        code: 'parameter_invalid',
        param: 'steps[0].until',
      });
    });

    it('refuses bad durations', async () => {
      for (const duration of ['5 minutes', '5', '-1s', '366d', 5]) {
        expect(await rejection(body([{ id: 'd', type: 'delay', duration }]))).toMatchObject({ param: 'steps[0].duration' });
      }
      expect(await rejection(body([{ id: 'ok', type: 'approval', timeout: '1w' }]))).toMatchObject({ param: 'steps[0].timeout' });
      await expect(validateWorkflowDefinition(body([{ id: 'd', type: 'delay', duration: '365d' }]), lookups())).resolves.toBeDefined();
    });

    it('allows on_timeout only with a timeout', async () => {
      expect(await rejection(body([{ id: 'ok', type: 'approval', on_timeout: [transform('a')] }]))).toMatchObject({ param: 'steps[0].on_timeout' });
      expect(await rejection(body([{ id: 'ok', type: 'approval', prompt: 'x'.repeat(2001) }]))).toMatchObject({ param: 'steps[0].prompt' });
    });
  });

  describe('expressions', () => {
    it('names the step, the field and the param of an expression that does not parse', async () => {
      const error = await rejection(
        body([transform('a'), { id: 'route', type: 'branch', cases: [{ when: 'true', steps: [transform('b')] }, { when: 'input.x >', steps: [transform('c')] }] }]),
      );
      expect(error).toMatchObject({ code: 'parameter_invalid', param: 'steps[1].cases[1].when' });
      expect(error.message).toMatch(/^Step 'route': expression in 'when' does not parse: Unexpected end of expression \(at position \d+\)/);
    });

    it('checks every {{ }} of templates', async () => {
      const http = (extra: Record<string, unknown>): Record<string, unknown> => ({ id: 'call', type: 'http', method: 'GET', url: 'https://x/{{ input.id }}', ...extra });
      expect(await rejection(body([http({ url: 'https://x/{{ input.id + }}' })]))).toMatchObject({
        param: 'steps[0].url',
        message: expect.stringMatching(/^Step 'call': template in 'url' does not parse/),
      });
      expect(await rejection(body([http({ headers: { Authorization: 'Bearer {{ input.token' } })]))).toMatchObject({
        param: 'steps[0].headers.Authorization',
        message: expect.stringContaining('not closed'),
      });
      expect(await rejection(body([http({ body: '{' })]))).toMatchObject({ param: 'steps[0].body' });
      expect(await rejection(body([transform('a')], { output: '(input' }))).toMatchObject({
        param: 'output',
        message: expect.stringMatching(/^Expression in 'output' does not parse/),
      });
    });
  });

  describe('references', () => {
    const forward = /which does not run before it \(a cycle or forward reference\)/;

    it('accepts earlier steps, steps nested in them and steps of enclosing sequences', async () => {
      await expect(
        validateWorkflowDefinition(
          body([
            transform('a'),
            { id: 'b', type: 'branch', cases: [{ when: 'steps.a', steps: [transform('inner', 'steps.a')] }] },
            {
              id: 'm',
              type: 'map',
              items: 'steps.inner',
              steps: [transform('first', 'steps.b'), transform('second', 'steps.first + steps.a')],
            },
            transform('last', 'steps.second + steps.inner'),
          ], { output: 'steps.last + steps.second' }),
          lookups(),
        ),
      ).resolves.toBeDefined();
    });

    it('refuses a forward reference', async () => {
      const error = await rejection(body([transform('a', 'steps.b'), transform('b')]));
      expect(error).toMatchObject({ param: 'steps[0].expression', message: "Step 'a' reads steps.b, which does not run before it (a cycle or forward reference)." });
    });

    it('refuses a step reading itself', async () => {
      expect(await rejection(body([transform('a', 'steps.a + 1')]))).toMatchObject({ param: 'steps[0].expression', message: expect.stringMatching(forward) });
    });

    it('refuses reading an enclosing step', async () => {
      expect(await rejection(body([{ id: 'm', type: 'map', items: '[1, 2]', steps: [transform('x', 'steps.m')] }]))).toMatchObject({
        param: 'steps[0].steps[0].expression',
        message: expect.stringMatching(/^Step 'x' reads steps\.m, which does not run before it/),
      });
      expect(await rejection(body([{ id: 'm', type: 'map', items: 'steps.x', steps: [transform('x')] }]))).toMatchObject({
        param: 'steps[0].items',
        message: expect.stringMatching(forward),
      });
      expect(await rejection(body([{ id: 'b', type: 'branch', cases: [{ when: 'steps.b', steps: [transform('x')] }] }]))).toMatchObject({
        param: 'steps[0].cases[0].when',
      });
    });

    it('refuses reading a step of a sibling parallel branch or another case', async () => {
      const parallel = {
        id: 'p',
        type: 'parallel',
        branches: [
          { name: 'left', steps: [transform('l')] },
          { name: 'right', steps: [transform('r', 'steps.l')] },
        ],
      };
      expect(await rejection(body([parallel]))).toMatchObject({
        param: 'steps[0].branches[1].steps[0].expression',
        message: expect.stringMatching(/^Step 'r' reads steps\.l, which does not run before it/),
      });
      const branch = {
        id: 'b',
        type: 'branch',
        cases: [{ when: 'true', steps: [transform('yes')] }],
        default: [transform('no', 'steps.yes')],
      };
      expect(await rejection(body([branch]))).toMatchObject({ param: 'steps[0].default[0].expression', message: expect.stringMatching(forward) });
    });

    it('refuses a reference to an unknown step', async () => {
      expect(await rejection(body([transform('a', 'steps.nope.value')]))).toMatchObject({
        param: 'steps[0].expression',
        message: "Step 'a' reads steps.nope, but there is no step 'nope'.",
      });
      expect(await rejection(body([transform('a')], { output: 'steps.b' }))).toMatchObject({
        param: 'output',
        message: "'output' reads steps.b, but there is no step 'b'.",
      });
      expect(await rejection(body([{ id: 'call', type: 'http', method: 'GET', url: 'https://x/{{ steps.ghost }}' }]))).toMatchObject({
        param: 'steps[0].url',
      });
    });
  });

  describe('agents and workflows', () => {
    it('refuses an unknown agent, checking each agent once', async () => {
      const using = lookups();
      const error = await rejection(
        body([
          { id: 'a', type: 'agent', agent: scorer, input: '1' },
          { id: 'b', type: 'agent', agent: missingAgent, input: '1' },
          { id: 'c', type: 'agent', agent: scorer, input: '1' },
        ]),
        using,
      );
      expect(error).toMatchObject({ code: 'resource_missing', param: 'steps[1].agent', message: `Step 'b': no agent '${missingAgent}'.` });
      expect(using.agentCalls.sort()).toEqual([scorer, missingAgent].sort());
    });

    it('refuses an unknown workflow', async () => {
      const ghost = newId('wf');
      expect(await rejection(body([{ id: 'w', type: 'workflow', workflow: ghost }]))).toMatchObject({
        code: 'resource_missing',
        param: 'steps[0].workflow',
        message: `Step 'w': no workflow '${ghost}'.`,
      });
    });

    it('refuses a workflow calling itself', async () => {
      const error = await rejection(body([{ id: 'w', type: 'workflow', workflow: self }]), lookups({ [self]: definition([transform('a')]) }, self));
      expect(error).toMatchObject({ param: 'steps[0].workflow', message: expect.stringContaining('(a cycle)') });
    });

    it('refuses an indirect cycle', async () => {
      const middle = newId('wf');
      const stored = {
        [self]: definition([transform('a')]),
        [middle]: definition([{ id: 'x', type: 'branch', cases: [{ when: 'true', steps: [{ id: 'back', type: 'workflow', workflow: self }] }] }]),
        [enrich]: definition([{ id: 'm', type: 'workflow', workflow: middle }]),
      };
      const error = await rejection(body([transform('a'), { id: 'w', type: 'workflow', workflow: enrich }]), lookups(stored, self));
      expect(error).toMatchObject({
        param: 'steps[1].workflow',
        message: `Step 'w' calls ${enrich}, which calls this workflow back (a cycle).`,
      });
      await expect(validateWorkflowDefinition(body([{ id: 'w', type: 'workflow', workflow: enrich }]), lookups(stored))).resolves.toBeDefined();
    });

    it('refuses calls nested too deep', async () => {
      const chain = Array.from({ length: 17 }, () => newId('wf'));
      const stored: Record<string, WorkflowDefinition> = {};
      chain.forEach((id, i) => {
        stored[id] = definition(i + 1 < chain.length ? [{ id: 'next', type: 'workflow', workflow: chain[i + 1] }] : [transform('end')]);
      });
      expect(await rejection(body([{ id: 'w', type: 'workflow', workflow: chain[0] }]), lookups(stored))).toMatchObject({
        param: 'steps[0].workflow',
        message: expect.stringContaining('more than 16 levels'),
      });
      await expect(validateWorkflowDefinition(body([{ id: 'w', type: 'workflow', workflow: chain[1] }]), lookups(stored))).resolves.toBeDefined();
    });
  });

  describe('schedule', () => {
    const scheduled = (schedule: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> => body([transform('a')], { schedule, ...extra });

    it('refuses a bad cron pattern', async () => {
      expect(await rejection(scheduled({ cron: '61 * * * *' }))).toMatchObject({ param: 'schedule.cron', message: expect.stringContaining('minute') });
      expect(await rejection(scheduled({ cron: 'every day' }))).toMatchObject({ param: 'schedule.cron' });
      expect(await rejection(scheduled({ cron: '0 0 0 * * * 2030' }))).toMatchObject({ param: 'schedule.cron' });
      expect(await rejection(scheduled({ cron: '0 0 30 2 *' }))).toMatchObject({ param: 'schedule.cron', message: expect.stringContaining('never fires') });
      expect(await rejection(scheduled({ timezone: 'UTC' }))).toMatchObject({ code: 'parameter_missing', param: 'schedule.cron' });
    });

    it('refuses a bad time zone', async () => {
      expect(await rejection(scheduled({ cron: '0 9 * * *', timezone: 'Mars/Olympus' }))).toMatchObject({ param: 'schedule.timezone' });
      expect(await rejection(scheduled({ cron: '0 9 * * *', timezone: 7 }))).toMatchObject({ param: 'schedule.timezone' });
    });

    it('refuses unknown schedule fields', async () => {
      expect(await rejection(scheduled({ cron: '0 9 * * *', every: '1h' }))).toMatchObject({ code: 'parameter_unknown', param: 'schedule.every' });
    });

    it('checks the schedule input against the input schema', async () => {
      const input_schema = { type: 'object', properties: { region: { type: 'string' } }, required: ['region'] };
      expect(await rejection(scheduled({ cron: '0 9 * * *', input: { region: 3 } }, { input_schema }))).toMatchObject({
        param: 'schedule.input',
        message: 'schedule.input.region must be string',
      });
      expect(await rejection(scheduled({ cron: '0 9 * * *' }, { input_schema }))).toMatchObject({
        param: 'schedule.input',
        message: expect.stringContaining("must have required property 'region'"),
      });
    });
  });
});

describe('validateRunInput', () => {
  const schema = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] };

  it('accepts anything without an input schema', () => {
    expect(() => validateRunInput(definition([transform('a')]), 'anything')).not.toThrow();
  });

  it('checks the input against the input schema', () => {
    const withSchema = definition([transform('a')], { input_schema: schema });
    expect(() => validateRunInput(withSchema, { n: 1 })).not.toThrow();
    try {
      validateRunInput(withSchema, { n: 'one' });
      throw new Error('expected the input to be refused');
    } catch (error) {
      expect(error).toBeInstanceOf(KairoError);
      expect(error).toMatchObject({ code: 'parameter_invalid', param: 'input', message: 'input.n must be integer' });
    }
  });
});
