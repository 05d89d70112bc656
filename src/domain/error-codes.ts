/**
 * Every error code Trailguard raises, gathered in one table when this module loads: the registry is
 * complete by construction, whatever was imported first. Each feature keeps its codes in its own
 * `error-codes.ts`, a data file that imports nothing but a type, so the ground floor can gather them
 * without depending on any feature's code. A new feature's codes are one line here.
 * @module
 */
import { AUTH_ERROR_CODES } from '../auth/error-codes.ts';
import { CHANGE_ERROR_CODES } from '../changes/error-codes.ts';
import { DETECT_ERROR_CODES } from '../detect/error-codes.ts';
import { INCIDENT_ERROR_CODES } from '../incidents/error-codes.ts';
import { INTEGRITY_ERROR_CODES } from '../integrity/error-codes.ts';
import { RETENTION_ERROR_CODES } from '../retention/error-codes.ts';
import { SECURITY_ERROR_CODES } from '../security/error-codes.ts';
// Type only: the server still registers its transport codes itself (http/error-codes.ts); they are
// part of the union so that its errors are typed like the others.
import type { HTTP_ERROR_CODES } from '../http/error-codes.ts';
import type { ErrorCodeTable } from './errors.ts';

/** The codes of the core: validation, configuration, the database. */
export const CORE_ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, description: 'An input field is missing, malformed or out of range.' },
  NOT_FOUND: { status: 404, description: 'The referenced record does not exist.' },
  CONFIG_INVALID: { status: 500, description: 'The configuration is invalid; the field names the key.' },
  DATABASE_UNREACHABLE: { status: 503, description: 'The database could not be reached or opened.' },
  DATABASE_UNAVAILABLE: {
    status: 503,
    description:
      'The database is unavailable (down, restarting or unreachable); retry after the Retry-After header.',
  },
  WRITE_FAILED: { status: 503, description: 'The database did not commit the write; nothing was stored.' },
  CLOSED: { status: 503, description: 'The Trailguard instance has been closed.' },
} as const satisfies ErrorCodeTable;

/** The core's and every feature's codes. */
export const FEATURE_ERROR_CODES = {
  ...CORE_ERROR_CODES,
  ...CHANGE_ERROR_CODES,
  ...INTEGRITY_ERROR_CODES,
  ...RETENTION_ERROR_CODES,
  ...SECURITY_ERROR_CODES,
  ...AUTH_ERROR_CODES,
  ...DETECT_ERROR_CODES,
  ...INCIDENT_ERROR_CODES,
} as const satisfies ErrorCodeTable;

/** Every code a TrailguardError may carry: a typo is a compile error. */
export type ErrorCode = keyof typeof FEATURE_ERROR_CODES | keyof typeof HTTP_ERROR_CODES;
