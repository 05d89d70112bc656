/**
 * The internal metrics listener: `GET /metrics` on its own port, without credentials, for a Prometheus
 * that scrapes over a private network. Bound to loopback unless told otherwise; it serves nothing
 * else, so opening it exposes counts, never data.
 * @module
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Where the internal listener binds. */
export interface MetricsListenerOptions {
  /** Port; 0 picks a free one. */
  port: number;
  /** Address to bind. @default '127.0.0.1' */
  host?: string | undefined;
}

export interface MetricsListener {
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** The bound address, or null before `listen()`. */
  address(): AddressInfo | null;
  close(): Promise<void>;
}

/** Creates (does not start) a listener serving `registry` at /metrics. */
export function createMetricsListener(registry: Registry, options: MetricsListenerOptions): MetricsListener {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (body) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  // A scrape never needs a long-lived connection; do not let idle ones hold up shutdown.
  server.keepAliveTimeout = 5_000;
  return {
    listen: () =>
      new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host ?? '127.0.0.1', () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    address: () => (server.listening ? (server.address() as AddressInfo) : null),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
