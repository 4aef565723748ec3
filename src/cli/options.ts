import type { Command } from 'commander';
import type { ConfigFlags } from '../config.js';

/** Options every command that opens the database accepts. */
export function withStorageOptions(command: Command): Command {
  return command
    .option('--data <dir>', 'data directory for the embedded SQLite database (env KAIRO_DATA_DIR)')
    .option('--database-url <url>', 'PostgreSQL URL; use it instead of SQLite (env KAIRO_DATABASE_URL)')
    .option('--database-schema <name>', 'PostgreSQL schema (env KAIRO_DATABASE_SCHEMA)');
}

/** Commander's option names → config keys. */
export function toFlags(options: Record<string, unknown>): ConfigFlags {
  const flags: ConfigFlags = {};
  const map: Record<string, keyof ConfigFlags> = {
    host: 'host', port: 'port', data: 'dataDir', tlsCert: 'tlsCert', tlsKey: 'tlsKey', trustProxy: 'trustProxy',
    databaseUrl: 'databaseUrl', databaseSchema: 'databaseSchema', redisUrl: 'redisUrl', logLevel: 'logLevel',
    logRequests: 'logRequests', role: 'role',
  };
  for (const [option, key] of Object.entries(map)) {
    const value = options[option];
    if (value !== undefined) flags[key] = value as string | boolean;
  }
  return flags;
}
