/**
 * A login's own security event (login_success / login_failed) is stored in its login_history row
 * (migration 0009): `event_severity` and `event_context` hold what the login does not already say. This
 * is the SELECT that turns such rows back into security_events columns — the same expression as the
 * security_events view's, for rows that must become rows of their own (retention keeps an event after
 * its login expires when the event's own period is longer).
 * @module
 */
import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';

/** The security_event_rows columns, in the order `loginEventsOf` selects them. */
export const SECURITY_EVENT_COLUMNS = sql.raw(
  'id, event_type, category, severity, occurred_at, username, user_id, ip_address, user_agent, reason, context',
);

/** The login events of the rows of `relation` (login_history or one of its partitions) matching `where`. */
export function loginEventsOf(relation: string, where: RawBuilder<boolean>): RawBuilder<unknown> {
  return sql`
    SELECT id,
      CASE WHEN success THEN 'login_success' ELSE 'login_failed' END,
      'authentication',
      event_severity,
      login_at,
      username, user_id, ip_address, user_agent, failure_reason,
      jsonb_build_object('login_id', id, 'login_type', login_type)
        || CASE WHEN success AND country IS NOT NULL THEN
             jsonb_build_object('country', country)
               || CASE WHEN city IS NOT NULL THEN jsonb_build_object('city', city) ELSE '{}'::jsonb END
           ELSE '{}'::jsonb END
        || coalesce(event_context, '{}'::jsonb)
    FROM ${sql.table(relation)}
    WHERE event_severity IS NOT NULL AND ${where}`;
}
