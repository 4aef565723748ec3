/**
 * A loopback HTTP proxy in front of a test server that can make chosen requests fail the way
 * networks and busy servers do, and records every request it saw: for testing clients' retries.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

/** What the proxy does to one request. */
export type Fault =
  /** Forwards it, reads the whole answer (the server has done the work), then drops the connection: the answer is lost. */
  | { kind: 'lose-response' }
  /** Waits this long before forwarding it. */
  | { kind: 'delay'; ms: number }
  /** Answers at once with this status in the standard error shape, without forwarding it. */
  | { kind: 'status'; status: 429 | 503; retryAfter?: string }
  /** Forwards it and passes on this many server-sent events and half of the next, then drops the connection. */
  | { kind: 'cut-stream'; afterEvents: number };

/** A request as the proxy received it. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** performance.now() when it arrived. */
  at: number;
  /** The fault applied to it, if any. */
  fault: Fault['kind'] | undefined;
  /** The status the client was answered with; undefined while unanswered or when the answer was lost. */
  status?: number;
}

export interface FaultProxy {
  url: string;
  requests: SeenRequest[];
  /** The next requests `matches` accepts get these faults, one each, in order. */
  inject(matches: (method: string, path: string) => boolean, ...faults: Fault[]): void;
  /** How many injected faults no request has met yet. */
  pendingFaults(): number;
  close(): Promise<void>;
}

const errorBody = (status: number) =>
  JSON.stringify({
    error: status === 429
      ? { type: 'rate_limit_error', code: 'rate_limited', message: 'Too many requests (injected by the test proxy).', request_id: 'req_proxy' }
      : { type: 'api_error', code: 'server_busy', message: 'The server is busy (injected by the test proxy).', request_id: 'req_proxy' },
  });

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const requests: SeenRequest[] = [];
  const planned: Array<{ matches: (method: string, path: string) => boolean; fault: Fault }> = [];

  const takeFault = (method: string, path: string): Fault | undefined => {
    const index = planned.findIndex((p) => p.matches(method, path));
    return index < 0 ? undefined : planned.splice(index, 1)[0]!.fault;
  };

  const server = http.createServer(async (req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const fault = takeFault(method, path);
    const seen: SeenRequest = { method, path, headers: req.headers, at: performance.now(), fault: fault?.kind };
    requests.push(seen);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);

    if (fault?.kind === 'status') {
      const body = errorBody(fault.status);
      res.writeHead(fault.status, {
        'content-type': 'application/json', 'x-request-id': 'req_proxy', ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}),
      });
      res.end(body);
      seen.status = fault.status;
      return;
    }
    if (fault?.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, fault.ms));

    const headers = { ...req.headers, host: target.host };
    const upstreamReq = http.request(
      { host: target.hostname, port: target.port, method, path, headers },
      (upstreamRes) => {
        if (fault?.kind !== 'lose-response') seen.status = upstreamRes.statusCode;
        relay(upstreamRes, res, fault);
      },
    );
    upstreamReq.on('error', () => res.destroy());
    // A client that went away (a timeout, a lost stream) takes the upstream request with it.
    res.on('close', () => upstreamReq.destroy());
    upstreamReq.end(Buffer.concat(chunks));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject(matches, ...faults) {
      for (const fault of faults) planned.push({ matches, fault });
    },
    pendingFaults: () => planned.length,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function relay(upstream: http.IncomingMessage, res: http.ServerResponse, fault: Fault | undefined): void {
  if (fault?.kind === 'lose-response') {
    upstream.resume();
    upstream.on('end', () => res.socket?.destroy());
    return;
  }
  res.writeHead(upstream.statusCode ?? 502, upstream.headers);
  if (fault?.kind !== 'cut-stream') {
    upstream.pipe(res);
    return;
  }
  // Pass on whole events until the limit, then half of the next one, then drop the connection.
  let buffered = '';
  let passed = 0;
  let cut = false;
  upstream.setEncoding('utf8');
  upstream.on('data', (chunk: string) => {
    if (cut) return;
    buffered += chunk;
    for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
      const block = buffered.slice(0, end + 2);
      buffered = buffered.slice(end + 2);
      if (!block.includes('\ndata:') && !block.startsWith('data:')) {
        res.write(block);
        continue;
      }
      if (passed === fault.afterEvents) {
        cut = true;
        res.write(block.slice(0, Math.floor(block.length / 2)), () => res.socket?.destroy());
        upstream.destroy();
        return;
      }
      res.write(block);
      passed++;
    }
  });
  upstream.on('end', () => {
    if (!cut) res.end(buffered);
  });
}
