/**
 * Error codes of detection.
 * @module
 */
import type { ErrorCodeTable } from '../domain/errors.ts';

export const DETECT_ERROR_CODES = {
  DETECTION_UNAVAILABLE: {
    status: 503,
    description:
      'Detection state in Redis is unreachable, so counters were not reset (nothing was); retry after Retry-After.',
  },
} as const satisfies ErrorCodeTable;
