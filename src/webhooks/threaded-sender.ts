import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FetchError } from '../net/fetch-types.js';

/** One delivery to sign and post. */
export interface Delivery {
  url: string;
  /** The secrets that sign it (the current one, and the previous one while it overlaps). */
  secrets: string[];
  /** The event id: `webhook-id`. */
  messageId: string;
  /** The signing time (ms): `webhook-timestamp`. */
  at: number;
  body: string;
  timeoutMs: number;
  maxBytes: number;
}

/** What the main thread asks of the sender thread. */
export type SenderRequest = ({ type: 'send'; id: number } & Delivery) | { type: 'abort'; id: number };
/** What the sender thread answers: the receiver's status, the fetch error, or another failure. */
export type SenderReply =
  | { id: number; status: number }
  | { id: number; fetchError: { code: FetchError['code']; message: string; status: number | undefined } }
  | { id: number; error: string };

/** Signs and posts deliveries: the receiver's status, or a FetchError for what is the receiver's fault. */
export interface DeliverySender {
  send(delivery: Delivery, signal: AbortSignal): Promise<{ status: number }>;
  close(): Promise<void>;
}

/**
 * Loads the sender thread's module: the TypeScript source when running from source (tests,
 * benchmarks, through tsx's loader registered in that thread), else the built file.
 */
function bootstrap(): string {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./sender-thread.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
  if (!fromSource) return `import(${JSON.stringify(entry)});`;
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
}

/**
 * Webhook deliveries signed and posted on a thread of their own: the HTTP requests and the
 * HMACs, the most of a delivery's CPU, stay off the event loop that serves the API and runs the
 * agents. Started on the first delivery; a thread that dies fails the deliveries in flight (their
 * batch job runs again) and the next delivery starts another.
 */
export class ThreadedSender implements DeliverySender {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (reply: SenderReply) => void; reject: (error: Error) => void }>();

  constructor(private readonly allowCidrs: readonly string[]) {}

  async send(delivery: Delivery, signal: AbortSignal): Promise<{ status: number }> {
    signal.throwIfAborted();
    const worker = this.started();
    const id = this.nextId++;
    const onAbort = () => worker.postMessage({ type: 'abort', id } satisfies SenderRequest);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const reply = await new Promise<SenderReply>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        worker.postMessage({ type: 'send', id, ...delivery } satisfies SenderRequest);
      });
      if ('status' in reply) return { status: reply.status };
      if ('fetchError' in reply) throw new FetchError(reply.fetchError.code, reply.fetchError.message, reply.fetchError.status);
      signal.throwIfAborted();
      throw new Error(`The webhook sender failed: ${reply.error}`);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(bootstrap(), { eval: true, workerData: { allowCidrs: [...this.allowCidrs] } });
    worker.unref();
    worker.on('message', (reply: SenderReply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      waiting?.resolve(reply);
    });
    const stopped = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, waiting] of this.pending) {
        this.pending.delete(id);
        waiting.reject(error);
      }
    };
    worker.on('error', stopped);
    worker.on('exit', (code) => stopped(new Error(`The webhook sender thread stopped (exit code ${code}).`)));
    this.worker = worker;
    return worker;
  }
}
