/**
 * Security events' part of retention: `error` and `critical` events are kept longer than `info` and
 * `warning`. The events stored in login rows follow the same periods (see logins/retention.ts).
 * @module
 */
import { severityClasses } from '../retention/contract.ts';
import type { RetentionClass, RetentionContribution } from '../retention/contract.ts';
import type { RetentionPolicy } from '../retention/retention-policy.ts';

/** Security events: `error` and `critical` are kept longer than `info` and `warning`. */
export function securityEventClasses(now: Date, policy: RetentionPolicy): RetentionClass[] {
  return severityClasses('severity', now, policy.securityEvents);
}

/** The security_event_rows target. */
export const securityRetention: RetentionContribution = (now, policy) => ({
  partitioned: [
    { table: 'security_event_rows', timeColumn: 'occurred_at', classes: securityEventClasses(now, policy) },
  ],
});
