/**
 * Error codes that only the HTTP server raises (transport problems, rate limits, idempotency).
 * @module
 */
import { registerErrorCodes } from '../domain/errors.ts';

export const HTTP_ERROR_CODES = {
  ROUTE_NOT_FOUND: { status: 404, description: 'No route matches this method and path.' },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    description: 'The request body is larger than the limit for this route.',
  },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The request body must be application/json.' },
  RATE_LIMITED: {
    status: 429,
    description: 'Too many requests from this API key or address; retry after the Retry-After header.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    description: 'This Idempotency-Key was already used with a different request.',
  },
  IDEMPOTENCY_IN_PROGRESS: {
    status: 409,
    description:
      'A request with this Idempotency-Key is still being processed; retry after the Retry-After header.',
  },
  INTERNAL_ERROR: { status: 500, description: 'An unexpected server error; details are in the server log.' },
} as const;

registerErrorCodes(HTTP_ERROR_CODES);
