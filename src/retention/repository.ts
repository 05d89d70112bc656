/**
 * All of retention's SQL: the run lock, reading and removing expired rows (whole months or bounded
 * batches), the partition catalogue, and the receipts. The use cases decide what to remove; this file
 * says how the database is asked.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import type { Backend } from '../store/database.ts';
import { RETENTION_LOCK } from '../store/partitions.ts';
import type { Database } from '../store/schema.ts';
import type { DependentRows } from './contract.ts';

type Row = Record<string, unknown> & { id: string };

/** A keyset position: the last row of the previous page. */
export type Keyset = { t: Date; id: string } | null;

function after(timeColumn: string, position: Keyset): RawBuilder<boolean> {
  return position
    ? sql<boolean>`(${sql.ref(timeColumn)}, id) > (${position.t}::timestamptz, ${position.id}::uuid)`
    : sql<boolean>`TRUE`;
}

const byIds = (ids: string[]) => sql<boolean>`id = ANY(${ids}::uuid[])`;

/** Retention's queries over `db` (the pool; a transaction where a function takes `trx`). */
export function createRetentionRepository(db: Kysely<Database>, backend: Backend) {
  return {
    /**
     * Runs `fn` holding the cross-process run lock (PostgreSQL: a session advisory lock on a pinned
     * connection, while the work itself runs on the pool); resolves to null when another holds it.
     */
    async withAdvisoryLock<T>(fn: () => Promise<T>): Promise<{ value: T } | null> {
      if (backend !== 'postgres') return { value: await fn() };
      return db.connection().execute(async (conn) => {
        const got = await sql<{ ok: boolean }>`SELECT pg_try_advisory_lock(${RETENTION_LOCK}) AS ok`.execute(
          conn,
        );
        if (!got.rows[0]?.ok) return null;
        try {
          return { value: await fn() };
        } finally {
          await sql`SELECT pg_advisory_unlock(${RETENTION_LOCK})`.execute(conn);
        }
      });
    },

    /** The existing monthly partitions of `table` that start before `before`, oldest first. */
    async partitionsBefore(table: string, before: Date) {
      const r = await sql<{ name: string; range_start: Date; range_end: Date }>`
        SELECT name, range_start, range_end FROM trailguard_partition
        WHERE parent = ${table} AND range_start < ${before} AND to_regclass(name) IS NOT NULL
        ORDER BY range_start`.execute(db);
      return r.rows;
    },

    async countWhere(relation: string, where: RawBuilder<boolean>): Promise<number> {
      const r = await sql<{
        n: number;
      }>`SELECT count(*)::int8 AS n FROM ${sql.table(relation)} WHERE ${where}`.execute(db);
      return Number(r.rows[0]?.n ?? 0);
    },

    /** The oldest `limit` rows of `relation` matching `where` (whole rows when `whole`, else id and time). */
    async oldest(
      relation: string,
      timeColumn: string,
      where: RawBuilder<boolean>,
      limit: number,
      whole: boolean,
    ) {
      const cols = whole ? sql`*` : sql`id, ${sql.ref(timeColumn)}`;
      const r = await sql<Row>`
        SELECT ${cols} FROM ${sql.table(relation)} WHERE ${where}
        ORDER BY ${sql.ref(timeColumn)}, id LIMIT ${limit}`.execute(db);
      return r.rows;
    },

    /** Deletes the rows of `relation` with these ids matching `where`, after the `kept` statement. */
    async deleteRows(
      trx: Kysely<Database>,
      relation: string,
      these: RawBuilder<boolean>,
      kept?: RawBuilder<unknown>,
    ) {
      const prefix = kept ? sql`WITH kept AS (${kept}) ` : sql``;
      const del = await sql`${prefix}DELETE FROM ${sql.table(relation)} WHERE ${these}`.execute(trx);
      return Number(del.numAffectedRows ?? 0);
    },

    /** The next page of ids (and times) of `relation` matching `where`, after `position`. */
    async page(
      relation: string,
      timeColumn: string,
      where: RawBuilder<boolean>,
      position: Keyset,
      limit: number,
    ) {
      const r = await sql<{ id: string; t: Date | string }>`
        SELECT id, ${sql.ref(timeColumn)} AS t FROM ${sql.table(relation)} WHERE ${where} AND ${after(timeColumn, position)}
        ORDER BY ${sql.ref(timeColumn)}, id LIMIT ${limit}`.execute(db);
      return r.rows;
    },

    /** Whole rows of `relation` after `position`, in keyset order (archiving a detached month). */
    async wholePage(relation: string, timeColumn: string, position: Keyset, limit: number) {
      const r = await sql<Row>`
        SELECT * FROM ${sql.table(relation)} WHERE ${after(timeColumn, position)}
        ORDER BY ${sql.ref(timeColumn)}, id LIMIT ${limit}`.execute(db);
      return r.rows;
    },

    /** Rows of a view with these ids in [first, last] of its time column (what an auditor saw). */
    async shown(view: string, timeColumn: string, ids: string[], first: Date, last: Date) {
      const r = await sql<Record<string, unknown>>`
        SELECT * FROM ${sql.table(view)}
        WHERE id = ANY(${ids}::uuid[]) AND ${sql.ref(timeColumn)} BETWEEN ${first} AND ${last}
        ORDER BY ${sql.ref(timeColumn)}, id`.execute(db);
      return r.rows;
    },

    /** Applies `assignments` to the rows with these ids in [first, last] matching `where`. */
    async update(
      relation: string,
      assignments: RawBuilder<unknown>,
      ids: string[],
      timeColumn: string,
      range: { first: Date; last: Date },
      where: RawBuilder<boolean>,
    ): Promise<number> {
      const done = await sql`
        UPDATE ${sql.table(relation)} SET ${assignments}
        WHERE id = ANY(${ids}::uuid[]) AND ${sql.ref(timeColumn)} BETWEEN ${range.first} AND ${range.last} AND ${where}`.execute(
        db,
      );
      return Number(done.numAffectedRows ?? 0);
    },

    /** Detaches a month; a short lock timeout so a busy parent makes this run give up, not queue logins. */
    async detach(parent: string, name: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        if (backend === 'postgres') await sql`SET LOCAL lock_timeout = '5s'`.execute(trx);
        await sql`ALTER TABLE ${sql.table(parent)} DETACH PARTITION ${sql.table(name)}`.execute(trx);
      });
    },

    async attach(parent: string, name: string, start: Date, end: Date): Promise<void> {
      await sql`ALTER TABLE ${sql.table(parent)} ATTACH PARTITION ${sql.table(name)}
        FOR VALUES FROM (${sql.lit(start.toISOString())}) TO (${sql.lit(end.toISOString())})`.execute(db);
    },

    async dropTable(trx: Kysely<Database>, name: string): Promise<void> {
      await sql`DROP TABLE ${sql.table(name)}`.execute(trx);
    },

    async forgetPartition(parent: string, name: string): Promise<void> {
      await sql`DELETE FROM trailguard_partition WHERE parent = ${parent} AND name = ${name}`.execute(db);
    },

    /** The oldest `limit` rows of `table` matching `where`, locked for the batch's transaction. */
    async lockOldest(
      trx: Kysely<Database>,
      table: string,
      timeColumn: string,
      where: RawBuilder<boolean>,
      limit: number,
    ) {
      const r = await sql<Row>`
        SELECT * FROM ${sql.table(table)} WHERE ${where}
        ORDER BY ${sql.ref(timeColumn)}, id LIMIT ${limit} FOR UPDATE`.execute(trx);
      return r.rows;
    },

    /** The dependent rows of these parents, in their order. */
    async dependents(trx: Kysely<Database>, dep: DependentRows, ids: string[]) {
      const r = await sql<Record<string, unknown>>`
        SELECT * FROM ${sql.table(dep.table)} WHERE ${sql.ref(dep.foreignKey)} = ANY(${ids}::uuid[])
        ORDER BY ${sql.ref(dep.orderBy)}`.execute(trx);
      return r.rows;
    },

    dependentsOf(dep: DependentRows, ids: string[]): RawBuilder<boolean> {
      return sql<boolean>`${sql.ref(dep.foreignKey)} = ANY(${ids}::uuid[])`;
    },

    byIds,

    async deleteWhere(trx: Kysely<Database>, table: string, where: RawBuilder<boolean>): Promise<number> {
      const d = await sql`DELETE FROM ${sql.table(table)} WHERE ${where}`.execute(trx);
      return Number(d.numAffectedRows ?? 0);
    },

    /** The earliest time among the rows of `table` matching `where`, or null. */
    async earliest(table: string, timeColumn: string, where: RawBuilder<boolean>): Promise<Date | null> {
      const r = await sql<{ t: Date | null }>`
        SELECT min(${sql.ref(timeColumn)}) AS t FROM ${sql.table(table)} WHERE ${where}`.execute(db);
      return r.rows[0]?.t ? new Date(r.rows[0].t) : null;
    },

    async countDependents(dep: DependentRows, table: string, where: RawBuilder<boolean>): Promise<number> {
      const r = await sql<{ n: number }>`
        SELECT count(*)::int8 AS n FROM ${sql.table(dep.table)} WHERE ${sql.ref(dep.foreignKey)} IN (
          SELECT id FROM ${sql.table(table)} WHERE ${where})`.execute(db);
      return Number(r.rows[0]?.n ?? 0);
    },

    /** Ids of `relation` matching `where`, as a condition (rows a keeper copied keep their ids). */
    idsIn(relation: string, where: RawBuilder<boolean>): RawBuilder<boolean> {
      return sql<boolean>`id IN (SELECT id FROM ${sql.table(relation)} WHERE ${where})`;
    },

    async insertReceipt(id: string, createdAt: string, body: unknown): Promise<void> {
      await db
        .insertInto('compliance_receipt')
        .values({
          id,
          kind: 'retention',
          subject: null,
          requested_by: 'retention',
          reason: null,
          created_at: createdAt,
          body: JSON.stringify(body),
        })
        .execute();
    },

    async receipts(limit: number): Promise<unknown[]> {
      const rows = await db
        .selectFrom('compliance_receipt')
        .select('body')
        .where('kind', '=', 'retention')
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => r.body);
    },
  };
}

/** Retention's queries. */
export type RetentionRepository = ReturnType<typeof createRetentionRepository>;
