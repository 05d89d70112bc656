import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Two changes that make each recorded login cheaper to write.
//
// 1. Rollup shards. Concurrent login batches used to upsert the same rollup rows (same hour, outcome, type, device,
// country) and so queued behind each other's row locks until commit: overlapping batches ran one at a
// time. Each batch now adds its counts under a shard of its own; readers sum over shards, as they
// already sum over hours.
//
// 2. Partial indexes on security_events. Every login stores a login_success or login_failed event
// (info / warning), the bulk of the table. Indexing those by type and by severity cost two index
// insertions per login and served no query well: a filter on a type or severity that common is
// answered as fast by walking the occurred_at index. The indexes now hold only the other types and
// the error / critical severities — the rare rows those filters must find quickly.
//
// 3. security_events' primary key becomes (occurred_at, id): nothing looks an event up by id alone,
// and in this order the key is also the time index every list walks (newest first, id as tie-break),
// so the separate occurred_at index goes — one index insertion fewer per event.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE security_events DROP CONSTRAINT security_events_pkey`.execute(db);
  await sql`ALTER TABLE security_events ADD PRIMARY KEY (occurred_at, id)`.execute(db);
  await sql`DROP INDEX security_events_occurred_at_idx`.execute(db);
  await sql`DROP INDEX security_events_type_occurred_at_idx`.execute(db);
  await sql`CREATE INDEX security_events_type_occurred_at_idx ON security_events (event_type, occurred_at)
    WHERE event_type NOT IN ('login_success', 'login_failed')`.execute(db);
  await sql`DROP INDEX security_events_severity_occurred_at_idx`.execute(db);
  await sql`CREATE INDEX security_events_severity_occurred_at_idx ON security_events (severity, occurred_at)
    WHERE severity IN ('error', 'critical')`.execute(db);

  await sql`ALTER TABLE login_rollup_hourly ADD COLUMN shard smallint NOT NULL DEFAULT 0`.execute(db);
  await sql`ALTER TABLE login_rollup_hourly DROP CONSTRAINT login_rollup_hourly_pkey`.execute(db);
  await sql`ALTER TABLE login_rollup_hourly
    ADD PRIMARY KEY (hour, success, login_type, device_type, country, shard)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE security_events DROP CONSTRAINT security_events_pkey`.execute(db);
  await sql`ALTER TABLE security_events ADD PRIMARY KEY (id, occurred_at)`.execute(db);
  await sql`CREATE INDEX security_events_occurred_at_idx ON security_events (occurred_at)`.execute(db);
  await sql`DROP INDEX security_events_type_occurred_at_idx`.execute(db);
  await sql`CREATE INDEX security_events_type_occurred_at_idx ON security_events (event_type, occurred_at)`.execute(
    db,
  );
  await sql`DROP INDEX security_events_severity_occurred_at_idx`.execute(db);
  await sql`CREATE INDEX security_events_severity_occurred_at_idx ON security_events (severity, occurred_at)`.execute(
    db,
  );
  await sql`
    CREATE TEMP TABLE rollup_merged AS
    SELECT hour, success, login_type, device_type, country, sum(count)::bigint AS count
    FROM login_rollup_hourly GROUP BY 1, 2, 3, 4, 5`.execute(db);
  await sql`DELETE FROM login_rollup_hourly`.execute(db);
  await sql`ALTER TABLE login_rollup_hourly DROP CONSTRAINT login_rollup_hourly_pkey`.execute(db);
  await sql`ALTER TABLE login_rollup_hourly DROP COLUMN shard`.execute(db);
  await sql`ALTER TABLE login_rollup_hourly ADD PRIMARY KEY (hour, success, login_type, device_type, country)`.execute(
    db,
  );
  await sql`INSERT INTO login_rollup_hourly SELECT * FROM rollup_merged`.execute(db);
  await sql`DROP TABLE rollup_merged`.execute(db);
}
