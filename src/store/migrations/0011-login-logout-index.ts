import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// The SIEM export reads a login's Logoff at its own time, logout_at, in keyset pages on
// (logout_at, id): a window holds the logouts that happened in it, whenever their logins were. No
// index had logout_at, so every page would scan and sort every month of login history.
//
// Partial (WHERE logout_at IS NOT NULL): recording a login writes no entry here; the cost is paid at
// logout only, one index insertion per closed session. The column being indexed also means a logout's
// UPDATE is no longer eligible for a HOT update, so it writes an entry in each of the row's other
// indexes too; login history pages are filled in insert order (fillfactor 100), so that update seldom
// found room for a HOT copy anyway.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX login_history_logout_at_id_idx ON login_history (logout_at, id)
    WHERE logout_at IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS login_history_logout_at_id_idx`.execute(db);
}
