/**
 * Aggregates for dashboards and the seed's monitoring queries. Counts come from the rollups (cheap at
 * any volume): whole days of a window from the daily one, its partial first and last days from the
 * hourly one. Only "top failing IPs", which needs the address, reads raw rows, over a short window.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import type { Database } from '../store/schema.ts';

export interface HourlyCount {
  hour: Date;
  success: number;
  failure: number;
}

export interface LoginStatsRepository {
  perHour(from: Date, to: Date): Promise<HourlyCount[]>;
  totals(from: Date, to: Date): Promise<{ total: number; success: number; failure: number }>;
  byField(
    field: 'device_type' | 'country' | 'login_type',
    from: Date,
    to: Date,
  ): Promise<{ key: string; count: number }[]>;
  topFailingIps(from: Date, to: Date, limit: number): Promise<{ ip: string; count: number }[]>;
  /** Attempts per calendar day (UTC) in [from, to), oldest first. */
  perDay(from: Date, to: Date): Promise<{ period: Date; count: number }[]>;
  /**
   * The months (UTC) in [from, to) that hold any login, oldest first: one index probe per monthly
   * partition, so it stays cheap however many rows there are.
   */
  monthsWithData(from: Date, to: Date): Promise<Date[]>;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * The rollup rows of [from, to) as (day, success, login_type, device_type, country, count), counting
 * every hour the window touches (a boundary inside an hour counts that whole hour): hourly rows for the
 * partial days at either end, daily rows for the whole days between.
 */
export function rollupRows(from: Date, to: Date): RawBuilder<unknown> {
  const hFrom = Math.floor(from.getTime() / HOUR) * HOUR;
  const hTo = Math.ceil(to.getTime() / HOUR) * HOUR;
  const dFrom = Math.ceil(hFrom / DAY) * DAY;
  const dTo = Math.floor(hTo / DAY) * DAY;
  const hourly = (a: number, b: number) => sql`
    SELECT date_trunc('day', hour, 'UTC') AS day, success, login_type, device_type, country, count
    FROM login_rollup_hourly WHERE hour >= ${new Date(a)} AND hour < ${new Date(b)}`;
  if (dFrom >= dTo) return hourly(hFrom, hTo);
  return sql`${hourly(hFrom, dFrom)}
    UNION ALL
    SELECT day, success, login_type, device_type, country, count
    FROM login_rollup_daily WHERE day >= ${new Date(dFrom)} AND day < ${new Date(dTo)}
    UNION ALL ${hourly(dTo, hTo)}`;
}

export function createLoginStatsRepository(db: Kysely<Database>): LoginStatsRepository {
  return {
    async perHour(from, to) {
      const rows = await db
        .selectFrom('login_rollup_hourly')
        .select((eb) => [
          'hour',
          eb.fn.sum<number>(sql`CASE WHEN success THEN count ELSE 0 END`).as('success'),
          eb.fn.sum<number>(sql`CASE WHEN success THEN 0 ELSE count END`).as('failure'),
        ])
        .where('hour', '>=', sql<Date>`date_trunc('hour', ${from}::timestamptz, 'UTC')`)
        .where('hour', '<', to)
        .groupBy('hour')
        .orderBy('hour')
        .execute();
      return rows.map((r) => ({
        hour: new Date(r.hour),
        success: Number(r.success),
        failure: Number(r.failure),
      }));
    },
    async totals(from, to) {
      const r = await sql<{ total: number | null; success: number | null }>`
        SELECT sum(count) AS total, sum(CASE WHEN success THEN count ELSE 0 END) AS success
        FROM (${rollupRows(from, to)}) AS r`.execute(db);
      const total = Number(r.rows[0]?.total ?? 0);
      const success = Number(r.rows[0]?.success ?? 0);
      return { total, success, failure: total - success };
    },
    async byField(field, from, to) {
      const rows = await sql<{ key: string; count: number }>`
        SELECT ${sql.ref(field)} AS key, sum(count) AS count
        FROM (${rollupRows(from, to)}) AS r
        GROUP BY 1
        ORDER BY 2 DESC`.execute(db);
      return rows.rows.map((r) => ({ key: String(r.key), count: Number(r.count) }));
    },
    async perDay(from, to) {
      const rows = await sql<{ period: Date; count: number }>`
        SELECT day AS period, sum(count) AS count
        FROM (${rollupRows(from, to)}) AS r
        GROUP BY 1
        ORDER BY 1`.execute(db);
      return rows.rows.map((r) => ({ period: new Date(r.period), count: Number(r.count) }));
    },
    async monthsWithData(from, to) {
      const rows = await sql<{ start: Date }>`
        SELECT p.range_start AS start
        FROM trailguard_partition p
        WHERE p.parent = 'login_history' AND p.range_end > ${from} AND p.range_start < ${to}
          AND EXISTS (SELECT 1 FROM login_rollup_daily r WHERE r.day >= p.range_start AND r.day < p.range_end)
        ORDER BY 1`.execute(db);
      return rows.rows.map((r) => new Date(r.start));
    },
    async topFailingIps(from, to, limit) {
      const rows = await db
        .selectFrom('login_history')
        .select((eb) => [sql<string>`host(ip_address)`.as('ip'), eb.fn.countAll<number>().as('count')])
        .where('success', '=', false)
        .where('login_at', '>=', from)
        .where('login_at', '<', to)
        .where('ip_address', 'is not', null)
        .groupBy('ip_address')
        .orderBy('count', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ ip: r.ip, count: Number(r.count) }));
    },
  };
}
