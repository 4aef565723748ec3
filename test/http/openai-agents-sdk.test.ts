/**
 * The OpenAI Agents SDK drives KAIRO through its OpenAI-compatible endpoints: an SDK agent whose
 * model is a KAIRO agent (by id, over the Responses API and over Chat Completions) or a routed
 * completion (`auto`), in test mode on the simulator. The SDK's own trace export to OpenAI is
 * off: nothing leaves 127.0.0.1.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, run, setTracingDisabled } from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/cli.js';
import { call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';

describe('the OpenAI Agents SDK against KAIRO', () => {
  let server: TestServer;
  let ws: TestWorkspace;
  let openai: OpenAI;
  let kairoAgentId: string;

  beforeAll(async () => {
    setTracingDisabled(true);
    server = await startTestServer('sqlite');
    ws = await server.workspace('pro');
    openai = new OpenAI({ apiKey: ws.testKey, baseURL: `${server.url}/v1`, maxRetries: 0 });
    const created = await call(server.url, 'POST', '/v1/agents', { key: ws.testKey, body: { name: 'support-desk', model: 'kairo/simulator', instructions: 'Answer briefly.' } });
    expect(created.status).toBe(201);
    kairoAgentId = created.body.id;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('runs a KAIRO agent as the model of an SDK agent over the Responses API, recorded as a KAIRO run', async () => {
    const agent = new Agent({ name: 'Front desk', instructions: 'Be helpful.', model: new OpenAIResponsesModel(openai, kairoAgentId) });
    const result = await run(agent, 'Where is my order?');
    expect(result.finalOutput).toContain('Simulated answer');
    const runs = await call(server.url, 'GET', `/v1/agents/${kairoAgentId}/runs?limit=5`, { key: ws.testKey });
    expect(runs.body.data.some((r: { status: string; output: string }) => r.status === 'completed' && r.output === result.finalOutput)).toBe(true);
  });

  it('runs over Chat Completions too, and with model "auto" as a routed completion', async () => {
    for (const model of [kairoAgentId, 'auto']) {
      const agent = new Agent({ name: 'Front desk', instructions: 'Be helpful.', model: new OpenAIChatCompletionsModel(openai, model) });
      const result = await run(agent, 'Summarise our refund policy in one line.');
      expect(result.finalOutput).toEqual(expect.stringContaining('Simulated answer'));
    }
  });

  it('runs the example of docs/openai-compatibility.md as it is written', async () => {
    const doc = fs.readFileSync(path.join(repoRoot, 'docs/openai-compatibility.md'), 'utf8');
    const example = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((block) => block.includes("from '@openai/agents'"));
    expect(example).toBeDefined();
    // Beside the tests, so that it resolves the project's packages; tsx runs it as an ES module.
    const file = path.join(repoRoot, 'test', '.openai-agents-doc-example.mts');
    fs.writeFileSync(file, example!);
    try {
      const { stdout } = await promisify(execFile)(path.join(repoRoot, 'node_modules/.bin/tsx'), [file], {
        cwd: repoRoot, env: { ...process.env, KAIRO: server.url, KEY: ws.testKey }, timeout: 60_000,
      });
      expect(stdout).toContain('Simulated answer to "Where is my order?"');
    } finally {
      fs.rmSync(file, { force: true });
    }
  }, 90_000);
});
