/**
 * The end user's address and user agent come in an ingestion request's body. Only when the caller is
 * a trusted proxy forwarding the end user's own request do its forwarded headers stand in for them.
 * @module
 */
import type { FastifyRequest } from 'fastify';
import { clientIp, compileTrust } from '../enrich/client-ip.ts';
import type { TrustProxy } from '../enrich/client-ip.ts';
import { normalizeIp } from '../domain/validation.ts';

/** What a trusted proxy's request says about the end user. */
export interface ForwardedClient {
  ip?: string;
  userAgent?: string;
}

/** Compiles `trustProxy` once; the returned function reads one request. */
export function forwardedClientReader(trustProxy: TrustProxy): (request: FastifyRequest) => ForwardedClient {
  const trusted = compileTrust(trustProxy);
  return (request) => {
    const peer = request.raw.socket.remoteAddress;
    if (!peer || !trusted(normalizeIp(peer) ?? peer, 0) || request.headers['x-forwarded-for'] === undefined)
      return {};
    const ip = clientIp(request.raw, trusted);
    const ua = request.headers['user-agent'];
    return { ...(ip ? { ip } : {}), ...(typeof ua === 'string' ? { userAgent: ua } : {}) };
  };
}
