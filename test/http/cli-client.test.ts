import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestServer, type TestServer } from '../support/server.js';
import { killAllCli, repoRoot, spawnCli } from '../support/cli.js';
import { tempDir } from '../support/services.js';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kairo …args` from the sources to its end. */
async function kairo(args: string[], env?: Record<string, string>): Promise<Outcome> {
  const cli = spawnCli(args, { env });
  const { code } = await cli.exited();
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** The output of a `--json` command: its whole stdout must parse. */
function json(outcome: Outcome): any {
  expect(outcome.code, outcome.stderr).toBe(0);
  return JSON.parse(outcome.stdout);
}

const SIMULATED = (input: string) => `Simulated answer to "${input}".`;

/**
 * The API client commands of `kairo`, run as processes against a real server: what `--json`
 * prints is what the API holds, the output for people shows it, and failures exit with the
 * API's error code on stderr (1) or as usage errors (2).
 */
describe('kairo API client commands', { timeout: 120_000 }, () => {
  let server: TestServer;
  let key: string;
  let dir: string;
  let connection: string[];
  const api = (method: string, route: string, body?: unknown) => call(server.url, method, route, { key, body });

  beforeAll(async () => {
    server = await startTestServer('sqlite');
    key = (await server.workspace('pro')).testKey;
    connection = ['--url', server.url, '--api-key', key];
    dir = tempDir();
  });

  afterAll(async () => {
    await killAllCli();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates, lists, shows, updates and deletes agents', async () => {
    const created = json(await kairo(['agents', 'create', '--name', 'CLI desk', '--instructions', 'Answer in one sentence.', '--json', ...connection]));
    const stored = await api('GET', `/v1/agents/${created.id}`);
    expect(created).toEqual(stored.body);
    expect(created).toMatchObject({ name: 'CLI desk', model: 'auto', instructions: 'Answer in one sentence.' });

    const listed = json(await kairo(['agents', 'list', '--json', ...connection]));
    expect(listed).toEqual((await api('GET', '/v1/agents?limit=20')).body.data);

    const table = await kairo(['agents', 'list', ...connection]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('CLI desk');
    expect(table.stdout).toContain(created.id);

    const shown = await kairo(['agents', 'get', created.id, ...connection]);
    expect(shown.stdout).toMatch(/^name: +CLI desk$/m);
    expect(json(await kairo(['agents', 'get', created.id, '--json', ...connection]))).toEqual(stored.body);

    // Configuration from the environment instead of flags.
    const env = { KAIRO_URL: server.url, KAIRO_API_KEY: key };
    const updated = json(await kairo(['agents', 'update', created.id, '--instructions', 'Two sentences.', '--json'], env));
    expect(updated).toMatchObject({ id: created.id, version: 2, instructions: 'Two sentences.' });

    const deleted = await kairo(['agents', 'delete', created.id, ...connection]);
    expect(deleted.stdout).toContain(`Deleted ${created.id}`);
    expect((await api('GET', `/v1/agents/${created.id}`)).status).toBe(404);
  });

  it('runs an agent and waits, or streams its text live, and prints the run', async () => {
    const agent = (await api('POST', '/v1/agents', { name: 'Runner' })).body;

    const run = json(await kairo(['agents', 'run', agent.id, 'Where is my order?', '--json', ...connection]));
    expect(run).toMatchObject({ object: 'run', status: 'completed', output: SIMULATED('Where is my order?') });
    expect((await api('GET', `/v1/agents/${agent.id}/runs/${run.id}`)).body).toMatchObject({ id: run.id, status: 'completed', output: run.output });

    const waited = await kairo(['agents', 'run', agent.id, 'Hello', ...connection]);
    expect(waited.code).toBe(0);
    expect(waited.stdout).toContain(SIMULATED('Hello'));
    expect(waited.stdout).toMatch(/run_\w+ · completed · model \S+ · \d+ tokens · \$[\d.]+ \(notional\)/);

    const streamed = await kairo(['agents', 'run', agent.id, 'Tell me a story', '--stream', ...connection]);
    expect(streamed.code).toBe(0);
    expect(streamed.stdout).toContain(SIMULATED('Tell me a story'));
    const streamedId = streamed.stdout.match(/(run_\w+) · completed/)![1]!;
    expect((await api('GET', `/v1/agents/${agent.id}/runs/${streamedId}`)).body.output).toBe(SIMULATED('Tell me a story'));

    // Under --json the streamed text goes to stderr; stdout is the finished run alone.
    const streamedJson = await kairo(['agents', 'run', agent.id, 'Tell me a story', '--stream', '--json', ...connection]);
    expect(json(streamedJson)).toMatchObject({ status: 'completed', output: SIMULATED('Tell me a story') });
    expect(streamedJson.stderr).toContain(SIMULATED('Tell me a story'));
  });

  it('watches a run to its end and shows it with its steps', async () => {
    const agent = (await api('POST', '/v1/agents', { name: 'Watched' })).body;
    const started = await api('POST', `/v1/agents/${agent.id}/runs`, { input: 'Follow me', background: true });
    expect(started.status).toBe(202);

    const watched = await kairo(['runs', 'watch', agent.id, started.body.id, ...connection]);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toContain(SIMULATED('Follow me'));
    expect(watched.stdout).toContain(`${started.body.id} · completed`);

    const watchedJson = json(await kairo(['runs', 'watch', agent.id, started.body.id, '--json', ...connection]));
    expect(watchedJson).toMatchObject({ id: started.body.id, status: 'completed', output: SIMULATED('Follow me') });

    const shown = await kairo(['runs', 'get', agent.id, started.body.id, ...connection]);
    expect(shown.stdout).toMatch(/^status: +completed$/m);
    expect(shown.stdout).toContain('model_call');
  });

  it('creates a workflow from a file, runs it, streams it, and approves a waiting run', async () => {
    const agent = (await api('POST', '/v1/agents', { name: 'Drafter' })).body;
    const file = path.join(dir, 'review.json');
    fs.writeFileSync(file, JSON.stringify({
      name: 'Review',
      steps: [
        { id: 'draft', type: 'agent', agent: agent.id, input: '"Draft for " & input.customer' },
        { id: 'check', type: 'approval', prompt: 'Send it?' },
        { id: 'done', type: 'transform', expression: '{"draft": steps.draft, "ok": steps.check.ok}' },
      ],
    }));
    const workflow = json(await kairo(['workflows', 'create', '--file', file, '--json', ...connection]));
    expect(workflow).toEqual((await api('GET', `/v1/workflows/${workflow.id}`)).body);

    const waiting = json(await kairo(['workflows', 'run', workflow.id, '--input', '{"customer": "Acme"}', '--json', ...connection]));
    expect(waiting).toMatchObject({ object: 'workflow_run', status: 'waiting' });
    expect(waiting.steps.map((s: { key: string; status: string }) => [s.key, s.status])).toEqual([['draft', 'succeeded'], ['check', 'waiting']]);

    const approved = json(await kairo(['workflows', 'approve', workflow.id, waiting.id, '--data', '{"ok": true}', '--json', ...connection]));
    expect(approved.id).toBe(waiting.id);
    const watched = await kairo(['workflows', 'watch', workflow.id, waiting.id, ...connection]);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stdout).toContain('· step check completed: {"ok":true}');
    expect(watched.stdout).toContain(`${waiting.id} · completed`);
    expect((await api('GET', `/v1/workflows/${workflow.id}/runs/${waiting.id}`)).body).toMatchObject({
      status: 'completed', output: { draft: SIMULATED('Draft for Acme'), ok: true },
    });

    const streamed = await kairo(['workflows', 'run', workflow.id, '--input', '{"customer": "Initech"}', '--stream', ...connection]);
    expect(streamed.code).toBe(0);
    expect(streamed.stdout).toContain('· step draft started (agent)');
    expect(streamed.stdout).toContain(`· step draft completed: ${SIMULATED('Draft for Initech')}`);
    expect(streamed.stdout).toMatch(/waiting for approval \(check\): kairo workflows approve wf_\w+ wfrun_\w+/);
  });

  it('creates a source, uploads a file until it is indexed, and queries it', async () => {
    const source = json(await kairo(['context', 'sources', 'create', '--name', 'handbook', '--json', ...connection]));
    expect(source).toMatchObject({ object: 'context_source', name: 'handbook', type: 'documents' });

    const handbook = path.join(repoRoot, 'test/fixtures/documents/handbook.md');
    const uploaded = await kairo(['context', 'upload', 'handbook', handbook, '--json', ...connection]);
    const documents = json(uploaded);
    expect(documents).toHaveLength(1);
    expect(documents[0]).toMatchObject({ external_id: 'handbook.md', status: 'indexed', size_bytes: fs.statSync(handbook).size });
    expect(documents[0].chunk_count).toBeGreaterThan(0);
    expect(documents).toEqual((await api('GET', '/v1/context/sources/handbook/documents')).body.data);
    // Off a terminal, the progress is a line per upload on stderr.
    expect(uploaded.stderr).toContain('upload handbook.md:');
    expect(uploaded.stderr).toContain('indexing: 1 indexed');

    const listed = await kairo(['context', 'sources', 'list', ...connection]);
    expect(listed.stdout).toMatch(/handbook +│ documents +│ 1 /);

    const result = json(await kairo(['context', 'query', 'handbook', 'how often are backups made', '--json', ...connection]));
    expect(result.object).toBe('context_query');
    expect(result.data.length).toBeGreaterThan(0);
    for (const hit of result.data) expect(hit).toMatchObject({ object: 'context_chunk', source: { name: 'handbook' }, document: { id: documents[0].id } });
    expect(result.data[0].text).toContain('Back up the database daily.');

    const printed = await kairo(['context', 'query', 'backups', '--sources', 'handbook', '--top-k', '1', ...connection]);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toMatch(/^\[1\] \d\.\d{4} {2}handbook\.md › .*Backups/m);
    expect(printed.stdout).toContain('Back up the database daily.');
  });

  it('prints the usage report as the API answers it', async () => {
    const agent = (await api('POST', '/v1/agents', { name: 'Counted' })).body;
    expect((await api('POST', `/v1/agents/${agent.id}/runs`, { input: 'count me' })).status).toBe(200);
    const report = json(await kairo(['analytics', 'usage', '--group-by', 'agent', '--json', ...connection]));
    expect(report.object).toBe('list');
    const direct = (await api('GET', '/v1/analytics/usage?group_by=agent')).body;
    const runsOf = (page: any) => page.totals.find((t: { agent_id: string | null }) => t.agent_id === agent.id)?.runs;
    expect(runsOf(report)).toBe(1);
    expect(runsOf(report)).toBe(runsOf(direct));

    const table = await kairo(['analytics', 'usage', '--group-by', 'agent', ...connection]);
    expect(table.stdout).toMatch(new RegExp(`total +│ ${agent.id} +│`));
  });

  it('refuses a command line without an API key with exit code 2', async () => {
    const outcome = await kairo(['agents', 'list', '--url', server.url]);
    expect(outcome.code).toBe(2);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr).toContain('no API key: pass --api-key or set KAIRO_API_KEY');

    const unknownOption = await kairo(['agents', 'list', '--colour', ...connection]);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain("unknown option '--colour'");

    const badJson = await kairo(['workflows', 'run', 'wf_01jzzzzzzzzzzzzzzzzzzzzzzz', '--input', '{oops', ...connection]);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('--input is not valid JSON');
  });

  it('exits with 1 and the API error code for a bad key and for a missing object', async () => {
    const badKey = await kairo(['agents', 'list', '--json', '--url', server.url, '--api-key', 'sk_test_notarealkey']);
    expect(badKey.code).toBe(1);
    expect(badKey.stdout).toBe('');
    expect(badKey.stderr).toMatch(/^kairo: invalid_api_key \(401\): .+\[request: req_\w+\]$/m);

    const missing = await kairo(['agents', 'get', 'agent_01jzzzzzzzzzzzzzzzzzzzzzzz', ...connection]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^kairo: resource_missing \(404\): No such agent: 'agent_01jzzzzzzzzzzzzzzzzzzzzzzz'\./m);

    const missingRun = await kairo(['runs', 'watch', 'agent_01jzzzzzzzzzzzzzzzzzzzzzzz', 'run_01jzzzzzzzzzzzzzzzzzzzzzzz', ...connection]);
    expect(missingRun.code).toBe(1);
    expect(missingRun.stderr).toContain('resource_missing (404)');
  });
});
