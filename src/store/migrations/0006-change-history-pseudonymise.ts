import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// GDPR erasure must replace a person's name on change records, history included, while the history
// stays append-only for everything else. This replaces the trigger function of 0003 (the triggers
// themselves are unchanged) with one more, narrowly scoped escape hatch: with
// `SET LOCAL trailguard.history_pseudonymise = 'on'`, an UPDATE passes only if it changes nothing but
// the actor columns and the person values ({ id, name }) inside old_value/new_value:
//   - id, seq, change_id, at, action, field and note must be unchanged;
//   - on a `performedBy` / `approvedBy` / `rolledBackBy` row, old_value and new_value may change, but
//     only to another object or null (a person or nothing);
//   - on a `created` row (field IS NULL, new_value is the whole record) only those three keys of
//     new_value may change; old_value must not;
//   - on every other row old_value and new_value must be unchanged.
// DELETE and TRUNCATE keep 0003's behaviour (allowed only with trailguard.history_purge).
const PERSON_FIELDS = `('performedBy', 'approvedBy', 'rolledBackBy')`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION trailguard_change_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF coalesce(current_setting('trailguard.history_purge', true), '') = 'on' AND TG_OP <> 'UPDATE' THEN
        RETURN NULL;
      END IF;
      IF TG_OP = 'UPDATE'
        AND coalesce(current_setting('trailguard.history_pseudonymise', true), '') = 'on'
        AND NEW.id = OLD.id AND NEW.seq = OLD.seq AND NEW.change_id = OLD.change_id AND NEW.at = OLD.at
        AND NEW.action = OLD.action AND NEW.field IS NOT DISTINCT FROM OLD.field
        AND NEW.note IS NOT DISTINCT FROM OLD.note
        AND NEW.actor_id IS NOT NULL AND NEW.actor_name IS NOT NULL
        AND (
          (NEW.old_value IS NOT DISTINCT FROM OLD.old_value AND NEW.new_value IS NOT DISTINCT FROM OLD.new_value)
          OR (OLD.field IN ${sql.raw(PERSON_FIELDS)}
            AND coalesce(jsonb_typeof(NEW.old_value), 'null') IN ('object', 'null')
            AND coalesce(jsonb_typeof(NEW.new_value), 'null') IN ('object', 'null'))
          OR (OLD.field IS NULL AND jsonb_typeof(OLD.new_value) = 'object' AND jsonb_typeof(NEW.new_value) = 'object'
            AND NEW.old_value IS NOT DISTINCT FROM OLD.old_value
            AND (NEW.new_value - 'performedBy' - 'approvedBy' - 'rolledBackBy')
              = (OLD.new_value - 'performedBy' - 'approvedBy' - 'rolledBackBy'))
        )
      THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'change_log_history is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION trailguard_change_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF coalesce(current_setting('trailguard.history_purge', true), '') = 'on' AND TG_OP <> 'UPDATE' THEN
        RETURN NULL;
      END IF;
      RAISE EXCEPTION 'change_log_history is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);
}
