import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * How far the writer lets the WAL grow before it checkpoints by itself: only should the
 * background checkpoints fall behind (SQLite's default is 1,000 pages, about 30 agent runs).
 */
export const WRITER_AUTOCHECKPOINT_PAGES = 10_000;
const INTERVAL_MS = 200;

// A script, not a module file: it runs the same from the TypeScript sources and from the build.
const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or failing now: the next tick tries again, and the writer checkpoints past its limit.
  }
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/**
 * Copies the WAL back into the database file on a thread of its own. A checkpoint writes a
 * thousand pages and syncs the file (about 5 ms); left to SQLite it runs inside whichever commit
 * crosses the limit, stalling the event loop and the request that made that commit. A PASSIVE
 * checkpoint waits for no reader or writer, so it never holds up the writer connection.
 */
export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(file: string) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(CHECKPOINTER_SOURCE, { eval: true, workerData: { file, driver, intervalMs: INTERVAL_MS } });
    // A checkpointer that cannot start leaves checkpoints to the writer: nothing is lost.
    this.worker.on('error', () => {});
    this.worker.unref();
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  async close(): Promise<void> {
    // Unreferenced, the thread would let a process that only waits for it exit before it closed.
    this.worker.ref();
    this.worker.postMessage('close');
    await this.exited;
  }
}
