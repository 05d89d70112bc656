/**
 * Express one-liners for login and logout handlers.
 *
 * The client IP is resolved by Trailguard's own `trustProxy` setting from the socket, not from
 * Express's `req.ip`, so one configuration governs every framework.
 * @module
 * @example
 * import { recordLogin, recordLogout } from 'trailguard/express';
 * app.post('/login', async (req, res) => {
 *   const user = await users.verify(req.body.email, req.body.password);
 *   await recordLogin(tg, req, { username: req.body.email, userId: user?.id, success: !!user,
 *     failureReason: user ? undefined : 'invalid_credentials' });
 * });
 */
import type { LoginRecord, RecordLoginInput, RequestLike } from '../domain/login.ts';
import type { LoginService } from '../logins/login-service.ts';

/** The part of an Express request Trailguard reads (`express-session` adds `sessionID`). */
export interface ExpressRequestLike extends RequestLike {
  sessionID?: string | undefined;
}

/** Anything with `logins` (a Trailguard instance). */
export interface HasLogins {
  logins: Pick<LoginService, 'record' | 'recordLogout'>;
}

/** What the handler knows; the request supplies IP, user agent, referrer, language and session id. */
export type LoginDetails = Omit<RecordLoginInput, 'request' | 'ip' | 'headers'>;

/** Records a login attempt from an Express request. `sessionKey` defaults to `req.sessionID`. */
export function recordLogin(
  tg: HasLogins,
  req: ExpressRequestLike,
  details: LoginDetails,
): Promise<LoginRecord> {
  const sessionKey = details.sessionKey ?? (details.success ? req.sessionID : undefined);
  return tg.logins.record({ ...details, ...(sessionKey ? { sessionKey } : {}), request: req });
}

/** Records a logout from an Express request; closes the session with `req.sessionID` when there is one. */
export function recordLogout(
  tg: HasLogins,
  req: ExpressRequestLike,
  details: { userId: string | number; sessionKey?: string | undefined; occurredAt?: Date | undefined },
): Promise<LoginRecord | null> {
  const sessionKey = details.sessionKey ?? req.sessionID;
  return tg.logins.recordLogout({ ...details, ...(sessionKey ? { sessionKey } : {}) });
}
