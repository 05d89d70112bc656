/**
 * Login history's part of tamper evidence. It seals only what is fixed when the row is inserted:
 * `logout_at` and `session_duration_seconds` are written by the logout, and `event_severity` /
 * `event_context` hold the login's own security event, which follows the security-event retention
 * periods rather than the login's (expiring the event while the login stays clears them).
 * @module
 */
import type { SealedStream } from '../integrity/contract.ts';

/**
 * The sealed columns of login_history, in encoding order. Never change the list: seals made with it could no
 * longer be verified. A new column that must be covered needs a new stream version.
 */
export const LOGIN_HISTORY_STREAM: SealedStream = {
  name: 'login_history',
  columns: [
    ['id', 'text'],
    ['user_id', 'text'],
    ['username', 'text'],
    ['login_type', 'text'],
    ['success', 'text'],
    ['failure_reason', 'text'],
    ['ip_address', 'text'],
    ['user_agent', 'text'],
    ['browser', 'text'],
    ['browser_version', 'text'],
    ['os', 'text'],
    ['device_type', 'text'],
    ['country', 'text'],
    ['city', 'text'],
    ['latitude', 'float8'],
    ['longitude', 'float8'],
    ['geo_accuracy_km', 'float4'],
    ['session_key_hash', 'text'],
    ['login_at', 'timestamptz'],
    ['metadata', 'text'],
  ],
};
