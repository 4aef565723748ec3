import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { INDEX_DOCUMENT_JOB } from '../../src/context/ingest.js';
import { call } from '../support/server.js';
import { tempDir } from '../support/services.js';
import { freePort, killAllCli, spawnCli, type CliProcess } from '../support/cli.js';
import { waitFor } from '../support/site.js';

/**
 * Background ingestion survives kill -9: the real CLI accepts a large ingestion (202), dies at
 * once, and the restarted process indexes every document from the durable queue.
 */
describe('background ingestion survives kill -9 and restart', { timeout: 60_000 }, () => {
  let dir: string;
  let base: string;
  let port: number;
  let server: CliProcess | undefined;
  let key: string;

  const start = async (): Promise<CliProcess> => {
    const proc = spawnCli(['serve', '--data', dir, '--port', String(port), '--log-level', 'warn']);
    await proc.waitFor(/listening on (\S+)/);
    return proc;
  };

  beforeAll(async () => {
    dir = tempDir('kairo-context-restart-');
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await killAllCli();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('indexes every accepted document after the crash', async () => {
    server = await start();
    key = (await server.waitFor(/^ {2}live key: (sk_live_\S+)$/m))[1]!;
    expect((await call(base, 'POST', '/v1/context/sources', { key, body: { name: 'archive' } })).status).toBe(201);

    const documents = Array.from({ length: 12 }, (_, d) => ({
      external_id: `volume-${d}`,
      text: Array.from({ length: 1_500 }, (_, i) => `Volume ${d} paragraph ${i} records the harvest of orchard ${i} in detail.`).join('\n\n') + `\n\nVolume ${d} ends with the word vol${d}end.`,
    }));
    const accepted = await call(base, 'POST', '/v1/context/sources/archive/documents', { key, body: { documents } });
    expect(accepted.status).toBe(202);
    expect(accepted.body.data.map((d: any) => d.status)).toEqual(Array(12).fill('queued'));
    await server.kill9();

    // While it is down: every document is there; the indexing it had not finished is still owed.
    const store = await openSqliteStore({ dataDir: dir });
    let pending: number;
    try {
      const sourceId = (await store.contextDocuments.getById(accepted.body.data[0].id))!.sourceId;
      const counts = await store.contextDocuments.countBySource(sourceId);
      expect(counts.documents).toBe(12);
      pending = 12 - counts.byStatus.indexed;
    } finally {
      await store.close();
    }
    // The dead worker's leases would lapse after 30 s; fast-forward that instead of waiting.
    const db = new Database(path.join(dir, 'kairo.sqlite'));
    try {
      const orphaned = db.prepare(`update jobs set lease_until = 0 where state = 'active' and kind = ?`).run(INDEX_DOCUMENT_JOB).changes;
      expect(pending).toBeGreaterThanOrEqual(orphaned);
    } finally {
      db.close();
    }
    expect(pending, 'the kill came after indexing had finished: nothing left to prove').toBeGreaterThan(0);

    server = await start();
    const listed = await waitFor(
      () => call(base, 'GET', '/v1/context/sources/archive/documents?limit=100', { key }),
      (r) => r.body.data.length === 12 && r.body.data.every((d: any) => d.status === 'indexed'),
      30_000,
      200,
    );
    expect(listed.body.data.map((d: any) => d.status)).toEqual(Array(12).fill('indexed'));
    expect(new Set(listed.body.data.map((d: any) => d.version))).toEqual(new Set([1]));
    for (const d of [0, 11]) {
      const q = await call(base, 'POST', '/v1/context/query', { key, body: { query: `vol${d}end`, sources: ['archive'], mode: 'keyword' } });
      expect(q.body.data[0]?.document.external_id).toBe(`volume-${d}`);
    }
    await server.kill9();
  });
});
