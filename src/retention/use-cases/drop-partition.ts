/**
 * Drops a whole month of a partitioned table: detach, archive, save what must outlive it, drop.
 * @module
 */
import { sql } from 'kysely';
import type { ArchiveFile } from '../archive.ts';
import type { PartitionedTarget } from '../contract.ts';
import type { Keyset } from '../repository.ts';
import { finishOrDrop, month, openArchive, resealKept, unseal } from './context.ts';
import type { RetentionContext } from './context.ts';

/** Detaches, archives and drops the month `name` of `target`; resolves with its rows and archive. */
export async function dropPartition(
  ctx: RetentionContext,
  target: PartitionedTarget,
  name: string,
  range: { start: Date; end: Date },
  runAt: Date,
): Promise<{ rows: number; archive: ArchiveFile | null }> {
  // While detached, a late write for the month must not attach it again (partitions.ts): it would be
  // dropped with rows that were never archived.
  const release = ctx.deps.partitions.dropping(name);
  try {
    return await detachArchiveDrop(ctx, target, name, range, runAt);
  } finally {
    release();
  }
}

async function detachArchiveDrop(
  ctx: RetentionContext,
  target: PartitionedTarget,
  name: string,
  { start, end }: { start: Date; end: Date },
  runAt: Date,
): Promise<{ rows: number; archive: ArchiveFile | null }> {
  const { repo, deps } = ctx;
  // Detach first: once detached no new row can land in it, so what is archived is what is dropped.
  // If the process dies before the drop, the month stays detached: the next run (or the next start)
  // attaches it again (partitions.recover) and handles it from the start.
  await repo.detach(target.table, name);
  const archive = await openArchive(ctx, target.table, month(start), runAt);
  let rows = 0;
  try {
    if (archive) {
      let position: Keyset = null;
      for (;;) {
        const page = await repo.wholePage(name, target.timeColumn, position, deps.policy.batchSize);
        if (page.length === 0) break;
        await archive.write(page);
        rows += page.length;
        const last = page[page.length - 1]!;
        position = { t: new Date(last[target.timeColumn] as Date | string), id: last.id };
      }
    } else {
      rows = await repo.countWhere(name, sql<boolean>`TRUE`);
    }
    const file = archive ? await finishOrDrop(archive, rows) : null;
    const keep = target.keep;
    const all = sql<boolean>`TRUE`;
    if (keep) await deps.partitions.ensure(keep.into, [start]);
    // What must outlive the month is saved in the transaction that drops it: both or neither.
    await deps.db.transaction().execute(async (trx) => {
      await unseal(ctx, trx, target.table, all, name);
      if (keep) {
        await keep.statement(name, all).execute(trx);
        await resealKept(ctx, trx, keep.into, name, all);
      }
      await repo.dropTable(trx, name);
    });
    await repo.forgetPartition(target.table, name);
    deps.partitions.reset();
    return { rows, archive: file };
  } catch (err) {
    await archive?.abort();
    // Put the month back so nothing is lost; the next run tries again.
    await repo
      .attach(target.table, name, start, end)
      .catch((e: unknown) =>
        deps.logger.error({ err: e, partition: name }, 'retention: could not re-attach partition'),
      );
    throw err;
  }
}
