/**
 * Resolves an open incident (once), optionally naming the hotfix or revert that remedied it.
 * @module
 */
import { newId } from '../../domain/ids.ts';
import { TrailguardError, invalid } from '../../domain/errors.ts';
import { parseQueryDate, validator } from '../../domain/validation.ts';
import { toPerson } from '../../changes/change-service.ts';
import { ResolveIncidentFields } from '../schema.ts';
import type { Incident, ResolveIncidentInput } from '../schema.ts';
import type { IncidentDeps } from './common.ts';
import {
  changeId,
  changeNotFound,
  incidentId,
  incidentNotFound,
  optionalText,
  requiredObject,
} from './common.ts';

const check = validator(ResolveIncidentFields);

export function resolveIncident(deps: IncidentDeps) {
  return async function resolve(id: string, input: ResolveIncidentInput): Promise<Incident> {
    const key = incidentId(id);
    const fields = check(requiredObject(input, 'resolve'));
    const by = toPerson(fields.by, 'by');
    const note = optionalText(fields.note);
    const remedy = fields.remedy === undefined ? null : changeId(fields.remedy, 'remedy');
    const now = deps.clock.now();
    const resolvedAt =
      fields.resolvedAt === undefined ? now : parseQueryDate(fields.resolvedAt, 'resolvedAt');
    await deps.repository.transaction(async (tx) => {
      const current = await tx.lock(key);
      if (!current) throw incidentNotFound(id);
      if (current.status === 'resolved') {
        throw new TrailguardError(
          'INCIDENT_ALREADY_RESOLVED',
          `incident ${key} was already resolved at ${current.resolvedAt?.toISOString() ?? '?'} by ${current.resolvedBy?.id ?? '?'}`,
          { field: 'status' },
        );
      }
      if (resolvedAt.getTime() < current.startedAt.getTime())
        throw invalid(
          'resolvedAt',
          `must not be earlier than startedAt (${current.startedAt.toISOString()})`,
        );
      const history = [];
      if (remedy !== null) {
        if (!(await tx.existingChanges([remedy])).has(remedy)) throw changeNotFound(remedy, 'remedy');
        const links = await tx.links(key);
        if (links.some((l) => l.changeId === remedy || l.role === 'remedy')) {
          throw new TrailguardError(
            'INCIDENT_ALREADY_LINKED',
            `incident ${key} already has a remedy or links change ${remedy}`,
            { field: 'remedy' },
          );
        }
        await tx.insertLinks(key, [{ changeId: remedy, role: 'remedy' }], now);
        history.push({
          id: newId(),
          incidentId: key,
          at: now,
          by,
          action: 'linked' as const,
          details: { changeId: remedy, role: 'remedy' },
          note: null,
        });
      }
      await tx.saveResolution({
        ...current,
        status: 'resolved',
        resolvedAt,
        resolvedBy: by,
        resolution: note,
        updatedAt: now,
      });
      history.push({
        id: newId(),
        incidentId: key,
        at: now,
        by,
        action: 'resolved' as const,
        details: { resolvedAt: resolvedAt.toISOString() },
        note,
      });
      await tx.appendHistory(history);
    });
    const stored = await deps.repository.get(key);
    if (!stored) throw incidentNotFound(id);
    return stored;
  };
}
