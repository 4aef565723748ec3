// Events benchmark: what events and webhooks cost on the run path, and how fast deliveries go out.
// (a) Sequential wait-mode agent runs (simulator, SQLite) in alternating rounds: with one webhook
// endpoint subscribed to every event type (each run's `agent.run.created` and
// `agent.run.completed` are then delivered to a loopback receiver, which runs in a process of its
// own as a real one would), and with that endpoint disabled (events are still written; nothing is
// delivered) — the difference per run at p50 (target ≤ +0.2 ms). (b) A burst of events (API keys
// created by 8 clients at once, one `api_key.created` each) delivered as they are made:
// deliveries a second from the first to the last one received, which cannot exceed the rate the
// events were made. (c) The delivery rate itself (target ≥ 1,000/s embedded): the same burst made
// on a server that only serves the API (`--role api`: the deliveries are queued, none is sent),
// which then stops; a server on the same database that runs jobs starts and sends the backlog:
// deliveries a second from the first to the last one received.
// Run with `npm run bench:events` (builds first; KAIRO runs from dist/ in its own process).
//
// Options (after `npm run bench:events --`): --runs N runs per round (300) --rounds N (6)
// --events N events in the burst (3000) --cli FILE (another build's dist/cli/index.js).
import fs from 'node:fs/promises';
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Argv } from '../support/argv.js';
import { stopAll } from '../support/children.js';
import { builtCli, httpClient, serveKairo, startKairo, type HttpClient, type Kairo } from '../support/kairo.js';
import { ms, stats, table } from '../support/stats.js';
import type { ReceiverRequest } from './receiver.js';

const TARGET_RUN_OVERHEAD_MS = 0.2;
const TARGET_DELIVERIES_PER_SECOND = 1000;
const PROMPT = 'Write a haiku about the sea.';

interface Options {
  runs: number;
  rounds: number;
  events: number;
  cli: string;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { runs: 300, rounds: 6, events: 3000, cli: builtCli };
  const args = new Argv(argv);
  for (let flag = args.flag(); flag !== undefined; flag = args.flag()) {
    if (flag === '--runs') options.runs = args.int(10, 20_000);
    else if (flag === '--rounds') options.rounds = args.int(2, 100);
    else if (flag === '--events') options.events = args.int(100, 100_000);
    else if (flag === '--cli') options.cli = path.resolve(args.string());
    else throw new Error(`unknown option ${flag}`);
  }
  return options;
}

/** The loopback webhook receiver, in its own process (bench/events/receiver.ts): its URL, and what it received. */
async function startReceiver(): Promise<{ url: string; clear(): Promise<void>; count(): Promise<number>; times(): Promise<number[]>; close(): Promise<void> }> {
  const child = fork(fileURLToPath(new URL('./receiver.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies: Array<(message: any) => void> = [];
  child.on('message', (message) => replies.shift()?.(message));
  const next = () => new Promise<any>((resolve) => replies.push(resolve));
  const ask = (request: ReceiverRequest) => {
    const reply = next();
    child.send(request);
    return reply;
  };
  const { port } = await next();
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    clear: async () => void (await ask({ type: 'clear' })),
    count: async () => (await ask({ type: 'count' })).count as number,
    times: async () => (await ask({ type: 'times' })).times as number[],
    close: async () => {
      child.disconnect();
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

async function expectStatus(promise: Promise<{ status: number; body: any }>, status: number, what: string): Promise<any> {
  const res = await promise;
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Sequential wait-mode runs; the latency of each. */
async function runs(client: HttpClient, agentId: string, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const body = await expectStatus(client.request('POST', `/v1/agents/${agentId}/runs`, { input: PROMPT }), 200, 'run');
    if (body.status !== 'completed') throw new Error(`run ended ${body.status}`);
    latencies.push(performance.now() - t0);
  }
  return latencies;
}

/** `count` API keys created by 8 clients at once (an `api_key.created` event each); the rate they were made a second. */
async function burst(kairo: Kairo, count: number): Promise<number> {
  const makers = httpClient(kairo, 8);
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < count) {
      next += 1;
      await expectStatus(makers.request('POST', '/v1/api_keys', { name: `burst-${next}` }), 201, 'key');
    }
  }));
  const madePerSecond = (count * 1000) / (performance.now() - started);
  await makers.close();
  return madePerSecond;
}

/** Waits (up to two minutes) for `count` deliveries; how many came, and at what rate from the first to the last. */
async function arrived(receiver: Receiver, count: number): Promise<{ count: number; spanMs: number; perSecond: number }> {
  const deadline = performance.now() + 120_000;
  while ((await receiver.count()) < count && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const times = (await receiver.times()).sort((a, b) => a - b);
  const spanMs = times.length > 1 ? times.at(-1)! - times[0]! : NaN;
  return { count: times.length, spanMs, perSecond: ((times.length - 1) * 1000) / spanMs };
}

/** Stops a server (SIGTERM: it drains and exits) and waits until it has. */
async function stopProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (performance.now() > deadline) throw new Error(`server ${pid} did not stop`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  console.log(`bench/events: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), SQLite, local queue, wait-mode runs on the simulator`);
  console.log(`  load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min)`);
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kairo-bench-events-'));
  const receiver = await startReceiver();
  try {
    let deliveries = { count: 0, spanMs: NaN, perSecond: NaN };
    const kairo = await startKairo({ cli: options.cli, dataDir, name: 'bench-events', cpuProfDir: undefined, serveArgs: ['--outbound-allow-cidrs', '127.0.0.0/8'] });
    const client = httpClient(kairo, 1);
    const agent = await expectStatus(client.request('POST', '/v1/agents', { name: 'bench', model: 'kairo/simulator', instructions: 'Answer briefly.' }), 201, 'agent');
    const endpoint = await expectStatus(client.request('POST', '/v1/webhook_endpoints', { url: receiver.url, enabled_events: ['*'] }), 201, 'endpoint');
    const setEndpoint = (status: 'enabled' | 'disabled') => expectStatus(client.request('PATCH', `/v1/webhook_endpoints/${endpoint.id}`, { status }), 200, 'endpoint update');

    // (a) The run path, alternating rounds; the first round of each kind warms up.
    const samples = { enabled: [] as number[], disabled: [] as number[] };
    for (let round = 0; round < options.rounds + 2; round++) {
      const kind = round % 2 === 0 ? 'enabled' : 'disabled';
      await setEndpoint(kind);
      const latencies = await runs(client, agent.id, options.runs);
      if (round >= 2) samples[kind].push(...latencies);
    }
    const withEndpoint = stats(samples.enabled);
    const without = stats(samples.disabled);
    const overhead = withEndpoint.p50 - without.p50;
    console.log('');
    console.log(table(['sequential wait-mode runs', 'n', 'p50 ms', 'p90 ms', 'p99 ms'], [
      ['one endpoint subscribed to every event (2 deliveries a run)', String(samples.enabled.length), ms(withEndpoint.p50), ms(withEndpoint.p90), ms(withEndpoint.p99)],
      ['the endpoint disabled (events written, nothing delivered)', String(samples.disabled.length), ms(without.p50), ms(without.p90), ms(without.p99)],
    ]));

    // (b) A burst of events, delivered as they come.
    await setEndpoint('enabled');
    const settled = performance.now();
    while (performance.now() - settled < 30_000 && (await client.request('GET', `/v1/webhook_endpoints/${endpoint.id}/deliveries?limit=1`)).body.data?.[0]?.status === 'pending') {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await receiver.clear();
    const madePerSecond = await burst(kairo, options.events);
    const live = await arrived(receiver, options.events);
    console.log('');
    console.log(`  (b) as they are made: ${options.events} events made by 8 clients at ${madePerSecond.toFixed(0)}/s; ` +
      `${live.count} delivered, first to last in ${(live.spanMs / 1000).toFixed(2)} s: ${live.perSecond.toFixed(0)} deliveries/s (bounded by the rate they were made)`);
    await client.close();

    // (c) A backlog: queued by a server that only serves the API, sent by one that runs jobs.
    await receiver.clear();
    const backlogDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kairo-bench-events-backlog-'));
    try {
      const serveArgs = ['--outbound-allow-cidrs', '127.0.0.0/8'];
      const apiOnly = await startKairo({ cli: options.cli, dataDir: backlogDir, name: 'bench-events-backlog', cpuProfDir: undefined, serveArgs: [...serveArgs, '--role', 'api'] });
      const setup = httpClient(apiOnly, 1);
      await expectStatus(setup.request('POST', '/v1/webhook_endpoints', { url: receiver.url, enabled_events: ['api_key.created'] }), 201, 'endpoint');
      await setup.close();
      await burst(apiOnly, options.events);
      await stopProcess(apiOnly.pid);
      if ((await receiver.count()) > 0) throw new Error('the API-only server sent deliveries');
      await serveKairo(options.cli, ['--data', backlogDir, ...serveArgs]);
      const backlog = await arrived(receiver, options.events);
      console.log(`  (c) a backlog of ${options.events}: ${backlog.count} delivered, first to last in ${(backlog.spanMs / 1000).toFixed(2)} s: ${backlog.perSecond.toFixed(0)} deliveries/s`);
      deliveries = backlog;
    } finally {
      await stopAll();
      await fs.rm(backlogDir, { recursive: true, force: true });
    }

    console.log('');
    const verdict = (ok: boolean, text: string) => console.log(`  ${ok ? 'PASS' : 'FAIL'}  ${text}`);
    verdict(overhead <= TARGET_RUN_OVERHEAD_MS, `events and one subscribed endpoint add ${overhead.toFixed(2)} ms per run at p50 (target ≤ +${TARGET_RUN_OVERHEAD_MS} ms)`);
    verdict(deliveries.count === options.events && deliveries.perSecond >= TARGET_DELIVERIES_PER_SECOND,
      `${deliveries.perSecond.toFixed(0)} deliveries/s to a loopback receiver, ${deliveries.count} of ${options.events} delivered (target ≥ ${TARGET_DELIVERIES_PER_SECOND}/s)`);
    console.log(`  load average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min)`);
  } finally {
    await stopAll();
    await receiver.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await stopAll();
  process.exit(1);
});
