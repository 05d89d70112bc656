/**
 * Retention: removes records older than the policy allows, archiving them first when an archive folder
 * is configured. Months that are entirely expired are detached and dropped as whole partitions; a month
 * that is only partly expired is trimmed in bounded batches (one short statement each, so logins are
 * never locked out). Every run leaves a receipt.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import { newId } from '../domain/ids.ts';
import type { Clock } from '../domain/clock.ts';
import { TrailguardError, invalid } from '../domain/errors.ts';
import { isPlainObject } from '../domain/validation.ts';
import type { Logger } from '../domain/logger.ts';
import type { Backend } from '../store/database.ts';
import { RETENTION_LOCK } from '../store/partitions.ts';
import type { PartitionManager, PartitionedTable } from '../store/partitions.ts';
import { SECURITY_EVENT_COLUMNS, loginEventsOf } from '../store/login-events.ts';
import type { Database } from '../store/schema.ts';
import type { AdjustNote, IntegrityService, Stream } from '../integrity/integrity-service.ts';
import { STREAMS } from '../integrity/integrity-service.ts';
import { archiveFileName, createArchiveWriter } from './archive.ts';
import type { ArchiveFile, ArchiveWriter } from './archive.ts';
import './error-codes.ts';
import type { RetentionPolicy } from './retention-policy.ts';

const DAY_MS = 86_400_000;

/** One step of a run: a month of one table, dropped or trimmed, or its expired inline events cleared. */
export interface RetentionItem {
  /** The table; for `clear_event`, the view showing the events (`login_events`). */
  table: string;
  /** The month (`2025-06`) or, for unpartitioned tables, `all`. */
  period: string;
  /**
   * `clear_event`: security events stored in rows that are kept longer than the events (a login's own
   * event, in its login_history row) were taken out of their rows, in batches.
   */
  method: 'drop_partition' | 'batch_delete' | 'clear_event';
  /** Rows removed (for `clear_event`, events removed); in a dry run, that would be removed. */
  rows: number;
  /** The time range the removed rows fall in: [from, to). */
  range: { from: string; to: string };
  /** Which rows: each class with its cutoff (`success before 2026-…`). */
  criteria: { class: string; before: string }[];
  archive: ArchiveFile | null;
  /** Rows of dependent tables removed with them (`{ change_log_history: 12 }`); absent when none apply. */
  dependents?: Record<string, number> | undefined;
}

/** What a run did. Written to `compliance_receipt` and into the change log as a `data_retention` change. */
export interface RetentionReceipt {
  id: string;
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  policy: RetentionPolicy;
  items: RetentionItem[];
  totalRows: number;
  /** The `data_retention` change recording this run; null for a dry run or without a change log. */
  changeId: string | null;
  /**
   * Partitions an earlier, interrupted run had detached and not dropped, attached again by this run
   * before it applied the policy (`login_history_p2025_05`); absent when there were none.
   */
  recovered?: string[] | undefined;
}

/** Options of one run. */
export interface RetentionRunOptions {
  /** Count what would be removed; change nothing and record no receipt. @default false */
  dryRun?: boolean | undefined;
}

/** Records the receipt in the change log; returns the change id. */
export type ReceiptRecorder = (receipt: RetentionReceipt) => Promise<string | null>;

/** `tg.retention` */
export interface RetentionService {
  /** Applies the policy now; resolves with the receipt. */
  run(options?: RetentionRunOptions): Promise<RetentionReceipt>;
  /** Past receipts, newest first. */
  receipts(options?: { limit?: number | undefined }): Promise<RetentionReceipt[]>;
  readonly policy: RetentionPolicy;
}

/** One class of rows with its own period (`success` 90 days, `failed` 180 days …). */
export interface RetentionClass {
  name: string;
  /** SQL condition selecting the class (unqualified columns). */
  where: RawBuilder<boolean>;
  cutoff: Date;
}

/** A partitioned time-series table and its classes. */
export interface PartitionedTarget {
  table: PartitionedTable;
  timeColumn: string;
  classes: RetentionClass[];
  /**
   * What must outlive the rows of `relation` (the table or a detached partition) matching `where`: a
   * data-modifying statement run in the same transaction as their removal, before it. Login rows keep
   * their own security events this way when the events' period is longer (see loginEventKeeper).
   */
  keep?: ((relation: string, where: RawBuilder<boolean>) => RawBuilder<unknown>) | undefined;
  /** Events stored inside the rows, with periods of their own (see InlineEvents). */
  inlineEvents?: InlineEvents | undefined;
}

/**
 * Security events stored inside the rows of a partitioned target (a login's own event, migration 0009).
 * An event whose own period ends while its row is kept is taken out of the row; `keep` handles the
 * other way round (the row goes first).
 */
export interface InlineEvents {
  /** The view that shows them as events; it names them in the receipt and the archive. */
  view: string;
  /** The view's time column (the target's time column under the view's name). */
  viewTimeColumn: string;
  /** The event classes, as conditions on the target's columns (rows without an event match none). */
  classes: RetentionClass[];
  /** The assignments that take the event out of its row: the view no longer shows the row. */
  clear: RawBuilder<unknown>;
}

/** Rows of another table that belong to each row of a plain target and go with it. */
export interface DependentRows {
  table: string;
  /** Column of the dependent table holding the parent id. */
  foreignKey: string;
  /** Order of the dependent rows inside the archived parent. */
  orderBy: string;
  /** Property under which a parent's dependent rows are archived (in the parent's line). */
  field: string;
}

/**
 * An ordinary (unpartitioned) table trimmed in batches, such as the change log. Each batch runs in its
 * own transaction: `prepare` first (e.g. the history purge escape hatch, `SET LOCAL`), then archive,
 * then delete the dependent rows and the rows.
 */
export interface PlainTarget {
  table: string;
  timeColumn: string;
  classes: RetentionClass[];
  dependent?: DependentRows | undefined;
  prepare?: RawBuilder<unknown>[] | undefined;
}

export interface RetentionServiceDeps {
  db: Kysely<Database>;
  backend: Backend;
  partitions: PartitionManager;
  clock: Clock;
  logger: Logger;
  policy: RetentionPolicy;
  /** Extra targets contributed by other features (security events, change log), given `now`. */
  targets?:
    | ((now: Date, policy: RetentionPolicy) => { partitioned: PartitionedTarget[]; plain: PlainTarget[] })
    | undefined;
  recordReceipt?: ReceiptRecorder | undefined;
  /**
   * Tamper evidence: rows removed from sealed tables are filed as adjustments of their seals in the
   * transaction that removes them, so `verify` tells a retention run from a deletion behind its back.
   */
  integrity?: Pick<IntegrityService, 'adjust' | 'adjustRemoved' | 'sealedRows'> | undefined;
}

const isSealed = (table: string): table is Stream => (STREAMS as readonly string[]).includes(table);

function month(d: Date): string {
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function expiredSql(timeColumn: string, classes: RetentionClass[]): RawBuilder<boolean> {
  const parts = classes.map((c) => sql<boolean>`(${c.where} AND ${sql.ref(timeColumn)} < ${c.cutoff})`);
  return sql<boolean>`(${sql.join(parts, sql` OR `)})`;
}

/** The security event classes by the severity in `column`: `error` and `critical` are kept longer. */
function severityClasses(column: string, now: Date, policy: RetentionPolicy): RetentionClass[] {
  const high = sql<boolean>`${sql.ref(column)} IN ('error', 'critical')`;
  return [
    {
      name: 'error_critical',
      where: high,
      cutoff: new Date(now.getTime() - policy.securityEvents.highDays * DAY_MS),
    },
    {
      name: 'info_warning',
      where: sql<boolean>`NOT ${high}`,
      cutoff: new Date(now.getTime() - policy.securityEvents.otherDays * DAY_MS),
    },
  ];
}

/** Security events: `error` and `critical` are kept longer than `info` and `warning`. */
export function securityEventClasses(now: Date, policy: RetentionPolicy): RetentionClass[] {
  return severityClasses('severity', now, policy);
}

/**
 * A login's own security event lives in its login row (migration 0009), yet follows the security event
 * periods: when the login expires first, the event still inside its period becomes a row of
 * security_event_rows, in the statement that removes the login.
 */
export function loginEventKeeper(
  now: Date,
  policy: RetentionPolicy,
): (relation: string, where: RawBuilder<boolean>) => RawBuilder<unknown> {
  const high = new Date(now.getTime() - policy.securityEvents.highDays * DAY_MS);
  const other = new Date(now.getTime() - policy.securityEvents.otherDays * DAY_MS);
  const current = sql<boolean>`(CASE WHEN event_severity IN ('error', 'critical') THEN login_at >= ${high}
    ELSE login_at >= ${other} END)`;
  return (relation, where) => sql`
    INSERT INTO security_event_rows (${SECURITY_EVENT_COLUMNS})
    ${loginEventsOf(relation, sql<boolean>`${where} AND ${current}`)}`;
}

/**
 * A login's own event, by the security event periods: event_severity is what the security_events view
 * (through login_events) reads a row's event from, NULL meaning the row has none.
 */
export function loginInlineEvents(now: Date, policy: RetentionPolicy): InlineEvents {
  return {
    view: 'login_events',
    viewTimeColumn: 'occurred_at',
    classes: severityClasses('event_severity', now, policy),
    clear: sql`event_severity = NULL, event_context = NULL`,
  };
}

/** The login history classes: successful and failed logins have different periods. */
export function loginClasses(now: Date, policy: RetentionPolicy): RetentionClass[] {
  return [
    {
      name: 'success',
      where: sql<boolean>`success`,
      cutoff: new Date(now.getTime() - policy.logins.successDays * DAY_MS),
    },
    {
      name: 'failed',
      where: sql<boolean>`NOT success`,
      cutoff: new Date(now.getTime() - policy.logins.failedDays * DAY_MS),
    },
  ];
}

/**
 * The change log: critical changes for `criticalDays` (forever when null), the rest for `otherDays`,
 * counted from `deployed_at`. `data_retention` receipts are ordinary low-impact changes: they follow the
 * same period, and a run can only remove receipts older than that, never its own or a recent one.
 */
export function changeLogClasses(now: Date, policy: RetentionPolicy): RetentionClass[] {
  const classes: RetentionClass[] = [
    {
      name: 'low_medium_high',
      where: sql<boolean>`impact_level <> 'critical'`,
      cutoff: new Date(now.getTime() - policy.changes.otherDays * DAY_MS),
    },
  ];
  if (policy.changes.criticalDays !== null) {
    classes.push({
      name: 'critical',
      where: sql<boolean>`impact_level = 'critical'`,
      cutoff: new Date(now.getTime() - policy.changes.criticalDays * DAY_MS),
    });
  }
  return classes;
}

/** The change log target: history rows go with their change, inside the archived line as `history`. */
export function changeLogTarget(now: Date, policy: RetentionPolicy): PlainTarget {
  return {
    table: 'change_log',
    timeColumn: 'deployed_at',
    classes: changeLogClasses(now, policy),
    dependent: { table: 'change_log_history', foreignKey: 'change_id', orderBy: 'seq', field: 'history' },
    // change_log_history is append-only by trigger; this transaction-scoped setting is its documented
    // escape hatch for retention (migration 0003).
    prepare: [sql`SET LOCAL trailguard.history_purge = 'on'`],
  };
}

export function createRetentionService(deps: RetentionServiceDeps): RetentionService {
  const { db, clock, logger, policy } = deps;
  let running = false;

  async function withRunLock<T>(fn: () => Promise<T>): Promise<T> {
    if (running) throw new TrailguardError('RETENTION_IN_PROGRESS', 'a retention run is already in progress');
    running = true;
    try {
      if (deps.backend !== 'postgres') return await fn();
      // Another server may be running retention: a session advisory lock on a pinned connection. The
      // work itself runs on the pool, statement by statement, so logins keep flowing.
      return await db.connection().execute(async (conn) => {
        const got = await sql<{
          ok: boolean;
        }>`SELECT pg_try_advisory_lock(${RETENTION_LOCK}) AS ok`.execute(conn);
        if (!got.rows[0]?.ok) {
          throw new TrailguardError(
            'RETENTION_IN_PROGRESS',
            'a retention run is already in progress in another process',
          );
        }
        try {
          return await fn();
        } finally {
          await sql`SELECT pg_advisory_unlock(${RETENTION_LOCK})`.execute(conn);
        }
      });
    } finally {
      running = false;
    }
  }

  // The adjustment note of the run in progress (runs never overlap: withRunLock).
  let note: AdjustNote = { reason: 'retention' };

  /** Files the removal of `where`'s rows of `table` (on `relation`, a detached month) with their seals. */
  async function unseal(
    trx: Kysely<Database>,
    table: string,
    where: RawBuilder<boolean>,
    relation?: string,
  ): Promise<void> {
    if (deps.integrity && isSealed(table))
      await deps.integrity.adjustRemoved(table, { where, relation }, note, trx);
  }

  /** Files login events the keeper just copied into security_event_rows (they keep their old ids). */
  async function resealKept(
    trx: Kysely<Database>,
    fromRelation: string,
    where: RawBuilder<boolean>,
  ): Promise<void> {
    if (!deps.integrity) return;
    const added = await deps.integrity.sealedRows(
      'security_event_rows',
      { where: sql<boolean>`id IN (SELECT id FROM ${sql.table(fromRelation)} WHERE ${where})` },
      trx,
    );
    if (added.length > 0) await deps.integrity.adjust('security_event_rows', { added }, note, trx);
  }

  async function openArchive(table: string, period: string, runAt: Date): Promise<ArchiveWriter | null> {
    if (policy.archiveDir === null) return null;
    return createArchiveWriter(policy.archiveDir, archiveFileName(table, period, runAt));
  }

  /** Removes expired rows of one table (a partition or a plain table) in bounded batches. */
  async function trimInBatches(
    table: string,
    relation: string,
    timeColumn: string,
    where: RawBuilder<boolean>,
    archive: ArchiveWriter | null,
    keep?: PartitionedTarget['keep'],
  ): Promise<number> {
    let removed = 0;
    for (;;) {
      const cols = archive ? sql`*` : sql`id, ${sql.ref(timeColumn)}`;
      const batch = await sql<Record<string, unknown> & { id: string }>`
        SELECT ${cols} FROM ${sql.table(relation)} WHERE ${where}
        ORDER BY ${sql.ref(timeColumn)}, id LIMIT ${policy.batchSize}`.execute(db);
      const rows = batch.rows;
      if (rows.length === 0) return removed;
      if (archive) await archive.write(rows);
      const ids = rows.map((r) => r.id);
      const these = sql<boolean>`id = ANY(${ids}::uuid[]) AND ${where}`;
      // What must outlive the rows is saved by the statement that deletes them: both or neither.
      const kept = keep ? sql`WITH kept AS (${keep(relation, these)}) ` : sql``;
      const n = await db.transaction().execute(async (trx) => {
        await unseal(trx, table, these);
        const del = await sql`${kept}DELETE FROM ${sql.table(relation)} WHERE ${these}`.execute(trx);
        if (keep) await resealKept(trx, 'security_event_rows', sql<boolean>`id = ANY(${ids}::uuid[])`);
        return Number(del.numAffectedRows ?? 0);
      });
      removed += n;
      if (rows.length < policy.batchSize) return removed;
    }
  }

  /** The existing monthly partitions of `table` that start before `before`, oldest first. */
  function partitionsBefore(table: string, before: Date) {
    return sql<{ name: string; range_start: Date; range_end: Date }>`
      SELECT name, range_start, range_end FROM trailguard_partition
      WHERE parent = ${table} AND range_start < ${before} AND to_regclass(name) IS NOT NULL
      ORDER BY range_start`.execute(db);
  }

  async function countWhere(relation: string, where: RawBuilder<boolean>): Promise<number> {
    const r = await sql<{
      n: number;
    }>`SELECT count(*)::int8 AS n FROM ${sql.table(relation)} WHERE ${where}`.execute(db);
    return Number(r.rows[0]?.n ?? 0);
  }

  /** Applies the policy to one partitioned target; each item goes into `items` once done. */
  async function runPartitioned(
    target: PartitionedTarget,
    runAt: Date,
    dryRun: boolean,
    items: RetentionItem[],
  ): Promise<void> {
    const cutoffs = target.classes.map((c) => c.cutoff.getTime());
    const minCut = new Date(Math.min(...cutoffs));
    const maxCut = new Date(Math.max(...cutoffs));
    const criteria = target.classes.map((c) => ({ class: c.name, before: c.cutoff.toISOString() }));
    const parts = await partitionsBefore(target.table, maxCut);
    for (const p of parts.rows) {
      const start = new Date(p.range_start);
      const end = new Date(p.range_end);
      const period = month(start);
      if (end.getTime() <= minCut.getTime()) {
        // Every row of the month is past every cutoff: drop the whole partition.
        const item: RetentionItem = {
          table: target.table,
          period,
          method: 'drop_partition',
          rows: 0,
          range: { from: start.toISOString(), to: end.toISOString() },
          criteria,
          archive: null,
        };
        if (dryRun) {
          item.rows = await countWhere(p.name, sql<boolean>`TRUE`);
        } else {
          const result = await dropPartition(target, p.name, start, end, runAt);
          item.rows = result.rows;
          item.archive = result.archive;
        }
        items.push(item);
        continue;
      }
      // Partly expired: only some classes (or only the older part) of this month.
      const active = target.classes.filter((c) => c.cutoff.getTime() > start.getTime());
      if (active.length === 0) continue;
      const where = expiredSql(target.timeColumn, active);
      const rangeEnd = new Date(Math.min(end.getTime(), Math.max(...active.map((c) => c.cutoff.getTime()))));
      const item: RetentionItem = {
        table: target.table,
        period,
        method: 'batch_delete',
        rows: 0,
        range: { from: start.toISOString(), to: rangeEnd.toISOString() },
        criteria: active.map((c) => ({ class: c.name, before: c.cutoff.toISOString() })),
        archive: null,
      };
      if (dryRun) {
        item.rows = await countWhere(p.name, where);
      } else {
        const archive = await openArchive(target.table, period, runAt);
        try {
          if (target.keep) await deps.partitions.ensure('security_event_rows', [start]);
          item.rows = await trimInBatches(
            target.table,
            p.name,
            target.timeColumn,
            where,
            archive,
            target.keep,
          );
          item.archive = archive ? await finishOrDrop(archive, item.rows) : null;
        } catch (err) {
          await archive?.abort();
          throw err;
        }
      }
      if (item.rows > 0 || dryRun) items.push(item);
    }
    if (target.inlineEvents) await runInlineEvents(target, target.inlineEvents, runAt, dryRun, items);
  }

  /**
   * Takes expired inline events out of the rows that stay, month by month, in bounded batches (keyset
   * on the time column, so no batch walks past the rows already cleared). Runs after the rows' own
   * removal; a dry run leaves out the rows it counted as removed. Like the change log, a month's item
   * is in `items` from its first batch on, so a failure still reports (and keeps the archive of) the
   * batches already committed.
   */
  async function runInlineEvents(
    target: PartitionedTarget,
    events: InlineEvents,
    runAt: Date,
    dryRun: boolean,
    items: RetentionItem[],
  ): Promise<void> {
    const maxCut = new Date(Math.max(...events.classes.map((c) => c.cutoff.getTime())));
    const rowExpired = expiredSql(target.timeColumn, target.classes);
    const parts = await partitionsBefore(target.table, maxCut);
    for (const p of parts.rows) {
      const start = new Date(p.range_start);
      const end = new Date(p.range_end);
      const active = events.classes.filter((c) => c.cutoff.getTime() > start.getTime());
      if (active.length === 0) continue;
      const where = sql<boolean>`${expiredSql(target.timeColumn, active)} AND NOT ${rowExpired}`;
      const period = month(start);
      const item: RetentionItem = {
        table: events.view,
        period,
        method: 'clear_event',
        rows: 0,
        range: {
          from: start.toISOString(),
          to: new Date(
            Math.min(end.getTime(), Math.max(...active.map((c) => c.cutoff.getTime()))),
          ).toISOString(),
        },
        criteria: active.map((c) => ({ class: c.name, before: c.cutoff.toISOString() })),
        archive: null,
      };
      if (dryRun) {
        item.rows = await countWhere(p.name, where);
        if (item.rows > 0) items.push(item);
        continue;
      }
      items.push(item);
      const archive = await openArchive(events.view, period, runAt);
      try {
        await clearInBatches(p.name, target.timeColumn, events, where, archive, item);
        item.archive = archive ? await finishOrDrop(archive, item.rows) : null;
      } catch (err) {
        // Cleared batches are committed: their events are in the partial file only, keep it.
        if (archive && item.rows > 0) item.archive = await archive.finish().catch(() => null);
        else await archive?.abort();
        throw err;
      }
      if (item.rows === 0) items.splice(items.indexOf(item), 1);
    }
  }

  /**
   * Clears the inline events of the rows of `relation` matching `where`, archiving each batch first;
   * `progress.rows` counts the events cleared by committed batches.
   */
  async function clearInBatches(
    relation: string,
    timeColumn: string,
    events: InlineEvents,
    where: RawBuilder<boolean>,
    archive: ArchiveWriter | null,
    progress: { rows: number },
  ): Promise<void> {
    let after: { t: Date; id: string } | null = null;
    for (;;) {
      const keyset: RawBuilder<boolean> = after
        ? sql<boolean>`(${sql.ref(timeColumn)}, id) > (${after.t}::timestamptz, ${after.id}::uuid)`
        : sql<boolean>`TRUE`;
      const batch = await sql<{ id: string; t: Date | string }>`
        SELECT id, ${sql.ref(timeColumn)} AS t FROM ${sql.table(relation)} WHERE ${where} AND ${keyset}
        ORDER BY ${sql.ref(timeColumn)}, id LIMIT ${policy.batchSize}`.execute(db);
      const rows = batch.rows;
      if (rows.length === 0) return;
      const ids = rows.map((r) => r.id);
      const first = new Date(rows[0]!.t);
      const last = new Date(rows[rows.length - 1]!.t);
      if (archive) {
        // The events as the view shows them (what an auditor saw), not the row's raw columns.
        const shown = await sql<Record<string, unknown>>`
          SELECT * FROM ${sql.table(events.view)}
          WHERE id = ANY(${ids}::uuid[]) AND ${sql.ref(events.viewTimeColumn)} BETWEEN ${first} AND ${last}
          ORDER BY ${sql.ref(events.viewTimeColumn)}, id`.execute(db);
        await archive.write(shown.rows);
      }
      const done = await sql`
        UPDATE ${sql.table(relation)} SET ${events.clear}
        WHERE id = ANY(${ids}::uuid[]) AND ${sql.ref(timeColumn)} BETWEEN ${first} AND ${last} AND ${where}`.execute(
        db,
      );
      progress.rows += Number(done.numAffectedRows ?? 0);
      if (rows.length < policy.batchSize) return;
      after = { t: last, id: rows[rows.length - 1]!.id };
    }
  }

  // An archive with no rows is not worth a file.
  async function finishOrDrop(archive: ArchiveWriter, rows: number): Promise<ArchiveFile | null> {
    if (rows === 0) {
      await archive.abort();
      return null;
    }
    return archive.finish();
  }

  async function dropPartition(
    target: PartitionedTarget,
    name: string,
    start: Date,
    end: Date,
    runAt: Date,
  ): Promise<{ rows: number; archive: ArchiveFile | null }> {
    // While detached, a late write for the month must not attach it again (partitions.ts): it would be
    // dropped with rows that were never archived.
    const release = deps.partitions.dropping(name);
    try {
      return await detachArchiveDrop(target, name, start, end, runAt);
    } finally {
      release();
    }
  }

  async function detachArchiveDrop(
    target: PartitionedTarget,
    name: string,
    start: Date,
    end: Date,
    runAt: Date,
  ): Promise<{ rows: number; archive: ArchiveFile | null }> {
    // Detach first: once detached no new row can land in it, so what is archived is what is dropped.
    // A short lock timeout: if the parent is busy, give up this run rather than queue logins behind us.
    // If the process dies before the drop, the month stays detached: the next run (or the next start)
    // attaches it again (partitions.recover) and handles it from the start.
    await db.transaction().execute(async (trx) => {
      if (deps.backend === 'postgres') await sql`SET LOCAL lock_timeout = '5s'`.execute(trx);
      await sql`ALTER TABLE ${sql.table(target.table)} DETACH PARTITION ${sql.table(name)}`.execute(trx);
    });
    const archive = await openArchive(target.table, month(start), runAt);
    let rows = 0;
    try {
      if (archive) {
        let after: { t: Date; id: string } | null = null;
        for (;;) {
          const keyset: RawBuilder<boolean> = after
            ? sql<boolean>`(${sql.ref(target.timeColumn)}, id) > (${after.t}::timestamptz, ${after.id}::uuid)`
            : sql<boolean>`TRUE`;
          const page = await sql<Record<string, unknown> & { id: string }>`
            SELECT * FROM ${sql.table(name)} WHERE ${keyset}
            ORDER BY ${sql.ref(target.timeColumn)}, id LIMIT ${policy.batchSize}`.execute(db);
          if (page.rows.length === 0) break;
          await archive.write(page.rows);
          rows += page.rows.length;
          const last = page.rows[page.rows.length - 1]!;
          after = { t: new Date(last[target.timeColumn] as Date | string), id: last.id };
        }
      } else {
        rows = await countWhere(name, sql<boolean>`TRUE`);
      }
      const file = archive ? await finishOrDrop(archive, rows) : null;
      const keep = target.keep;
      if (keep) {
        await deps.partitions.ensure('security_event_rows', [start]);
        // What must outlive the month is saved in the transaction that drops it: both or neither.
        await db.transaction().execute(async (trx) => {
          await unseal(trx, target.table, sql<boolean>`TRUE`, name);
          await keep(name, sql<boolean>`TRUE`).execute(trx);
          await resealKept(trx, name, sql<boolean>`TRUE`);
          await sql`DROP TABLE ${sql.table(name)}`.execute(trx);
        });
      } else {
        await db.transaction().execute(async (trx) => {
          await unseal(trx, target.table, sql<boolean>`TRUE`, name);
          await sql`DROP TABLE ${sql.table(name)}`.execute(trx);
        });
      }
      await sql`DELETE FROM trailguard_partition WHERE parent = ${target.table} AND name = ${name}`.execute(
        db,
      );
      deps.partitions.reset();
      return { rows, archive: file };
    } catch (err) {
      await archive?.abort();
      // Put the month back so nothing is lost; the next run tries again.
      await sql`ALTER TABLE ${sql.table(target.table)} ATTACH PARTITION ${sql.table(name)}
        FOR VALUES FROM (${sql.lit(start.toISOString())}) TO (${sql.lit(end.toISOString())})`
        .execute(db)
        .catch((e: unknown) =>
          logger.error({ err: e, partition: name }, 'retention: could not re-attach partition'),
        );
      throw err;
    }
  }

  /**
   * One bounded batch per transaction: lock the oldest expired rows, archive them with their dependent
   * rows, delete both. Nothing is deleted that was not written to the archive first.
   */
  async function trimPlain(
    target: PlainTarget,
    where: RawBuilder<boolean>,
    archive: ArchiveWriter | null,
    progress: { rows: number; dependents: number },
  ): Promise<void> {
    const dep = target.dependent;
    for (;;) {
      let dependents = 0;
      const n = await db.transaction().execute(async (trx) => {
        for (const statement of target.prepare ?? []) await statement.execute(trx);
        const batch = await sql<Record<string, unknown> & { id: string }>`
          SELECT * FROM ${sql.table(target.table)} WHERE ${where}
          ORDER BY ${sql.ref(target.timeColumn)}, id LIMIT ${policy.batchSize} FOR UPDATE`.execute(trx);
        if (batch.rows.length === 0) return 0;
        const ids = batch.rows.map((r) => r.id);
        if (dep) {
          if (archive) {
            const children = await sql<Record<string, unknown>>`
              SELECT * FROM ${sql.table(dep.table)} WHERE ${sql.ref(dep.foreignKey)} = ANY(${ids}::uuid[])
              ORDER BY ${sql.ref(dep.orderBy)}`.execute(trx);
            const byParent = new Map<string, Record<string, unknown>[]>();
            for (const c of children.rows) {
              const parent = String(c[dep.foreignKey]);
              const list = byParent.get(parent) ?? [];
              list.push(c);
              byParent.set(parent, list);
            }
            await archive.write(batch.rows.map((r) => ({ ...r, [dep.field]: byParent.get(r.id) ?? [] })));
          }
          await unseal(trx, dep.table, sql<boolean>`${sql.ref(dep.foreignKey)} = ANY(${ids}::uuid[])`);
          const d = await sql`
            DELETE FROM ${sql.table(dep.table)} WHERE ${sql.ref(dep.foreignKey)} = ANY(${ids}::uuid[])`.execute(
            trx,
          );
          dependents += Number(d.numAffectedRows ?? 0);
        } else if (archive) {
          await archive.write(batch.rows);
        }
        await unseal(trx, target.table, sql<boolean>`id = ANY(${ids}::uuid[])`);
        const del = await sql`DELETE FROM ${sql.table(target.table)} WHERE id = ANY(${ids}::uuid[])`.execute(
          trx,
        );
        return Number(del.numAffectedRows ?? 0);
      });
      // Counted only once the batch has committed.
      progress.rows += n;
      progress.dependents += dependents;
      if (n < policy.batchSize) return;
    }
  }

  /** Trims a plain target; its item is in `items` from the first batch on, so a failure still reports it. */
  async function runPlain(
    target: PlainTarget,
    runAt: Date,
    dryRun: boolean,
    items: RetentionItem[],
  ): Promise<void> {
    const where = expiredSql(target.timeColumn, target.classes);
    const criteria = target.classes.map((c) => ({ class: c.name, before: c.cutoff.toISOString() }));
    const maxCut = new Date(Math.max(...target.classes.map((c) => c.cutoff.getTime())));
    const first = await sql<{ t: Date | null }>`
      SELECT min(${sql.ref(target.timeColumn)}) AS t FROM ${sql.table(target.table)} WHERE ${where}`.execute(
      db,
    );
    const from = first.rows[0]?.t ? new Date(first.rows[0].t) : null;
    if (!from) return;
    const dep = target.dependent;
    const item: RetentionItem = {
      table: target.table,
      period: 'all',
      method: 'batch_delete',
      rows: 0,
      range: { from: from.toISOString(), to: maxCut.toISOString() },
      criteria,
      archive: null,
    };
    if (dryRun) {
      item.rows = await countWhere(target.table, where);
      if (dep) {
        const r = await sql<{ n: number }>`
          SELECT count(*)::int8 AS n FROM ${sql.table(dep.table)} WHERE ${sql.ref(dep.foreignKey)} IN (
            SELECT id FROM ${sql.table(target.table)} WHERE ${where})`.execute(db);
        item.dependents = { [dep.table]: Number(r.rows[0]?.n ?? 0) };
      }
      items.push(item);
      return;
    }
    items.push(item);
    const archive = await openArchive(target.table, `before-${maxCut.toISOString().slice(0, 10)}`, runAt);
    const progress = { rows: 0, dependents: 0 };
    try {
      await trimPlain(target, where, archive, progress);
      item.rows = progress.rows;
      if (dep) item.dependents = { [dep.table]: progress.dependents };
      item.archive = archive ? await finishOrDrop(archive, item.rows) : null;
    } catch (err) {
      item.rows = progress.rows;
      if (dep) item.dependents = { [dep.table]: progress.dependents };
      // Batches already committed are in the partial file only: keep it beside the receipt's failure
      // rather than lose the only copy of rows that are gone from the database.
      if (archive && item.rows > 0) {
        item.archive = await archive.finish().catch(() => null);
      } else {
        await archive?.abort();
      }
      throw err;
    }
    if (item.rows === 0) items.splice(items.indexOf(item), 1);
  }

  function toReceipt(body: Record<string, unknown>): RetentionReceipt {
    return body as unknown as RetentionReceipt;
  }

  return {
    policy,

    async run(options = {}) {
      if (!isPlainObject(options)) throw invalid('options', 'run() takes { dryRun? }');
      if (options.dryRun !== undefined && typeof options.dryRun !== 'boolean') {
        throw invalid('dryRun', 'must be a boolean');
      }
      const dryRun = options.dryRun ?? false;
      return withRunLock(async () => {
        const startedAt = clock.now();
        const extra = deps.targets?.(startedAt, policy) ?? { partitioned: [], plain: [] };
        const partitioned: PartitionedTarget[] = [
          {
            table: 'login_history',
            timeColumn: 'login_at',
            classes: loginClasses(startedAt, policy),
            keep: loginEventKeeper(startedAt, policy),
            inlineEvents: loginInlineEvents(startedAt, policy),
          },
          {
            table: 'security_event_rows',
            timeColumn: 'occurred_at',
            classes: securityEventClasses(startedAt, policy),
          },
          ...extra.partitioned,
        ];
        const plain: PlainTarget[] = [changeLogTarget(startedAt, policy), ...extra.plain];
        const items: RetentionItem[] = [];
        const receipt: RetentionReceipt = {
          id: newId(),
          dryRun,
          startedAt: startedAt.toISOString(),
          finishedAt: startedAt.toISOString(),
          policy,
          items,
          totalRows: 0,
          changeId: null,
        };
        note = { reason: 'retention', reference: receipt.id };
        try {
          // A month left detached by an interrupted drop is in no query and would fail every run: put it
          // back first, then it is trimmed or dropped by the policy like any other month. A dry run
          // changes nothing; it counts a detached month's rows where they are.
          if (!dryRun) {
            for (const t of partitioned) {
              const back = await deps.partitions.recover(t.table, { inRun: true });
              if (back.length === 0) continue;
              logger.warn(
                { partitions: back.map((p) => p.name) },
                'retention: attached again partitions left detached by an interrupted run',
              );
              (receipt.recovered ??= []).push(...back.map((p) => p.name));
            }
          }
          for (const t of partitioned) await runPartitioned(t, startedAt, dryRun, items);
          for (const t of plain) await runPlain(t, startedAt, dryRun, items);
        } catch (err) {
          // What was already removed stays removed: record it, then report the failure.
          if (!dryRun && items.length > 0) await persist(receipt).catch(() => undefined);
          throw new TrailguardError('RETENTION_FAILED', `retention run failed: ${(err as Error).message}`, {
            cause: err,
          });
        }
        if (!dryRun) await persist(receipt);
        else finalize(receipt);
        logger.info(
          { retention: { id: receipt.id, dryRun, totalRows: receipt.totalRows } },
          'retention run finished',
        );
        return receipt;
      });
    },

    async receipts(options = {}) {
      const limit = options.limit ?? 20;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw invalid('limit', 'must be a whole number from 1 to 1000');
      const rows = await db
        .selectFrom('compliance_receipt')
        .select('body')
        .where('kind', '=', 'retention')
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => toReceipt(r.body));
    },
  };

  function finalize(receipt: RetentionReceipt): void {
    receipt.totalRows = receipt.items.reduce((n, i) => n + i.rows, 0);
    receipt.finishedAt = clock.now().toISOString();
  }

  async function persist(receipt: RetentionReceipt): Promise<void> {
    finalize(receipt);
    if (deps.recordReceipt) {
      try {
        receipt.changeId = await deps.recordReceipt(receipt);
      } catch (err) {
        logger.error(
          { err, receipt: receipt.id },
          'retention: could not record the receipt in the change log',
        );
      }
    }
    await db
      .insertInto('compliance_receipt')
      .values({
        id: receipt.id,
        kind: 'retention',
        subject: null,
        requested_by: 'retention',
        reason: null,
        created_at: receipt.finishedAt,
        body: JSON.stringify(receipt),
      })
      .execute();
  }
}
