import fs from 'node:fs';
import { loadConfig, type ConfigFlags } from '../../src/config.js';
import { startKairo, type Kairo } from '../../src/main.js';
import { createWorkspace } from '../../src/platform/workspaces.js';
import { createApiKey } from '../../src/platform/api-keys.js';
import type { PlanName } from '../../src/store/port.js';
import { dropPostgresSchema } from '../../src/store/postgres/postgres-store.js';
import { postgresUrl, redisUrl, tempDir, uniqueName } from './services.js';

/** A workspace made for a test, with one key of each mode. */
export interface TestWorkspace {
  id: string;
  liveKey: string;
  testKey: string;
}

export interface TestServer {
  url: string;
  kairo: Kairo;
  /** The PostgreSQL schema (undefined on SQLite). */
  schema: string | undefined;
  /** Creates a workspace on the given plan with a live and a test key. */
  workspace(plan?: PlanName): Promise<TestWorkspace>;
  close(): Promise<void>;
}

/** The server configurations HTTP suites run against. */
export type Backend = 'sqlite' | 'postgres+redis';
export const backends: Backend[] = ['sqlite', 'postgres+redis'];

/** Options of startTestServer beyond the config flags. */
export interface TestServerOptions {
  /**
   * PostgreSQL: use this existing schema (e.g. another test server's, to run two processes on
   * one database, as in cluster mode) instead of a fresh one; close() then leaves it in place.
   */
  schema?: string;
}

/** Starts a real KAIRO server on a free loopback port with a fresh database. */
export async function startTestServer(backend: Backend = 'sqlite', flags: ConfigFlags = {}, options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = tempDir();
  const schema = backend === 'sqlite' ? undefined : (options.schema ?? uniqueName('kairo_http'));
  const ownsSchema = schema !== undefined && options.schema === undefined;
  const config = loadConfig(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir,
      logLevel: 'silent',
      // Test servers share their process (and its event loop) with each other and with the tests'
      // own heavy set-up, so load shedding would measure everyone at once: it is off unless asked for.
      maxEventLoopDelayMs: 0,
      maxHeapUsedBytes: 0,
      ...(schema ? { databaseUrl: postgresUrl, databaseSchema: schema, redisUrl, redisPrefix: schema } : {}),
      ...flags,
    },
    {},
  );
  const kairo = await startKairo(config);
  return {
    url: kairo.url,
    kairo,
    schema,
    async workspace(plan: PlanName = 'free') {
      const ws = await createWorkspace(kairo.store, { name: uniqueName('ws'), plan });
      const live = await createApiKey(kairo.store, { workspaceId: ws.id, livemode: true });
      const test = await createApiKey(kairo.store, { workspaceId: ws.id, livemode: false });
      return { id: ws.id, liveKey: live.secret, testKey: test.secret };
    },
    async close() {
      await kairo.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (ownsSchema && schema) await dropPostgresSchema(postgresUrl, schema);
    },
  };
}

/** A parsed response. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** Sends one request over real HTTP. `body` objects are sent as JSON; strings as they are. */
export async function call(
  baseUrl: string,
  method: string,
  path: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(baseUrl + path, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}
