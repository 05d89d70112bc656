/**
 * Fastify one-liners for login and logout handlers. They read `request.raw` (the Node request), so the
 * client IP follows Trailguard's `trustProxy` setting rather than Fastify's.
 * @module
 * @example
 * import { recordLogin } from 'trailguard/fastify';
 * app.post('/login', async (request) => {
 *   const user = await users.verify(request.body.email, request.body.password);
 *   await recordLogin(tg, request, { username: request.body.email, userId: user?.id, success: !!user });
 * });
 */
import type { LoginRecord, RequestLike } from '../domain/login.ts';
import type { HasLogins, LoginDetails } from './express.ts';

/** The part of a Fastify request Trailguard reads (`@fastify/session` adds `session.sessionId`). */
export interface FastifyRequestLike {
  raw: RequestLike;
  session?: { sessionId?: string | undefined } | undefined;
}

export type { HasLogins, LoginDetails };

/** Records a login attempt from a Fastify request. `sessionKey` defaults to `request.session.sessionId`. */
export function recordLogin(
  tg: HasLogins,
  request: FastifyRequestLike,
  details: LoginDetails,
): Promise<LoginRecord> {
  const sessionKey = details.sessionKey ?? (details.success ? request.session?.sessionId : undefined);
  return tg.logins.record({ ...details, ...(sessionKey ? { sessionKey } : {}), request: request.raw });
}

/** Records a logout from a Fastify request. */
export function recordLogout(
  tg: HasLogins,
  request: FastifyRequestLike,
  details: { userId: string | number; sessionKey?: string | undefined; occurredAt?: Date | undefined },
): Promise<LoginRecord | null> {
  const sessionKey = details.sessionKey ?? request.session?.sessionId;
  return tg.logins.recordLogout({ ...details, ...(sessionKey ? { sessionKey } : {}) });
}
