import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Incidents: production failures with their start, detection and resolution times, linked to the changes
// that caused them (role `cause`) and to the hotfix or revert that remedied them (role `remedy`). They are
// the source of DORA's change failure rate and time to restore.
//
// incident_history is append-only like change_log_history, with the same two escape hatches:
// `trailguard.history_purge = 'on'` lets the retention job delete expired incidents' rows, and
// `trailguard.history_pseudonymise = 'on'` lets a GDPR erasure replace the actor — and nothing else — by
// a pseudonym (`erased-user-<12 hex>` as both id and name). People appear in incident history only in
// the actor columns, never inside the JSON details, so that is all an erasure has to touch.
const PSEUDONYM = `'^erased-user-[0-9a-f]{12}$'`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE incident (
      id uuid PRIMARY KEY,
      title text NOT NULL,
      description text,
      severity text NOT NULL,
      status text NOT NULL,
      environment text NOT NULL DEFAULT 'production',
      affected_systems jsonb NOT NULL DEFAULT '[]'::jsonb,
      started_at timestamptz NOT NULL,
      detected_at timestamptz NOT NULL,
      resolved_at timestamptz,
      opened_by_id text NOT NULL,
      opened_by_name text NOT NULL,
      resolved_by_id text,
      resolved_by_name text,
      resolution text,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      CONSTRAINT incident_severity_check CHECK (severity IN ('critical', 'high', 'medium', 'low')),
      CONSTRAINT incident_status_check CHECK (status IN ('open', 'resolved')),
      CONSTRAINT incident_detected_after_start_check CHECK (detected_at >= started_at),
      CONSTRAINT incident_resolved_check CHECK (
        (status = 'open' AND resolved_at IS NULL AND resolved_by_id IS NULL)
        OR (status = 'resolved' AND resolved_at IS NOT NULL AND resolved_at >= started_at
          AND resolved_by_id IS NOT NULL))
    )`.execute(db);
  await sql`CREATE INDEX incident_started_at_id_idx ON incident (started_at, id)`.execute(db);
  await sql`CREATE INDEX incident_status_started_at_idx ON incident (status, started_at)`.execute(db);

  // A change expired by retention takes its links with it; an incident keeps its own record.
  await sql`
    CREATE TABLE incident_change (
      incident_id uuid NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
      change_id uuid NOT NULL REFERENCES change_log (id) ON DELETE CASCADE,
      role text NOT NULL,
      linked_at timestamptz NOT NULL,
      PRIMARY KEY (incident_id, change_id),
      CONSTRAINT incident_change_role_check CHECK (role IN ('cause', 'remedy'))
    )`.execute(db);
  await sql`CREATE INDEX incident_change_change_id_idx ON incident_change (change_id)`.execute(db);
  // One remedy per incident, also under concurrent links from several servers.
  await sql`CREATE UNIQUE INDEX incident_change_one_remedy_idx ON incident_change (incident_id) WHERE role = 'remedy'`.execute(
    db,
  );

  await sql`
    CREATE TABLE incident_history (
      id uuid PRIMARY KEY,
      seq bigint GENERATED ALWAYS AS IDENTITY,
      incident_id uuid NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
      at timestamptz NOT NULL,
      actor_id text NOT NULL,
      actor_name text NOT NULL,
      action text NOT NULL,
      details jsonb NOT NULL DEFAULT '{}'::jsonb,
      note text
    )`.execute(db);
  await sql`CREATE INDEX incident_history_incident_id_seq_idx ON incident_history (incident_id, seq)`.execute(
    db,
  );

  await sql`
    CREATE FUNCTION trailguard_incident_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF coalesce(current_setting('trailguard.history_purge', true), '') = 'on' AND TG_OP <> 'UPDATE' THEN
        RETURN NULL;
      END IF;
      IF TG_OP = 'UPDATE'
        AND coalesce(current_setting('trailguard.history_pseudonymise', true), '') = 'on'
        AND NEW.id = OLD.id AND NEW.seq = OLD.seq AND NEW.incident_id = OLD.incident_id AND NEW.at = OLD.at
        AND NEW.action = OLD.action AND NEW.details = OLD.details
        AND NEW.note IS NOT DISTINCT FROM OLD.note
        AND NEW.actor_id ~ ${sql.raw(PSEUDONYM)} AND NEW.actor_name = NEW.actor_id
      THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'incident_history is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER incident_history_no_update
      BEFORE UPDATE ON incident_history
      FOR EACH ROW EXECUTE FUNCTION trailguard_incident_history_append_only()`.execute(db);
  await sql`
    CREATE TRIGGER incident_history_no_delete
      BEFORE DELETE ON incident_history
      FOR EACH ROW WHEN (coalesce(current_setting('trailguard.history_purge', true), '') <> 'on')
      EXECUTE FUNCTION trailguard_incident_history_append_only()`.execute(db);
  await sql`
    CREATE TRIGGER incident_history_no_truncate
      BEFORE TRUNCATE ON incident_history
      FOR EACH STATEMENT EXECUTE FUNCTION trailguard_incident_history_append_only()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS incident_history`.execute(db);
  await sql`DROP FUNCTION IF EXISTS trailguard_incident_history_append_only()`.execute(db);
  await sql`DROP TABLE IF EXISTS incident_change`.execute(db);
  await sql`DROP TABLE IF EXISTS incident`.execute(db);
}
