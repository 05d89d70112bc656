/**
 * The security events feature's definition: its tables, error codes and its parts of retention,
 * tamper evidence and privacy.
 * @module
 */
import type { FeatureDefinition } from '../core/feature.ts';
import { SECURITY_ERROR_CODES } from './error-codes.ts';
import { securityEventsPrivacy } from './privacy.ts';
import { securityRetention } from './retention.ts';
import { SECURITY_EVENT_STREAM } from './sealed-stream.ts';

export const securityFeature: FeatureDefinition = {
  name: 'security',
  tables: ['security_event_rows', 'security_events', 'security_secret'],
  partitioned: ['security_event_rows'],
  errorCodes: SECURITY_ERROR_CODES,
  retention: securityRetention,
  integrity: [SECURITY_EVENT_STREAM],
  privacy: securityEventsPrivacy(),
};
