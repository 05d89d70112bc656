/**
 * Client IP resolution. The socket address is the client unless the peer is a trusted proxy, in which
 * case X-Forwarded-For is walked right to left through trusted hops only (proxy-addr semantics, as
 * Express and Fastify do). A forwarded header from an untrusted peer is ignored.
 * @module
 */
import proxyaddr from 'proxy-addr';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { invalid } from '../domain/errors.ts';
import type { RequestLike } from '../domain/login.ts';
import { normalizeIp } from '../domain/validation.ts';

/**
 * Which peers may set X-Forwarded-For.
 * - `false` (default): nobody; the socket address is the client.
 * - `true`: every hop (only behind a proxy that overwrites the header).
 * - a number: trust that many hops from the socket.
 * - a list of addresses, CIDRs, or `loopback` / `linklocal` / `uniquelocal`.
 */
export type TrustProxy = boolean | number | string | readonly string[];

type TrustFn = (addr: string, hop: number) => boolean;

const NAMED = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** Validates and compiles a trustProxy setting once; throws CONFIG_INVALID-style VALIDATION errors. */
export function compileTrust(trust: TrustProxy | undefined, field = 'trustProxy'): TrustFn {
  if (trust === undefined || trust === false) return () => false;
  if (trust === true) return () => true;
  if (typeof trust === 'number') {
    if (!Number.isInteger(trust) || trust < 0) throw invalid(field, 'a hop count must be a whole number ≥ 0');
    return (_addr, hop) => hop < trust;
  }
  const list = typeof trust === 'string' ? trust.split(',').map((s) => s.trim()) : [...trust];
  list.forEach((entry, i) => {
    const [addr, prefix] = String(entry).split('/');
    const ok =
      NAMED.has(String(entry)) ||
      (addr !== undefined &&
        isIP(addr) !== 0 &&
        (prefix === undefined || /^\d+$/.test(prefix) || isIP(prefix) !== 0));
    if (!ok)
      throw invalid(
        `${field}[${i}]`,
        `'${String(entry)}' is not an address, CIDR, or loopback/linklocal/uniquelocal`,
      );
  });
  try {
    return proxyaddr.compile(list);
  } catch (err) {
    throw invalid(field, (err as Error).message);
  }
}

/** The client address of `request` under `trust`, normalised (IPv4-mapped IPv6 becomes IPv4). */
export function clientIp(request: RequestLike, trust: TrustFn): string | null {
  const socketAddr = request.socket?.remoteAddress ?? request.connection?.remoteAddress;
  if (!socketAddr) return null;
  // proxy-addr reads req.connection.remoteAddress and req.headers['x-forwarded-for'].
  const shim = { headers: request.headers, connection: { remoteAddress: socketAddr } };
  let addr: string;
  try {
    addr = proxyaddr(shim as unknown as IncomingMessage, trust);
  } catch {
    addr = socketAddr;
  }
  return normalizeIp(addr) ?? normalizeIp(socketAddr);
}

const compiledTrust = new Map<string, TrustFn>();

/**
 * The client address Trailguard stores for `request` under a `trustProxy` setting (pass
 * `tg.config.trustProxy` to agree with an instance), or null when the socket has none. For apps that
 * rate-limit or log by address and must agree with Trailguard rather than their framework's `req.ip`.
 * @example
 * import { clientIp } from 'trailguard';
 * const ip = clientIp(req, tg.config.trustProxy);
 */
export function resolveClientIp(request: RequestLike, trustProxy: TrustProxy = false): string | null {
  if (typeof request !== 'object' || request === null || typeof request.headers !== 'object')
    throw invalid('request', 'must be a Node request (IncomingMessage, Express req or Fastify request.raw)');
  // Settings are few and fixed per app: compile each once (proxy-addr's compile parses every CIDR).
  const key = JSON.stringify(trustProxy);
  let trust = compiledTrust.get(key);
  if (!trust) {
    trust = compileTrust(trustProxy);
    if (compiledTrust.size < 64) compiledTrust.set(key, trust);
  }
  return clientIp(request, trust);
}
