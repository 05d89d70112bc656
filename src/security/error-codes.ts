/**
 * Error codes of the security feature.
 * @module
 */
import type { ErrorCodeTable } from '../domain/errors.ts';

export const SECURITY_ERROR_CODES = {
  SECURITY_LOG_FAILED: {
    status: 500,
    description: 'The security log destination could not be opened; the field names the config key.',
  },
} as const satisfies ErrorCodeTable;
