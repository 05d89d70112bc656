/**
 * Applies the policy to an ordinary table (the change log): bounded batches, each in its own
 * transaction, archived with their dependent rows before anything is deleted.
 * @module
 */
import type { RawBuilder } from 'kysely';
import type { ArchiveWriter } from '../archive.ts';
import type { PlainTarget } from '../contract.ts';
import type { RetentionItem } from '../types.ts';
import { criteriaOf, expiredSql, finishOrDrop, openArchive, unseal } from './context.ts';
import type { RetentionContext } from './context.ts';

/** Trims a plain target; its item is in `items` from the first batch on, so a failure still reports it. */
export async function runPlain(
  ctx: RetentionContext,
  target: PlainTarget,
  runAt: Date,
  dryRun: boolean,
  items: RetentionItem[],
): Promise<void> {
  const { repo } = ctx;
  const where = expiredSql(target.timeColumn, target.classes);
  const maxCut = new Date(Math.max(...target.classes.map((c) => c.cutoff.getTime())));
  const from = await repo.earliest(target.table, target.timeColumn, where);
  if (!from) return;
  const dep = target.dependent;
  const item: RetentionItem = {
    table: target.table,
    period: 'all',
    method: 'batch_delete',
    rows: 0,
    range: { from: from.toISOString(), to: maxCut.toISOString() },
    criteria: criteriaOf(target.classes),
    archive: null,
  };
  if (dryRun) {
    item.rows = await repo.countWhere(target.table, where);
    if (dep) item.dependents = { [dep.table]: await repo.countDependents(dep, target.table, where) };
    items.push(item);
    return;
  }
  items.push(item);
  const archive = await openArchive(ctx, target.table, `before-${maxCut.toISOString().slice(0, 10)}`, runAt);
  const progress = { rows: 0, dependents: 0 };
  try {
    await trimPlain(ctx, target, where, archive, progress);
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

/**
 * One bounded batch per transaction: lock the oldest expired rows, archive them with their dependent
 * rows, delete both. Nothing is deleted that was not written to the archive first.
 */
async function trimPlain(
  ctx: RetentionContext,
  target: PlainTarget,
  where: RawBuilder<boolean>,
  archive: ArchiveWriter | null,
  progress: { rows: number; dependents: number },
): Promise<void> {
  const { repo } = ctx;
  const dep = target.dependent;
  const batchSize = ctx.deps.policy.batchSize;
  for (;;) {
    let dependents = 0;
    const n = await ctx.deps.db.transaction().execute(async (trx) => {
      for (const statement of target.prepare ?? []) await statement.execute(trx);
      const batch = await repo.lockOldest(trx, target.table, target.timeColumn, where, batchSize);
      if (batch.length === 0) return 0;
      const ids = batch.map((r) => r.id);
      if (dep) {
        if (archive) {
          const byParent = new Map<string, Record<string, unknown>[]>();
          for (const c of await repo.dependents(trx, dep, ids)) {
            const parent = String(c[dep.foreignKey]);
            const list = byParent.get(parent) ?? [];
            list.push(c);
            byParent.set(parent, list);
          }
          await archive.write(batch.map((r) => ({ ...r, [dep.field]: byParent.get(r.id) ?? [] })));
        }
        await unseal(ctx, trx, dep.table, repo.dependentsOf(dep, ids));
        dependents += await repo.deleteWhere(trx, dep.table, repo.dependentsOf(dep, ids));
      } else if (archive) {
        await archive.write(batch);
      }
      await unseal(ctx, trx, target.table, repo.byIds(ids));
      return repo.deleteWhere(trx, target.table, repo.byIds(ids));
    });
    // Counted only once the batch has committed.
    progress.rows += n;
    progress.dependents += dependents;
    if (n < batchSize) return;
  }
}
