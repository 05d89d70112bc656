/**
 * Telling a database that is unavailable (down, restarting, unreachable, out of connections) from a
 * query that is wrong: the first is worth a retry once the database is back, the second is not.
 * @module
 */
import { TrailguardError } from '../domain/errors.ts';

/** Socket errors of a connection that could not be made or was cut. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is going away or not accepting work yet: 57P01 admin_shutdown,
 * 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, shutting down, in recovery),
 * 53300 too_many_connections, 08xxx connection exceptions.
 */
function unavailableSqlState(code: string): boolean {
  return (
    code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300'
  );
}

// Messages of node-postgres and pg-pool that come without a code: a connection cut while a query was
// in flight, a pool that could not hand out a connection in time, a client already known dead.
const UNAVAILABLE_MESSAGE =
  /connection terminated|connection ended unexpectedly|timeout exceeded when trying to connect|connection timeout|client has encountered a connection error|not queryable|the database system is (starting up|shutting down|in recovery)/i;

/**
 * True when `err` (or an error it wraps, through `cause` or an AggregateError's `errors`) says the
 * database could not be reached or went away, rather than that the statement itself was refused.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 5) return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (err instanceof TrailguardError && err.code === 'DATABASE_UNAVAILABLE') return true;
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || unavailableSqlState(e.code))) return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1)))
    return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}

/** The typed error a caller gets when the database is unavailable; the driver's error is its cause. */
export function databaseUnavailable(cause: unknown): TrailguardError {
  return new TrailguardError('DATABASE_UNAVAILABLE', 'the database is unavailable; retry later', { cause });
}

/**
 * What a server log may show of a database (or any) error: its class, message and codes. The driver's
 * `detail`, `where` and parameter fields are left out (they can quote row values), and a connection
 * string that slipped into a message loses its password.
 */
export function describeError(err: unknown, depth = 0): Record<string, unknown> {
  if (typeof err !== 'object' || err === null) return { message: scrub(String(err)) };
  const e = err as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown; stack?: unknown };
  const out: Record<string, unknown> = {
    type: typeof e.name === 'string' ? e.name : 'Error',
    message: scrub(typeof e.message === 'string' ? e.message : String(err)),
  };
  if (typeof e.code === 'string' || typeof e.code === 'number') out['code'] = e.code;
  if (typeof e.stack === 'string') out['stack'] = scrub(e.stack);
  if (e.cause !== undefined && depth < 5) out['cause'] = describeError(e.cause, depth + 1);
  return out;
}

function scrub(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
}
