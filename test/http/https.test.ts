import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startKairo } from '../../src/main.js';
import { hashSecret } from '../../src/platform/api-key-secret.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { call, startTestServer, type TestServer, type TestWorkspace } from '../support/server.js';
import { tempDir } from '../support/services.js';
import { makeSelfSignedCert, rawRequest, type TestCert } from '../support/tls.js';

let certDir: string;
let cert: TestCert;

beforeAll(() => {
  certDir = tempDir('kairo-tls-');
  cert = makeSelfSignedCert(certDir);
});

afterAll(() => {
  fs.rmSync(certDir, { recursive: true, force: true });
});

/** The same address over plain HTTP (the TLS port answers both). */
function plain(url: string): string {
  return url.replace(/^https:/, 'http:');
}

function expectHttpsRequired(response: { status: number; headers: Record<string, unknown>; body: any }): void {
  expect(response.status).toBe(403);
  expect(response.headers.location).toBeUndefined();
  expect(String(response.headers['content-type'])).toMatch(/^application\/json/);
  expect(response.body).toEqual({
    error: { type: 'permission_error', code: 'https_required', message: expect.any(String), request_id: expect.stringMatching(/^req_/) },
  });
  expect(response.body.error.message).toMatch(/HTTPS/);
  expect(response.headers['x-request-id']).toBe(response.body.error.request_id);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('HTTPS listener (--tls-cert/--tls-key)', () => {
  let server: TestServer;
  let ws: TestWorkspace;

  beforeAll(async () => {
    server = await startTestServer('sqlite', { tlsCert: cert.certFile, tlsKey: cert.keyFile });
    ws = await server.workspace();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('serves HTTPS on the port it prints', () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.kairo.port).toBeGreaterThan(0);
  });

  it('answers GET /v1/status over HTTPS with 200 JSON', async () => {
    const response = await rawRequest(`${server.url}/v1/status`, { ca: cert.cert, agent: false });
    expect(response.status).toBe(200);
    expect(String(response.headers['content-type'])).toMatch(/^application\/json/);
    expect(response.body).toMatchObject({ object: 'status', checks: { database: { status: 'ok' } } });
    expect(response.headers['x-request-id']).toMatch(/^req_/);
  });

  it('serves authenticated routes over HTTPS', async () => {
    const response = await rawRequest(`${server.url}/v1/workspace`, {
      ca: cert.cert, agent: false, headers: { authorization: `Bearer ${ws.testKey}` },
    });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ object: 'workspace', id: ws.id, livemode: false });

    const missing = await rawRequest(`${server.url}/v1/workspace`, { ca: cert.cert, agent: false });
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('missing_api_key');
  });

  it('refuses a certificate it was not told to trust (real TLS, not a fallback)', async () => {
    await expect(rawRequest(`${server.url}/v1/status`, { agent: false })).rejects.toThrow(/self[- ]signed|certificate/i);
  });

  it('answers plain HTTP on the same port with 403 https_required and no redirect', async () => {
    for (const route of ['/v1/status', '/v1/workspace', '/no/such/route']) {
      const response = await rawRequest(`${plain(server.url)}${route}`, { agent: false });
      expectHttpsRequired(response);
    }
    // Each refusal has its own request id.
    const a = await rawRequest(`${plain(server.url)}/v1/status`, { agent: false });
    const b = await rawRequest(`${plain(server.url)}/v1/status`, { agent: false });
    expect(a.body.error.request_id).not.toBe(b.body.error.request_id);
  });

  it('refuses plain HTTP with an Authorization header without processing the key', async () => {
    const fresh = await server.workspace();
    const get = await rawRequest(`${plain(server.url)}/v1/workspace`, {
      agent: false, headers: { authorization: `Bearer ${fresh.testKey}` },
    });
    expectHttpsRequired(get);

    const post = await rawRequest(`${plain(server.url)}/v1/api_keys`, {
      method: 'POST', agent: false, headers: { authorization: `Bearer ${fresh.testKey}`, 'idempotency-key': 'plain-1' }, body: { name: 'leaked' },
    });
    expectHttpsRequired(post);

    // A bad key is not even looked at: still 403, never 401.
    const bad = await rawRequest(`${plain(server.url)}/v1/workspace`, {
      agent: false, headers: { authorization: 'Bearer sk_test_not_a_real_key' },
    });
    expectHttpsRequired(bad);

    await sleep(100);
    // The key was never used: no last-use time recorded, and the POST created nothing.
    const found = await server.kairo.store.apiKeys.findBySecretHash(hashSecret(fresh.testKey));
    expect(found?.key.lastUsedAt).toBeNull();
    const list = await rawRequest(`${server.url}/v1/api_keys`, {
      ca: cert.cert, agent: false, headers: { authorization: `Bearer ${fresh.testKey}` },
    });
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0].name).not.toBe('leaked');
  });

  it('keeps a TLS connection alive across requests', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: cert.cert });
    try {
      const first = await rawRequest(`${server.url}/v1/status`, { agent });
      const second = await rawRequest(`${server.url}/v1/workspace`, { agent, headers: { authorization: `Bearer ${ws.liveKey}` } });
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect(second.body.livemode).toBe(true);
      // Both went over the same socket.
      expect(first.localPort).toBeDefined();
      expect(second.localPort).toBe(first.localPort);
    } finally {
      agent.destroy();
    }
  });

  it('still serves HTTPS after refusing plain HTTP', async () => {
    await rawRequest(`${plain(server.url)}/v1/status`, { agent: false });
    const response = await rawRequest(`${server.url}/v1/status`, { ca: cert.cert, agent: false });
    expect(response.status).toBe(200);
  });
});

describe('HTTPS graceful shutdown', () => {
  it('close() resolves promptly while an idle keep-alive HTTPS connection is open', async () => {
    const server = await startTestServer('sqlite', { tlsCert: cert.certFile, tlsKey: cert.keyFile });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: cert.cert });
    try {
      const response = await rawRequest(`${server.url}/v1/status`, { agent });
      expect(response.status).toBe(200);
      const sockets = Object.values(agent.freeSockets).flat();
      expect(sockets).toHaveLength(1);
      const socketClosed = new Promise<void>((resolve) => sockets[0]!.once('close', () => resolve()));

      const started = Date.now();
      await server.close();
      expect(Date.now() - started).toBeLessThan(3_000);
      await socketClosed;
    } finally {
      agent.destroy();
    }
  });

  it('close() resolves promptly while a connection that sent nothing yet is open', async () => {
    const server = await startTestServer('sqlite', { tlsCert: cert.certFile, tlsKey: cert.keyFile });
    const socket = net.connect(server.kairo.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.on('error', () => {});
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    try {
      await sleep(50);
      const started = Date.now();
      await server.close();
      expect(Date.now() - started).toBeLessThan(3_000);
      await socketClosed;
    } finally {
      socket.destroy();
    }
  });

  it('close() ends a TLS handshake that stalled, by the shutdown timeout', async () => {
    const server = await startTestServer('sqlite', { tlsCert: cert.certFile, tlsKey: cert.keyFile, shutdownTimeoutMs: 500 });
    const socket = net.connect(server.kairo.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.on('error', () => {});
    const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    try {
      // The first byte of a TLS record, then nothing: the connection is handed to the TLS server
      // but never completes its handshake.
      socket.write(Buffer.from([0x16]));
      await sleep(100);
      const started = Date.now();
      await server.close();
      expect(Date.now() - started).toBeLessThan(3_000);
      await socketClosed;
    } finally {
      socket.destroy();
    }
  });

  it('refuses new connections after close()', async () => {
    const server = await startTestServer('sqlite', { tlsCert: cert.certFile, tlsKey: cert.keyFile });
    const url = server.url;
    await server.close();
    await expect(rawRequest(`${url}/v1/status`, { ca: cert.cert, agent: false })).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('behind a TLS-terminating proxy (--trust-proxy)', () => {
  let server: TestServer;
  let ws: TestWorkspace;

  beforeAll(async () => {
    server = await startTestServer('sqlite', { trustProxy: true });
    ws = await server.workspace();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('serves plain HTTP on loopback', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a request without X-Forwarded-Proto', async () => {
    const response = await call(server.url, 'GET', '/v1/status');
    expectHttpsRequired({ status: response.status, headers: Object.fromEntries(response.headers), body: response.body });
  });

  it('refuses X-Forwarded-Proto: http', async () => {
    const response = await call(server.url, 'GET', '/v1/status', { headers: { 'x-forwarded-proto': 'http' } });
    expectHttpsRequired({ status: response.status, headers: Object.fromEntries(response.headers), body: response.body });
  });

  it('refuses before authentication: a key sent over http gets 403, not 401 and not 200', async () => {
    for (const key of [ws.testKey, 'sk_test_not_a_real_key']) {
      const response = await call(server.url, 'GET', '/v1/workspace', { key, headers: { 'x-forwarded-proto': 'http' } });
      expectHttpsRequired({ status: response.status, headers: Object.fromEntries(response.headers), body: response.body });
    }
    const post = await call(server.url, 'POST', '/v1/api_keys', { key: ws.testKey, body: { name: 'leaked' } });
    expectHttpsRequired({ status: post.status, headers: Object.fromEntries(post.headers), body: post.body });
  });

  it('serves X-Forwarded-Proto: https', async () => {
    const headers = { 'x-forwarded-proto': 'https' };
    const status = await call(server.url, 'GET', '/v1/status', { headers });
    expect(status.status).toBe(200);
    expect(status.body.object).toBe('status');

    const workspace = await call(server.url, 'GET', '/v1/workspace', { key: ws.testKey, headers });
    expect(workspace.status).toBe(200);
    expect(workspace.body).toMatchObject({ object: 'workspace', id: ws.id, livemode: false });

    const created = await call(server.url, 'POST', '/v1/api_keys', { key: ws.testKey, headers, body: { name: 'via proxy' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: 'api_key', name: 'via proxy', livemode: false });

    const list = await call(server.url, 'GET', '/v1/api_keys', { key: ws.testKey, headers });
    expect(list.status).toBe(200);
    expect(list.body.data.map((k: { name: string }) => k.name)).not.toContain('leaked');
  });
});

/** No API key exists in the database under `dataDir` (so the next good start will bootstrap and print them). */
async function expectNoKeys(dataDir: string): Promise<void> {
  const store = await openSqliteStore({ dataDir });
  try {
    const keys = await store.apiKeys.listAll({ limit: 10 });
    expect(keys.data).toEqual([]);
  } finally {
    await store.close();
  }
}

describe('transport policy at start', () => {
  const dirs: string[] = [];
  function dir(): string {
    const d = tempDir();
    dirs.push(d);
    return d;
  }

  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('refuses plain HTTP on a non-loopback bind, before touching the data dir', async () => {
    const dataDir = path.join(dir(), 'data');
    const config = loadConfig({ host: '0.0.0.0', port: 0, dataDir, logLevel: 'silent' }, {});
    const error = await startKairo(config).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/plain HTTP/);
    expect((error as Error).message).toMatch(/--tls-cert/);
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it('refuses plain HTTP on other non-loopback addresses too', async () => {
    for (const host of ['::', '192.0.2.1', 'example.com']) {
      const config = loadConfig({ host, port: 0, dataDir: dir(), logLevel: 'silent' }, {});
      await expect(startKairo(config)).rejects.toThrow(ConfigError);
    }
  });

  it('starts on 0.0.0.0 with TLS files, serving HTTPS and refusing plain HTTP', async () => {
    const config = loadConfig(
      { host: '0.0.0.0', port: 0, dataDir: dir(), logLevel: 'silent', tlsCert: cert.certFile, tlsKey: cert.keyFile },
      {},
    );
    const kairo = await startKairo(config);
    try {
      expect(kairo.url).toBe(`https://0.0.0.0:${kairo.port}`);
      const response = await rawRequest(`https://127.0.0.1:${kairo.port}/v1/status`, { ca: cert.cert, agent: false });
      expect(response.status).toBe(200);
      const refused = await rawRequest(`http://127.0.0.1:${kairo.port}/v1/status`, { agent: false });
      expectHttpsRequired(refused);
    } finally {
      await kairo.close();
    }
  });

  it('starts on 0.0.0.0 in plain HTTP with --trust-proxy', async () => {
    const config = loadConfig({ host: '0.0.0.0', port: 0, dataDir: dir(), logLevel: 'silent', trustProxy: true }, {});
    const kairo = await startKairo(config);
    try {
      const response = await call(`http://127.0.0.1:${kairo.port}`, 'GET', '/v1/status', { headers: { 'x-forwarded-proto': 'https' } });
      expect(response.status).toBe(200);
    } finally {
      await kairo.close();
    }
  });

  it('loadConfig refuses --tls-cert without --tls-key and the reverse, naming the missing setting', () => {
    expect(() => loadConfig({ tlsCert: cert.certFile }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ tlsCert: cert.certFile }, {})).toThrow(/--tls-key/);
    expect(() => loadConfig({ tlsKey: cert.keyFile }, {})).toThrow(/--tls-cert/);
    expect(() => loadConfig({}, { KAIRO_TLS_CERT: cert.certFile })).toThrow(/KAIRO_TLS_KEY/);
  });

  it('loadConfig refuses an invalid port', () => {
    for (const port of ['99999', '-1', 'abc', '80.5', 65536]) {
      expect(() => loadConfig({ port }, {})).toThrow(ConfigError);
      expect(() => loadConfig({ port }, {})).toThrow(/--port/);
    }
    expect(() => loadConfig({}, { KAIRO_PORT: 'http' })).toThrow(/KAIRO_PORT/);
  });

  it('an unreadable certificate file is a ConfigError on start, and loses no bootstrap keys', async () => {
    const dataDir = dir();
    const missing = path.join(certDir, 'no-such-cert.pem');
    const config = loadConfig({ port: 0, dataDir, logLevel: 'silent', tlsCert: missing, tlsKey: cert.keyFile }, {});
    const error = await startKairo(config).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(missing);

    const badKey = loadConfig({ port: 0, dataDir, logLevel: 'silent', tlsCert: cert.certFile, tlsKey: path.join(certDir, 'nope.pem') }, {});
    await expect(startKairo(badKey)).rejects.toThrow(ConfigError);
    // Refused before the data dir was touched.
    expect(fs.readdirSync(dataDir)).toEqual([]);

    // The failed starts created no keys the operator never saw: a good start still bootstraps.
    const kairo = await startKairo(loadConfig({ port: 0, dataDir, logLevel: 'silent', tlsCert: cert.certFile, tlsKey: cert.keyFile }, {}));
    try {
      expect(kairo.bootstrap).toBeDefined();
      const response = await rawRequest(`${kairo.url}/v1/workspace`, {
        ca: cert.cert, agent: false, headers: { authorization: `Bearer ${kairo.bootstrap!.testSecret}` },
      });
      expect(response.status).toBe(200);
    } finally {
      await kairo.close();
    }
  });

  it('a certificate file that is not PEM fails the start, and loses no bootstrap keys', async () => {
    const dataDir = dir();
    const garbage = path.join(certDir, 'garbage.pem');
    fs.writeFileSync(garbage, 'not a certificate\n');
    const config = loadConfig({ port: 0, dataDir, logLevel: 'silent', tlsCert: garbage, tlsKey: cert.keyFile }, {});
    await expect(startKairo(config)).rejects.toThrow();
    await expectNoKeys(dataDir);
  });

  it('a port already in use fails the start, and loses no bootstrap keys', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      for (const tls of [{}, { tlsCert: cert.certFile, tlsKey: cert.keyFile }]) {
        const dataDir = dir();
        const config = loadConfig({ host: '127.0.0.1', port, dataDir, logLevel: 'silent', ...tls }, {});
        await expect(startKairo(config)).rejects.toThrow(/EADDRINUSE/);
        await expectNoKeys(dataDir);
      }
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
