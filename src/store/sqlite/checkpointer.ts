import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the worker copies the write-ahead log into the database. */
const CHECKPOINT_INTERVAL_MS = 1_000;
/**
 * The writer still checkpoints by itself once the log holds this many pages (about 80 MB): only
 * if the worker cannot keep up, or is gone.
 */
export const WRITER_CHECKPOINT_PAGES = 20_000;

// CommonJS, evaluated in the worker: its own connection, a passive checkpoint each interval
// (it never blocks the writer; it waits briefly for locks in its own thread), closed when the store closes.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 200');
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy: the next interval tries again */ }
}, workerData.intervalMs);
parentPort.once('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

/**
 * Checkpoints an SQLite database in WAL mode from a worker thread, so that no commit on the
 * writer stalls for a checkpoint (writing the log's pages into the database and syncing it took
 * 10–40 ms, once every thousand pages written: the slowest commits by far).
 */
export function startCheckpointer(file: string): { stop(): Promise<void> } {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, intervalMs: CHECKPOINT_INTERVAL_MS } });
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  // A failing checkpointer leaves checkpoints to the writer; it never takes the server down.
  worker.on('error', () => {});
  return {
    async stop() {
      worker.postMessage('stop');
      await exited;
    },
  };
}
