/**
 * Error codes of the server's authentication: API keys, admin users and sessions, viewer tokens.
 * @module
 */
import type { ErrorCodeTable } from '../domain/errors.ts';

/** Codes raised by `src/auth` and the server's auth layer. */
export const AUTH_ERROR_CODES = {
  UNAUTHENTICATED: {
    status: 401,
    description: 'No valid credentials: send `Authorization: Bearer <key>` or sign in.',
  },
  FORBIDDEN: { status: 403, description: "The credentials are valid but lack the route's required scope." },
  CSRF_FAILED: {
    status: 403,
    description: 'A state-changing request with a session cookie lacked a valid X-CSRF-Token header.',
  },
  INVALID_CREDENTIALS: { status: 401, description: 'The username or password is wrong.' },
  ACCOUNT_LOCKED: {
    status: 429,
    description: 'Too many failed sign-ins from this address or for this account; retry later.',
  },
  USERNAME_TAKEN: { status: 409, description: 'An admin user with this username already exists.' },
  LAST_ADMIN: { status: 409, description: 'The last active admin user cannot be removed.' },
} as const satisfies ErrorCodeTable;
