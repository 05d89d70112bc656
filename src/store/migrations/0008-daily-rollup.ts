import { sql } from 'kysely';
import type { Kysely } from 'kysely';

// Day-sized rollup beside the hourly one, maintained by the same statement as the raw rows. Windows of
// a week or a month read whole days from here and only their partial first and last days from the
// hourly table: 30 days of a busy service are ~2,000 rows instead of ~50,000.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE login_rollup_daily (
      day timestamptz NOT NULL,
      success boolean NOT NULL,
      login_type text NOT NULL,
      device_type text NOT NULL,
      country text NOT NULL,
      shard smallint NOT NULL DEFAULT 0,
      count bigint NOT NULL,
      PRIMARY KEY (day, success, login_type, device_type, country, shard)
    )`.execute(db);
  await sql`
    INSERT INTO login_rollup_daily (day, success, login_type, device_type, country, shard, count)
    SELECT date_trunc('day', hour, 'UTC'), success, login_type, device_type, country, 0, sum(count)
    FROM login_rollup_hourly
    GROUP BY 1, 2, 3, 4, 5`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS login_rollup_daily`.execute(db);
}
