/**
 * Retention: removes records older than the policy allows, archiving them first when an archive folder
 * is configured. Each feature says what it keeps and for how long (its `RetentionContribution`); the
 * run applies them in order. The steps live in `use-cases/`, their SQL in `repository.ts`.
 * @module
 */
import './error-codes.ts';
import { createRetentionRepository } from './repository.ts';
import type { RetentionService, RetentionServiceDeps } from './types.ts';
import type { RetentionContext } from './use-cases/context.ts';
import { receipts, run } from './use-cases/run.ts';

export type {
  ReceiptRecorder,
  RetentionItem,
  RetentionReceipt,
  RetentionRunOptions,
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
  };
  const lock = { running: false };
  return {
    policy: deps.policy,
    run: (options) => run(ctx, lock, options),
    receipts: (options) => receipts(ctx, options),
  };
}
