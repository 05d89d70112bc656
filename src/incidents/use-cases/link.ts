/**
 * Links a change to an incident as a cause or as the remedy (hotfix, revert). Open or resolved: a cause
 * is often found in the post-mortem.
 * @module
 */
import { newId } from '../../domain/ids.ts';
import { TrailguardError } from '../../domain/errors.ts';
import { validator } from '../../domain/validation.ts';
import { toPerson } from '../../changes/change-service.ts';
import { LinkIncidentFields } from '../schema.ts';
import type { Incident, LinkIncidentInput } from '../schema.ts';
import type { IncidentDeps } from './common.ts';
import {
  changeId,
  changeNotFound,
  incidentId,
  incidentNotFound,
  optionalText,
  requiredObject,
} from './common.ts';

const check = validator(LinkIncidentFields);

export function linkIncident(deps: IncidentDeps) {
  return async function link(id: string, input: LinkIncidentInput): Promise<Incident> {
    const key = incidentId(id);
    const fields = check(requiredObject(input, 'link'));
    const by = toPerson(fields.by, 'by');
    const change = changeId(fields.changeId, 'changeId');
    const role = fields.role ?? 'cause';
    const note = optionalText(fields.note);
    await deps.repository.transaction(async (tx) => {
      // The lock serialises links and resolutions of one incident, so two links of the same change, or
      // two remedies, cannot both pass the checks below.
      if (!(await tx.lock(key))) throw incidentNotFound(id);
      if (!(await tx.existingChanges([change])).has(change)) throw changeNotFound(change, 'changeId');
      const links = await tx.links(key);
      const same = links.find((l) => l.changeId === change);
      if (same) {
        throw new TrailguardError(
          'INCIDENT_ALREADY_LINKED',
          `change ${change} is already linked to incident ${key} as its ${same.role}`,
          { field: 'changeId' },
        );
      }
      if (role === 'remedy' && links.some((l) => l.role === 'remedy')) {
        throw new TrailguardError('INCIDENT_ALREADY_LINKED', `incident ${key} already has a remedy`, {
          field: 'role',
        });
      }
      const now = deps.clock.now();
      await tx.insertLinks(key, [{ changeId: change, role }], now);
      await tx.appendHistory([
        {
          id: newId(),
          incidentId: key,
          at: now,
          by,
          action: 'linked',
          details: { changeId: change, role },
          note,
        },
      ]);
    });
    const stored = await deps.repository.get(key);
    if (!stored) throw incidentNotFound(id);
    return stored;
  };
}
