/**
 * The one place errors become HTTP responses: `{ error: { code, message, field? } }` with the status
 * registered for the code. Fastify's own errors (body parsing, limits) are translated here too.
 * @module
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { TrailguardError, isTrailguardError } from '../domain/errors.ts';
import { databaseUnavailable, describeError, isDatabaseUnavailable } from '../store/database-errors.ts';
import './error-codes.ts';
import '../auth/error-codes.ts';

/** The error body every route returns. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** Seconds a client is asked to wait before retrying a 503 (a PostgreSQL restart takes a few). */
export const RETRY_AFTER_SECONDS = 5;

/**
 * Turns any thrown value into a TrailguardError with a status: a database that is down, restarting
 * or unreachable becomes DATABASE_UNAVAILABLE (503, retryable) wherever it surfaced — a route, the
 * authentication or idempotency hooks — and other unknown errors become INTERNAL_ERROR.
 */
export function toTrailguardError(err: unknown): TrailguardError {
  if (isTrailguardError(err)) {
    if (err.status >= 500 && err.status !== 503 && isDatabaseUnavailable(err.cause))
      return databaseUnavailable(err.cause);
    return err;
  }
  if (isDatabaseUnavailable(err)) return databaseUnavailable(err);
  const e = err as Partial<FastifyError> & { status?: number; type?: string };
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (status === 413 || code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new TrailguardError('PAYLOAD_TOO_LARGE', 'the request body is too large', { field: 'body' });
  if (status === 415 || code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return new TrailguardError('UNSUPPORTED_MEDIA_TYPE', 'the request body must be application/json', {
      field: 'content-type',
    });
  if (status === 429) return new TrailguardError('RATE_LIMITED', e.message ?? 'too many requests');
  if (code.startsWith('FST_ERR_CTP') || e instanceof SyntaxError || (status === 400 && code !== ''))
    return new TrailguardError('VALIDATION_FAILED', `body: ${bodyMessage(e, code)}`, { field: 'body' });
  if (status !== undefined && status >= 400 && status < 500)
    return new TrailguardError('VALIDATION_FAILED', e.message ?? 'bad request', { status });
  return new TrailguardError('INTERNAL_ERROR', 'internal server error', { cause: err });
}

function bodyMessage(e: Partial<FastifyError>, code: string): string {
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return 'must not be empty when Content-Type is application/json';
  if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return 'length does not match Content-Length';
  if (/__proto__|constructor/.test(e.message ?? '')) return 'must not contain __proto__ or constructor keys';
  return 'is not valid JSON';
}

/**
 * The server log line of a failed request: its route and code, and the cause's class, message and
 * codes — never the request body, headers or a connection string's password (see describeError).
 */
export function logFailure(
  request: FastifyRequest,
  mapped: TrailguardError,
  cause: unknown,
  msg: string,
): void {
  request.log.error(
    {
      route: request.routeOptions.url ?? 'unmatched',
      method: request.method,
      code: mapped.code,
      err: describeError(cause),
    },
    msg,
  );
}

/**
 * Fastify error handler: maps, logs server-side failures, sends the one shape. Every 503 carries
 * Retry-After: the failure is transient (database outage, shutdown) and the client should come back.
 */
export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = toTrailguardError(err);
  if (mapped.status >= 500) logFailure(request, mapped, mapped.cause ?? err, 'request failed');
  const headers = (err as { headers?: Record<string, string> } | null)?.headers;
  if (headers) reply.headers(headers);
  if (mapped.status === 503 && !reply.hasHeader('retry-after'))
    reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  return reply
    .code(mapped.status)
    .type('application/json; charset=utf-8')
    .send({ error: mapped.toJSON() } satisfies ErrorBody);
}
