// Agent-run benchmark: agent runs on a zero-latency model (the simulator, which test-mode keys
// use) in wait mode on SQLite, measured end to end through the HTTP API (run persisted, events
// and trace written), beside a baseline in the same run: the same model called directly through
// the AI SDK's generateText in this process. Run with `npm run bench:runs` (builds first; KAIRO
// runs from dist/, in its own process, on 127.0.0.1).
//
// Options (after `npm run bench:runs --`): --runs N sequential runs measured (2000)
// --warmup N runs before measuring (300) --concurrency C runs in flight for the throughput
// phase (8) --duration S of the throughput phase (5) --baseline N generateText calls (3000)
// --cpu-prof DIR (start the server with --cpu-prof, profiles written to DIR on exit)
// --cli FILE (another build's dist/cli/index.js, to compare before and after a change)
// --overhead-runs N runs per server in the analytics comparison (2000; 0 skips it).
//
// The analytics comparison runs the same sequential runs on a second server started with
// `--analytics off` (no spans, no rollups, no request log), in interleaved rounds, and prints both
// p50s and the difference per run (target ≤ +0.2 ms).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateText, streamText } from 'ai';
import { createSimulatorModel } from '../../src/models/simulator.js';
import { Argv } from '../support/argv.js';
import { stopAll } from '../support/children.js';
import { cpuMicros } from '../support/cpu.js';
import { builtCli, httpClient, startKairo, type HttpClient, type HttpResult } from '../support/kairo.js';
import { ms, percentile, stats, table, type Stats } from '../support/stats.js';

/** The prompt of every call and run: a plain text answer, no tools, no context. */
const PROMPT = 'Write a haiku about the sea.';
const TARGET_P50_MS = 2;
const TARGET_P99_MS = 10;
/** Whatever the options, the whole benchmark stops by then. */
const HARD_LIMIT_MS = 170_000;
/** Analytics may add at most this much per run (spans, rollups, the request log). */
const TARGET_ANALYTICS_OVERHEAD_MS = 0.2;
/** Rounds the analytics comparison alternates between the two servers. */
const OVERHEAD_ROUNDS = 6;

interface Options {
  runs: number;
  warmup: number;
  concurrency: number;
  durationSeconds: number;
  baselineCalls: number;
  cpuProfDir: string | undefined;
  cli: string;
  overheadRuns: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { runs: 2000, warmup: 300, concurrency: 8, durationSeconds: 5, baselineCalls: 3000, cpuProfDir: undefined, cli: builtCli, overheadRuns: 2000 };
  const args = new Argv(argv);
  for (let flag = args.flag(); flag !== undefined; flag = args.flag()) {
    if (flag === '--runs') options.runs = args.int(10, 20_000);
    else if (flag === '--warmup') options.warmup = args.int(0, 10_000);
    else if (flag === '--concurrency') options.concurrency = args.int(1, 64);
    else if (flag === '--duration') options.durationSeconds = args.int(1, 30);
    else if (flag === '--baseline') options.baselineCalls = args.int(10, 100_000);
    else if (flag === '--cpu-prof') options.cpuProfDir = path.resolve(args.string());
    else if (flag === '--cli') options.cli = path.resolve(args.string());
    else if (flag === '--overhead-runs') options.overheadRuns = args.int(0, 20_000);
    else throw new Error(`unknown option ${flag}`);
  }
  return options;
}

// ---------------------------------------------------------------- measurement

interface PhaseStats extends Stats {
  /** Calls or runs a second over the phase that measured them. */
  perSecond: number;
}

/** The latencies of one phase, and the rate they came at over its wall time. */
function phaseStats(latencies: number[], elapsedMs: number): PhaseStats {
  return { ...stats(latencies), perSecond: (latencies.length * 1000) / elapsedMs };
}

/** (a) The model alone: generateText on the simulator, one call after the other, in this process. */
async function baseline(calls: number, warmup: number): Promise<PhaseStats> {
  const model = createSimulatorModel();
  for (let i = 0; i < warmup; i++) await generateText({ model, prompt: PROMPT });
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const result = await generateText({ model, prompt: PROMPT });
    latencies.push(performance.now() - t0);
    if (i === 0 && !result.text.startsWith('Simulated answer')) throw new Error(`unexpected simulator answer: ${result.text}`);
  }
  return phaseStats(latencies, performance.now() - started);
}

/**
 * Reference: the model call as the run engine makes it (streamText with system and messages,
 * every stream part read), to tell the SDK's streaming cost from KAIRO's own.
 */
async function streamedCalls(calls: number, warmup: number): Promise<PhaseStats> {
  const model = createSimulatorModel();
  const once = async () => {
    const result = streamText({ model, system: 'Answer briefly.', messages: [{ role: 'user', content: PROMPT }], tools: {}, maxRetries: 0, onError: () => {} });
    for await (const part of result.fullStream) void part;
  };
  for (let i = 0; i < warmup; i++) await once();
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await once();
    latencies.push(performance.now() - t0);
  }
  return phaseStats(latencies, performance.now() - started);
}

async function createAgent(http: HttpClient): Promise<string> {
  const res = await http.request('POST', '/v1/agents', { name: 'bench', model: 'kairo/simulator', instructions: 'Answer briefly.' });
  if (res.status !== 201) throw new Error(`create agent: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

/** One wait-mode run; throws unless it answered 200 with a completed run. */
async function runOnce(http: HttpClient, agentId: string): Promise<HttpResult> {
  const res = await http.request('POST', `/v1/agents/${agentId}/runs`, { input: PROMPT });
  if (res.status !== 200 || res.body?.status !== 'completed') throw new Error(`run: ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

/** (b1) Sequential wait-mode runs over one keep-alive connection: latency per run. */
async function sequential(http: HttpClient, agentId: string, runs: number, warmup: number, deadline: number): Promise<PhaseStats & { serverTotalMsP50: number }> {
  for (let i = 0; i < warmup && Date.now() < deadline; i++) await runOnce(http, agentId);
  const latencies: number[] = [];
  const serverTotals: number[] = [];
  const started = performance.now();
  for (let i = 0; i < runs && Date.now() < deadline; i++) {
    const t0 = performance.now();
    const res = await runOnce(http, agentId);
    latencies.push(performance.now() - t0);
    serverTotals.push(Number(res.body.latency_ms?.total_ms ?? NaN));
  }
  const result = phaseStats(latencies, performance.now() - started);
  return { ...result, serverTotalMsP50: percentile([...serverTotals].sort((a, b) => a - b), 50) };
}

/** (b2) `concurrency` runs in flight for `durationSeconds`: runs/s. */
async function concurrent(http: HttpClient, agentId: string, concurrency: number, durationSeconds: number): Promise<PhaseStats> {
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + durationSeconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        await runOnce(http, agentId);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return phaseStats(latencies, performance.now() - started);
}

/** Reference: an authenticated read of the agent (auth, one query, serialisation) — KAIRO's HTTP floor. */
async function readAgent(http: HttpClient, agentId: string, count: number): Promise<PhaseStats> {
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const res = await http.request('GET', `/v1/agents/${agentId}`);
    latencies.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`GET agent: ${res.status}`);
  }
  return phaseStats(latencies, performance.now() - started);
}

/** A sample run has usage and a trace (spans as `steps`), and is persisted as completed. */
async function verifySample(http: HttpClient, agentId: string): Promise<string> {
  const run = await runOnce(http, agentId);
  const fetched = await http.request('GET', `/v1/agents/${agentId}/runs/${run.body.id}`);
  const body = fetched.body;
  const problems: string[] = [];
  if (fetched.status !== 200) problems.push(`GET run answered ${fetched.status}`);
  if (body?.status !== 'completed') problems.push(`status ${body?.status}`);
  if (!(body?.usage?.input_tokens > 0 && body?.usage?.output_tokens > 0)) problems.push(`usage ${JSON.stringify(body?.usage)}`);
  const steps = Array.isArray(body?.steps) ? body.steps : [];
  if (!steps.some((s: any) => s.type === 'model_call' && s.status === 'ok')) problems.push(`steps ${JSON.stringify(steps)}`);
  if (typeof body?.output !== 'string' || !body.output.startsWith('Simulated answer')) problems.push(`output ${JSON.stringify(body?.output)}`);
  if (problems.length > 0) throw new Error(`sample run ${run.body.id} is not a complete, traced run: ${problems.join('; ')}`);
  return `run ${body.id}: completed, usage ${body.usage.input_tokens}+${body.usage.output_tokens} tokens, ${steps.length} step(s), latency_ms ${JSON.stringify(body.latency_ms)}`;
}

/**
 * (c) The same sequential runs with analytics on (`kairo`) and off (a second server), in
 * alternating rounds so that a disturbance hits both alike: the write cost of spans and rollups.
 */
async function analyticsOverhead(on: HttpClient, off: HttpClient, runs: number, warmup: number): Promise<{ on: Stats; off: Stats }> {
  const agents = { on: await createAgent(on), off: await createAgent(off) };
  for (let i = 0; i < warmup; i++) {
    await runOnce(on, agents.on);
    await runOnce(off, agents.off);
  }
  const latencies = { on: [] as number[], off: [] as number[] };
  const perRound = Math.ceil(runs / OVERHEAD_ROUNDS);
  for (let round = 0; round < OVERHEAD_ROUNDS; round++) {
    const order = round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
    for (const which of order) {
      const http = which === 'on' ? on : off;
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        await runOnce(http, agents[which]);
        latencies[which].push(performance.now() - t0);
      }
    }
  }
  return { on: stats(latencies.on), off: stats(latencies.off) };
}

// ---------------------------------------------------------------- report

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = Date.now();
  const deadline = startedAt + HARD_LIMIT_MS - (options.durationSeconds + 10) * 1000;
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'kairo-bench-runs-'));
  const hardStop = setTimeout(() => {
    console.error(`bench/runs: gave up after ${HARD_LIMIT_MS / 1000} s`);
    void stopAll().finally(() => process.exit(1));
  }, HARD_LIMIT_MS);
  hardStop.unref();
  try {
    if (options.cpuProfDir) await fs.mkdir(options.cpuProfDir, { recursive: true });
    console.log(
      `bench/runs: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), SQLite, ` +
        `wait mode, model kairo/simulator (zero latency), prompt ${JSON.stringify(PROMPT)}`,
    );
    console.log(`  load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (1/5/15 min)`);

    const base = await baseline(options.baselineCalls, Math.min(options.warmup, 500));
    const streamed = await streamedCalls(Math.ceil(options.baselineCalls / 2), Math.min(options.warmup, 200));

    const kairo = await startKairo({ cli: options.cli, dataDir, name: 'bench-runs', cpuProfDir: options.cpuProfDir });
    const seqHttp = httpClient(kairo, 1);
    const parHttp = httpClient(kairo, options.concurrency);
    try {
      const agentId = await createAgent(seqHttp);
      console.log(`  sample ${await verifySample(seqHttp, agentId)}`);

      const floorCpu0 = await cpuMicros(kairo.pid);
      const floor = await readAgent(seqHttp, agentId, Math.min(options.runs, 1000));
      const cpu0 = await cpuMicros(kairo.pid);
      const seq = await sequential(seqHttp, agentId, options.runs, options.warmup, deadline);
      const cpu1 = await cpuMicros(kairo.pid);
      const par = await concurrent(parHttp, agentId, options.concurrency, options.durationSeconds);
      const cpu2 = await cpuMicros(kairo.pid);
      const cpuPerRun = (a: number | undefined, b: number | undefined, n: number) => (a === undefined || b === undefined ? 'n/a' : `${((b - a) / n / 1000).toFixed(2)}`);
      // The seq CPU window includes the warm-up runs.
      const seqRunsInWindow = seq.count + options.warmup;

      console.log('');
      console.log(
        table(
          ['measurement', 'n', 'per s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean ms', 'server CPU ms/run'],
          [
            ['baseline: generateText(simulator), in process, sequential', String(base.count), base.perSecond.toFixed(0), ms(base.p50), ms(base.p90), ms(base.p99), ms(base.max), ms(base.mean), '—'],
            ['  reference: streamText + fullStream, as the engine calls it', String(streamed.count), streamed.perSecond.toFixed(0), ms(streamed.p50), ms(streamed.p90), ms(streamed.p99), ms(streamed.max), ms(streamed.mean), '—'],
            ['  reference: GET /v1/agents/{id} (HTTP + auth + 1 read), sequential', String(floor.count), floor.perSecond.toFixed(0), ms(floor.p50), ms(floor.p90), ms(floor.p99), ms(floor.max), ms(floor.mean), cpuPerRun(floorCpu0, cpu0, floor.count)],
            ['KAIRO: POST /v1/agents/{id}/runs (wait), sequential, keep-alive', String(seq.count), seq.perSecond.toFixed(0), ms(seq.p50), ms(seq.p90), ms(seq.p99), ms(seq.max), ms(seq.mean), cpuPerRun(cpu0, cpu1, seqRunsInWindow)],
            [`KAIRO: same, ${options.concurrency} in flight for ${options.durationSeconds} s`, String(par.count), par.perSecond.toFixed(0), ms(par.p50), ms(par.p90), ms(par.p99), ms(par.max), ms(par.mean), cpuPerRun(cpu1, cpu2, par.count)],
          ],
        ),
      );
      console.log(`\n  server-side latency_ms.total_ms (sequential, p50): ${ms(seq.serverTotalMsP50)} ms; ` +
        `KAIRO overhead over the bare model call (p50): ${ms(seq.p50 - base.p50)} ms`);

      // The runs really landed: the last sequential ones are listed, completed.
      const listed = await seqHttp.request('GET', `/v1/agents/${agentId}/runs?limit=5`);
      if (listed.status !== 200 || !listed.body.data.every((r: any) => r.status === 'completed')) throw new Error(`listing runs: ${listed.status}`);

      let overheadOk = true;
      if (options.overheadRuns > 0) {
        const offKairo = await startKairo({ cli: options.cli, dataDir: path.join(dataDir, 'analytics-off'), name: 'bench-runs-off', cpuProfDir: undefined, serveArgs: ['--analytics', 'off'] });
        const offHttp = httpClient(offKairo, 1);
        try {
          const overhead = await analyticsOverhead(seqHttp, offHttp, options.overheadRuns, Math.min(options.warmup, 200));
          const extra = overhead.on.p50 - overhead.off.p50;
          overheadOk = extra <= TARGET_ANALYTICS_OVERHEAD_MS;
          console.log('');
          console.log(
            table(
              ['analytics write cost (sequential runs, alternating rounds)', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms'],
              [
                ['KAIRO, analytics on (spans, rollups, request log)', String(overhead.on.count), ms(overhead.on.p50), ms(overhead.on.p90), ms(overhead.on.p99), ms(overhead.on.mean)],
                ['KAIRO, --analytics off', String(overhead.off.count), ms(overhead.off.p50), ms(overhead.off.p90), ms(overhead.off.p99), ms(overhead.off.mean)],
              ],
            ),
          );
          console.log(`\n  analytics adds ${ms(extra)} ms per run at p50 (${ms(overhead.on.p99 - overhead.off.p99)} ms at p99)`);
          console.log(`  ${overheadOk ? 'PASS' : 'FAIL'}  analytics write cost ${ms(extra)} ms per run at p50 (target ≤ +${TARGET_ANALYTICS_OVERHEAD_MS} ms)`);
        } finally {
          await offHttp.close();
        }
      }

      const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
      console.log('');
      console.log(`  ${verdict(seq.p50 <= TARGET_P50_MS)}  p50 per run ${ms(seq.p50)} ms end to end (target ≤ ${TARGET_P50_MS} ms)`);
      console.log(`  ${verdict(seq.p99 <= TARGET_P99_MS)}  p99 per run ${ms(seq.p99)} ms end to end (target ≤ ${TARGET_P99_MS} ms)`);
      console.log(`\n(finished in ${Math.round((Date.now() - startedAt) / 1000)} s)`);
      if (!(seq.p50 <= TARGET_P50_MS && seq.p99 <= TARGET_P99_MS && overheadOk)) process.exitCode = 1;
    } finally {
      await seqHttp.close();
      await parHttp.close();
    }
  } finally {
    await stopAll();
    clearTimeout(hardStop);
    await fs.rm(dataDir, { recursive: true, force: true });
    if (options.cpuProfDir) console.log(`server CPU profile(s) in ${options.cpuProfDir}`);
  }
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  await stopAll();
  process.exit(1);
});
