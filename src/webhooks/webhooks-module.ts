import type { AreaModule, AreaRunning, BackgroundErrors } from '../area-module.js';
import { createAddressPolicy } from '../net/address-policy.js';
import { systemResolve, type ResolveHost } from '../net/checked-lookup.js';
import type { Queue } from '../queue/port.js';
import type { Store } from '../store/port.js';
import { WEBHOOK_DELIVERY_JOB, type DeliveryBatchJob } from './attempts.js';
import { WebhookDeliverer } from './delivery.js';
import { WebhookEndpointService } from './endpoints.js';
import { retrySchedules } from './retry-schedule.js';
import { ThreadedSender } from './threaded-sender.js';

export const WEBHOOK_DELIVERIES_PURGE_JOB = 'webhooks.purge_deliveries';
export const WEBHOOK_SWEEP_JOB = 'webhooks.sweep';

/** How often every endpoint is checked for attempts that fell due and no batch job took up. */
const SWEEP_INTERVAL_MS = 30_000;
/** An attempt due this long and not claimed is one no batch job will see (it committed after its window's job looked). */
const SWEEP_GRACE_MS = 10_000;
const SWEEP_MAX_ENDPOINTS = 1_000;

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
const PURGE_BATCH = 5_000;
const PURGE_MAX_BATCHES = 100;

/**
 * The webhooks area: endpoints as the API manages them, and delivering events to them. Every
 * process that writes events queues their deliveries (in the events' transaction); processes
 * that run jobs make the attempts. Delivery attempts are kept as long as events.
 */
export class WebhooksModule implements AreaModule {
  readonly endpoints: WebhookEndpointService;
  private readonly deliverer: WebhookDeliverer;
  private readonly sender: ThreadedSender;

  constructor(
    private readonly deps: {
      store: Store;
      queue: Queue;
      outboundAllowCidrs: readonly string[];
      retentionDays: number;
      /** Divides retry delays and failure windows (tests). */
      retrySpeedup?: number;
      resolve?: ResolveHost;
      now?: () => number;
    },
  ) {
    const { store, queue, now } = deps;
    this.endpoints = new WebhookEndpointService({
      store, queue, policy: createAddressPolicy(deps.outboundAllowCidrs), resolve: deps.resolve ?? systemResolve, ...(now ? { now } : {}),
    });
    this.sender = new ThreadedSender(deps.outboundAllowCidrs);
    this.deliverer = new WebhookDeliverer({ store, queue, sender: this.sender, schedules: retrySchedules(deps.retrySpeedup), ...(now ? { now } : {}) });
    store.onEventsWritten(this.deliverer.eventsWritten);
  }

  registerJobs(queue: Queue): void {
    queue.register<DeliveryBatchJob>(WEBHOOK_DELIVERY_JOB, (job) => this.deliverer.deliver(job));
    queue.register(WEBHOOK_SWEEP_JOB, async () => ({ endpoints: await this.sweep() }));
    queue.register(WEBHOOK_DELIVERIES_PURGE_JOB, async () => ({ deleted: await this.purge() }));
  }

  /** Enqueues the purge of old delivery attempts every hour (once per hour across processes). */
  start(onError: BackgroundErrors): AreaRunning {
    const now = this.deps.now ?? Date.now;
    const report = onError('webhook delivery purge not enqueued');
    const enqueue = () => {
      const hour = Math.floor(now() / HOUR_MS);
      this.deps.queue.enqueue(WEBHOOK_DELIVERIES_PURGE_JOB, {}, { jobId: `webhook_deliveries_purge_${hour}`, maxAttempts: 3 }).catch(report);
    };
    enqueue();
    const timer = setInterval(enqueue, HOUR_MS / 4);
    timer.unref();
    const reportSweep = onError('webhook sweep not enqueued');
    const sweeper = setInterval(() => {
      const slot = Math.floor(now() / SWEEP_INTERVAL_MS);
      this.deps.queue.enqueue(WEBHOOK_SWEEP_JOB, {}, { jobId: `webhooks_sweep_${slot}`, maxAttempts: 1 }).catch(reportSweep);
    }, SWEEP_INTERVAL_MS);
    sweeper.unref();
    return {
      stop: () => {
        clearInterval(timer);
        clearInterval(sweeper);
      },
      // After the queue has drained: no batch is sending any more.
      close: () => this.sender.close(),
    };
  }

  /** Queues a batch job for every endpoint with attempts overdue and unclaimed; returns how many. */
  private async sweep(): Promise<number> {
    const now = (this.deps.now ?? Date.now)();
    const endpoints = await this.deps.store.webhookDeliveries.dueEndpoints(now - SWEEP_GRACE_MS, now, SWEEP_MAX_ENDPOINTS);
    for (const endpointId of endpoints) {
      await this.deps.queue.enqueue(WEBHOOK_DELIVERY_JOB, { endpointId } satisfies DeliveryBatchJob, { jobId: `whb_${endpointId}_sweep_${now}` });
    }
    return endpoints.length;
  }

  private async purge(): Promise<number> {
    const before = (this.deps.now ?? Date.now)() - this.deps.retentionDays * DAY_MS;
    let deleted = 0;
    for (let batch = 0, last = PURGE_BATCH; last === PURGE_BATCH && batch < PURGE_MAX_BATCHES; batch++) {
      last = await this.deps.store.webhookDeliveries.purge(before, PURGE_BATCH);
      deleted += last;
    }
    return deleted;
  }
}
