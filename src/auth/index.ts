/**
 * The server's authentication feature's definition: API keys, admin users and sessions, viewer tokens.
 * @module
 */
import type { FeatureDefinition } from '../core/feature.ts';
import { AUTH_ERROR_CODES } from './error-codes.ts';

export const authFeature: FeatureDefinition = {
  name: 'auth',
  tables: ['api_keys', 'admin_users', 'admin_sessions', 'viewer_tokens'],
  errorCodes: AUTH_ERROR_CODES,
};
