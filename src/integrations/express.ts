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
import type { PermissionDeniedInput } from '../security/security-service.ts';
import {
  createGuardCore,
  defaultUsername,
  outcomeOf,
  recordedUsername,
  refusalBody,
  safely,
} from './guard-core.ts';
import type { GuardCoreOptions, GuardStats, GuardTarget, GuardVerdict } from './guard-core.ts';

export type { GuardCoreOptions, GuardStats, GuardTarget, GuardVerdict };

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

/** The part of an Express response the guard uses (a Node ServerResponse with Express's helpers). */
export interface ExpressResponseLike {
  statusCode: number;
  headersSent: boolean;
  locals?: Record<string, unknown> | undefined;
  status(code: number): ExpressResponseLike;
  set(name: string, value: string): unknown;
  json(body: unknown): unknown;
  once(event: 'finish', listener: () => void): unknown;
}

type Next = (err?: unknown) => void;

/** Options of the Express `guard()`. */
export interface ExpressGuardOptions<
  Req extends ExpressRequestLike = ExpressRequestLike,
> extends GuardCoreOptions {
  /**
   * Reads what the user typed as their identifier. A missing or malformed value is checked by address
   * only and recorded as `(missing)` / `(malformed)`.
   * @default req.body.username ?? req.body.email
   */
  username?: ((req: Req) => unknown) | undefined;
  /**
   * Answers a refused request instead of the default `429 { error: { code: 'LOGIN_REFUSED' } }`
   * (`Retry-After` is already set), or the `503` of a fail-closed outage.
   */
  onRefused?: ((req: Req, res: ExpressResponseLike, verdict: RefusedVerdict) => void) | undefined;
  /**
   * Records each attempt from the login route's response, so the handler needs no Trailguard call:
   * a 2xx/3xx for which `userId` returns an id is a success (its session is `req.sessionID`), a 4xx a
   * failure. Omit to record by hand with `recordLogin`.
   * @example { userId: (req) => req.session.userId, failureReason: (req, res) => res.locals.loginFailure }
   */
  record?:
    | {
        userId: (req: Req, res: ExpressResponseLike) => unknown;
        failureReason?: ((req: Req, res: ExpressResponseLike) => unknown) | undefined;
      }
    | undefined;
}

/** A verdict that stops the request. */
export type RefusedVerdict = Exclude<GuardVerdict, { action: 'allow' }>;

/** An Express middleware with the guard's counters. */
export type GuardMiddleware<Req> = ((req: Req, res: ExpressResponseLike, next: Next) => void) & {
  readonly stats: GuardStats;
};

/**
 * Middleware for a login route: asks `tg.security.check()` with the request (address through
 * `trustProxy`) and the typed username before the handler runs, and answers 429 with `Retry-After`
 * when enforce mode refuses. A Trailguard fault lets the request through (logged, counted in
 * `stats.failedOpen`) unless `failClosed` is set. Mount it after the body parser.
 * @example
 * app.post('/login', express.urlencoded({ extended: false }), guard(tg), loginHandler);
 */
export function guard<Req extends ExpressRequestLike & { body?: unknown }>(
  tg: GuardTarget,
  options: ExpressGuardOptions<Req> = {},
): GuardMiddleware<Req> {
  const core = createGuardCore(tg, options);
  const readUsername = options.username ?? ((req: Req) => defaultUsername(req.body));
  const record = options.record;
  const middleware = (req: Req, res: ExpressResponseLike, next: Next): void => {
    const typed = safely(() => readUsername(req));
    void core.decide(req, typed).then((verdict) => {
      if (verdict.action !== 'allow') {
        respondRefused(req, res, verdict, options.onRefused, next);
        return;
      }
      if (record) {
        res.once('finish', () => {
          const outcome = outcomeOf(
            res.statusCode,
            safely(() => record.userId(req, res)),
            safely(() => record.failureReason?.(req, res)),
            false,
          );
          if (outcome)
            void core.record('a login attempt', () =>
              recordLogin(tg, req, { ...outcome, username: recordedUsername(typed) }),
            );
        });
      }
      next();
    });
  };
  return Object.assign(middleware, { stats: core.stats });
}

function respondRefused<Req>(
  req: Req,
  res: ExpressResponseLike,
  verdict: RefusedVerdict,
  onRefused: ((req: Req, res: ExpressResponseLike, verdict: RefusedVerdict) => void) | undefined,
  next: Next,
): void {
  try {
    if (verdict.action === 'refuse') res.set('Retry-After', String(verdict.retryAfterSeconds));
    if (onRefused) onRefused(req, res, verdict);
    else res.status(verdict.status).json(refusalBody(verdict));
  } catch (err) {
    // The app's own response code failed: let its error handler answer, as for any handler error.
    next(err);
  }
}

/**
 * Middleware for a logout route: remembers the user and session before the handler destroys them,
 * and records the logout once the response is sent without an error status.
 * @example app.post('/logout', recordLogouts(tg, { userId: (req) => req.session.userId }), logoutHandler);
 */
export function recordLogouts<Req extends ExpressRequestLike>(
  tg: GuardTarget,
  options: { userId: (req: Req) => unknown } & Pick<GuardCoreOptions, 'onError'>,
): GuardMiddleware<Req> {
  const core = createGuardCore(tg, options);
  const middleware = (req: Req, res: ExpressResponseLike, next: Next): void => {
    const userId = safely(() => options.userId(req));
    const sessionKey = req.sessionID;
    if (typeof userId === 'string' || typeof userId === 'number') {
      res.once('finish', () => {
        if (res.statusCode < 400)
          void core.record('a logout', () => recordLogout(tg, req, { userId, sessionKey }));
      });
    }
    next();
  };
  return Object.assign(middleware, { stats: core.stats });
}

/** Options of `permissionDenied()`. */
export interface PermissionDeniedOptions<Req> extends Pick<GuardCoreOptions, 'onError'> {
  /** The signed-in user's id; a 403 to an anonymous caller is recorded with `anonymous`. */
  userId: (req: Req) => unknown;
  /** What was accessed. @default the path without its query string */
  resource?: ((req: Req) => unknown) | undefined;
  /** What was attempted. @default the HTTP method */
  action?: ((req: Req) => unknown) | undefined;
}

/**
 * App-level middleware that records `permission_denied` (category authorization) for every 403 the
 * app answers — from a handler, an authorization middleware or an error with `status: 403` — after
 * the response is sent, so it never delays or changes it. Mount it before the routes.
 * @example app.use(permissionDenied(tg, { userId: (req) => req.session.userId }));
 */
export function permissionDenied<
  Req extends ExpressRequestLike & { method?: string; originalUrl?: string; url?: string },
>(tg: GuardTarget, options: PermissionDeniedOptions<Req>): GuardMiddleware<Req> {
  const core = createGuardCore(tg, options);
  const middleware = (req: Req, res: ExpressResponseLike, next: Next): void => {
    res.once('finish', () => {
      if (res.statusCode !== 403) return;
      void core.record('a permission denial', () =>
        tg.security.permissionDenied(deniedInput(req, options, req.originalUrl ?? req.url)),
      );
    });
    next();
  };
  return Object.assign(middleware, { stats: core.stats });
}

/** The `permissionDenied()` input for a 403; shared with the Fastify and Koa hooks. */
export function deniedInput<Req extends RequestLike & { method?: string | undefined }>(
  req: Req,
  options: PermissionDeniedOptions<Req>,
  url: string | undefined,
  raw: RequestLike = req,
): PermissionDeniedInput {
  const text = (v: unknown, fallback: string) =>
    (typeof v === 'string' || typeof v === 'number') && String(v).trim() !== '' ? String(v) : fallback;
  const userId = safely(() => options.userId(req));
  return {
    userId: typeof userId === 'string' || typeof userId === 'number' ? userId : 'anonymous',
    resource: text(
      safely(() => options.resource?.(req)),
      (url ?? '/').split('?')[0] || '/',
    ),
    action: text(
      safely(() => options.action?.(req)),
      req.method ?? 'unknown',
    ),
    request: raw,
  };
}
