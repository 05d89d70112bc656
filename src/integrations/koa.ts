/**
 * Koa middleware: a guard for login routes, a logout recorder, and a permission-denied recorder.
 * The client IP comes from `ctx.req` through Trailguard's `trustProxy`, not Koa's `app.proxy`.
 * @module
 * @example
 * import { guard, permissionDenied } from 'trailguard/koa';
 * app.use(bodyParser());
 * app.use(permissionDenied(tg, { userId: (ctx) => ctx.state.user?.id }));
 * router.post('/login', guard(tg, { record: { userId: (ctx) => ctx.state.user?.id } }), login);
 */
import type { RequestLike } from '../domain/login.ts';
import { deniedInput, recordLogin, recordLogout } from './express.ts';
import type { PermissionDeniedOptions } from './express.ts';
import {
  createGuardCore,
  defaultUsername,
  outcomeOf,
  recordedUsername,
  refusalBody,
  safely,
} from './guard-core.ts';
import type { GuardCoreOptions, GuardStats, GuardTarget, GuardVerdict } from './guard-core.ts';

export type { GuardCoreOptions, GuardStats, GuardTarget, GuardVerdict, PermissionDeniedOptions };

/** The part of a Koa context the middleware uses (`@koa/bodyparser` fills `request.body`). */
export interface KoaContextLike {
  req: RequestLike & { method?: string | undefined; url?: string | undefined };
  request: { body?: unknown };
  method: string;
  path: string;
  status: number;
  body: unknown;
  set(name: string, value: string): void;
  /** `koa-session` and similar put the session here; its id is used as the session key when set. */
  sessionId?: string | undefined;
}

/** A Koa middleware with the guard's counters. */
export type KoaMiddleware<Ctx> = ((ctx: Ctx, next: () => Promise<unknown>) => Promise<void>) & {
  readonly stats: GuardStats;
};

/** Options of the Koa `guard()`; see the Express guard for each. */
export interface KoaGuardOptions<Ctx extends KoaContextLike = KoaContextLike> extends GuardCoreOptions {
  /** @default ctx.request.body.username ?? ctx.request.body.email */
  username?: ((ctx: Ctx) => unknown) | undefined;
  /** Answers a refused request instead of the default JSON 429 (or fail-closed 503). */
  onRefused?: ((ctx: Ctx, verdict: Exclude<GuardVerdict, { action: 'allow' }>) => unknown) | undefined;
  /** Records each attempt from the route's status (2xx/3xx with a user id: success; 4xx: failure). */
  record?:
    | {
        userId: (ctx: Ctx) => unknown;
        failureReason?: ((ctx: Ctx) => unknown) | undefined;
        /** The session key of a success (stored hashed). */
        sessionKey?: ((ctx: Ctx) => unknown) | undefined;
      }
    | undefined;
}

/**
 * Middleware for a login route: asks `tg.security.check()` before the handler and answers 429 with
 * `Retry-After` when enforce mode refuses; fail-open on a Trailguard fault unless `failClosed`.
 */
export function guard<Ctx extends KoaContextLike>(
  tg: GuardTarget,
  options: KoaGuardOptions<Ctx> = {},
): KoaMiddleware<Ctx> {
  const core = createGuardCore(tg, options);
  const readUsername = options.username ?? ((ctx: Ctx) => defaultUsername(ctx.request.body));
  const record = options.record;
  const middleware = async (ctx: Ctx, next: () => Promise<unknown>): Promise<void> => {
    const typed = safely(() => readUsername(ctx));
    const verdict = await core.decide(ctx.req, typed);
    if (verdict.action !== 'allow') {
      if (verdict.action === 'refuse') ctx.set('Retry-After', String(verdict.retryAfterSeconds));
      ctx.status = verdict.status;
      ctx.body = refusalBody(verdict);
      if (options.onRefused) await options.onRefused(ctx, verdict);
      return;
    }
    let status: number;
    try {
      await next();
      status = ctx.status;
    } catch (err) {
      // A handler that throws (ctx.throw(401)) still answered a login attempt.
      const s = (err as { status?: unknown }).status;
      status = typeof s === 'number' ? s : 500;
      if (record) recordAttempt(ctx, status, typed);
      throw err;
    }
    if (record) recordAttempt(ctx, status, typed);
  };
  function recordAttempt(ctx: Ctx, status: number, typed: unknown): void {
    if (!record) return;
    const outcome = outcomeOf(
      status,
      safely(() => record.userId(ctx)),
      safely(() => record.failureReason?.(ctx)),
      false,
    );
    if (!outcome) return;
    const key = safely(() => record.sessionKey?.(ctx)) ?? ctx.sessionId;
    void core.record('a login attempt', () =>
      recordLogin(tg, ctx.req, {
        ...outcome,
        username: recordedUsername(typed),
        ...(outcome.success && typeof key === 'string' && key !== '' ? { sessionKey: key } : {}),
      }),
    );
  }
  return Object.assign(middleware, { stats: core.stats });
}

/**
 * Middleware for a logout route: remembers the user before the handler ends the session, and
 * records the logout when the route answers without an error status.
 */
export function recordLogouts<Ctx extends KoaContextLike>(
  tg: GuardTarget,
  options: {
    userId: (ctx: Ctx) => unknown;
    sessionKey?: ((ctx: Ctx) => unknown) | undefined;
  } & Pick<GuardCoreOptions, 'onError'>,
): KoaMiddleware<Ctx> {
  const core = createGuardCore(tg, options);
  const middleware = async (ctx: Ctx, next: () => Promise<unknown>): Promise<void> => {
    const userId = safely(() => options.userId(ctx));
    const key = safely(() => options.sessionKey?.(ctx)) ?? ctx.sessionId;
    await next();
    if ((typeof userId === 'string' || typeof userId === 'number') && ctx.status < 400) {
      const sessionKey = typeof key === 'string' && key !== '' ? key : undefined;
      void core.record('a logout', () => recordLogout(tg, ctx.req, { userId, sessionKey }));
    }
  };
  return Object.assign(middleware, { stats: core.stats });
}

/**
 * App-level middleware that records `permission_denied` for every 403 — set as `ctx.status` or
 * thrown (`ctx.throw(403)`) — after the downstream middleware ran. Mount it before the router.
 */
export function permissionDenied<Ctx extends KoaContextLike>(
  tg: GuardTarget,
  options: PermissionDeniedOptions<Ctx>,
): KoaMiddleware<Ctx> {
  const core = createGuardCore(tg, options);
  const deny = (ctx: Ctx) => {
    const input = deniedInput(ctx as Ctx & RequestLike, options, ctx.path, ctx.req);
    void core.record('a permission denial', () => tg.security.permissionDenied(input));
  };
  const middleware = async (ctx: Ctx, next: () => Promise<unknown>): Promise<void> => {
    try {
      await next();
    } catch (err) {
      if ((err as { status?: unknown }).status === 403) deny(ctx);
      throw err;
    }
    if (ctx.status === 403) deny(ctx);
  };
  return Object.assign(middleware, { stats: core.stats });
}
