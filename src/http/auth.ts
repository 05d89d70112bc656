/**
 * Who is calling, and may they call this route. Each route declares `config.scope`; an `onRequest`
 * hook resolves the caller (API key, admin session cookie or viewer token) and enforces the scope and,
 * for cookie sessions, CSRF on state-changing methods.
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import { TrailguardError } from '../domain/errors.ts';
import type { ApiKeyScope, AuthService } from '../auth/auth-service.ts';
import { csrfTokenFor } from '../auth/auth-service.ts';
import { safeEqual } from '../auth/secrets.ts';

/** The scope a route requires. `public` needs nothing; `viewer` needs a viewer token. */
export type RouteScope = 'public' | 'viewer' | ApiKeyScope;

/** The authenticated caller. */
export type Principal =
  | { kind: 'key'; id: string; name: string; scope: ApiKeyScope }
  | { kind: 'session'; id: string; username: string; scope: 'admin'; sessionKey: string }
  | { kind: 'viewer'; userId: string };

/** Name of the admin session cookie. */
export const SESSION_COOKIE = 'tg_session';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required scope; every route must set one. */
    scope?: RouteScope;
    /**
     * Honour the Idempotency-Key header on this route. `'items'`: the route records each stored item
     * under the key in the item's own statement, so a partly stored answer (207) need not be final: a
     * retry with the key stores only the missing items.
     */
    idempotent?: boolean | 'items';
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What each principal may do: admin ⊇ read, admin ⊇ ingest; viewer tokens only reach viewer routes. */
export function allows(principal: Principal, scope: RouteScope): boolean {
  if (scope === 'public') return true;
  if (principal.kind === 'viewer') return scope === 'viewer';
  if (scope === 'viewer') return false;
  return principal.scope === 'admin' || principal.scope === scope;
}

/** A stable id for rate limiting and idempotency. */
export function principalId(p: Principal): string {
  if (p.kind === 'key') return `key:${p.id}`;
  if (p.kind === 'session') return `user:${p.id}`;
  return `viewer:${p.userId}`;
}

function bearer(request: FastifyRequest): string | null | undefined {
  const h = request.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Bearer[ ]+(\S{1,512})\s*$/i.exec(h);
  return m?.[1] ?? null;
}

async function resolve(request: FastifyRequest, auth: AuthService): Promise<Principal | null> {
  const token = bearer(request);
  if (token === null)
    throw new TrailguardError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <key>"');
  if (token !== undefined) {
    if (token.startsWith('tgv_')) {
      const viewer = await auth.viewerTokens.authenticate(token);
      if (!viewer) throw new TrailguardError('UNAUTHENTICATED', 'the viewer token is invalid or expired');
      return { kind: 'viewer', userId: viewer.userId };
    }
    const key = await auth.apiKeys.authenticate(token);
    if (!key) throw new TrailguardError('UNAUTHENTICATED', 'the API key is invalid or revoked');
    return { kind: 'key', id: key.id, name: key.name, scope: key.scope };
  }
  const sessionKey = request.cookies[SESSION_COOKIE];
  if (sessionKey) {
    const session = await auth.sessions.authenticate(sessionKey);
    if (session) {
      return {
        kind: 'session',
        id: session.user.id,
        username: session.user.username,
        scope: 'admin',
        sessionKey,
      };
    }
  }
  return null;
}

/**
 * Budget of failed authentications per client address, consulted by the auth hook itself: the route
 * rate limiter runs after authentication, so without it a request with no or wrong credentials was
 * never counted, and each bogus token or cookie cost a database lookup.
 */
export interface AuthFailureLimiter {
  /** Throws RATE_LIMITED while the request's address is over its budget (before any credential lookup). */
  check(request: FastifyRequest): Promise<void>;
  /** Counts a failed authentication of the request's address; throws RATE_LIMITED once over the budget. */
  fail(request: FastifyRequest): Promise<void>;
}

/** Installs the authentication hook. Routes without `config.scope` are refused at registration. */
export function registerAuth(
  app: FastifyInstance,
  auth: AuthService,
  limiter: AuthFailureLimiter | null = null,
): void {
  app.decorateRequest('principal', null);
  app.addHook('onRoute', (route) => {
    const scope = (route.config as { scope?: RouteScope } | undefined)?.scope;
    if (scope === undefined && (route.url.startsWith('/api/') || route.url === '/metrics'))
      throw new Error(`route ${route.method} ${route.url} has no config.scope`);
  });
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config.scope ?? 'public';
    if (scope === 'public') return;
    if (limiter) await limiter.check(request);
    let principal: Principal | null;
    try {
      principal = await resolve(request, auth);
    } catch (err) {
      if (limiter && (err as { code?: unknown }).code === 'UNAUTHENTICATED') await limiter.fail(request);
      throw err;
    }
    if (!principal) {
      if (limiter) await limiter.fail(request);
      throw new TrailguardError('UNAUTHENTICATED', 'this endpoint needs an API key or a signed-in session');
    }
    if (!allows(principal, scope)) {
      throw new TrailguardError('FORBIDDEN', `this endpoint needs the '${scope}' scope`);
    }
    if (principal.kind === 'session' && !SAFE_METHODS.has(request.method)) {
      const sent = request.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !safeEqual(sent, csrfTokenFor(principal.sessionKey)))
        throw new TrailguardError('CSRF_FAILED', 'missing or wrong X-CSRF-Token header');
    }
    request.principal = principal;
  });
}
