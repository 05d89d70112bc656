/**
 * What every framework adapter shares: ask `security.check()` before a login handler runs, record the
 * attempt from the response it gave, and never let a Trailguard fault break the app's request.
 * The adapters (express, fastify, koa, passport) only translate their request/response shapes.
 * @module
 */
import type { Logger } from '../config.ts';
import type { DetectionPattern } from '../domain/security-event.ts';
import type { RequestLike } from '../domain/login.ts';
import type { LoginService } from '../logins/login-service.ts';
import type { SecurityService } from '../security/security-service.ts';

/** Anything with `security.check` (a Trailguard instance); `internals.logger` is used when present. */
export interface HasSecurity {
  security: Pick<SecurityService, 'check'>;
  internals?: { logger: Logger } | undefined;
}

/** A Trailguard instance as the guards use it. */
export interface GuardTarget extends HasSecurity {
  logins: Pick<LoginService, 'record' | 'recordLogout'>;
  security: Pick<SecurityService, 'check' | 'permissionDenied'>;
}

/** Counters a guard keeps, for the app's metrics (`guard.stats`). */
export interface GuardStats {
  /** Requests checked. */
  checked: number;
  /** Requests refused because detection flagged the address or account (enforce mode). */
  refused: number;
  /** Requests let through because Trailguard could not answer (fail-open). */
  failedOpen: number;
  /** Requests refused because Trailguard could not answer and `failClosed` is set. */
  failedClosed: number;
  /** Login attempts or denials that could not be recorded (logged; the response was not affected). */
  recordErrors: number;
}

/** Options every guard takes. */
export interface GuardCoreOptions {
  /**
   * When Trailguard cannot answer (database or Redis down), refuse with 503 instead of letting the
   * request through.
   * @default false (fail-open: a Trailguard outage never locks users out)
   */
  failClosed?: boolean | undefined;
  /** Called with every Trailguard fault the guard absorbed (after it is logged and counted). */
  onError?: ((error: unknown) => void) | undefined;
}

/** What the guard decided for one request. */
export type GuardVerdict =
  | { action: 'allow' }
  | { action: 'refuse'; status: 429; retryAfterSeconds: number; reasons: DetectionPattern[] }
  | { action: 'unavailable'; status: 503 };

/** The body a guard answers with when the app gives no response of its own. */
export function refusalBody(verdict: Exclude<GuardVerdict, { action: 'allow' }>): {
  error: { code: string; message: string; retryAfterSeconds?: number };
} {
  return verdict.action === 'refuse'
    ? {
        error: {
          code: 'LOGIN_REFUSED',
          message: 'Too many failed sign-in attempts. Try again later.',
          retryAfterSeconds: verdict.retryAfterSeconds,
        },
      }
    : { error: { code: 'LOGIN_UNAVAILABLE', message: 'Sign-in is unavailable. Try again later.' } };
}

const USERNAME_MAX = 256;

/**
 * What the user typed, or undefined when it is missing or not a string (an array from `a[]=x`, an
 * object from JSON): the guard then checks by address only and a recorded attempt says so.
 */
export function usernameOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  return v === '' ? undefined : v.slice(0, USERNAME_MAX);
}

/** The username stored for an attempt that carried none (login history requires one). */
export function recordedUsername(value: unknown): string {
  const u = usernameOf(value);
  if (u !== undefined) return u;
  return value === undefined || value === null || value === '' ? '(missing)' : '(malformed)';
}

/** Reads `body.username`, else `body.email`, without trusting the body's shape. */
export function defaultUsername(body: unknown): unknown {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  return b['username'] ?? b['email'];
}

/** Calls an app-supplied getter; one that throws counts as "no value" rather than breaking the request. */
export function safely<T>(get: () => T): T | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}

/** The framework-neutral guard. */
export interface GuardCore {
  readonly stats: GuardStats;
  /** Asks `security.check()`; never rejects. */
  decide(request: RequestLike, username: unknown): Promise<GuardVerdict>;
  /** Runs a recording call, logging and counting a failure instead of raising it. */
  record(what: string, write: () => Promise<unknown>): Promise<void>;
}

export function createGuardCore(tg: HasSecurity, options: GuardCoreOptions = {}): GuardCore {
  const stats: GuardStats = { checked: 0, refused: 0, failedOpen: 0, failedClosed: 0, recordErrors: 0 };
  const fault = (err: unknown, msg: string) => {
    const e = err as { code?: unknown; message?: unknown };
    tg.internals?.logger.warn({ err: { code: e?.code, message: String(e?.message ?? err) } }, msg);
    try {
      options.onError?.(err);
    } catch {
      // An error in the app's own error callback must not turn into a failed login either.
    }
  };
  return {
    stats,
    async decide(request, rawUsername) {
      stats.checked++;
      const username = usernameOf(rawUsername);
      try {
        const r = await tg.security.check({ request, ...(username !== undefined ? { username } : {}) });
        if (r.allowed) return { action: 'allow' };
        stats.refused++;
        return {
          action: 'refuse',
          status: 429,
          retryAfterSeconds: Math.max(1, Math.ceil(r.retryAfterSeconds ?? 1)),
          reasons: r.reasons,
        };
      } catch (err) {
        if (options.failClosed) {
          stats.failedClosed++;
          fault(err, 'trailguard guard: check failed; refusing (failClosed)');
          return { action: 'unavailable', status: 503 };
        }
        stats.failedOpen++;
        fault(err, 'trailguard guard: check failed; letting the request through (fail-open)');
        return { action: 'allow' };
      }
    },
    async record(what, write) {
      try {
        await write();
      } catch (err) {
        stats.recordErrors++;
        fault(err, `trailguard: could not record ${what}`);
      }
    },
  };
}

/** What a login route's response says about the attempt. */
export interface AttemptOutcome {
  success: boolean;
  userId?: string | number | undefined;
  failureReason?: string | undefined;
}

/**
 * Reads a login route's outcome from its status: a 2xx/3xx with a user id is a success, a 4xx is a
 * failure; a 5xx (the app broke) and the guard's own 429/503 are not login attempts.
 */
export function outcomeOf(
  status: number,
  userId: unknown,
  failureReason: unknown,
  refusedByGuard: boolean,
): AttemptOutcome | null {
  if (refusedByGuard || status >= 500) return null;
  const id = typeof userId === 'string' || typeof userId === 'number' ? userId : undefined;
  if (status < 400) {
    if (id === undefined || id === '') return null;
    return { success: true, userId: id };
  }
  const reason =
    typeof failureReason === 'string' && failureReason !== ''
      ? failureReason
      : status === 401
        ? 'invalid_credentials'
        : `http_${status}`;
  return { success: false, ...(id !== undefined && id !== '' ? { userId: id } : {}), failureReason: reason };
}
