// The events benchmark's webhook receiver, in a process of its own (as a real receiver is): answers
// 204 at once and keeps when each delivery arrived; the parent asks over IPC.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the parent may ask. */
export type ReceiverRequest = { type: 'clear' } | { type: 'count' } | { type: 'times' };

const arrivals = new Map<string, number>();
const server = http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    arrivals.set(String(request.headers['webhook-id']), performance.timeOrigin + performance.now());
    response.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
process.on('message', (message: ReceiverRequest) => {
  if (message.type === 'clear') arrivals.clear();
  process.send!(message.type === 'times' ? { times: [...arrivals.values()] } : { count: arrivals.size });
});
process.on('disconnect', () => process.exit(0));
