import { KairoError } from '../errors.js';

/** The areas a restricted key is given access to, one level each. */
export const permissionAreas = ['agents', 'workflows', 'context', 'analytics', 'events', 'webhooks', 'budgets', 'api_keys'] as const;
export type PermissionArea = (typeof permissionAreas)[number];

/** `none` < `read` < `write`; `write` includes `read`. */
export const accessLevels = ['none', 'read', 'write'] as const;
export type AccessLevel = (typeof accessLevels)[number];

/** A restricted key's access to every area. A standard key has none of these: it may do everything. */
export type Permissions = Readonly<Record<PermissionArea, AccessLevel>>;

/** What an operation needs: reading or writing one area. */
export interface Permission {
  area: PermissionArea;
  access: 'read' | 'write';
}

/**
 * Which area each route belongs to, by path prefix (a whole segment: `/v1/agents` covers
 * `/v1/agents/:id/runs`, not `/v1/agentsx`). GET and HEAD need `read`, every other method
 * `write`, except the operations in `readOnlyOperations`.
 */
const areaPrefixes: Record<PermissionArea, readonly string[]> = {
  agents: ['/v1/agents', '/v1/threads', '/v1/tool_signing_secret', '/v1/chat/completions', '/v1/responses'],
  workflows: ['/v1/workflows'],
  context: ['/v1/context'],
  analytics: ['/v1/analytics', '/v1/requests'],
  events: ['/v1/events'],
  webhooks: ['/v1/webhook_endpoints'],
  budgets: ['/v1/budgets'],
  api_keys: ['/v1/api_keys'],
};

/** Operations that only read although they are not GET: they need `read`. */
const readOnlyOperations: ReadonlySet<string> = new Set(['POST /v1/context/query']);

/**
 * Routes every key may call whatever its permissions: reads of what the key itself is allowed,
 * public documents, and the MCP endpoint, which checks each tool and resource against the key's
 * permissions itself (src/mcp/).
 */
const openRoutes: ReadonlyArray<{ methods: readonly string[]; prefix: string }> = [
  { methods: ['POST'], prefix: '/v1/mcp' },
  { methods: ['GET', 'HEAD'], prefix: '/v1/workspace' },
  { methods: ['GET', 'HEAD'], prefix: '/v1/models' },
  { methods: ['GET', 'HEAD'], prefix: '/v1/status' },
  { methods: ['GET', 'HEAD'], prefix: '/v1/openapi.json' },
];

function covers(prefix: string, url: string): boolean {
  return url === prefix || url.startsWith(`${prefix}/`);
}

/**
 * What a route needs (`url` as registered, e.g. `/v1/agents/:id`): a permission, `'open'` for a
 * route every key may call, or undefined for a route this table does not know (which must not be
 * served to keys: registering one fails).
 */
export function requiredPermission(method: string, url: string): Permission | 'open' | undefined {
  const verb = method.toUpperCase();
  if (openRoutes.some((route) => route.methods.includes(verb) && covers(route.prefix, url))) return 'open';
  const area = permissionAreas.find((candidate) => areaPrefixes[candidate].some((prefix) => covers(prefix, url)));
  if (area === undefined) return undefined;
  const reads = verb === 'GET' || verb === 'HEAD' || readOnlyOperations.has(`${verb} ${url}`);
  return { area, access: reads ? 'read' : 'write' };
}

/** Whether a key with `permissions` (null: a standard key) may do what `permission` says. */
export function allows(permissions: Permissions | null, permission: Permission): boolean {
  if (permissions === null) return true;
  const level = permissions[permission.area];
  return permission.access === 'read' ? level !== 'none' : level === 'write';
}

/** The refusal of a key without `permission`. */
export function permissionDenied(permission: Permission): KairoError {
  const name = `${permission.area}:${permission.access}`;
  return new KairoError('permission_denied', {
    message: `This API key cannot ${permission.access} ${permission.area}: it needs the ${name} permission.`,
  });
}

/** A full permission set from a partial one: areas not named get `none`. */
export function completePermissions(partial: Partial<Record<PermissionArea, AccessLevel>>): Permissions {
  return Object.fromEntries(permissionAreas.map((area) => [area, partial[area] ?? 'none'])) as Record<PermissionArea, AccessLevel>;
}

/** Whether `granted` gives nothing beyond `holder` in any area (null: everything). */
export function withinPermissions(granted: Permissions | null, holder: Permissions | null): boolean {
  if (holder === null) return true;
  if (granted === null) return false;
  return permissionAreas.every((area) => accessLevels.indexOf(granted[area]) <= accessLevels.indexOf(holder[area]));
}

/** Stored permissions (JSON text) read back; unknown areas are dropped and missing ones are `none`. */
export function parsePermissions(text: string | null): Permissions | null {
  if (text === null) return null;
  const parsed = JSON.parse(text) as Partial<Record<PermissionArea, AccessLevel>>;
  const valid = Object.fromEntries(Object.entries(parsed).filter(([, level]) => (accessLevels as readonly string[]).includes(level)));
  return Object.freeze(completePermissions(valid));
}

/**
 * `agents:read,context:write` as a full permission set (areas not named get `none`), or why the
 * text is not such a list.
 */
export function parsePermissionList(text: string): { permissions: Permissions } | { problem: string } {
  const partial: Partial<Record<PermissionArea, AccessLevel>> = {};
  for (const item of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const [area, level, extra] = item.split(':');
    if (!(permissionAreas as readonly string[]).includes(area!) || !(accessLevels as readonly string[]).includes(level ?? '') || extra !== undefined) {
      return { problem: `'${item}' is not area:level (areas: ${permissionAreas.join(', ')}; levels: ${accessLevels.join(', ')})` };
    }
    partial[area as PermissionArea] = level as AccessLevel;
  }
  return { permissions: completePermissions(partial) };
}
