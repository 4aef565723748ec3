import type { Store } from '../store/port.js';

/**
 * The bytes of documents each workspace stores, as `GET /v1/workspace` shows them: summed in the
 * database at most once per `maxAgeMs` per workspace, so that hot read stays synchronous, and
 * summed afresh after this process stores or deletes a workspace's documents. Another process's
 * changes show within `maxAgeMs`. Quotas are not checked against it: ingestion sums what it wrote
 * inside its own transaction.
 */
export class StorageUsage {
  private readonly known = new Map<string, { bytes: number; at: number }>();

  constructor(private readonly store: Store, private readonly maxAgeMs = 10_000, private readonly now: () => number = Date.now) {}

  /** Stored bytes of the workspace, from memory when recent enough. */
  bytes(workspaceId: string): number | Promise<number> {
    const known = this.known.get(workspaceId);
    if (known && this.now() - known.at < this.maxAgeMs) return known.bytes;
    const at = this.now();
    return this.store.contextDocuments.storedBytes(workspaceId).then((bytes) => {
      this.known.set(workspaceId, { bytes, at });
      return bytes;
    });
  }

  /** The workspace's documents changed: sum them again on the next read. */
  changed(workspaceId: string): void {
    this.known.delete(workspaceId);
  }
}
