import http from 'node:http';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { KairoError } from '../errors.js';
import { ConfigError, type Config } from '../config.js';
import { newId } from '../ids.js';
import { errorAnswer } from './error-status.js';

/** A listening server and how to stop it gracefully. */
export interface Listener {
  url: string;
  port: number;
  /** Stops accepting connections, lets in-flight requests finish (up to the timeout), then closes. */
  close(): Promise<void>;
}

const TLS_HANDSHAKE = 0x16;

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host === '::ffff:127.0.0.1';
}

/**
 * The HTTPS policy at start: plain HTTP is only served on a loopback address, or behind a
 * trusted TLS-terminating proxy.
 */
export function checkTransportPolicy(config: Pick<Config, 'host' | 'tlsCert' | 'trustProxy'>): void {
  if (config.tlsCert || config.trustProxy || isLoopback(config.host)) return;
  throw new ConfigError(
    `Refusing to serve plain HTTP on ${config.host}: API keys would cross the network in clear text. ` +
      'Give --tls-cert and --tls-key, bind a loopback address with --host 127.0.0.1, ' +
      'or run behind a TLS-terminating proxy with --trust-proxy.',
  );
}

/** Answers any plain-HTTP request that reaches the TLS port with 403 https_required (never a redirect). */
function plainHttpRefuser(): http.Server {
  return http.createServer((req, res) => {
    const requestId = newId('req');
    const answer = errorAnswer(new KairoError('https_required'), requestId);
    const body = JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'Content-Type': 'application/json; charset=utf-8', 'X-Request-Id': requestId, Connection: 'close' });
    res.end(body);
    req.resume();
  });
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts listening. With TLS, one port serves both: the first byte of each connection tells a
 * TLS handshake (handed to the HTTPS server) from plain HTTP (answered with 403).
 */
export async function listen(app: FastifyInstance, config: Config): Promise<Listener> {
  checkTransportPolicy(config);
  const timeoutMs = config.shutdownTimeoutMs;

  if (!config.tlsCert) {
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address() as net.AddressInfo;
    return {
      url: `http://${hostForUrl(config.host)}:${address.port}`,
      port: address.port,
      async close() {
        const force = setTimeout(() => app.server.closeAllConnections(), timeoutMs);
        force.unref();
        await app.close();
        clearTimeout(force);
      },
    };
  }

  await app.ready();
  const tlsServer = app.server as http.Server;
  const refuser = plainHttpRefuser();
  // Every open connection, and those that have not sent their first byte yet: no server owns
  // the latter (nor a TLS connection still in its handshake), so close() must end them.
  const sockets = new Set<net.Socket>();
  const undispatched = new Set<net.Socket>();
  const dispatcher = net.createServer({ pauseOnConnect: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    sockets.add(socket);
    undispatched.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      undispatched.delete(socket);
    });
    socket.once('data', (chunk: Buffer) => {
      undispatched.delete(socket);
      socket.pause();
      socket.unshift(chunk);
      (chunk[0] === TLS_HANDSHAKE ? tlsServer : refuser).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
    socket.resume();
  });
  await new Promise<void>((resolve, reject) => {
    dispatcher.once('error', reject);
    dispatcher.listen({ host: config.host, port: config.port }, () => resolve());
  });
  const address = dispatcher.address() as net.AddressInfo;
  // Neither server listens itself, so Node never set up their connection tracking (which
  // closeIdleConnections/closeAllConnections and the headers/request timeouts rely on): it is
  // set up on 'listening'.
  tlsServer.emit('listening');
  refuser.emit('listening');

  return {
    url: `https://${hostForUrl(config.host)}:${address.port}`,
    port: address.port,
    async close() {
      const drained = new Promise<void>((resolve) => dispatcher.close(() => resolve()));
      for (const socket of undispatched) socket.destroy();
      // Fastify was never asked to listen, so close its connections the way it would.
      const sweep = setInterval(() => {
        tlsServer.closeIdleConnections();
        refuser.closeIdleConnections();
      }, 50);
      const force = setTimeout(() => {
        tlsServer.closeAllConnections();
        refuser.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      }, timeoutMs);
      force.unref();
      await app.close();
      await drained;
      refuser.close(() => {});
      clearInterval(sweep);
      clearTimeout(force);
    },
  };
}
