/**
 * What a feature gives retention: its tables' classes of rows, each with its own period, and how their
 * rows leave (whole months of a partitioned table, or bounded batches of an ordinary one). Retention
 * loops over what the features declare; it names no feature's table itself.
 * @module
 */
import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import type { PartitionedTable } from '../store/partitions.ts';
import type { RetentionPolicy } from './retention-policy.ts';

const DAY_MS = 86_400_000;

/** The instant `days` whole days before `now`. */
export function daysBefore(now: Date, days: number): Date {
  return new Date(now.getTime() - days * DAY_MS);
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
   * data-modifying statement run in the same transaction as their removal, before it, that copies rows
   * into `keep.into` with their ids.
   */
  keep?:
    | {
        into: PartitionedTable;
        statement: (relation: string, where: RawBuilder<boolean>) => RawBuilder<unknown>;
      }
    | undefined;
  /** Events stored inside the rows, with periods of their own (see InlineEvents). */
  inlineEvents?: InlineEvents | undefined;
}

/**
 * Events stored inside the rows of a partitioned target. An event whose own period ends while its row
 * is kept is taken out of the row; `keep` handles the other way round (the row goes first).
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
 * An ordinary (unpartitioned) table trimmed in batches. Each batch runs in its own transaction:
 * `prepare` first (e.g. an append-only table's purge escape hatch, `SET LOCAL`), then archive, then
 * delete the dependent rows and the rows.
 */
export interface PlainTarget {
  table: string;
  timeColumn: string;
  classes: RetentionClass[];
  dependent?: DependentRows | undefined;
  prepare?: RawBuilder<unknown>[] | undefined;
}

/** A feature's retention targets for a run starting at `now`. Partitioned targets run before plain ones. */
export type RetentionContribution = (
  now: Date,
  policy: RetentionPolicy,
) => { partitioned?: PartitionedTarget[] | undefined; plain?: PlainTarget[] | undefined };

/** Two classes by the severity in `column`: `error` and `critical` are kept longer than the rest. */
export function severityClasses(
  column: string,
  now: Date,
  periods: { highDays: number; otherDays: number },
): RetentionClass[] {
  const high = sql<boolean>`${sql.ref(column)} IN ('error', 'critical')`;
  return [
    { name: 'error_critical', where: high, cutoff: daysBefore(now, periods.highDays) },
    { name: 'info_warning', where: sql<boolean>`NOT ${high}`, cutoff: daysBefore(now, periods.otherDays) },
  ];
}
