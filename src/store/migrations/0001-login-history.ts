import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Login history is partitioned by month on login_at; partitions are created by partitions.ts as needed.
// The primary key must include the partition key.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE login_history (
      id uuid NOT NULL,
      user_id text,
      username text NOT NULL,
      login_type text NOT NULL,
      success boolean NOT NULL,
      failure_reason text,
      ip_address inet,
      user_agent text,
      browser text,
      browser_version text,
      os text,
      device_type text NOT NULL,
      country text,
      city text,
      latitude double precision,
      longitude double precision,
      geo_accuracy_km real,
      session_key_hash text,
      login_at timestamptz NOT NULL,
      logout_at timestamptz,
      session_duration_seconds double precision,
      metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
      PRIMARY KEY (id, login_at)
    ) PARTITION BY RANGE (login_at)`.execute(db);
  await sql`CREATE INDEX login_history_user_id_login_at_idx ON login_history (user_id, login_at)`.execute(db);
  await sql`CREATE INDEX login_history_ip_address_login_at_idx ON login_history (ip_address, login_at)`.execute(
    db,
  );
  await sql`CREATE INDEX login_history_username_login_at_idx ON login_history (username, login_at)`.execute(
    db,
  );
  await sql`CREATE INDEX login_history_success_login_at_idx ON login_history (success, login_at)`.execute(db);
  await sql`CREATE INDEX login_history_login_at_idx ON login_history (login_at)`.execute(db);

  await sql`
    CREATE TABLE login_rollup_hourly (
      hour timestamptz NOT NULL,
      success boolean NOT NULL,
      login_type text NOT NULL,
      device_type text NOT NULL,
      country text NOT NULL,
      count bigint NOT NULL,
      PRIMARY KEY (hour, success, login_type, device_type, country)
    )`.execute(db);

  // Which monthly partitions exist, so every process agrees without scanning the catalog each time.
  await sql`
    CREATE TABLE trailguard_partition (
      parent text NOT NULL,
      name text NOT NULL,
      range_start timestamptz NOT NULL,
      range_end timestamptz NOT NULL,
      PRIMARY KEY (parent, range_start)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS trailguard_partition`.execute(db);
  await sql`DROP TABLE IF EXISTS login_rollup_hourly`.execute(db);
  await sql`DROP TABLE IF EXISTS login_history`.execute(db);
}
