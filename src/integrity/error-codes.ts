/**
 * Error codes of tamper evidence (stable; the HTTP status is what the server answers).
 * @module
 */
import type { ErrorCodeTable } from '../domain/errors.ts';

export const INTEGRITY_ERROR_CODES = {
  INTEGRITY_KEY_REQUIRED: {
    status: 500,
    description: 'The seal chain was made with an integrity key; none is configured (integrity.key).',
  },
  INTEGRITY_KEY_MISMATCH: {
    status: 500,
    description: 'The configured integrity key is not the key the seal chain was made with.',
  },
} as const satisfies ErrorCodeTable;

export type IntegrityErrorCode = keyof typeof INTEGRITY_ERROR_CODES;
