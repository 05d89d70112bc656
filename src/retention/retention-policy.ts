/**
 * Retention policy: how long each kind of record is kept, validated once at start. Defaults are the
 * seed's recommended periods.
 * @module
 */
import { Cron } from 'croner';
import { TrailguardError } from '../domain/errors.ts';
import { isPlainObject } from '../domain/validation.ts';

/** Retention options (`retention` in the config). Periods are whole days. */
export interface RetentionOptions {
  logins?:
    | {
        /** Successful logins. @default 90 */
        successDays?: number | undefined;
        /** Failed logins. @default 180 */
        failedDays?: number | undefined;
      }
    | undefined;
  securityEvents?:
    | {
        /** Events of severity `error` or `critical`. @default 730 */
        highDays?: number | undefined;
        /** Events of severity `info` or `warning`. @default 180 */
        otherDays?: number | undefined;
      }
    | undefined;
  changes?:
    | {
        /** Changes of impact `critical`; `null` keeps them forever. @default null */
        criticalDays?: number | null | undefined;
        /** Changes of impact `high`, `medium` or `low`. @default 365 */
        otherDays?: number | undefined;
      }
    | undefined;
  /** Folder for gzip JSON-lines archives written before removal; `false` removes without archiving. @default false */
  archiveDir?: string | false | undefined;
  /** Rows per DELETE statement when a month is only partly expired. @default 5000 */
  batchSize?: number | undefined;
  /** Cron pattern for the run inside `trailguard serve` (UTC), or `false`. @default '17 3 * * *' */
  schedule?: string | false | undefined;
}

/** The validated policy. */
export interface RetentionPolicy {
  logins: { successDays: number; failedDays: number };
  securityEvents: { highDays: number; otherDays: number };
  changes: { criticalDays: number | null; otherDays: number };
  archiveDir: string | null;
  batchSize: number;
  schedule: string | null;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  logins: { successDays: 90, failedDays: 180 },
  securityEvents: { highDays: 730, otherDays: 180 },
  changes: { criticalDays: null, otherDays: 365 },
  archiveDir: null,
  batchSize: 5000,
  schedule: '17 3 * * *',
};

function fail(field: string, message: string): TrailguardError {
  return new TrailguardError('CONFIG_INVALID', `${field}: ${message}`, { field });
}

function days(value: unknown, field: string, dflt: number): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw fail(field, `must be a positive whole number of days, got ${JSON.stringify(value)}`);
  }
  return value;
}

function section(value: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw fail(field, 'must be an object');
  for (const k of Object.keys(value)) {
    if (!keys.includes(k)) throw fail(`${field}.${k}`, `unknown key (known: ${keys.join(', ')})`);
  }
  return value;
}

/** Validates `retention` options; a zero or negative period is refused with the key named. */
export function resolveRetentionPolicy(value: unknown): RetentionPolicy {
  const d = DEFAULT_RETENTION;
  const root = section(value, 'retention', [
    'logins',
    'securityEvents',
    'changes',
    'archiveDir',
    'batchSize',
    'schedule',
  ]);
  const logins = section(root['logins'], 'retention.logins', ['successDays', 'failedDays']);
  const events = section(root['securityEvents'], 'retention.securityEvents', ['highDays', 'otherDays']);
  const changes = section(root['changes'], 'retention.changes', ['criticalDays', 'otherDays']);
  const archiveDir = root['archiveDir'];
  if (
    archiveDir !== undefined &&
    archiveDir !== false &&
    (typeof archiveDir !== 'string' || archiveDir === '')
  ) {
    throw fail('retention.archiveDir', 'must be a folder path or false');
  }
  const batchSize = root['batchSize'] ?? d.batchSize;
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw fail('retention.batchSize', 'must be a whole number from 1 to 100000');
  }
  const schedule = root['schedule'] ?? d.schedule;
  if (schedule !== false) {
    if (typeof schedule !== 'string') throw fail('retention.schedule', 'must be a cron pattern or false');
    try {
      new Cron(schedule, { paused: true, timezone: 'UTC' }).stop();
    } catch (err) {
      throw fail('retention.schedule', `is not a valid cron pattern: ${(err as Error).message}`);
    }
  }
  const criticalDays = changes['criticalDays'];
  return {
    logins: {
      successDays: days(logins['successDays'], 'retention.logins.successDays', d.logins.successDays),
      failedDays: days(logins['failedDays'], 'retention.logins.failedDays', d.logins.failedDays),
    },
    securityEvents: {
      highDays: days(events['highDays'], 'retention.securityEvents.highDays', d.securityEvents.highDays),
      otherDays: days(events['otherDays'], 'retention.securityEvents.otherDays', d.securityEvents.otherDays),
    },
    changes: {
      criticalDays:
        criticalDays === null || criticalDays === undefined
          ? null
          : days(criticalDays, 'retention.changes.criticalDays', 0),
      otherDays: days(changes['otherDays'], 'retention.changes.otherDays', d.changes.otherDays),
    },
    archiveDir: typeof archiveDir === 'string' ? archiveDir : null,
    batchSize,
    schedule: schedule === false ? null : schedule,
  };
}
