import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// The server's own credentials. Secrets are never stored: API keys, session keys and viewer tokens are
// high-entropy random strings kept as their SHA-256; admin passwords are scrypt hashes.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE api_keys (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      scope text NOT NULL CHECK (scope IN ('ingest', 'read', 'admin')),
      key_hash text NOT NULL UNIQUE,
      key_prefix text NOT NULL,
      created_at timestamptz NOT NULL,
      created_by text,
      last_used_at timestamptz,
      revoked_at timestamptz
    )`.execute(db);

  await sql`
    CREATE TABLE admin_users (
      id uuid PRIMARY KEY,
      username text NOT NULL UNIQUE,
      password_hash text NOT NULL,
      created_at timestamptz NOT NULL,
      password_changed_at timestamptz NOT NULL,
      disabled_at timestamptz
    )`.execute(db);

  await sql`
    CREATE TABLE admin_sessions (
      id_hash text PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      last_seen_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX admin_sessions_user_id_idx ON admin_sessions (user_id)`.execute(db);

  await sql`
    CREATE TABLE viewer_tokens (
      token_hash text PRIMARY KEY,
      user_id text NOT NULL,
      issued_by text NOT NULL,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX viewer_tokens_expires_at_idx ON viewer_tokens (expires_at)`.execute(db);

  // One row per (caller, Idempotency-Key): the request's fingerprint and, once done, its response.
  await sql`
    CREATE TABLE idempotency_keys (
      principal text NOT NULL,
      key text NOT NULL,
      request_hash text NOT NULL,
      status_code integer,
      response jsonb,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (principal, key)
    )`.execute(db);
  await sql`CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS idempotency_keys`.execute(db);
  await sql`DROP TABLE IF EXISTS viewer_tokens`.execute(db);
  await sql`DROP TABLE IF EXISTS admin_sessions`.execute(db);
  await sql`DROP TABLE IF EXISTS admin_users`.execute(db);
  await sql`DROP TABLE IF EXISTS api_keys`.execute(db);
}
