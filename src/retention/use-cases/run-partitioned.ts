/**
 * Applies the policy to one partitioned table: months past every cutoff are dropped whole, months only
 * partly expired are trimmed in bounded batches (one short statement each, so logins are never locked
 * out), then expired inline events are cleared.
 * @module
 */
import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import type { ArchiveWriter } from '../archive.ts';
import type { PartitionedTarget } from '../contract.ts';
import type { RetentionItem } from '../types.ts';
import { criteriaOf, expiredSql, finishOrDrop, month, openArchive, resealKept, unseal } from './context.ts';
import type { RetentionContext } from './context.ts';
import { dropPartition } from './drop-partition.ts';
import { runInlineEvents } from './inline-events.ts';

/** Applies the policy to one partitioned target; each item goes into `items` once done. */
export async function runPartitioned(
  ctx: RetentionContext,
  target: PartitionedTarget,
  runAt: Date,
  dryRun: boolean,
  items: RetentionItem[],
): Promise<void> {
  const { repo } = ctx;
  const cutoffs = target.classes.map((c) => c.cutoff.getTime());
  const minCut = new Date(Math.min(...cutoffs));
  const maxCut = new Date(Math.max(...cutoffs));
  const criteria = criteriaOf(target.classes);
  for (const p of await repo.partitionsBefore(target.table, maxCut)) {
    const start = new Date(p.range_start);
    const end = new Date(p.range_end);
    const period = month(start);
    if (end.getTime() <= minCut.getTime()) {
      // Every row of the month is past every cutoff: drop the whole partition.
      const item = newItem(target.table, period, 'drop_partition', { from: start, to: end }, criteria);
      if (dryRun) {
        item.rows = await repo.countWhere(p.name, sql<boolean>`TRUE`);
      } else {
        const result = await dropPartition(ctx, target, p.name, { start, end }, runAt);
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
    const item = newItem(
      target.table,
      period,
      'batch_delete',
      { from: start, to: rangeEnd },
      criteriaOf(active),
    );
    if (dryRun) {
      item.rows = await repo.countWhere(p.name, where);
    } else {
      const archive = await openArchive(ctx, target.table, period, runAt);
      try {
        if (target.keep) await ctx.deps.partitions.ensure(target.keep.into, [start]);
        item.rows = await trimInBatches(ctx, target, p.name, where, archive);
        item.archive = archive ? await finishOrDrop(archive, item.rows) : null;
      } catch (err) {
        await archive?.abort();
        throw err;
      }
    }
    if (item.rows > 0 || dryRun) items.push(item);
  }
  if (target.inlineEvents) await runInlineEvents(ctx, target, target.inlineEvents, runAt, dryRun, items);
}

/** An item with nothing removed yet. */
function newItem(
  table: string,
  period: string,
  method: RetentionItem['method'],
  range: { from: Date; to: Date },
  criteria: RetentionItem['criteria'],
): RetentionItem {
  const { from, to } = range;
  return {
    table,
    period,
    method,
    rows: 0,
    range: { from: from.toISOString(), to: to.toISOString() },
    criteria,
    archive: null,
  };
}

/** Removes expired rows of one month of `target` in bounded batches. */
async function trimInBatches(
  ctx: RetentionContext,
  target: PartitionedTarget,
  relation: string,
  where: RawBuilder<boolean>,
  archive: ArchiveWriter | null,
): Promise<number> {
  const { repo, deps } = ctx;
  const { keep, table, timeColumn } = target;
  const batchSize = deps.policy.batchSize;
  let removed = 0;
  for (;;) {
    const rows = await repo.oldest(relation, timeColumn, where, batchSize, archive !== null);
    if (rows.length === 0) return removed;
    if (archive) await archive.write(rows);
    const ids = rows.map((r) => r.id);
    const these = sql<boolean>`${repo.byIds(ids)} AND ${where}`;
    const n = await deps.db.transaction().execute(async (trx) => {
      await unseal(ctx, trx, table, these);
      // What must outlive the rows is saved by the statement that deletes them: both or neither.
      const deleted = await repo.deleteRows(trx, relation, these, keep?.statement(relation, these));
      if (keep) await resealKept(ctx, trx, keep.into, keep.into, repo.byIds(ids));
      return deleted;
    });
    removed += n;
    if (rows.length < batchSize) return removed;
  }
}
