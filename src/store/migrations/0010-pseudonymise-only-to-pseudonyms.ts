import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { up as up0006 } from './0006-change-history-pseudonymise.ts';

// 0006's escape hatch for GDPR erasure let an UPDATE of change_log_history under
// `trailguard.history_pseudonymise = 'on'` change the actor and the person values to anything: any SQL
// session that set it could rewrite who approved a change (an audit did: approver → "Someone Else").
// Now a changed actor or person value must be a pseudonym — `erased-user-<12 hex>` as both id and name,
// nothing else in the object — which is all an erasure ever writes. Every other rule of 0006 stays.
const PSEUDONYM = `'^erased-user-[0-9a-f]{12}$'`;
const PERSON_FIELDS = `('performedBy', 'approvedBy', 'rolledBackBy')`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION trailguard_pseudonymised(old_v jsonb, new_v jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$
      SELECT new_v IS NOT DISTINCT FROM old_v
        OR (jsonb_typeof(old_v) = 'object' AND jsonb_typeof(new_v) = 'object'
          AND (new_v - 'id' - 'name') = '{}'::jsonb
          AND new_v->>'id' ~ ${sql.raw(PSEUDONYM)} AND new_v->>'name' = new_v->>'id')
    $$`.execute(db);
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
        AND ((NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id AND NEW.actor_name IS NOT DISTINCT FROM OLD.actor_name)
          OR (NEW.actor_id ~ ${sql.raw(PSEUDONYM)} AND NEW.actor_name = NEW.actor_id))
        AND (
          (NEW.old_value IS NOT DISTINCT FROM OLD.old_value AND NEW.new_value IS NOT DISTINCT FROM OLD.new_value)
          OR (OLD.field IN ${sql.raw(PERSON_FIELDS)}
            AND trailguard_pseudonymised(OLD.old_value, NEW.old_value)
            AND trailguard_pseudonymised(OLD.new_value, NEW.new_value))
          OR (OLD.field IS NULL AND jsonb_typeof(OLD.new_value) = 'object' AND jsonb_typeof(NEW.new_value) = 'object'
            AND NEW.old_value IS NOT DISTINCT FROM OLD.old_value
            AND (NEW.new_value - 'performedBy' - 'approvedBy' - 'rolledBackBy')
              = (OLD.new_value - 'performedBy' - 'approvedBy' - 'rolledBackBy')
            AND trailguard_pseudonymised(OLD.new_value->'performedBy', NEW.new_value->'performedBy')
            AND trailguard_pseudonymised(OLD.new_value->'approvedBy', NEW.new_value->'approvedBy')
            AND trailguard_pseudonymised(OLD.new_value->'rolledBackBy', NEW.new_value->'rolledBackBy'))
        )
      THEN
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'change_log_history is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await up0006(db);
  await sql`DROP FUNCTION IF EXISTS trailguard_pseudonymised(jsonb, jsonb)`.execute(db);
}
