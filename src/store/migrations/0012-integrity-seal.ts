import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Tamper evidence (src/integrity): an append-only hash chain of seals over the audit tables.
//
// One entry per sealed range of one stream (kind 'seal': the rows whose UUIDv7 id lies in
// [from_id, to_id), their count and multiset digest) or per accounted change to a sealed range (kind
// 'adjust': the signed row count and digest delta of rows removed by retention or erasure, or added
// back, with a reason and a reference). Each entry's hash covers its fields and the previous entry's
// hash, so editing, deleting or reordering entries breaks the chain. seq is the chain order; the
// primary key makes a second writer that ignored the lock fail instead of forking the chain.
//
// security_event_rows gets an index on id: its primary key is (occurred_at, id), and a seal reads the
// new rows by id range (recording order) — without the index every seal would scan every partition.
// Login events are stored in their login rows (0009), so recording a login does not touch this index
// unless the login raises another event (a suspicious_activity row).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE integrity_seal (
      seq bigint PRIMARY KEY,
      stream text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('seal', 'adjust')),
      from_id uuid NOT NULL,
      to_id uuid NOT NULL,
      row_count bigint NOT NULL,
      digest text NOT NULL,
      algorithm text NOT NULL CHECK (algorithm IN ('hmac-sha256', 'sha256')),
      key_check text,
      adjusts bigint,
      reason text,
      reference text,
      prev text NOT NULL,
      hash text NOT NULL,
      created_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX integrity_seal_stream_from_idx ON integrity_seal (stream, kind, from_id)`.execute(
    db,
  );
  await sql`CREATE INDEX security_event_rows_id_idx ON security_event_rows (id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS security_event_rows_id_idx`.execute(db);
  await sql`DROP TABLE IF EXISTS integrity_seal`.execute(db);
}
