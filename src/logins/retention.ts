/**
 * Login history's part of retention: successful and failed logins have their own periods, and a
 * login's own security event (stored in its row) follows the security event periods instead.
 * @module
 */
import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import { SECURITY_EVENT_COLUMNS, loginEventsOf } from '../store/login-events.ts';
import { daysBefore, severityClasses } from '../retention/contract.ts';
import type { InlineEvents, RetentionClass, RetentionContribution } from '../retention/contract.ts';
import type { RetentionPolicy } from '../retention/retention-policy.ts';

/** The login history classes: successful and failed logins have different periods. */
export function loginClasses(now: Date, policy: RetentionPolicy): RetentionClass[] {
  return [
    { name: 'success', where: sql<boolean>`success`, cutoff: daysBefore(now, policy.logins.successDays) },
    { name: 'failed', where: sql<boolean>`NOT success`, cutoff: daysBefore(now, policy.logins.failedDays) },
  ];
}

/**
 * When a login expires before its own event, the event still inside its period becomes a row of
 * security_event_rows, in the statement that removes the login.
 */
export function loginEventKeeper(
  now: Date,
  policy: RetentionPolicy,
): (relation: string, where: RawBuilder<boolean>) => RawBuilder<unknown> {
  const high = daysBefore(now, policy.securityEvents.highDays);
  const other = daysBefore(now, policy.securityEvents.otherDays);
  const current = sql<boolean>`(CASE WHEN event_severity IN ('error', 'critical') THEN login_at >= ${high}
    ELSE login_at >= ${other} END)`;
  return (relation, where) => sql`
    INSERT INTO security_event_rows (${SECURITY_EVENT_COLUMNS})
    ${loginEventsOf(relation, sql<boolean>`${where} AND ${current}`)}`;
}

/**
 * A login's own event, by the security event periods: event_severity is what the security_events view
 * (through login_events) reads a row's event from, NULL meaning the row has none.
 */
export function loginInlineEvents(now: Date, policy: RetentionPolicy): InlineEvents {
  return {
    view: 'login_events',
    viewTimeColumn: 'occurred_at',
    classes: severityClasses('event_severity', now, policy.securityEvents),
    clear: sql`event_severity = NULL, event_context = NULL`,
  };
}

/** The login_history target. */
export const loginRetention: RetentionContribution = (now, policy) => ({
  partitioned: [
    {
      table: 'login_history',
      timeColumn: 'login_at',
      classes: loginClasses(now, policy),
      keep: { into: 'security_event_rows', statement: loginEventKeeper(now, policy) },
      inlineEvents: loginInlineEvents(now, policy),
    },
  ],
});
