import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// A login's own security event (login_success / login_failed) is stored in its login_history row
// instead of as a second row, and `security_events` becomes a view over both tables.
//
// Every recorded login stored its event as a row of security_events that repeated the login's who,
// where, when and why: a second heap row and three more index entries per login, for nothing the login
// row did not already hold. What the event adds — its severity and the part of its context that is not
// derived from the login (detection counts, signals) — now goes into two columns of the login row:
// event_severity (NULL: the login has no event row in the view, as for rows written before this
// migration, whose events stay in security_event_rows) and event_context (NULL when empty).
//
// The table of all other events is renamed security_event_rows (its partitions with it), and the view
// security_events shows both, so a query against security_events — ours or an auditor's — sees every
// event as before.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE security_events RENAME TO security_event_rows`.execute(db);
  const parts = await sql<{ name: string }>`
    SELECT name FROM trailguard_partition WHERE parent = 'security_events'`.execute(db);
  for (const { name } of parts.rows) {
    const renamed = name.replace(/^security_events_/, 'security_event_rows_');
    await sql`ALTER TABLE IF EXISTS ${sql.id(name)} RENAME TO ${sql.id(renamed)}`.execute(db);
  }
  await sql`
    UPDATE trailguard_partition
    SET parent = 'security_event_rows', name = regexp_replace(name, '^security_events_', 'security_event_rows_')
    WHERE parent = 'security_events'`.execute(db);

  await sql`ALTER TABLE login_history ADD COLUMN event_severity text, ADD COLUMN event_context jsonb`.execute(
    db,
  );
  // Severity filters look for the rare error / critical events (as security_event_rows' partial index).
  await sql`CREATE INDEX login_history_event_severity_login_at_idx ON login_history (event_severity, login_at)
    WHERE event_severity IN ('error', 'critical')`.execute(db);

  // The context a login event always carried: its login's id and type, and for a success the country
  // and city it came from; event_context holds the rest and wins on a clash. login_events is a simple
  // view of one table, so a query on it ordered by time walks login_history's indexes; queries that
  // must be fast read it and security_event_rows separately (the planner sorts a UNION ALL over a
  // partitioned table instead of merging ordered scans).
  await sql`
    CREATE VIEW login_events AS
    SELECT id,
      CASE WHEN success THEN 'login_success' ELSE 'login_failed' END AS event_type,
      'authentication'::text AS category,
      event_severity AS severity,
      login_at AS occurred_at,
      username, user_id, ip_address, user_agent, failure_reason AS reason,
      jsonb_build_object('login_id', id, 'login_type', login_type)
        || CASE WHEN success AND country IS NOT NULL THEN
             jsonb_build_object('country', country)
               || CASE WHEN city IS NOT NULL THEN jsonb_build_object('city', city) ELSE '{}'::jsonb END
           ELSE '{}'::jsonb END
        || coalesce(event_context, '{}'::jsonb) AS context
    FROM login_history
    WHERE event_severity IS NOT NULL`.execute(db);
  await sql`
    CREATE VIEW security_events AS
    SELECT id, event_type, category, severity, occurred_at, username, user_id, ip_address, user_agent,
      reason, context
    FROM security_event_rows
    UNION ALL
    SELECT id, event_type, category, severity, occurred_at, username, user_id, ip_address, user_agent,
      reason, context
    FROM login_events`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP VIEW security_events`.execute(db);
  await sql`DROP VIEW login_events`.execute(db);
  // Inline login events become rows again before their columns go.
  await sql`
    INSERT INTO security_event_rows (id, event_type, category, severity, occurred_at, username, user_id,
      ip_address, user_agent, reason, context)
    SELECT id,
      CASE WHEN success THEN 'login_success' ELSE 'login_failed' END, 'authentication', event_severity,
      login_at, username, user_id, ip_address, user_agent, failure_reason,
      jsonb_build_object('login_id', id, 'login_type', login_type)
        || CASE WHEN success AND country IS NOT NULL THEN
             jsonb_build_object('country', country)
               || CASE WHEN city IS NOT NULL THEN jsonb_build_object('city', city) ELSE '{}'::jsonb END
           ELSE '{}'::jsonb END
        || coalesce(event_context, '{}'::jsonb)
    FROM login_history WHERE event_severity IS NOT NULL`.execute(db);
  await sql`DROP INDEX login_history_event_severity_login_at_idx`.execute(db);
  await sql`ALTER TABLE login_history DROP COLUMN event_severity, DROP COLUMN event_context`.execute(db);
  const parts = await sql<{ name: string }>`
    SELECT name FROM trailguard_partition WHERE parent = 'security_event_rows'`.execute(db);
  for (const { name } of parts.rows) {
    const renamed = name.replace(/^security_event_rows_/, 'security_events_');
    await sql`ALTER TABLE IF EXISTS ${sql.id(name)} RENAME TO ${sql.id(renamed)}`.execute(db);
  }
  await sql`
    UPDATE trailguard_partition
    SET parent = 'security_events', name = regexp_replace(name, '^security_event_rows_', 'security_events_')
    WHERE parent = 'security_event_rows'`.execute(db);
  await sql`ALTER TABLE security_event_rows RENAME TO security_events`.execute(db);
}
