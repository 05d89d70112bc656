/**
 * Retention: removes records older than the policy allows, archiving them first when an archive folder
 * is configured. Each feature says what it keeps and for how long (its `RetentionContribution`); the
 * run applies them in order. The steps live in `use-cases/`, their SQL in `repository.ts`.
 * @module
 */
import { TrailguardError } from '../domain/errors.ts';
import { createRetentionRepository } from './repository.ts';
import type { RetentionRunReport, RetentionService, RetentionServiceDeps } from './types.ts';
import type { RetentionContext } from './use-cases/context.ts';
import { receipts, run } from './use-cases/run.ts';

export type {
  ReceiptRecorder,
  RetentionItem,
  RetentionReceipt,
  RetentionRunOptions,
  RetentionRunReport,
  RetentionService,
  RetentionServiceDeps,
} from './types.ts';
export type {
  DependentRows,
  InlineEvents,
  PartitionedTarget,
  PlainTarget,
  RetentionClass,
} from './contract.ts';

/** `tg.retention` over the targets the features contribute. */
export function createRetentionService(deps: RetentionServiceDeps): RetentionService {
  const ctx: RetentionContext = {
    deps,
    repo: createRetentionRepository(deps.db, deps.backend),
    note: { reason: 'retention' },
    removedBeforeFailure: 0,
  };
  const lock = { running: false };
  const runListeners = new Set<(run: RetentionRunReport) => void>();
  const report = (outcome: RetentionRunReport['outcome'], rows: number) => {
    const r = { outcome, rows, finishedAt: deps.clock.now() };
    for (const listener of runListeners) listener(r);
  };
  return {
    policy: deps.policy,
    async run(options) {
      const dryRun = options?.dryRun === true;
      try {
        const receipt = await run(ctx, lock, options);
        if (!dryRun) report('success', receipt.totalRows);
        return receipt;
      } catch (err) {
        // Another process holding the run, or a bad option, is not a failed run of this one.
        if (!dryRun && err instanceof TrailguardError && err.code === 'RETENTION_FAILED')
          report('failure', ctx.removedBeforeFailure);
        throw err;
      }
    },
    receipts: (options) => receipts(ctx, options),
    onRun(listener) {
      runListeners.add(listener);
      return () => runListeners.delete(listener);
    },
  };
}
