import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';

/** A self-signed certificate for 127.0.0.1 and localhost, in PEM files. */
export interface TestCert {
  certFile: string;
  keyFile: string;
  /** The certificate itself, to trust as a CA in clients. */
  cert: Buffer;
}

/** Generates a one-day self-signed certificate for 127.0.0.1/localhost in `dir` with the openssl CLI. */
export function makeSelfSignedCert(dir: string): TestCert {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-days', '1',
      '-keyout', keyFile, '-out', certFile,
    ],
    { stdio: 'pipe' },
  );
  return { certFile, keyFile, cert: fs.readFileSync(certFile) };
}

/** A response read to the end, with the body parsed as JSON when it is JSON. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
  text: string;
  /** The local port of the socket the request went over (tells connection reuse apart). */
  localPort: number | undefined;
}

/**
 * One request with node:http or node:https (chosen by the URL's scheme, so an `http:` URL to a
 * TLS port sends plain HTTP to it). `ca` trusts a certificate; `agent` reuses connections.
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown; ca?: Buffer; agent?: http.Agent | false } = {},
): Promise<RawResponse> {
  const target = new URL(url);
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  const requestOptions: https.RequestOptions = {
    method: options.method ?? 'GET',
    hostname: target.hostname.replace(/^\[|\]$/g, ''),
    port: target.port,
    path: target.pathname + target.search,
    headers,
    ...(options.agent !== undefined ? { agent: options.agent } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
  };
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(requestOptions, (res) => {
      const localPort = res.socket?.localPort;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text === '' ? undefined : JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text, localPort });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`Request to ${url} timed out`)));
    req.end(body);
  });
}
