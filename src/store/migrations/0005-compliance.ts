import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Compliance operations: alerts (the alert itself, one outbox row per sink so delivery survives a
// restart, and the throttle state per rule and key) and the receipts of retention runs and erasures.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE alert (
      id uuid PRIMARY KEY,
      rule text NOT NULL,
      alert_key text NOT NULL,
      severity text NOT NULL,
      title text NOT NULL,
      message text NOT NULL,
      details jsonb NOT NULL DEFAULT '{}'::jsonb,
      suppressed bigint NOT NULL DEFAULT 0,
      occurred_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX alert_created_at_idx ON alert (created_at)`.execute(db);
  await sql`CREATE INDEX alert_rule_key_idx ON alert (rule, alert_key, created_at)`.execute(db);

  await sql`
    CREATE TABLE alert_outbox (
      id uuid PRIMARY KEY,
      alert_id uuid NOT NULL REFERENCES alert (id) ON DELETE CASCADE,
      sink text NOT NULL,
      status text NOT NULL DEFAULT 'pending',
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL,
      last_error text,
      created_at timestamptz NOT NULL,
      delivered_at timestamptz
    )`.execute(db);
  // The dispatcher's only query: due pending deliveries.
  await sql`CREATE INDEX alert_outbox_due_idx ON alert_outbox (next_attempt_at) WHERE status = 'pending'`.execute(
    db,
  );
  await sql`CREATE INDEX alert_outbox_alert_idx ON alert_outbox (alert_id)`.execute(db);

  await sql`
    CREATE TABLE alert_throttle (
      rule text NOT NULL,
      alert_key text NOT NULL,
      window_start timestamptz NOT NULL,
      window_end timestamptz NOT NULL,
      suppressed bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (rule, alert_key)
    )`.execute(db);

  await sql`
    CREATE TABLE compliance_receipt (
      id uuid PRIMARY KEY,
      kind text NOT NULL,
      subject text,
      requested_by text,
      reason text,
      created_at timestamptz NOT NULL,
      body jsonb NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX compliance_receipt_kind_idx ON compliance_receipt (kind, created_at)`.execute(db);
  await sql`CREATE INDEX compliance_receipt_subject_idx ON compliance_receipt (subject)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS compliance_receipt`.execute(db);
  await sql`DROP TABLE IF EXISTS alert_throttle`.execute(db);
  await sql`DROP TABLE IF EXISTS alert_outbox`.execute(db);
  await sql`DROP TABLE IF EXISTS alert`.execute(db);
}
