/**
 * The programs of examples/ run as a user runs them (`node --import tsx examples/….ts`, with
 * KAIRO_URL and a test key in KAIRO_API_KEY) against a fresh server that may call loopback
 * addresses; each must exit 0, print what it did, and leave its work visible through the API.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { freePort, repoRoot } from '../support/cli.js';

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an example to its end; KAIRO_* variables of the test environment are not passed on. */
function runExample(file: string, env: { KAIRO_URL?: string; KAIRO_API_KEY?: string }): Promise<Finished> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('KAIRO_')));
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join('examples', file)], { cwd: repoRoot, env: { ...inherited, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The first capture of `pattern` in the output, failing with the whole output when it is absent. */
function captured(finished: Finished, pattern: RegExp): string {
  const match = finished.stdout.match(pattern);
  expect(match, `${pattern} in:\n${finished.stdout}\n${finished.stderr}`).not.toBeNull();
  return match![1]!;
}

const examplesDir = path.join(repoRoot, 'examples');

describe('examples/', () => {
  let server: TestServer;
  let ws: TestWorkspace;
  const get = (route: string) => call(server.url, 'GET', route, { key: ws.testKey });
  const run = async (file: string) => {
    ws = await server.workspace('free');
    const finished = await runExample(file, { KAIRO_URL: server.url, KAIRO_API_KEY: ws.testKey });
    expect(finished.code, `${file} failed:\n${finished.stdout}\n${finished.stderr}`).toBe(0);
    expect(finished.stderr).toBe('');
    return finished;
  };

  beforeAll(async () => {
    server = await startTestServer('sqlite', { outboundAllowCidrs: '127.0.0.1/32' });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('quickstart.ts: indexes a note into crm, creates the Lead Qualifier, prints a waited run and a streamed one', async () => {
    const finished = await run('quickstart.ts');
    const agentId = captured(finished, /^Created agent "Lead Qualifier" \((agent_\w+)\)\.$/m);
    captured(finished, /^(Indexed: 1 chunk\(s\)), \d+ tokens\.$/m);
    captured(finished, /^Answer: (Simulated answer to "Qualify Acme Corp.*Acme Corp wants 200 seats.*)$/m);
    const model = captured(finished, /^Model: (\S+) — Picked \S+ for a chat task/m);
    captured(finished, /^Tokens: (\d+) in, \d+ out \(\d+ total\)$/m);
    captured(finished, /^Cost: (\$\d+\.\d{6}) \(notional/m);
    captured(finished, /^Answer: (Simulated answer to "Which stage is the Acme Corp deal at\?".*)$/m);
    expect(finished.stdout).toMatch(/^Stream ended with run\.completed\.$/m);

    const crm = (await get('/v1/context/sources/crm')).body;
    expect(crm.counts).toMatchObject({ documents: 1, indexed: 1 });
    expect((await get(`/v1/agents/${agentId}`)).body).toMatchObject({ name: 'Lead Qualifier', model: 'auto', context: [crm.id] });
    const runs = (await get(`/v1/agents/${agentId}/runs`)).body.data;
    expect(runs.map((r: any) => [r.mode, r.status, r.model])).toEqual([['stream', 'completed', model], ['wait', 'completed', model]]);
  });

  it('rag-agent.ts: uploads examples/data, prints scored chunks, the answer and the trace spans', async () => {
    const finished = await run('rag-agent.ts');
    const files = fs.readdirSync(path.join(examplesDir, 'data')).sort();
    expect(finished.stdout).toContain(`Uploaded ${files.length} files.`);
    captured(finished, new RegExp(`^(Indexed ${files.length} documents) into \\d+ chunks\\.$`, 'm'));
    const hits = finished.stdout.split('\n').filter((line) => /^ {2}0\.\d{4} {2}\S/.test(line));
    expect(hits.length).toBeGreaterThan(0);
    expect(hits[0]).toContain('pricing.md › Orbitly pricing > Team: ## Team The Team plan costs $12 per technician');
    captured(finished, /^(Answer: Simulated answer to "How much does the Team plan cost per technician\?"\. Based on \[1\].*)$/m);
    const traceId = captured(finished, /^Trace (run_\w+): \d+ ms, 3 spans$/m);
    expect(finished.stdout).toMatch(/^ {2}retrieval +context\.retrieve +\d+ ms {2}\d+ chunks, \d+ tokens$/m);
    expect(finished.stdout).toMatch(/^ {2}model_call +\S+ +\d+ ms {2}\d+ tokens in, \d+ out$/m);

    const source = (await get('/v1/context/sources/orbitly-docs')).body;
    const documents = (await get(`/v1/context/sources/${source.id}/documents`)).body.data;
    expect(documents.map((d: any) => [d.external_id, d.status]).sort()).toEqual(files.map((name) => [name, 'indexed']));
    const trace = (await get(`/v1/analytics/traces/${traceId}`)).body;
    expect(trace.spans.map((s: any) => s.type)).toEqual(['queue_wait', 'retrieval', 'model_call']);
    expect(trace.spans[1].attributes.sources).toEqual([source.id]);
  });

  it('approval-workflow.ts: streams until the approval, approves with data and prints the output', async () => {
    const finished = await run('approval-workflow.ts');
    const workflowId = captured(finished, /^Created workflow "Refund with approval" \((wf_\w+)\): draft → review → result\.$/m);
    const events = finished.stdout.split('\n').map((line) => line.match(/^ +\d+ (\S+)/)?.[1]).filter(Boolean);
    expect(events).toEqual([
      'run.created', 'run.started', 'step.started', 'step.completed', 'step.waiting', 'run.waiting',
      'run.resumed', 'step.completed', 'step.completed', 'run.completed',
    ]);
    expect(finished.stdout).toMatch(/^ +6 run\.waiting \(for approval\)$/m);
    const runId = captured(finished, /^The run (wfrun_\w+) is waiting\. Step "review" asks: /m);
    expect(finished.stdout).toContain('"approved_by": "dana@example.com"');

    const workflowRun = (await get(`/v1/workflows/${workflowId}/runs/${runId}`)).body;
    expect(workflowRun.status).toBe('completed');
    expect(workflowRun.output).toEqual({
      customer: 'Acme Corp', refund_usd: 100, approved_by: 'dana@example.com',
      reply: 'Simulated answer to "Draft a reply to Acme Corp about a refund of $120".',
    });
    expect(workflowRun.steps.map((s: any) => [s.key, s.status])).toEqual([['draft', 'succeeded'], ['review', 'succeeded'], ['result', 'succeeded']]);
    expect(workflowRun.steps[1].output).toEqual({ approved_by: 'dana@example.com', amount_usd: 100 });
  });

  it('webhook-receiver.ts: receives and verifies the run events KAIRO recorded, then deletes its endpoint', async () => {
    const finished = await run('webhook-receiver.ts');
    const endpointId = captured(finished, /^Registered webhook endpoint (we_\w+) for agent\.run\.\*/m);
    const runId = captured(finished, /^Run (run_\w+) completed; received 2 verified events for it: agent\.run\.created, agent\.run\.completed$/m);
    const received = [...finished.stdout.matchAll(/^ {2}← (\S+) for (\S+) \(event (evt_\w+), signature verified\)$/gm)].map((m) => ({ type: m[1], object: m[2], id: m[3] }));
    expect(finished.stdout).not.toContain('rejected');

    const recorded = (await get(`/v1/events?object_id=${runId}&type=agent.run.*`)).body.data;
    expect(new Set(received.map((e) => e.id))).toEqual(new Set(recorded.map((e: any) => e.id)));
    expect(received.map((e) => [e.type, e.object]).sort()).toEqual([['agent.run.completed', runId], ['agent.run.created', runId]]);
    expect((await get(`/v1/webhook_endpoints/${endpointId}`)).status).toBe(404);
    expect((await get('/v1/webhook_endpoints')).body.data).toEqual([]);
  });

  it('fail with exit 1 and a message that says what to do', async () => {
    const noKey = await runExample('quickstart.ts', { KAIRO_URL: server.url });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('Failed: Set KAIRO_API_KEY to a test key (sk_test_…)');

    const ws = await server.workspace('free');
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await runExample('approval-workflow.ts', { KAIRO_URL: nobody, KAIRO_API_KEY: ws.testKey });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`Failed: Could not reach KAIRO at ${nobody}`);

    const strict = await startTestServer('sqlite');
    try {
      const other = await strict.workspace('free');
      const refused = await runExample('webhook-receiver.ts', { KAIRO_URL: strict.url, KAIRO_API_KEY: other.testKey });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('Start the server with KAIRO_OUTBOUND_ALLOW_CIDRS=127.0.0.1/32');
    } finally {
      await strict.close();
    }
  });

  it('call no address but 127.0.0.1, and import the client as a user does', () => {
    const files = fs.readdirSync(examplesDir).filter((name) => name.endsWith('.ts') || name.endsWith('.md'));
    expect(files).toEqual(expect.arrayContaining(['README.md', 'quickstart.ts', 'rag-agent.ts', 'approval-workflow.ts', 'webhook-receiver.ts']));
    for (const name of files) {
      const text = fs.readFileSync(path.join(examplesDir, name), 'utf8');
      const hosts = [...text.matchAll(/\bhttps?:\/\/([^/:\s'"`)]+)/g)].map((m) => m[1]);
      expect(hosts.filter((host) => host !== '127.0.0.1'), name).toEqual([]);
      expect(text.match(/\.listen\([^)]*\)/g)?.filter((listen) => !listen.includes("'127.0.0.1'")) ?? [], name).toEqual([]);
      if (name.endsWith('.ts')) expect(text, name).toContain("from 'kairo/client'");
    }
  });
});
