import { newId } from '../ids.js';
import type { PlanName, Store, Workspace } from '../store/port.js';
import { createApiKey } from './api-keys.js';

export async function createWorkspace(store: Store, input: { name: string; plan: PlanName }, now = Date.now()): Promise<Workspace> {
  return store.workspaces.create({ id: newId('ws'), name: input.name, plan: input.plan, createdAt: now });
}

/** What first start created: the default workspace and its two keys, secrets shown once. */
export interface Bootstrap {
  workspace: Workspace;
  liveSecret: string;
  testSecret: string;
}

/**
 * On first start with an empty database, creates a default workspace on the free plan with one
 * live and one test key. Runs at most once per database, even with several processes starting.
 */
export async function bootstrapIfEmpty(store: Store, now = Date.now()): Promise<Bootstrap | undefined> {
  const existing = await store.workspaces.list({ limit: 1 });
  if (existing.data.length > 0) return undefined;
  const marker = newId('ws');
  if ((await store.meta.setIfAbsent('bootstrap', marker)) !== marker) return undefined;
  const workspace = await createWorkspace(store, { name: 'Default', plan: 'free' }, now);
  const live = await createApiKey(store, { workspaceId: workspace.id, livemode: true, name: 'Default live key' }, now);
  const test = await createApiKey(store, { workspaceId: workspace.id, livemode: false, name: 'Default test key' }, now);
  return { workspace, liveSecret: live.secret, testSecret: test.secret };
}
