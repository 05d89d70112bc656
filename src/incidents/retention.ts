/**
 * Incidents' retention target: kept as long as the changes they explain — critical incidents for the
 * change policy's `criticalDays` (forever by default), the others for `otherDays` — counted from their
 * start. History rows go with their incident, inside the archived line as `history`.
 * @module
 */
import { sql } from 'kysely';
import type { RetentionPolicy } from '../retention/retention-policy.ts';
import type { PlainTarget } from '../retention/contract.ts';

const DAY_MS = 86_400_000;

export function incidentRetentionTarget(now: Date, policy: RetentionPolicy): PlainTarget {
  const classes: PlainTarget['classes'] = [
    {
      name: 'low_medium_high',
      where: sql<boolean>`severity <> 'critical'`,
      cutoff: new Date(now.getTime() - policy.changes.otherDays * DAY_MS),
    },
  ];
  if (policy.changes.criticalDays !== null) {
    classes.push({
      name: 'critical',
      where: sql<boolean>`severity = 'critical'`,
      cutoff: new Date(now.getTime() - policy.changes.criticalDays * DAY_MS),
    });
  }
  return {
    table: 'incident',
    timeColumn: 'started_at',
    classes,
    dependent: { table: 'incident_history', foreignKey: 'incident_id', orderBy: 'seq', field: 'history' },
    // incident_history is append-only by trigger; this setting is its escape hatch for retention (0015).
    prepare: [sql`SET LOCAL trailguard.history_purge = 'on'`],
  };
}
