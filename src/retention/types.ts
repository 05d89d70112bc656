/**
 * The shapes of `tg.retention`: a run's receipt and its items, the service and what it needs.
 * @module
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../domain/clock.ts';
import type { Logger } from '../domain/logger.ts';
import type { Backend } from '../store/database.ts';
import type { PartitionManager } from '../store/partitions.ts';
import type { Database } from '../store/schema.ts';
import type { IntegrityService } from '../integrity/integrity-service.ts';
import type { ArchiveFile } from './archive.ts';
import type { RetentionContribution } from './contract.ts';
import type { RetentionPolicy } from './retention-policy.ts';

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
  /**
   * Subscribes to this process's runs that change data (not dry runs), for metrics: each finished or
   * failed run, with the rows it removed. Returns the unsubscribe function.
   */
  onRun(listener: (run: RetentionRunReport) => void): () => void;
  readonly policy: RetentionPolicy;
}

/** One finished or failed retention run, as `onRun` reports it. */
export interface RetentionRunReport {
  /** `failure` includes a run that removed part of what was due before it failed. */
  outcome: 'success' | 'failure';
  /** Rows removed (on failure, those removed before it). */
  rows: number;
  finishedAt: Date;
}

export interface RetentionServiceDeps {
  db: Kysely<Database>;
  backend: Backend;
  partitions: PartitionManager;
  clock: Clock;
  logger: Logger;
  policy: RetentionPolicy;
  /** What each feature keeps and for how long, in the order the run applies them. */
  targets?: readonly RetentionContribution[] | undefined;
  recordReceipt?: ReceiptRecorder | undefined;
  /**
   * Tamper evidence: rows removed from sealed tables are filed as adjustments of their seals in the
   * transaction that removes them, so `verify` tells a retention run from a deletion behind its back.
   */
  integrity?: Pick<IntegrityService, 'adjust' | 'adjustRemoved' | 'sealedRows'> | undefined;
  /** The tables integrity seals (rows removed from others need no adjustment). */
  sealedTables?: readonly string[] | undefined;
}
