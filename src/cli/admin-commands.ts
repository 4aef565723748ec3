import { Command, Option } from 'commander';
import { loadConfig, ConfigError } from '../config.js';
import type { PlanName, Store } from '../store/port.js';
import { createWorkspace } from '../platform/workspaces.js';
import { checkKeyRateLimit, createApiKey } from '../platform/api-keys.js';
import { parsePermissionList, type Permissions } from '../platform/permissions.js';
import { planNames } from '../platform/plans.js';
import { isId } from '../ids.js';
import { toFlags, withStorageOptions } from './options.js';

// The store and the signing-secret modules load the database drivers: they are imported when a
// command runs, so that `kairo` starts quickly for the commands that do not need them.
async function withStore<T>(options: Record<string, unknown>, work: (store: Store) => Promise<T>): Promise<T> {
  const { openStore } = await import('../store/open-store.js');
  const store = await openStore(loadConfig(toFlags(options)));
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

function print(rows: Array<Record<string, string>>): void {
  if (rows.length === 0) {
    process.stdout.write('(none)\n');
    return;
  }
  const columns = Object.keys(rows[0]!);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${line(columns)}\n${rows.map((r) => line(columns.map((c) => r[c] ?? ''))).join('\n')}\n`);
}

/** The permissions and rate limit `keys create` was given, checked against the workspace's plan. */
function keyRestrictions(options: { permissions?: string; rateLimit?: string }, plan: PlanName): { permissions: Permissions | null; rateLimitPerMinute: number | null } {
  let permissions: Permissions | null = null;
  if (options.permissions !== undefined) {
    const parsed = parsePermissionList(options.permissions);
    if ('problem' in parsed) throw new ConfigError(`--permissions: ${parsed.problem}`);
    permissions = parsed.permissions;
  }
  let rateLimitPerMinute: number | null = null;
  if (options.rateLimit !== undefined) {
    rateLimitPerMinute = Number(options.rateLimit);
    if (!/^\d+$/.test(options.rateLimit) || rateLimitPerMinute < 1) throw new ConfigError('--rate-limit must be a whole number of at least 1');
    try {
      checkKeyRateLimit(plan, rateLimitPerMinute);
    } catch (error) {
      throw new ConfigError(`--rate-limit: ${(error as Error).message}`);
    }
  }
  return { permissions, rateLimitPerMinute };
}

/** Operator commands that work on the database directly: workspaces, keys, migrations. */
export function registerAdminCommands(program: Command): void {
  const workspaces = program.command('workspaces').description('manage workspaces');

  withStorageOptions(
    workspaces
      .command('create')
      .description('create a workspace')
      .requiredOption('--name <name>', 'workspace name')
      .addOption(new Option('--plan <plan>', 'plan').choices(planNames).default('free')),
  ).action(async (options) =>
    withStore(options, async (store) => {
      const workspace = await createWorkspace(store, { name: options.name, plan: options.plan });
      process.stdout.write(`${workspace.id}\n`);
    }),
  );

  withStorageOptions(workspaces.command('list').description('list workspaces')).action(async (options) =>
    withStore(options, async (store) => {
      const page = await store.workspaces.list({ limit: 100 });
      print(page.data.map((w) => ({ id: w.id, name: w.name, plan: w.plan, created_at: new Date(w.createdAt).toISOString() })));
    }),
  );

  const keys = program.command('keys').description('manage API keys');

  withStorageOptions(
    keys
      .command('create')
      .description('create an API key and print its secret (shown once)')
      .requiredOption('--workspace <id>', 'workspace id (ws_…)')
      .addOption(new Option('--mode <mode>', 'live or test').choices(['live', 'test']).default('live'))
      .option('--name <name>', 'a name to recognise the key by')
      .option('--permissions <list>', 'make a restricted key: area:level pairs, e.g. agents:read,context:write (other areas: none)')
      .option('--rate-limit <n>', "the key's own requests per minute, at most its plan's"),
  ).action(async (options) =>
    withStore(options, async (store) => {
      const workspace = isId('ws', options.workspace) ? await store.workspaces.get(options.workspace) : undefined;
      if (!workspace) throw new ConfigError(`No such workspace: ${options.workspace}`);
      const restrictions = keyRestrictions(options, workspace.plan);
      const created = await createApiKey(store, { workspaceId: workspace.id, livemode: options.mode === 'live', name: options.name, ...restrictions });
      process.stderr.write(`Created ${created.key.id}. The secret is shown this once only:\n`);
      process.stdout.write(`${created.secret}\n`);
    }),
  );

  withStorageOptions(keys.command('list').description('list API keys').option('--workspace <id>', 'only this workspace')).action(
    async (options) =>
      withStore(options, async (store) => {
        const all = await store.apiKeys.listAll({ limit: 100 });
        const rows = all.data
          .filter((k) => !options.workspace || k.workspaceId === options.workspace)
          .map((k) => ({
            id: k.id,
            workspace: k.workspaceId,
            mode: k.livemode ? 'live' : 'test',
            name: k.name ?? '',
            type: k.permissions === null ? 'standard' : 'restricted',
            secret: `sk_${k.livemode ? 'live' : 'test'}_…${k.last4}`,
            status: k.revokedAt === null ? 'active' : `revoked ${new Date(k.revokedAt).toISOString()}`,
          }));
        print(rows);
      }),
  );

  withStorageOptions(keys.command('revoke').description('revoke an API key at once').argument('<id>', 'key id (key_…)')).action(
    async (id: string, options) =>
      withStore(options, async (store) => {
        const key = isId('key', id) ? await store.apiKeys.revoke(id, Date.now()) : undefined;
        if (!key) throw new ConfigError(`No such API key: ${id}`);
        process.stdout.write(`Revoked ${key.id}\n`);
      }),
  );

  withStorageOptions(program.command('migrate').description('apply pending database migrations')).action(async (options) =>
    withStore(options, async (store) => {
      process.stdout.write(`Database schema is up to date (${store.dialect}).\n`);
    }),
  );

  const toolSecret = program.command('tool-secret').description('the secret that signs http tool calls (one per workspace and mode)');
  const secretOptions = (command: Command) =>
    withStorageOptions(
      command
        .requiredOption('--workspace <id>', 'workspace id (ws_…)')
        .addOption(new Option('--mode <mode>', 'live or test').choices(['live', 'test']).default('live')),
    );
  const scopeOf = async (store: Store, options: { workspace: string; mode: string }) => {
    if (!isId('ws', options.workspace) || !(await store.workspaces.get(options.workspace))) throw new ConfigError(`No such workspace: ${options.workspace}`);
    return { workspaceId: options.workspace, livemode: options.mode === 'live' };
  };
  secretOptions(toolSecret.command('show').description('print the signing secret')).action(async (options) =>
    withStore(options, async (store) => {
      const { getToolSigningSecret } = await import('../agents/tool-signing-secret.js');
      process.stdout.write(`${(await getToolSigningSecret(store, await scopeOf(store, options))).secret}\n`);
    }),
  );
  secretOptions(
    toolSecret
      .command('rotate')
      .description('replace the signing secret and print the new one; the old one keeps signing during the overlap')
      .option('--overlap-seconds <n>', 'how long the replaced secret signs too (default 86400, 0 to 604800)', '86400'),
  ).action(async (options) =>
    withStore(options, async (store) => {
      const overlap = Number(options.overlapSeconds);
      if (!Number.isInteger(overlap) || overlap < 0 || overlap > 604_800) throw new ConfigError('--overlap-seconds must be a whole number from 0 to 604800.');
      const { rotateToolSigningSecret } = await import('../agents/tool-signing-secret.js');
      const rotated = await rotateToolSigningSecret(store, await scopeOf(store, options), overlap);
      if (rotated.previousExpiresAt !== null) process.stderr.write(`The replaced secret signs too until ${new Date(rotated.previousExpiresAt).toISOString()}.\n`);
      process.stdout.write(`${rotated.secret}\n`);
    }),
  );
}
