#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, loadConfig } from '../config.js';
import { version } from '../version.js';
import { registerAdminCommands } from './admin-commands.js';
import { registerClientCommands } from './client/commands.js';
import { describeFailure } from './client/output.js';
import { toFlags, withRuntimeOptions, withStorageOptions } from './options.js';

// Commander's own errors (an unknown option, a missing argument) are thrown rather than exiting
// with 1, so that every usage error exits with 2 (see the end of this file).
const program = new Command('kairo')
  .description('KAIRO: a self-hostable AI agent platform driven by a versioned REST API')
  .version(version)
  .exitOverride();
program.commandsGroup('Server and operator commands (work on the data directory or database):');

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
  // The server's modules are loaded only to serve: the client commands start without them.
  const { startKairo } = await import('../main.js');
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
  const { startWorker } = await import('../main.js');
  const worker = await startWorker(loadConfig(toFlags(options)), (message) => console.error(message));
  onSignals(() => worker.close());
  process.stdout.write('KAIRO worker started\n');
});

registerAdminCommands(program);
registerClientCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  // Commander has printed its message (or the help, or the version) already.
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : 2);
  if (error instanceof ConfigError) {
    console.error(`kairo: ${error.message}`);
    process.exit(2);
  }
  const failure = describeFailure(error);
  console.error(failure.message);
  process.exit(failure.exitCode);
});
