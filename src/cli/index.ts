#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError, loadConfig } from '../config.js';
import { version } from '../version.js';
import { startKairo, startWorker } from '../main.js';
import { registerAdminCommands } from './admin-commands.js';
import { toFlags, withRuntimeOptions, withStorageOptions } from './options.js';

const program = new Command('kairo')
  .description('KAIRO: a self-hostable AI agent platform driven by a versioned REST API')
  .version(version);

function onSignals(close: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      close().then(
        () => process.exit(0),
        (error) => {
          console.error(error);
          process.exit(1);
        },
      );
    });
  }
}

withRuntimeOptions(withStorageOptions(
  program
    .command('serve')
    .description('start the API server (and, with --role all, the job worker)')
    .option('--host <host>', 'address to bind (env KAIRO_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port (env KAIRO_PORT, default 8080)')
    .option('--tls-cert <file>', 'TLS certificate (PEM); serve HTTPS (env KAIRO_TLS_CERT)')
    .option('--tls-key <file>', 'TLS private key (PEM) (env KAIRO_TLS_KEY)')
    .option('--trust-proxy', 'behind a TLS-terminating proxy: trust X-Forwarded-* (env KAIRO_TRUST_PROXY)')
    .option('--redis-url <url>', 'Redis URL for queue, rate limits and events (env KAIRO_REDIS_URL)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env KAIRO_LOG_LEVEL)')
    .option('--log-requests', 'log every request (env KAIRO_LOG_REQUESTS)')
    .option('--body-limit <bytes>', 'largest JSON request body (env KAIRO_BODY_LIMIT, default 1 MiB)')
    .addOption(new Option('--role <role>', 'all: API and worker; api: API only (env KAIRO_ROLE)').choices(['all', 'api'])),
)).action(async (options: Record<string, unknown>) => {
  const kairo = await startKairo(loadConfig(toFlags(options)));
  onSignals(() => kairo.close());
  const out = process.stdout;
  out.write(`KAIRO ${version} listening on ${kairo.url} (${kairo.store.dialect}, ${kairo.queue.backend} queue)\n`);
  out.write(`Console: ${kairo.url}/ · API reference: ${kairo.url}/docs\n`);
  if (kairo.bootstrap) {
    const { workspace, liveSecret, testSecret } = kairo.bootstrap;
    out.write(
      `\nCreated workspace ${workspace.id} ("${workspace.name}", free plan) with two API keys.\n` +
        'They are shown this once only; store them now:\n\n' +
        `  live key: ${liveSecret}\n  test key: ${testSecret}\n\n` +
        `Try: curl -H "Authorization: Bearer ${testSecret}" ${kairo.url}/v1/workspace\n\n`,
    );
  }
});

withRuntimeOptions(withStorageOptions(
  program
    .command('worker')
    .description('run queued jobs (cluster mode, beside `kairo serve --role api`)')
    .option('--redis-url <url>', 'Redis URL (env KAIRO_REDIS_URL)'),
)).action(async (options: Record<string, unknown>) => {
  const worker = await startWorker(loadConfig(toFlags(options)), (message) => console.error(message));
  onSignals(() => worker.close());
  process.stdout.write('KAIRO worker started\n');
});

registerAdminCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`kairo: ${error.message}`);
    process.exit(2);
  }
  console.error(`kairo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
