/**
 * The change rules' schedule inside `trailguard serve`: croner runs `alerts.checkChanges()` every
 * `criticalChangeUnapproved.checkEveryMinutes` (60 by default, like the seed's hourly
 * `check_unapproved_changes`); overlapping runs are skipped.
 * @module
 */
import { Cron } from 'croner';
import type { Logger } from '../domain/logger.ts';
import type { AlertService } from './alert-service.ts';

export interface ChangeCheckSchedule {
  /** When the next check is due; null when stopped or when both change rules are off. */
  nextRun(): Date | null;
  stop(): void;
}

/** Starts the periodic change checks; a no-op when both change rules are disabled. */
export function startChangeChecks(alerts: AlertService, logger: Logger): ChangeCheckSchedule {
  const { criticalChangeUnapproved, emergencyChangeUnapproved } = alerts.config.rules;
  if (!criticalChangeUnapproved.enabled && !emergencyChangeUnapproved.enabled) {
    return { nextRun: () => null, stop: () => undefined };
  }
  const minutes = criticalChangeUnapproved.checkEveryMinutes;
  // Every minute at second 0, but no sooner than `minutes` after the previous run.
  const job = new Cron(
    '0 * * * * *',
    { timezone: 'UTC', protect: true, unref: true, interval: minutes * 60 },
    async () => {
      try {
        const r = await alerts.checkChanges();
        logger.info({ changeChecks: r }, 'change alert checks done');
      } catch (err) {
        logger.error({ err }, 'change alert checks failed');
      }
    },
  );
  return { nextRun: () => job.nextRun(), stop: () => job.stop() };
}
