import type { AreaModule, AreaRunning, BackgroundErrors } from '../area-module.js';
import type { Queue } from '../queue/port.js';
import type { Store } from '../store/port.js';
import { registerMaintenanceJobs, scheduleMaintenance } from './maintenance.js';
import { startHeartbeats } from './status.js';

/** The platform area's background work: the uptime heartbeat and the hourly housekeeping job. */
export class PlatformModule implements AreaModule {
  constructor(private readonly deps: { store: Store; queue: Queue }) {}

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
