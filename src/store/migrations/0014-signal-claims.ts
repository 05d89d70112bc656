import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// One window raises at most one signal event across every process. Each process keeps its own "last
// alert" marker (in Redis, shared, or in its in-process fallback while Redis is unreachable, private),
// so two servers that each counted their own share of an attack during an outage would each raise the
// signal. The event is stored only when it wins the claim on (pattern, subject): no claim of that
// pattern for that subject within the window's length in event time — the rule each marker applies.
//
// The claim is a row per (pattern, subject) rather than a unique index on the events themselves:
// security_event_rows is partitioned by month, and a unique index there must include occurred_at, which
// cannot express "within the window". The upsert's row lock makes two concurrent claims queue: the
// second re-checks the WHERE against the first's committed row and loses. The subject is the address
// (`i:…`) or the account's keyed hash (`a:…`, as in Redis), never the typed username.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE detection_signal_claims (
    pattern text NOT NULL,
    subject text NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (pattern, subject)
  )`.execute(db);
  // Called from the INSERT of the signal's event (in its CASE, so only for signal events): true when
  // this event takes the window, false when another event of the pattern for the subject holds it.
  await sql`CREATE FUNCTION detection_claim_signal(p_pattern text, p_subject text, p_at timestamptz,
      p_window_seconds integer) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
      won boolean;
    BEGIN
      INSERT INTO detection_signal_claims AS c (pattern, subject, last_at)
      VALUES (p_pattern, p_subject, p_at)
      ON CONFLICT (pattern, subject) DO UPDATE SET last_at = excluded.last_at
      WHERE excluded.last_at >= c.last_at + p_window_seconds * interval '1 second'
         OR excluded.last_at < c.last_at - p_window_seconds * interval '1 second'
      RETURNING true INTO won;
      RETURN coalesce(won, false);
    END $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP FUNCTION IF EXISTS detection_claim_signal(text, text, timestamptz, integer)`.execute(db);
  await sql`DROP TABLE IF EXISTS detection_signal_claims`.execute(db);
}
