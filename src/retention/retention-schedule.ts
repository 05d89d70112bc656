/**
 * The retention schedule run inside `trailguard serve`: croner fires the policy's cron pattern (UTC);
 * overlapping runs are skipped (croner `protect`), and a run another server already holds
 * (RETENTION_IN_PROGRESS) is not an error.
 * @module
 */
import { Cron } from 'croner';
import type { Logger } from '../domain/logger.ts';
import { isTrailguardError } from '../domain/errors.ts';
import type { RetentionService } from './retention-service.ts';

export interface RetentionSchedule {
  /** When the next run is due; null when stopped or unscheduled. */
  nextRun(): Date | null;
  stop(): void;
}

/** Starts the schedule from `retention.policy.schedule`; a no-op when the policy says `false`. */
export function startRetentionSchedule(retention: RetentionService, logger: Logger): RetentionSchedule {
  const pattern = retention.policy.schedule;
  if (pattern === null) return { nextRun: () => null, stop: () => undefined };
  const job = new Cron(pattern, { timezone: 'UTC', protect: true, unref: true }, async () => {
    try {
      const receipt = await retention.run();
      logger.info(
        { retention: { id: receipt.id, totalRows: receipt.totalRows } },
        'scheduled retention run done',
      );
    } catch (err) {
      if (isTrailguardError(err) && err.code === 'RETENTION_IN_PROGRESS') {
        logger.info({}, 'scheduled retention run skipped: another run is in progress');
      } else {
        logger.error({ err }, 'scheduled retention run failed');
      }
    }
  });
  return { nextRun: () => job.nextRun(), stop: () => job.stop() };
}
