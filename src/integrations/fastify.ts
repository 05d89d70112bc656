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
import { deniedInput } from './express.ts';
import type { HasLogins, LoginDetails, PermissionDeniedOptions } from './express.ts';
import {
  createGuardCore,
  defaultUsername,
  outcomeOf,
  recordedUsername,
  refusalBody,
  safely,
} from './guard-core.ts';
import type { GuardCoreOptions, GuardStats, GuardTarget, GuardVerdict } from './guard-core.ts';

/** The part of a Fastify request Trailguard reads (`@fastify/session` adds `session.sessionId`). */
export interface FastifyRequestLike {
  raw: RequestLike;
  session?: { sessionId?: string | undefined } | undefined;
}

export type {
  HasLogins,
  LoginDetails,
  GuardCoreOptions,
  GuardStats,
  GuardTarget,
  GuardVerdict,
  PermissionDeniedOptions,
};

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

/** The part of a Fastify request the hooks read. */
export interface FastifyGuardRequest extends FastifyRequestLike {
  body?: unknown;
  method?: string | undefined;
  url?: string | undefined;
}

/** The part of a Fastify reply the hooks use. */
export interface FastifyReplyLike {
  statusCode: number;
  sent: boolean;
  raw: { statusCode: number; once(event: 'finish', listener: () => void): unknown };
  code(status: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(payload?: unknown): FastifyReplyLike;
}

/** A Fastify hook with the guard's counters. */
export type GuardHook<Req> = ((request: Req, reply: FastifyReplyLike) => Promise<void>) & {
  readonly stats: GuardStats;
};

/** Options of the Fastify `guard()`; see the Express guard for each. */
export interface FastifyGuardOptions<
  Req extends FastifyGuardRequest = FastifyGuardRequest,
> extends GuardCoreOptions {
  /** @default request.body.username ?? request.body.email */
  username?: ((request: Req) => unknown) | undefined;
  /** Answers a refused request instead of the default JSON 429 (or fail-closed 503). */
  onRefused?:
    | ((
        request: Req,
        reply: FastifyReplyLike,
        verdict: Exclude<GuardVerdict, { action: 'allow' }>,
      ) => unknown)
    | undefined;
  /** Records each attempt from the route's response (2xx/3xx with a user id: success; 4xx: failure). */
  record?:
    | {
        userId: (request: Req, reply: FastifyReplyLike) => unknown;
        failureReason?: ((request: Req, reply: FastifyReplyLike) => unknown) | undefined;
      }
    | undefined;
}

/**
 * A `preHandler` hook for a login route: asks `tg.security.check()` with the request before the
 * handler and answers 429 with `Retry-After` when enforce mode refuses; fail-open on a Trailguard
 * fault unless `failClosed`.
 * @example app.post('/login', { preHandler: guard(tg) }, loginHandler);
 */
export function guard<Req extends FastifyGuardRequest>(
  tg: GuardTarget,
  options: FastifyGuardOptions<Req> = {},
): GuardHook<Req> {
  const core = createGuardCore(tg, options);
  const readUsername = options.username ?? ((request: Req) => defaultUsername(request.body));
  const record = options.record;
  const hook = async (request: Req, reply: FastifyReplyLike): Promise<void> => {
    const typed = safely(() => readUsername(request));
    const verdict = await core.decide(request.raw, typed);
    if (verdict.action !== 'allow') {
      if (verdict.action === 'refuse') reply.header('Retry-After', String(verdict.retryAfterSeconds));
      if (options.onRefused) await options.onRefused(request, reply, verdict);
      if (!reply.sent) reply.code(verdict.status).send(refusalBody(verdict));
      return;
    }
    if (record) {
      reply.raw.once('finish', () => {
        const outcome = outcomeOf(
          reply.raw.statusCode,
          safely(() => record.userId(request, reply)),
          safely(() => record.failureReason?.(request, reply)),
          false,
        );
        if (outcome)
          void core.record('a login attempt', () =>
            recordLogin(tg, request, { ...outcome, username: recordedUsername(typed) }),
          );
      });
    }
  };
  return Object.assign(hook, { stats: core.stats });
}

/**
 * A `preHandler` hook for a logout route: remembers the user and session before the handler ends
 * them, and records the logout once the response is sent without an error status.
 */
export function recordLogouts<Req extends FastifyGuardRequest>(
  tg: GuardTarget,
  options: { userId: (request: Req) => unknown } & Pick<GuardCoreOptions, 'onError'>,
): GuardHook<Req> {
  const core = createGuardCore(tg, options);
  const hook = async (request: Req, reply: FastifyReplyLike): Promise<void> => {
    const userId = safely(() => options.userId(request));
    const sessionKey = request.session?.sessionId;
    if (typeof userId !== 'string' && typeof userId !== 'number') return;
    reply.raw.once('finish', () => {
      if (reply.raw.statusCode < 400)
        void core.record('a logout', () => recordLogout(tg, request, { userId, sessionKey }));
    });
  };
  return Object.assign(hook, { stats: core.stats });
}

/**
 * An `onResponse` hook that records `permission_denied` for every 403 the app answered (after it is
 * sent, so it never delays or changes the response).
 * @example app.addHook('onResponse', permissionDenied(tg, { userId: (request) => request.user?.id }));
 */
export function permissionDenied<Req extends FastifyGuardRequest>(
  tg: GuardTarget,
  options: PermissionDeniedOptions<Req>,
): GuardHook<Req> {
  const core = createGuardCore(tg, options);
  const hook = async (request: Req, reply: FastifyReplyLike): Promise<void> => {
    if (reply.statusCode !== 403) return;
    await core.record('a permission denial', () =>
      tg.security.permissionDenied(
        deniedInput(request as Req & RequestLike, options, request.url, request.raw),
      ),
    );
  };
  return Object.assign(hook, { stats: core.stats });
}
