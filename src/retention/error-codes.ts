/**
 * Error codes of retention runs.
 * @module
 */
import type { ErrorCodeTable } from '../domain/errors.ts';

export const RETENTION_ERROR_CODES = {
  RETENTION_IN_PROGRESS: {
    status: 409,
    description: 'A retention run is already in progress (in this process or another one).',
  },
  RETENTION_FAILED: {
    status: 500,
    description: 'A retention step failed; earlier steps stay done and are listed in the receipt.',
  },
} as const satisfies ErrorCodeTable;
