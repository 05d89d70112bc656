/**
 * The one place errors become HTTP responses: `{ error: { code, message, field? } }` with the status
 * registered for the code. Fastify's own errors (body parsing, limits) are translated here too.
 * @module
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { TrailguardError, isTrailguardError } from '../domain/errors.ts';
import './error-codes.ts';
import '../auth/error-codes.ts';

/** The error body every route returns. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** Turns any thrown value into a TrailguardError with a status; unknown errors become INTERNAL_ERROR. */
export function toTrailguardError(err: unknown): TrailguardError {
  if (isTrailguardError(err)) return err;
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

/** Fastify error handler: maps, logs server-side failures, sends the one shape. */
export function handleError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = toTrailguardError(err);
  if (mapped.status >= 500) {
    request.log.error({ err: mapped.cause ?? err, code: mapped.code }, 'request failed');
  }
  const headers = (err as { headers?: Record<string, string> } | null)?.headers;
  if (headers) reply.headers(headers);
  return reply
    .code(mapped.status)
    .type('application/json; charset=utf-8')
    .send({ error: mapped.toJSON() } satisfies ErrorBody);
}
