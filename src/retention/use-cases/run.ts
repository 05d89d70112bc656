/**
 * One retention run: take the run lock, put back months an interrupted run left detached, apply every
 * feature's targets, and record the receipt (also when a step failed: what was removed stays removed).
 * @module
 */
import { TrailguardError, invalid } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import { isPlainObject } from '../../domain/validation.ts';
import type { PartitionedTarget, PlainTarget } from '../contract.ts';
import type { RetentionItem, RetentionReceipt, RetentionRunOptions } from '../types.ts';
import type { RetentionContext } from './context.ts';
import { runPartitioned } from './run-partitioned.ts';
import { runPlain } from './run-plain.ts';

/** Per service: whether a run of this process is in progress. */
export interface RunLock {
  running: boolean;
}

async function withRunLock<T>(ctx: RetentionContext, lock: RunLock, fn: () => Promise<T>): Promise<T> {
  if (lock.running)
    throw new TrailguardError('RETENTION_IN_PROGRESS', 'a retention run is already in progress');
  lock.running = true;
  try {
    // Another server may be running retention: the lock is held across processes too.
    const done = await ctx.repo.withAdvisoryLock(fn);
    if (done === null) {
      throw new TrailguardError(
        'RETENTION_IN_PROGRESS',
        'a retention run is already in progress in another process',
      );
    }
    return done.value;
  } finally {
    lock.running = false;
  }
}

/** Applies the policy now; resolves with the receipt. */
export async function run(
  ctx: RetentionContext,
  lock: RunLock,
  options: RetentionRunOptions = {},
): Promise<RetentionReceipt> {
  if (!isPlainObject(options)) throw invalid('options', 'run() takes { dryRun? }');
  if (options.dryRun !== undefined && typeof options.dryRun !== 'boolean') {
    throw invalid('dryRun', 'must be a boolean');
  }
  const dryRun = options.dryRun ?? false;
  const { deps } = ctx;
  return withRunLock(ctx, lock, async () => {
    const startedAt = deps.clock.now();
    const partitioned: PartitionedTarget[] = [];
    const plain: PlainTarget[] = [];
    for (const contribute of deps.targets ?? []) {
      const t = contribute(startedAt, deps.policy);
      partitioned.push(...(t.partitioned ?? []));
      plain.push(...(t.plain ?? []));
    }
    const items: RetentionItem[] = [];
    const receipt: RetentionReceipt = {
      id: newId(),
      dryRun,
      startedAt: startedAt.toISOString(),
      finishedAt: startedAt.toISOString(),
      policy: deps.policy,
      items,
      totalRows: 0,
      changeId: null,
    };
    ctx.note = { reason: 'retention', reference: receipt.id };
    try {
      // A month left detached by an interrupted drop is in no query and would fail every run: put it
      // back first, then it is trimmed or dropped by the policy like any other month. A dry run
      // changes nothing; it counts a detached month's rows where they are.
      if (!dryRun) {
        for (const t of partitioned) {
          const back = await deps.partitions.recover(t.table, { inRun: true });
          if (back.length === 0) continue;
          deps.logger.warn(
            { partitions: back.map((p) => p.name) },
            'retention: attached again partitions left detached by an interrupted run',
          );
          (receipt.recovered ??= []).push(...back.map((p) => p.name));
        }
      }
      for (const t of partitioned) await runPartitioned(ctx, t, startedAt, dryRun, items);
      for (const t of plain) await runPlain(ctx, t, startedAt, dryRun, items);
    } catch (err) {
      // What was already removed stays removed: record it, then report the failure.
      ctx.removedBeforeFailure = items.reduce((n, i) => n + i.rows, 0);
      if (!dryRun && items.length > 0) await persist(ctx, receipt).catch(() => undefined);
      throw new TrailguardError('RETENTION_FAILED', `retention run failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!dryRun) await persist(ctx, receipt);
    else finalize(ctx, receipt);
    deps.logger.info(
      { retention: { id: receipt.id, dryRun, totalRows: receipt.totalRows } },
      'retention run finished',
    );
    return receipt;
  });
}

function finalize(ctx: RetentionContext, receipt: RetentionReceipt): void {
  receipt.totalRows = receipt.items.reduce((n, i) => n + i.rows, 0);
  receipt.finishedAt = ctx.deps.clock.now().toISOString();
}

async function persist(ctx: RetentionContext, receipt: RetentionReceipt): Promise<void> {
  finalize(ctx, receipt);
  if (ctx.deps.recordReceipt) {
    try {
      receipt.changeId = await ctx.deps.recordReceipt(receipt);
    } catch (err) {
      ctx.deps.logger.error(
        { err, receipt: receipt.id },
        'retention: could not record the receipt in the change log',
      );
    }
  }
  await ctx.repo.insertReceipt(receipt.id, receipt.finishedAt, receipt);
}

/** Past receipts, newest first. */
export async function receipts(
  ctx: RetentionContext,
  options: { limit?: number | undefined } = {},
): Promise<RetentionReceipt[]> {
  const limit = options.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw invalid('limit', 'must be a whole number from 1 to 1000');
  return (await ctx.repo.receipts(limit)) as RetentionReceipt[];
}
