import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Idempotency that survives a crash.
//
// idempotency_keys.locked_until: the request holding a key renews a short lease on it while it runs.
// A retry finding the key unfinished and its lease run out (the first attempt's server died) takes
// the key over instead of answering 409 until the key expires. NULL: no live holder (keys written
// before this migration, or released after a failure), so a retry takes it over at once.
//
// idempotency_items: one row per stored item of a keyed ingestion request, written in the same
// statement as the item's own row, so it exists exactly when the item was committed. A retry reads
// it to answer for the items already stored and writes only the others; its primary key refuses a
// second copy of an item even when two attempts overlap.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE idempotency_keys ADD COLUMN locked_until timestamptz`.execute(db);
  await sql`
    CREATE TABLE idempotency_items (
      principal text NOT NULL,
      key text NOT NULL,
      item integer NOT NULL,
      record_id uuid NOT NULL,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (principal, key, item)
    )`.execute(db);
  await sql`CREATE INDEX idempotency_items_created_at_idx ON idempotency_items (created_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS idempotency_items`.execute(db);
  await sql`ALTER TABLE idempotency_keys DROP COLUMN IF EXISTS locked_until`.execute(db);
}
