/**
 * Takes expired inline events out of the rows that stay (a login's own event in its login row), month
 * by month, in bounded batches.
 * @module
 */
import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import type { ArchiveWriter } from '../archive.ts';
import type { InlineEvents, PartitionedTarget } from '../contract.ts';
import type { Keyset } from '../repository.ts';
import type { RetentionItem } from '../types.ts';
import { criteriaOf, expiredSql, finishOrDrop, month, openArchive } from './context.ts';
import type { RetentionContext } from './context.ts';

/**
 * Runs after the rows' own removal; a dry run leaves out the rows it counted as removed. Like the
 * change log, a month's item is in `items` from its first batch on, so a failure still reports (and
 * keeps the archive of) the batches already committed.
 */
export async function runInlineEvents(
  ctx: RetentionContext,
  target: PartitionedTarget,
  events: InlineEvents,
  runAt: Date,
  dryRun: boolean,
  items: RetentionItem[],
): Promise<void> {
  const maxCut = new Date(Math.max(...events.classes.map((c) => c.cutoff.getTime())));
  const rowExpired = expiredSql(target.timeColumn, target.classes);
  for (const p of await ctx.repo.partitionsBefore(target.table, maxCut)) {
    const start = new Date(p.range_start);
    const end = new Date(p.range_end);
    const active = events.classes.filter((c) => c.cutoff.getTime() > start.getTime());
    if (active.length === 0) continue;
    const where = sql<boolean>`${expiredSql(target.timeColumn, active)} AND NOT ${rowExpired}`;
    const period = month(start);
    const to = Math.min(end.getTime(), Math.max(...active.map((c) => c.cutoff.getTime())));
    const item: RetentionItem = {
      table: events.view,
      period,
      method: 'clear_event',
      rows: 0,
      range: { from: start.toISOString(), to: new Date(to).toISOString() },
      criteria: criteriaOf(active),
      archive: null,
    };
    if (dryRun) {
      item.rows = await ctx.repo.countWhere(p.name, where);
      if (item.rows > 0) items.push(item);
      continue;
    }
    items.push(item);
    const archive = await openArchive(ctx, events.view, period, runAt);
    try {
      await clearInBatches(ctx, p.name, target.timeColumn, events, where, archive, item);
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
 * Clears the inline events of the rows of `relation` matching `where`, archiving each batch first
 * (keyset on the time column, so no batch walks past the rows already cleared); `progress.rows` counts
 * the events cleared by committed batches.
 */
async function clearInBatches(
  ctx: RetentionContext,
  relation: string,
  timeColumn: string,
  events: InlineEvents,
  where: RawBuilder<boolean>,
  archive: ArchiveWriter | null,
  progress: { rows: number },
): Promise<void> {
  const { repo } = ctx;
  const batchSize = ctx.deps.policy.batchSize;
  let position: Keyset = null;
  for (;;) {
    const rows = await repo.page(relation, timeColumn, where, position, batchSize);
    if (rows.length === 0) return;
    const ids = rows.map((r) => r.id);
    const first = new Date(rows[0]!.t);
    const last = new Date(rows[rows.length - 1]!.t);
    // The events as the view shows them (what an auditor saw), not the row's raw columns.
    if (archive) await archive.write(await repo.shown(events.view, events.viewTimeColumn, ids, first, last));
    progress.rows += await repo.update(relation, events.clear, ids, timeColumn, { first, last }, where);
    if (rows.length < batchSize) return;
    position = { t: last, id: rows[rows.length - 1]!.id };
  }
}
