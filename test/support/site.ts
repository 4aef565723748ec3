import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One page of a test site. */
export interface SitePage {
  body?: string | Buffer;
  type?: string;
  /** Sent as ETag; a request with a matching If-None-Match gets 304. */
  etag?: string;
  /** Sent as Last-Modified; a request with this exact If-Modified-Since gets 304. */
  lastModified?: string;
  /** Wait this long before answering (to hold a fetch open). */
  delayMs?: number;
  /** Answer a redirect to this location (302) instead of a body. */
  redirect?: string;
}

export interface SiteRequest {
  path: string;
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
  authorization: string | undefined;
  status: number;
}

/** A loopback web site for url and http sources: pages set by the test, every request logged. */
export interface TestSite {
  url: string;
  log: SiteRequest[];
  /** Requests of a path being answered at once, at most, since the site started. */
  maxConcurrent(path: string): number;
  set(path: string, page: SitePage): void;
  /** Requests of one path. */
  hits(path: string): SiteRequest[];
  close(): Promise<void>;
}

export async function startSite(): Promise<TestSite> {
  const pages = new Map<string, SitePage>();
  const log: SiteRequest[] = [];
  const inFlight = new Map<string, number>();
  const peak = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const page = pages.get(path);
    const ifNoneMatch = req.headers['if-none-match'];
    const ifModifiedSince = req.headers['if-modified-since'];
    let status = 404;
    if (page?.redirect) status = 302;
    else if (page && page.etag !== undefined && ifNoneMatch === page.etag) status = 304;
    else if (page && page.etag === undefined && page.lastModified !== undefined && ifModifiedSince === page.lastModified) status = 304;
    else if (page) status = 200;
    log.push({ path, ifNoneMatch, ifModifiedSince, authorization: req.headers.authorization, status });
    const now = (inFlight.get(path) ?? 0) + 1;
    inFlight.set(path, now);
    peak.set(path, Math.max(peak.get(path) ?? 0, now));
    const answer = () => {
      inFlight.set(path, (inFlight.get(path) ?? 1) - 1);
      if (status === 302) {
        res.writeHead(302, { location: page!.redirect! });
        res.end();
      } else if (status === 200) {
        res.writeHead(200, {
          'content-type': page!.type ?? 'text/html',
          ...(page!.etag !== undefined ? { etag: page!.etag } : {}),
          ...(page!.lastModified !== undefined ? { 'last-modified': page!.lastModified } : {}),
        });
        res.end(page!.body ?? '');
      } else {
        res.writeHead(status);
        res.end();
      }
    };
    if (page?.delayMs) setTimeout(answer, page.delayMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    log,
    maxConcurrent: (path) => peak.get(path) ?? 0,
    set(path, page) {
      pages.set(path, page);
    },
    hits: (path) => log.filter((entry) => entry.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** An HTML page with a title and one paragraph. */
export function htmlPage(title: string, paragraph: string): string {
  return `<html><head><title>${title}</title></head><body><article><h1>${title}</h1><p>${paragraph}</p></article></body></html>`;
}

/** Polls `probe` until `done` holds or the time is up; returns the last value. */
export async function waitFor<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * A Redis URL on its own logical database. Test servers on different PostgreSQL schemas share
 * one BullMQ queue when they share a Redis database (the queue's key prefix does not name the
 * schema), so one server's worker could take another's jobs; suites that run beside others give
 * their servers a database of their own.
 */
export function redisDatabaseUrl(db: number): string {
  const base = process.env.KAIRO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  return `${base.replace(/\/\d*$/, '')}/${db}`;
}
