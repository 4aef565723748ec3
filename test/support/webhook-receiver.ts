import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One webhook request as received. */
export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
}

/** A loopback webhook receiver: each path answers as the test says (default 200) and logs what it got. */
export interface WebhookReceiver {
  url: string;
  /** Answers the n-th request (0-based) of `path` with the status this returns. */
  answer(path: string, status: (n: number) => number): void;
  received(path: string): ReceivedWebhook[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const answers = new Map<string, (n: number) => number>();
  const log = new Map<string, ReceivedWebhook[]>();
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      const received = log.get(path) ?? [];
      log.set(path, received);
      const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : (value ?? '')]));
      received.push({ headers, body: Buffer.concat(chunks).toString('utf8') });
      response.statusCode = (answers.get(path) ?? (() => 200))(received.length - 1);
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    answer: (path, status) => void answers.set(path, status),
    received: (path) => log.get(path) ?? [],
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
