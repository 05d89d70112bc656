/**
 * Monthly range partitions for the time-series tables. Writers call `ensure()` with the timestamps they
 * are about to insert; a partition is created the first time its month is seen, and a few months ahead
 * at start, so steady-state inserts never touch the catalog. Retention drops whole partitions.
 * @module
 */
import { sql } from 'kysely';
import type { Database } from './schema.ts';
import type { Kysely, RawBuilder } from 'kysely';

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

/**
 * The advisory lock a retention run holds for its whole run on PostgreSQL (one run across all servers).
 * Re-attaching a detached partition outside a run takes it for its transaction, so it never puts back a
 * month that a run in another process has detached and is about to drop.
 */
export const RETENTION_LOCK: RawBuilder<number> = sql<number>`hashtext('trailguard.retention')`;

/** A month table of a partitioned table, with its range [start, end). */
export interface MonthPartition {
  table: PartitionedTable;
  name: string;
  start: Date;
  end: Date;
}

/** Creates month partitions on demand and remembers which exist. */
export interface PartitionManager {
  /** Makes sure a partition exists for the month of every date given. */
  ensure(table: PartitionedTable, dates: Iterable<Date>): Promise<void>;
  /** Creates partitions from `monthsBack` before to `monthsAhead` after `now`. */
  prepare(table: PartitionedTable, now: Date, monthsAhead?: number, monthsBack?: number): Promise<void>;
  /** Forgets what it knows (after a partition was dropped elsewhere). */
  reset(): void;
  /**
   * The month tables of `table` that exist but are not attached to it: a retention drop that stopped
   * between its detach and its drop (the process died while archiving). Their rows are in no query.
   */
  detached(table: PartitionedTable): Promise<MonthPartition[]>;
  /**
   * Attaches the detached month tables of `table` again, so their rows are queryable and writable and
   * retention handles the month like any other; resolves with those attached. `inRun`: the caller is
   * the retention run itself (it holds the run lock). Otherwise nothing is attached while a run of
   * another process holds the lock (the detached table may be that run's), nor a table this process's
   * run is dropping.
   */
  recover(table: PartitionedTable, options?: { inRun?: boolean | undefined }): Promise<MonthPartition[]>;
  /** Marks `name` as detached by this process's retention run until the returned function is called. */
  dropping(name: string): () => void;
}

/** True when `name` exists as a table but is not a partition of `table`. */
function isDetached(table: PartitionedTable, name: string): RawBuilder<boolean> {
  return sql<boolean>`(to_regclass(${name}) IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(${name}) AND inhparent = to_regclass(${table})))`;
}

export function createPartitionManager(db: Kysely<Database>): PartitionManager {
  const known = new Set<string>();
  const pending = new Map<string, Promise<void>>();
  const beingDropped = new Set<string>();

  function busy(p: MonthPartition, by: string): Error {
    return new Error(
      `partition ${p.name} is detached from ${p.table} by a retention run in progress ${by}; ` +
        `rows for ${p.start.toISOString().slice(0, 7)} can be written again once the run has finished`,
    );
  }

  /** Attaches `p` if it is still detached; true when this call attached it. */
  async function attach(p: MonthPartition, inRun: boolean, failWhenBusy: boolean): Promise<boolean> {
    if (beingDropped.has(p.name)) {
      if (failWhenBusy) throw busy(p, 'in this process');
      return false;
    }
    return db.transaction().execute(async (trx) => {
      if (!inRun) {
        const got = await sql<{
          ok: boolean;
        }>`SELECT pg_try_advisory_xact_lock(${RETENTION_LOCK}) AS ok`.execute(trx);
        if (!got.rows[0]?.ok) {
          if (failWhenBusy) throw busy(p, 'in another process');
          return false;
        }
      }
      // Another process may be recovering the same month: the second one finds it attached.
      const first = await sql<{ d: boolean }>`SELECT ${isDetached(p.table, p.name)} AS d`.execute(trx);
      if (!first.rows[0]?.d) return false;
      await sql`LOCK TABLE ${sql.id(p.name)} IN ACCESS EXCLUSIVE MODE`.execute(trx);
      const again = await sql<{ d: boolean }>`SELECT ${isDetached(p.table, p.name)} AS d`.execute(trx);
      if (!again.rows[0]?.d) return false;
      try {
        await sql`ALTER TABLE ${sql.id(p.table)} ATTACH PARTITION ${sql.id(p.name)}
          FOR VALUES FROM (${sql.lit(p.start.toISOString())}) TO (${sql.lit(p.end.toISOString())})`.execute(
          trx,
        );
      } catch (err) {
        throw new Error(
          `table ${p.name} exists but is not a partition of ${p.table}, and attaching it failed: ${(err as Error).message}`,
          { cause: err },
        );
      }
      return true;
    });
  }

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
    // IF NOT EXISTS also skips a table of that name left detached by an interrupted retention drop: the
    // month would have no partition and every write to it would fail. Put it back (or say why not).
    const left = await sql<{ d: boolean }>`SELECT ${isDetached(table, name)} AS d`.execute(db);
    if (left.rows[0]?.d) await attach({ table, name, start, end }, false, true);
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
    async detached(table) {
      const r = await sql<{ name: string; range_start: Date; range_end: Date }>`
        SELECT name, range_start, range_end FROM trailguard_partition
        WHERE parent = ${table} AND to_regclass(name) IS NOT NULL AND NOT EXISTS (
          SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(name) AND inhparent = to_regclass(${table}))
        ORDER BY range_start`.execute(db);
      return r.rows.map((p) => ({
        table,
        name: p.name,
        start: new Date(p.range_start),
        end: new Date(p.range_end),
      }));
    },
    async recover(table, options = {}) {
      const attached: MonthPartition[] = [];
      for (const p of await this.detached(table)) {
        if (await attach(p, options.inRun ?? false, false)) attached.push(p);
      }
      return attached;
    },
    dropping(name) {
      beingDropped.add(name);
      return () => beingDropped.delete(name);
    },
  };
}
