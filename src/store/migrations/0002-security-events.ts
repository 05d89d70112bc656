import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Security events are partitioned by month on occurred_at, like login history (partitions.ts creates
// the partitions). The primary key must include the partition key.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE security_events (
      id uuid NOT NULL,
      event_type text NOT NULL,
      category text NOT NULL,
      severity text NOT NULL,
      occurred_at timestamptz NOT NULL,
      username text,
      user_id text,
      ip_address inet,
      user_agent text,
      reason text,
      context jsonb NOT NULL DEFAULT '{}'::jsonb,
      PRIMARY KEY (id, occurred_at)
    ) PARTITION BY RANGE (occurred_at)`.execute(db);
  await sql`CREATE INDEX security_events_occurred_at_idx ON security_events (occurred_at)`.execute(db);
  await sql`CREATE INDEX security_events_type_occurred_at_idx ON security_events (event_type, occurred_at)`.execute(
    db,
  );
  await sql`CREATE INDEX security_events_ip_occurred_at_idx ON security_events (ip_address, occurred_at)`.execute(
    db,
  );
  await sql`CREATE INDEX security_events_username_occurred_at_idx ON security_events (username, occurred_at)`.execute(
    db,
  );
  await sql`CREATE INDEX security_events_severity_occurred_at_idx ON security_events (severity, occurred_at)`.execute(
    db,
  );
  // Secrets shared by every process on this database (the HMAC key for account keys in Redis).
  await sql`
    CREATE TABLE security_secret (
      name text PRIMARY KEY,
      value text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS security_secret`.execute(db);
  await sql`DROP TABLE IF EXISTS security_events`.execute(db);
}
