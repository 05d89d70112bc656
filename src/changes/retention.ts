/**
 * The change log's part of retention: critical changes for `criticalDays` (forever when null), the rest
 * for `otherDays`, counted from `deployed_at`; history rows go with their change.
 * @module
 */
import { sql } from 'kysely';
import { daysBefore } from '../retention/contract.ts';
import type { PlainTarget, RetentionClass, RetentionContribution } from '../retention/contract.ts';
import type { RetentionPolicy } from '../retention/retention-policy.ts';

/**
 * `data_retention` receipts are ordinary low-impact changes: they follow the same period, and a run can
 * only remove receipts older than that, never its own or a recent one.
 */
export function changeLogClasses(now: Date, policy: RetentionPolicy): RetentionClass[] {
  const classes: RetentionClass[] = [
    {
      name: 'low_medium_high',
      where: sql<boolean>`impact_level <> 'critical'`,
      cutoff: daysBefore(now, policy.changes.otherDays),
    },
  ];
  if (policy.changes.criticalDays !== null) {
    classes.push({
      name: 'critical',
      where: sql<boolean>`impact_level = 'critical'`,
      cutoff: daysBefore(now, policy.changes.criticalDays),
    });
  }
  return classes;
}

/** The change log target: history rows go with their change, inside the archived line as `history`. */
export function changeLogTarget(now: Date, policy: RetentionPolicy): PlainTarget {
  return {
    table: 'change_log',
    timeColumn: 'deployed_at',
    classes: changeLogClasses(now, policy),
    dependent: { table: 'change_log_history', foreignKey: 'change_id', orderBy: 'seq', field: 'history' },
    // change_log_history is append-only by trigger; this transaction-scoped setting is its documented
    // escape hatch for retention (migration 0003).
    prepare: [sql`SET LOCAL trailguard.history_purge = 'on'`],
  };
}

/** The change_log target. */
export const changesRetention: RetentionContribution = (now, policy) => ({
  plain: [changeLogTarget(now, policy)],
});
