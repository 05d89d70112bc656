/**
 * Turns what the caller has (a request object, or an IP and headers) into the facts Trailguard stores:
 * client IP (through trusted proxies only), parsed user agent, geo, referrer and language. Every header
 * is attacker-controlled: values are cut to fixed lengths and never trusted for anything else.
 * @module
 */
import { invalid } from '../domain/errors.ts';
import { LIMITS } from '../domain/login.ts';
import type { RequestLike } from '../domain/login.ts';
import { cleanText, isPlainObject, normalizeIp, truncate } from '../domain/validation.ts';
import { clientIp, compileTrust } from './client-ip.ts';
import type { TrustProxy } from './client-ip.ts';
import type { GeoLookup, GeoResult } from './geo.ts';
import { createUserAgentParser } from './user-agent.ts';
import type { ParsedUserAgent } from './user-agent.ts';

/** What the caller supplies about the client. */
export interface ClientInput {
  request?: RequestLike | undefined;
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
  headers?: Record<string, string | string[] | undefined> | undefined;
}

/** What Trailguard derives about the client. */
export interface ClientContext {
  ip: string | null;
  userAgent: string | null;
  ua: ParsedUserAgent;
  geo: GeoResult | null;
  referrer: string | null;
  acceptLanguage: string | null;
}

export interface Enricher {
  /** Throws VALIDATION_FAILED on an explicit `ip` that does not parse or a `request` that is not one. */
  client(input: ClientInput): ClientContext;
  readonly geo: GeoLookup;
}

export function createEnricher(options: { trustProxy?: TrustProxy | undefined; geo: GeoLookup }): Enricher {
  const trust = compileTrust(options.trustProxy);
  const parseUa = createUserAgentParser();
  const geo = options.geo;
  return {
    geo,
    client(input) {
      let headers: Record<string, string | string[] | undefined> = {};
      if (input.request !== undefined) {
        if (
          typeof input.request !== 'object' ||
          input.request === null ||
          typeof input.request.headers !== 'object' ||
          input.request.headers === null
        ) {
          throw invalid(
            'request',
            'must be a Node request (IncomingMessage, Express req or Fastify request.raw)',
          );
        }
        headers = input.request.headers;
      } else if (input.headers !== undefined) {
        if (!isPlainObject(input.headers))
          throw invalid('headers', 'must be an object of header names to values');
        headers = lowerCaseKeys(input.headers);
      }
      let ip: string | null = null;
      if (input.ip !== undefined && input.ip !== null) {
        if (typeof input.ip !== 'string') throw invalid('ip', 'must be a string');
        ip = normalizeIp(input.ip);
        if (ip === null) throw invalid('ip', `'${truncate(input.ip, 64)}' is not an IP address`);
      } else if (input.request !== undefined) {
        ip = clientIp(input.request, trust);
      }
      let userAgent: string | null = null;
      if (input.userAgent !== undefined && input.userAgent !== null) {
        if (typeof input.userAgent !== 'string') throw invalid('userAgent', 'must be a string');
        userAgent = input.userAgent;
      } else {
        userAgent = header(headers, 'user-agent');
      }
      userAgent = userAgent ? cleanText(userAgent, LIMITS.userAgent) : null;
      const referrer = header(headers, 'referer') ?? header(headers, 'referrer');
      const acceptLanguage = header(headers, 'accept-language');
      return {
        ip,
        userAgent,
        ua: parseUa(userAgent),
        geo: geo.lookup(ip),
        referrer: referrer ? referrerOf(referrer) : null,
        acceptLanguage: acceptLanguage ? cleanText(acceptLanguage, LIMITS.acceptLanguage) : null,
      };
    },
  };
}

/**
 * The Referer without its query string, fragment and any `user:password@`. A login's referrer is
 * often a magic link or password-reset link whose token is a query parameter, under names no list
 * can guess (`t`, `code`, `k`), so the whole query is dropped rather than redacting parameters by
 * name; the origin and path are what an audit needs. Kept only when something is left.
 */
export function referrerOf(raw: string): string | null {
  let v: string;
  try {
    const url = new URL(raw);
    v = url.origin !== 'null' ? `${url.origin}${url.pathname}` : `${url.protocol}${url.pathname}`;
  } catch {
    // Not an absolute URL (a relative or garbled header): cut at the first '?' or '#'.
    const cut = raw.search(/[?#]/);
    v = cut >= 0 ? raw.slice(0, cut) : raw;
  }
  v = cleanText(v, LIMITS.referrer);
  return v === '' ? null : v;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | null {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s !== '' ? s : null;
}

function lowerCaseKeys(
  h: Record<string, string | string[] | undefined>,
): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}
