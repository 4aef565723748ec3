/**
 * The safe fetcher against a server on 127.0.0.1. These tests connect nowhere else: blocked IP
 * literals are refused before any connection, the only host name used is `localhost`, and where
 * resolution matters a substitute resolver answers without touching DNS. The server counts
 * connections so a refusal can be shown to have connected to nothing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FetchError } from '../../src/context/ports.js';
import { createAddressPolicy } from '../../src/net/address-policy.js';
import { createSafeFetcher, type ClosableSafeFetcher, type SafeFetcherOptions } from '../../src/net/safe-fetch.js';

let server: http.Server;
let port: number;
let base: string;
let connections = 0;
const seen: Array<{ path: string; method: string; headers: http.IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({ path: url.pathname, method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      route(url, req, res);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const fetchers: ClosableSafeFetcher[] = [];
function fetcher(options: Partial<SafeFetcherOptions> = {}): ClosableSafeFetcher {
  const created = createSafeFetcher({ allowCidrs: [], ...options });
  fetchers.push(created);
  return created;
}
const loopback = (options: Partial<SafeFetcherOptions> = {}): ClosableSafeFetcher => fetcher({ allowCidrs: ['127.0.0.0/8'], ...options });

afterEach(async () => {
  await Promise.all(fetchers.splice(0).map((f) => f.close()));
  seen.length = 0;
});

function route(url: URL, req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = url.pathname;
  if (path === '/ok') {
    res.writeHead(200, { 'Content-Type': 'text/plain', ETag: '"v1"', 'Last-Modified': 'Wed, 01 Jan 2025 00:00:00 GMT', 'X-Multi': ['a', 'b'] });
    res.end('hello');
  } else if (path === '/conditional') {
    if (req.headers['if-none-match'] === '"v1"' || req.headers['if-modified-since'] === 'Wed, 01 Jan 2025 00:00:00 GMT') {
      res.writeHead(304, { ETag: '"v1"' });
      res.end();
    } else {
      res.writeHead(200, { ETag: '"v1"' });
      res.end('fresh');
    }
  } else if (path === '/echo') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ method: req.method, headers: req.headers }));
  } else if (path.startsWith('/hops/')) {
    const left = Number(path.slice('/hops/'.length));
    res.writeHead(302, { Location: left > 0 ? `/hops/${left - 1}` : '/ok' });
    res.end();
  } else if (path === '/loop') {
    res.writeHead(301, { Location: '/loop' });
    res.end();
  } else if (path === '/redirect') {
    res.writeHead(Number(url.searchParams.get('status') ?? 302), { Location: url.searchParams.get('to')! });
    res.end();
  } else if (path === '/big-declared') {
    res.writeHead(200, { 'Content-Length': '5000' });
    res.end('x'.repeat(5000));
  } else if (path === '/big-chunked') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    let sent = 0;
    const more = (): void => {
      if (sent >= 50 || res.destroyed) {
        res.end();
        return;
      }
      sent++;
      res.write('y'.repeat(100));
      setTimeout(more, 1);
    };
    more();
  } else if (path === '/slow-headers') {
    setTimeout(() => {
      if (!res.destroyed) res.end('late');
    }, 3000).unref();
  } else if (path === '/slow-body') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('start');
    setTimeout(() => {
      if (!res.destroyed) res.end('end');
    }, 3000).unref();
  } else if (path.startsWith('/status/')) {
    res.writeHead(Number(path.slice('/status/'.length)));
    res.end('nope');
  } else {
    res.writeHead(404);
    res.end();
  }
}

async function fetchError(promise: Promise<unknown>): Promise<FetchError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(FetchError);
    return error as FetchError;
  }
  throw new Error('expected a FetchError');
}

describe('address policy', () => {
  it('allows public unicast and refuses special ranges', () => {
    const policy = createAddressPolicy([]);
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '2a00:1450:4001::200e']) {
      expect(policy.allows(address), address).toBe(true);
    }
    for (const address of [
      '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '127.0.0.1', '127.255.0.9', '169.254.169.254',
      '0.0.0.0', '100.64.0.1', '224.0.0.1', '239.255.255.250', '255.255.255.255', '192.0.2.1', '240.0.0.1',
      '::', '::1', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1',
      '::ffff:169.254.169.254', '64:ff9b::a00:1', '2002:a00:1::', 'not-an-ip',
    ]) {
      expect(policy.allows(address), address).toBe(false);
    }
  });

  it('opens the allowed CIDRs, IPv4-mapped forms included', () => {
    const policy = createAddressPolicy(['127.0.0.0/8', '10.1.0.0/16', 'fd00::/8']);
    expect(policy.allows('127.0.0.1')).toBe(true);
    expect(policy.allows('::ffff:127.0.0.1')).toBe(true);
    expect(policy.allows('10.1.2.3')).toBe(true);
    expect(policy.allows('10.2.0.1')).toBe(false);
    expect(policy.allows('fd00::5')).toBe(true);
    expect(policy.allows('::1')).toBe(false);
    expect(() => createAddressPolicy(['nope/8'])).toThrow(TypeError);
  });
});

describe('safe fetcher', () => {
  it('refuses loopback by default without connecting, by IP or by name', async () => {
    const before = connections;
    const safe = fetcher();
    expect((await fetchError(safe.fetch(`${base}/ok`))).code).toBe('address_blocked');
    expect((await fetchError(safe.fetch(`http://localhost:${port}/ok`))).code).toBe('address_blocked');
    expect(connections).toBe(before);
  });

  it('refuses private, link-local, unspecified and mapped literals before any connection', async () => {
    const before = connections;
    const safe = loopback();
    for (const url of [
      'http://[::1]/',
      `http://[::1]:${port}/ok`,
      'http://0.0.0.0/',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      'http://192.168.0.1/',
      'http://172.16.0.1/',
      'http://100.64.0.1/',
      'http://224.0.0.1/',
      'http://255.255.255.255/',
      'http://[fe80::1]/',
      'http://[fc00::1]/',
      'http://[::ffff:10.0.0.1]/',
      'http://[::ffff:169.254.169.254]/',
      'http://0xa9.0xfe.0xa9.0xfe/', // the URL parser normalises this to 169.254.169.254
      'https://10.0.0.1/',
    ]) {
      const error = await fetchError(safe.fetch(url));
      expect(error.code, url).toBe('address_blocked');
    }
    expect(connections).toBe(before);
  });

  it('refuses non-http schemes, credentials in the URL and garbage as invalid_url', async () => {
    const safe = loopback();
    for (const url of ['file:///etc/passwd', 'ftp://127.0.0.1/', 'gopher://127.0.0.1/', 'data:text/plain,hi', 'not a url', `http://user:pass@127.0.0.1:${port}/ok`]) {
      expect((await fetchError(safe.fetch(url))).code, url).toBe('invalid_url');
    }
  });

  it('fetches from an allowed CIDR, with lowercase headers', async () => {
    const result = await loopback().fetch(`${base}/ok`);
    expect(result.status).toBe(200);
    expect(result.url).toBe(`${base}/ok`);
    expect(result.body.toString()).toBe('hello');
    expect(result.notModified).toBe(false);
    expect(result.headers['content-type']).toBe('text/plain');
    expect(result.headers.etag).toBe('"v1"');
    expect(result.headers['x-multi']).toBe('a, b');
    for (const name of Object.keys(result.headers)) expect(name).toBe(name.toLowerCase());
  });

  it('resolves localhost and connects only to the permitted addresses', async () => {
    const result = await loopback().fetch(`http://localhost:${port}/ok`);
    expect(result.body.toString()).toBe('hello');
  });

  it('checks the addresses a name resolves to (substitute resolver, no DNS)', async () => {
    const before = connections;
    const onlyPrivate = loopback({ resolve: async () => [{ address: '10.0.0.1', family: 4 }] });
    expect((await fetchError(onlyPrivate.fetch(`http://localhost:${port}/ok`))).code).toBe('address_blocked');
    const metadata = loopback({ resolve: async () => [{ address: '169.254.169.254', family: 4 }] });
    expect((await fetchError(metadata.fetch(`http://localhost:${port}/ok`))).code).toBe('address_blocked');
    expect(connections).toBe(before);

    // A name with a blocked and an allowed address connects to the allowed one only.
    const mixed = loopback({
      resolve: async () => [
        { address: '10.0.0.1', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
    });
    expect((await mixed.fetch(`http://localhost:${port}/ok`)).body.toString()).toBe('hello');
  });

  it('sends a user agent and the caller headers', async () => {
    const result = await loopback({ userAgent: 'kairo-test/1' }).fetch(`${base}/echo`, { headers: { 'X-Custom': 'yes' } });
    const echoed = JSON.parse(result.body.toString()) as { headers: Record<string, string> };
    expect(echoed.headers['user-agent']).toBe('kairo-test/1');
    expect(echoed.headers['x-custom']).toBe('yes');
    const defaults = await loopback().fetch(`${base}/echo`);
    expect((JSON.parse(defaults.body.toString()) as { headers: Record<string, string> }).headers['user-agent']).toMatch(/^KAIRO\//);
  });

  it('follows redirects and reports the final URL', async () => {
    const result = await loopback().fetch(`${base}/hops/3`);
    expect(result.status).toBe(200);
    expect(result.url).toBe(`${base}/ok`);
    expect(seen.map((request) => request.path)).toEqual(['/hops/3', '/hops/2', '/hops/1', '/hops/0', '/ok']);
  });

  it('re-checks every redirect hop: a redirect to a blocked address is refused before connecting', async () => {
    const safe = loopback();
    for (const to of ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/', `http://[::1]:${port}/ok`, 'file:///etc/passwd']) {
      const before = connections;
      const error = await fetchError(safe.fetch(`${base}/redirect?to=${encodeURIComponent(to)}`));
      expect(error.code, to).toBe(to.startsWith('file:') ? 'invalid_url' : 'address_blocked');
      // At most the pooled connection to the allowed server; nothing new for the blocked hop.
      expect(connections - before).toBeLessThanOrEqual(1);
    }
    // Allowed only 127.0.0.1/32: a hop to localhost resolving to a blocked address fails too.
    const narrow = fetcher({ allowCidrs: ['127.0.0.1/32'], resolve: async () => [{ address: '127.0.0.2', family: 4 }] });
    const error = await fetchError(narrow.fetch(`${base}/redirect?to=${encodeURIComponent(`http://localhost:${port}/ok`)}`));
    expect(error.code).toBe('address_blocked');
  });

  it('stops a redirect loop with too_many_redirects', async () => {
    const error = await fetchError(loopback().fetch(`${base}/loop`));
    expect(error.code).toBe('too_many_redirects');
    expect(seen).toHaveLength(6); // the first request and five redirects followed
    expect((await fetchError(loopback({ maxRedirects: 2 }).fetch(`${base}/hops/3`))).code).toBe('too_many_redirects');
    expect((await loopback({ maxRedirects: 4 }).fetch(`${base}/hops/3`)).status).toBe(200);
  });

  it('drops Authorization and Cookie on a cross-origin redirect, keeps them on the same origin', async () => {
    const headers = { Authorization: 'Bearer secret', Cookie: 'a=b' };
    const same = await loopback().fetch(`${base}/redirect?to=/echo`, { headers });
    const sameHeaders = (JSON.parse(same.body.toString()) as { headers: Record<string, string> }).headers;
    expect(sameHeaders.authorization).toBe('Bearer secret');
    expect(sameHeaders.cookie).toBe('a=b');

    const other = `http://localhost:${port}/echo`; // another origin, same server
    const cross = await loopback().fetch(`${base}/redirect?to=${encodeURIComponent(other)}`, { headers });
    expect(cross.url).toBe(other);
    const crossHeaders = (JSON.parse(cross.body.toString()) as { headers: Record<string, string> }).headers;
    expect(crossHeaders.authorization).toBeUndefined();
    expect(crossHeaders.cookie).toBeUndefined();
  });

  it('turns a POST into a GET without body on 303, and keeps it on 307', async () => {
    const see = await loopback().fetch(`${base}/redirect?status=303&to=/echo`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    expect((JSON.parse(see.body.toString()) as { method: string }).method).toBe('GET');
    expect(seen.at(-1)!.body).toBe('');
    seen.length = 0;
    const keep = await loopback().fetch(`${base}/redirect?status=307&to=/echo`, { method: 'POST', body: '{"a":1}' });
    expect((JSON.parse(keep.body.toString()) as { method: string }).method).toBe('POST');
    expect(seen.at(-1)!.body).toBe('{"a":1}');
  });

  it('sends conditional headers and reports 304 as notModified', async () => {
    const safe = loopback();
    const byEtag = await safe.fetch(`${base}/conditional`, { etag: '"v1"' });
    expect(byEtag).toMatchObject({ status: 304, notModified: true });
    expect(byEtag.body.length).toBe(0);
    expect(seen.at(-1)!.headers['if-none-match']).toBe('"v1"');

    const byDate = await safe.fetch(`${base}/conditional`, { lastModified: 'Wed, 01 Jan 2025 00:00:00 GMT' });
    expect(byDate.notModified).toBe(true);
    expect(seen.at(-1)!.headers['if-modified-since']).toBe('Wed, 01 Jan 2025 00:00:00 GMT');

    const fresh = await safe.fetch(`${base}/conditional`, { etag: '"v0"' });
    expect(fresh).toMatchObject({ status: 200, notModified: false });
    expect(fresh.body.toString()).toBe('fresh');
    await safe.fetch(`${base}/conditional`, { etag: null, lastModified: null });
    expect(seen.at(-1)!.headers['if-none-match']).toBeUndefined();
  });

  it('caps the body size: declared Content-Length and streamed bodies', async () => {
    const safe = loopback();
    expect((await fetchError(safe.fetch(`${base}/big-declared`, { maxBytes: 1000 }))).code).toBe('too_large');
    expect((await fetchError(safe.fetch(`${base}/big-chunked`, { maxBytes: 1000 }))).code).toBe('too_large');
    expect((await loopback({ defaultMaxBytes: 1000 }).fetch(`${base}/ok`)).body.toString()).toBe('hello');
    expect((await fetchError(loopback({ defaultMaxBytes: 1000 }).fetch(`${base}/big-chunked`))).code).toBe('too_large');
    expect((await safe.fetch(`${base}/big-declared`, { maxBytes: 5000 })).body.length).toBe(5000);
  });

  it('times out slow headers and slow bodies', async () => {
    const safe = loopback();
    const started = Date.now();
    expect((await fetchError(safe.fetch(`${base}/slow-headers`, { timeoutMs: 150 }))).code).toBe('timeout');
    expect((await fetchError(safe.fetch(`${base}/slow-body`, { timeoutMs: 150 }))).code).toBe('timeout');
    expect((await fetchError(loopback({ defaultTimeoutMs: 150 }).fetch(`${base}/slow-headers`))).code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('reports non-2xx statuses as bad_status with the status', async () => {
    const safe = loopback();
    for (const status of [404, 500, 401]) {
      const error = await fetchError(safe.fetch(`${base}/status/${status}`));
      expect(error.code).toBe('bad_status');
      expect(error.status).toBe(status);
    }
  });

  it("rethrows the caller's abort reason", async () => {
    const controller = new AbortController();
    const reason = new Error('cancelled by caller');
    setTimeout(() => controller.abort(reason), 50);
    await expect(loopback().fetch(`${base}/slow-headers`, { signal: controller.signal })).rejects.toBe(reason);
  });

  it('reports a refused connection as network_error', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect((await fetchError(loopback().fetch(`http://127.0.0.1:${deadPort}/`))).code).toBe('network_error');
  });
});
