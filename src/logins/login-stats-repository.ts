/**
 * Aggregates for dashboards and the seed's monitoring queries. Counts come from the hourly rollup (cheap
 * at any volume); only "top failing IPs", which needs the address, reads raw rows, over a short window.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
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

// Rollup rows are per hour; a window boundary inside an hour counts that whole hour.
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
      const r = await db
        .selectFrom('login_rollup_hourly')
        .select((eb) => [
          eb.fn.coalesce(eb.fn.sum<number>('count'), sql<number>`0`).as('total'),
          eb.fn
            .coalesce(eb.fn.sum<number>(sql`CASE WHEN success THEN count ELSE 0 END`), sql<number>`0`)
            .as('success'),
        ])
        .where('hour', '>=', sql<Date>`date_trunc('hour', ${from}::timestamptz, 'UTC')`)
        .where('hour', '<', to)
        .executeTakeFirstOrThrow();
      const total = Number(r.total);
      const success = Number(r.success);
      return { total, success, failure: total - success };
    },
    async byField(field, from, to) {
      const rows = await db
        .selectFrom('login_rollup_hourly')
        .select((eb) => [eb.ref(field).as('key'), eb.fn.sum<number>('count').as('count')])
        .where('hour', '>=', sql<Date>`date_trunc('hour', ${from}::timestamptz, 'UTC')`)
        .where('hour', '<', to)
        .groupBy(field)
        .orderBy('count', 'desc')
        .execute();
      return rows.map((r) => ({ key: String(r.key), count: Number(r.count) }));
    },
    async perDay(from, to) {
      const rows = await sql<{ period: Date; count: number }>`
        SELECT date_trunc('day', hour, 'UTC') AS period, sum(count) AS count
        FROM login_rollup_hourly
        WHERE hour >= ${from} AND hour < ${to}
        GROUP BY 1
        ORDER BY 1`.execute(db);
      return rows.rows.map((r) => ({ period: new Date(r.period), count: Number(r.count) }));
    },
    async monthsWithData(from, to) {
      const rows = await sql<{ start: Date }>`
        SELECT p.range_start AS start
        FROM trailguard_partition p
        WHERE p.parent = 'login_history' AND p.range_end > ${from} AND p.range_start < ${to}
          AND EXISTS (SELECT 1 FROM login_rollup_hourly r WHERE r.hour >= p.range_start AND r.hour < p.range_end)
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
