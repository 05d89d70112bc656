/**
 * Monthly range partitions for the time-series tables. Writers call `ensure()` with the timestamps they
 * are about to insert; a partition is created the first time its month is seen, and a few months ahead
 * at start, so steady-state inserts never touch the catalog. Retention drops whole partitions.
 * @module
 */
import { sql } from 'kysely';
import type { Database } from './schema.ts';
import type { Kysely } from 'kysely';

/** Partition parents and their partition-key column. */
export type PartitionedTable = 'login_history' | 'security_event_rows';

/** UTC start of the month containing `d`. */
export function monthStart(d: Date): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
}

function addMonths(d: Date, n: number): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1));
}

/** `login_history_p2026_11` */
export function partitionName(table: PartitionedTable, start: Date): string {
  return `${table}_p${start.getUTCFullYear()}_${String(start.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** Creates month partitions on demand and remembers which exist. */
export interface PartitionManager {
  /** Makes sure a partition exists for the month of every date given. */
  ensure(table: PartitionedTable, dates: Iterable<Date>): Promise<void>;
  /** Creates partitions from `monthsBack` before to `monthsAhead` after `now`. */
  prepare(table: PartitionedTable, now: Date, monthsAhead?: number, monthsBack?: number): Promise<void>;
  /** Forgets what it knows (after a partition was dropped elsewhere). */
  reset(): void;
}

export function createPartitionManager(db: Kysely<Database>): PartitionManager {
  const known = new Set<string>();
  const pending = new Map<string, Promise<void>>();

  async function create(table: PartitionedTable, start: Date): Promise<void> {
    const name = partitionName(table, start);
    const end = addMonths(start, 1);
    // Concurrent processes may race; IF NOT EXISTS plus catching duplicate-object errors makes it idempotent.
    try {
      await sql`CREATE TABLE IF NOT EXISTS ${sql.id(name)} PARTITION OF ${sql.id(table)}
        FOR VALUES FROM (${sql.lit(start.toISOString())}) TO (${sql.lit(end.toISOString())})`.execute(db);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== '42P07' && code !== '23505' && code !== '42P17') throw err;
    }
    await sql`INSERT INTO trailguard_partition (parent, name, range_start, range_end)
      VALUES (${table}, ${name}, ${start}, ${end}) ON CONFLICT DO NOTHING`.execute(db);
  }

  function ensureMonth(table: PartitionedTable, start: Date): Promise<void> | null {
    const key = `${table}:${start.getTime()}`;
    if (known.has(key)) return null;
    let p = pending.get(key);
    if (!p) {
      p = create(table, start).then(
        () => {
          known.add(key);
          pending.delete(key);
        },
        (err: unknown) => {
          pending.delete(key);
          throw err;
        },
      );
      pending.set(key, p);
    }
    return p;
  }

  return {
    async ensure(table, dates) {
      const waits: Promise<void>[] = [];
      const seen = new Set<number>();
      // A batch's dates are nearly always in one month: skip those inside the month just handled.
      let lo = NaN;
      let hi = NaN;
      for (const d of dates) {
        const t = d.getTime();
        if (t >= lo && t < hi) continue;
        const start = monthStart(d);
        lo = start.getTime();
        hi = addMonths(start, 1).getTime();
        if (seen.has(lo)) continue;
        seen.add(lo);
        const p = ensureMonth(table, start);
        if (p) waits.push(p);
      }
      if (!waits.length) return;
      // Settle all before reporting, so no query is left running behind a rejection.
      const results = await Promise.allSettled(waits);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    async prepare(table, now, monthsAhead = 3, monthsBack = 1) {
      const dates: Date[] = [];
      for (let i = -monthsBack; i <= monthsAhead; i++) dates.push(addMonths(monthStart(now), i));
      await this.ensure(table, dates);
    },
    reset() {
      known.clear();
    },
  };
}
