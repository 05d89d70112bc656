/**
 * Admin sign-in for the web UI: a session cookie (HttpOnly, SameSite=Strict, Secure behind TLS) and a
 * CSRF token for state-changing requests. Every attempt is recorded in Trailguard's own login history,
 * and repeated failures lock the address or account out: Trailguard protects itself.
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TrailguardError } from '../../domain/errors.ts';
import type { AuthService } from '../../auth/auth-service.ts';
import { csrfTokenFor } from '../../auth/auth-service.ts';
import type { Trailguard } from '../../trailguard.ts';
import type { AdminSignInGuard } from '../admin-sign-in-guard.ts';
import { SESSION_COOKIE } from '../auth.ts';
import { DateTime, Type, errorResponses } from '../schemas.ts';

export interface SessionRouteOptions {
  tg: Trailguard;
  auth: AuthService;
  /** The admin sign-in's own failure counters (never the application's). */
  guard: AdminSignInGuard;
}

const SignInBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 256 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

const SessionSchema = Type.Object({
  user: Type.Object({ id: Type.String(), username: Type.String() }),
  csrfToken: Type.String({ description: 'Send as the X-CSRF-Token header on POST, PUT, PATCH and DELETE.' }),
  expiresAt: DateTime,
});

/** Marks the server's own admin sign-ins in the login history. */
export const ADMIN_LOGIN_SOURCE = 'trailguard-admin';

export function sessionRoutes(app: FastifyInstance, opts: SessionRouteOptions): void {
  const { tg, auth, guard } = opts;

  function record(
    request: FastifyRequest,
    username: string,
    success: boolean,
    extra: { userId?: string; reason?: string },
  ) {
    const ua = request.headers['user-agent'];
    return tg.logins.record({
      username,
      success,
      loginType: 'password',
      ip: request.ip,
      ...(typeof ua === 'string' ? { userAgent: ua } : {}),
      ...(extra.userId ? { userId: `admin:${extra.userId}` } : {}),
      ...(extra.reason ? { failureReason: extra.reason } : {}),
      metadata: { source: ADMIN_LOGIN_SOURCE },
    });
  }

  function setCookie(request: FastifyRequest, reply: FastifyReply, value: string, expires: Date): void {
    reply.setCookie(SESSION_COOKIE, value, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: request.protocol === 'https',
      expires,
    });
  }

  app.post(
    '/api/v1/auth/login',
    {
      config: { scope: 'public' },
      schema: {
        operationId: 'signIn',
        summary: 'Sign in as an admin user (sets the session cookie)',
        tags: ['auth'],
        body: SignInBody,
        response: { 200: SessionSchema, ...errorResponses(400, 401, 415, 429) },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body as { username: string; password: string };
      const before = await guard.state(request.ip, username);
      if (before.locked) {
        await record(request, username, false, { reason: 'locked' });
        // The same answer whichever of address or account is locked, and whatever the password.
        reply.header('retry-after', String(before.retryAfterSeconds));
        throw new TrailguardError('ACCOUNT_LOCKED', 'too many failed sign-ins; try again later');
      }
      const user = await auth.users.verify(username, password);
      if (!user) {
        // Recording the failure runs the application's detection on it (login_failed,
        // suspicious_activity); the lockout counts it in the guard's own counters.
        await record(request, username, false, { reason: 'invalid_credentials' });
        const after = await guard.fail(request.ip, username);
        if (after.locked) {
          await tg.security.accountLocked({
            username,
            ip: request.ip,
            reason: 'too_many_failed_sign_ins',
            context: { source: ADMIN_LOGIN_SOURCE, patterns: after.reasons },
          });
        }
        throw new TrailguardError('INVALID_CREDENTIALS', 'wrong username or password');
      }
      const session = await auth.sessions.create(user.id);
      await record(request, user.username, true, { userId: user.id });
      setCookie(request, reply, session.sessionKey, session.expiresAt);
      return {
        user: { id: user.id, username: user.username },
        csrfToken: session.csrfToken,
        expiresAt: session.expiresAt,
      };
    },
  );

  app.get(
    '/api/v1/auth/session',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'getSession',
        summary: 'The signed-in admin user and the CSRF token of the session',
        tags: ['auth'],
        response: {
          200: Type.Object({
            user: Type.Object({ id: Type.String(), username: Type.String() }),
            csrfToken: Type.Union([Type.String(), Type.Null()]),
          }),
          ...errorResponses(401, 403),
        },
      },
    },
    async (request) => {
      const p = request.principal;
      if (p?.kind === 'session')
        return { user: { id: p.id, username: p.username }, csrfToken: csrfTokenFor(p.sessionKey) };
      return {
        user: { id: p?.kind === 'key' ? p.id : '', username: p?.kind === 'key' ? `key:${p.name}` : '' },
        csrfToken: null,
      };
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      config: { scope: 'admin' },
      schema: {
        operationId: 'signOut',
        summary: 'Sign out (ends the session and clears the cookie)',
        tags: ['auth'],
        response: { 204: Type.Null(), ...errorResponses(401, 403) },
      },
    },
    async (request, reply) => {
      const p = request.principal;
      if (p?.kind === 'session') {
        await auth.sessions.destroy(p.sessionKey);
        await tg.logins.recordLogout({ userId: `admin:${p.id}` });
      }
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send();
    },
  );
}
