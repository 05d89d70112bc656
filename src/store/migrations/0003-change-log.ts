import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// The change log is an ordinary table (low volume, rows are updated by transitions). Its history is
// append-only: a trigger refuses UPDATE, DELETE and TRUNCATE unless the session sets
// `trailguard.history_purge = 'on'` (the retention job's documented escape hatch for expired changes).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE change_log (
      id uuid PRIMARY KEY,
      change_type text NOT NULL,
      title text NOT NULL,
      description text,
      version text,
      impact_level text NOT NULL,
      affected_systems jsonb NOT NULL DEFAULT '[]'::jsonb,
      change_request_id text,
      approval_status text NOT NULL,
      approved_by_id text,
      approved_by_name text,
      approved_at timestamptz,
      performed_by_id text NOT NULL,
      performed_by_name text NOT NULL,
      deployed_at timestamptz NOT NULL,
      can_rollback boolean NOT NULL DEFAULT true,
      rollback_instructions text,
      rolled_back boolean NOT NULL DEFAULT false,
      rolled_back_at timestamptz,
      rolled_back_by_id text,
      rolled_back_by_name text,
      rollback_notes text,
      rollback_forced boolean NOT NULL DEFAULT false,
      testing_notes text,
      validation_status text NOT NULL DEFAULT 'pending',
      documentation_url text,
      ticket text,
      git_commit text,
      git_branch text,
      git_committed_at timestamptz,
      environment text NOT NULL DEFAULT 'production',
      metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      CONSTRAINT change_log_approval_status_check
        CHECK (approval_status IN ('pending', 'approved', 'rejected', 'emergency')),
      CONSTRAINT change_log_validation_status_check
        CHECK (validation_status IN ('pending', 'passed', 'failed', 'skipped')),
      CONSTRAINT change_log_approver_not_performer_check
        CHECK (approved_by_id IS NULL OR approved_by_id <> performed_by_id)
    )`.execute(db);
  await sql`CREATE INDEX change_log_change_type_deployed_at_idx ON change_log (change_type, deployed_at)`.execute(
    db,
  );
  await sql`CREATE INDEX change_log_impact_level_deployed_at_idx ON change_log (impact_level, deployed_at)`.execute(
    db,
  );
  await sql`CREATE INDEX change_log_rolled_back_deployed_at_idx ON change_log (rolled_back, deployed_at)`.execute(
    db,
  );
  await sql`CREATE INDEX change_log_deployed_at_id_idx ON change_log (deployed_at, id)`.execute(db);

  await sql`
    CREATE TABLE change_log_history (
      id uuid PRIMARY KEY,
      seq bigint GENERATED ALWAYS AS IDENTITY,
      change_id uuid NOT NULL REFERENCES change_log (id) ON DELETE CASCADE,
      at timestamptz NOT NULL,
      actor_id text NOT NULL,
      actor_name text NOT NULL,
      action text NOT NULL,
      field text,
      old_value jsonb,
      new_value jsonb,
      note text
    )`.execute(db);
  await sql`CREATE INDEX change_log_history_change_id_seq_idx ON change_log_history (change_id, seq)`.execute(
    db,
  );

  await sql`
    CREATE FUNCTION trailguard_change_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF coalesce(current_setting('trailguard.history_purge', true), '') = 'on' AND TG_OP <> 'UPDATE' THEN
        RETURN NULL;
      END IF;
      RAISE EXCEPTION 'change_log_history is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);
  // UPDATE is always refused. DELETE (row trigger, skipped by its WHEN clause) and TRUNCATE (statement
  // trigger, whose return value is ignored) pass only when the purge setting is on.
  await sql`
    CREATE TRIGGER change_log_history_no_update
      BEFORE UPDATE ON change_log_history
      FOR EACH ROW EXECUTE FUNCTION trailguard_change_history_append_only()`.execute(db);
  await sql`
    CREATE TRIGGER change_log_history_no_delete
      BEFORE DELETE ON change_log_history
      FOR EACH ROW WHEN (coalesce(current_setting('trailguard.history_purge', true), '') <> 'on')
      EXECUTE FUNCTION trailguard_change_history_append_only()`.execute(db);
  await sql`
    CREATE TRIGGER change_log_history_no_truncate
      BEFORE TRUNCATE ON change_log_history
      FOR EACH STATEMENT EXECUTE FUNCTION trailguard_change_history_append_only()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS change_log_history`.execute(db);
  await sql`DROP FUNCTION IF EXISTS trailguard_change_history_append_only()`.execute(db);
  await sql`DROP TABLE IF EXISTS change_log`.execute(db);
}
