import type { AreaModule, AreaRunning, BackgroundErrors } from '../area-module.js';
import type { Queue } from '../queue/port.js';
import type { ApiKey, Page, PageRequest, Scope, Store } from '../store/port.js';
import { createApiKeyFor, getApiKey, listApiKeys, revokeApiKey, type CreatedApiKey, type NewKeyRestrictions } from './api-keys.js';
import type { AuthContext } from './authenticate.js';
import { registerMaintenanceJobs, scheduleMaintenance } from './maintenance.js';
import { startHeartbeats } from './status.js';

/** A workspace's API keys, as the API manages them. */
export interface ApiKeyService {
  /** A key for the caller's workspace and mode, no more permitted than the caller. `requestId`: the API request asking, for the key's event. */
  create(caller: AuthContext, input: NewKeyRestrictions & { name?: string | undefined }, requestId: string): Promise<CreatedApiKey>;
  list(scope: Scope, page: PageRequest): Promise<Page<ApiKey>>;
  get(scope: Scope, id: string): Promise<ApiKey>;
  revoke(scope: Scope, id: string, requestId: string): Promise<ApiKey>;
}

/** The platform area: API keys, and the background work of the uptime heartbeat and the hourly housekeeping job. */
export class PlatformModule implements AreaModule {
  readonly apiKeys: ApiKeyService;

  constructor(private readonly deps: { store: Store; queue: Queue }) {
    const { store } = deps;
    this.apiKeys = {
      create: (caller, input, requestId) => createApiKeyFor(store, caller, input, requestId),
      list: (scope, page) => listApiKeys(store, scope, page),
      get: (scope, id) => getApiKey(store, scope, id),
      revoke: (scope, id, requestId) => revokeApiKey(store, scope, id, requestId),
    };
  }

  registerJobs(queue: Queue): void {
    registerMaintenanceJobs(queue, this.deps.store);
  }

  start(onError: BackgroundErrors): AreaRunning {
    const stopHeartbeats = startHeartbeats(this.deps.store, onError('heartbeat not recorded'));
    const stopMaintenance = scheduleMaintenance(this.deps.queue, onError('maintenance job not enqueued'));
    return {
      stop() {
        stopMaintenance();
        stopHeartbeats();
      },
    };
  }
}
