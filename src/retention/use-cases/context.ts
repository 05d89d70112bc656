/**
 * What every step of a retention run shares: the dependencies, the repository, the adjustment note of
 * the run in progress, and the small helpers around archives and seals.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import type { AdjustNote, Stream } from '../../integrity/integrity-service.ts';
import type { Database } from '../../store/schema.ts';
import { archiveFileName, createArchiveWriter } from '../archive.ts';
import type { ArchiveFile, ArchiveWriter } from '../archive.ts';
import type { RetentionClass } from '../contract.ts';
import type { RetentionRepository } from '../repository.ts';
import type { RetentionServiceDeps } from '../types.ts';

/** The state of one service: its dependencies and the note of the run in progress. */
export interface RetentionContext {
  deps: RetentionServiceDeps;
  repo: RetentionRepository;
  /** The adjustment note of the run in progress (runs never overlap: the run lock). */
  note: AdjustNote;
  /** Rows the last failed run removed before it failed (what stays removed), for its report. */
  removedBeforeFailure: number;
}

/** `2025-06` */
export function month(d: Date): string {
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** Rows past their class's cutoff. */
export function expiredSql(timeColumn: string, classes: RetentionClass[]): RawBuilder<boolean> {
  const parts = classes.map((c) => sql<boolean>`(${c.where} AND ${sql.ref(timeColumn)} < ${c.cutoff})`);
  return sql<boolean>`(${sql.join(parts, sql` OR `)})`;
}

/** The criteria of the receipt: each class with its cutoff. */
export function criteriaOf(classes: RetentionClass[]): { class: string; before: string }[] {
  return classes.map((c) => ({ class: c.name, before: c.cutoff.toISOString() }));
}

/** Files the removal of `where`'s rows of `table` (on `relation`, a detached month) with their seals. */
export async function unseal(
  ctx: RetentionContext,
  trx: Kysely<Database>,
  table: string,
  where: RawBuilder<boolean>,
  relation?: string,
): Promise<void> {
  const { integrity, sealedTables } = ctx.deps;
  if (integrity && sealedTables?.includes(table))
    await integrity.adjustRemoved(table as Stream, { where, relation }, ctx.note, trx);
}

/** Files rows a keeper just copied into `into` from `fromRelation` (they keep their old ids). */
export async function resealKept(
  ctx: RetentionContext,
  trx: Kysely<Database>,
  into: string,
  fromRelation: string,
  where: RawBuilder<boolean>,
): Promise<void> {
  const { integrity, sealedTables } = ctx.deps;
  if (!integrity || !sealedTables?.includes(into)) return;
  const added = await integrity.sealedRows(
    into as Stream,
    { where: ctx.repo.idsIn(fromRelation, where) },
    trx,
  );
  if (added.length > 0) await integrity.adjust(into as Stream, { added }, ctx.note, trx);
}

/** An archive for `table`'s `period`, or null when no archive folder is configured. */
export async function openArchive(
  ctx: RetentionContext,
  table: string,
  period: string,
  runAt: Date,
): Promise<ArchiveWriter | null> {
  const dir = ctx.deps.policy.archiveDir;
  if (dir === null) return null;
  return createArchiveWriter(dir, archiveFileName(table, period, runAt));
}

/** Finishes an archive; an archive with no rows is not worth a file. */
export async function finishOrDrop(archive: ArchiveWriter, rows: number): Promise<ArchiveFile | null> {
  if (rows === 0) {
    await archive.abort();
    return null;
  }
  return archive.finish();
}
