/**
 * Opens an incident, optionally linked at once to the change(s) that caused it.
 * @module
 */
import { newId } from '../../domain/ids.ts';
import { invalid } from '../../domain/errors.ts';
import { DEFAULT_ENVIRONMENT } from '../../domain/change.ts';
import { cleanText, parseQueryDate, validator } from '../../domain/validation.ts';
import { toPerson } from '../../changes/change-service.ts';
import { INCIDENT_LIMITS, OpenIncidentFields } from '../schema.ts';
import type { Incident, OpenIncidentInput } from '../schema.ts';
import type { IncidentRecord } from '../repository.ts';
import type { IncidentDeps } from './common.ts';
import { changeId, changeNotFound, optionalText, requiredObject } from './common.ts';

const check = validator(OpenIncidentFields);

function systems(value: string[] | undefined): string[] {
  const out: string[] = [];
  for (const [i, s] of (value ?? []).entries()) {
    const t = cleanText(s.trim(), INCIDENT_LIMITS.shortText);
    if (t === '') throw invalid(`affectedSystems[${i}]`, 'must not be empty');
    if (!out.includes(t)) out.push(t);
  }
  return out;
}

export function openIncident(deps: IncidentDeps) {
  return async function open(input: OpenIncidentInput): Promise<Incident> {
    const fields = check(requiredObject(input, 'open'));
    const openedBy = toPerson(fields.openedBy, 'openedBy');
    const title = cleanText(fields.title.trim(), INCIDENT_LIMITS.title);
    if (title === '') throw invalid('title', 'must not be empty');
    const environment = fields.environment === undefined ? DEFAULT_ENVIRONMENT : fields.environment.trim();
    if (environment === '') throw invalid('environment', 'must not be empty');
    const now = deps.clock.now();
    const detectedAt =
      fields.detectedAt === undefined ? now : parseQueryDate(fields.detectedAt, 'detectedAt');
    const startedAt =
      fields.startedAt === undefined ? detectedAt : parseQueryDate(fields.startedAt, 'startedAt');
    if (detectedAt.getTime() < startedAt.getTime())
      throw invalid('detectedAt', 'must not be earlier than startedAt');
    const causes = [...new Set((fields.causes ?? []).map((c, i) => changeId(c, `causes[${i}]`)))];
    const record: IncidentRecord = {
      id: newId(),
      title,
      description: optionalText(fields.description),
      severity: fields.severity,
      status: 'open',
      environment: cleanText(environment, 64),
      affectedSystems: systems(fields.affectedSystems),
      startedAt,
      detectedAt,
      resolvedAt: null,
      openedBy,
      resolvedBy: null,
      resolution: null,
      createdAt: now,
      updatedAt: now,
    };
    await deps.repository.transaction(async (tx) => {
      const found = await tx.existingChanges(causes);
      const missing = causes.findIndex((c) => !found.has(c));
      if (missing >= 0) throw changeNotFound(causes[missing] ?? '', `causes[${missing}]`);
      await tx.insert(record);
      await tx.insertLinks(
        record.id,
        causes.map((c) => ({ changeId: c, role: 'cause' as const })),
        now,
      );
      const { id: _id, openedBy: _by, createdAt: _c, updatedAt: _u, ...details } = record;
      await tx.appendHistory([
        {
          id: newId(),
          incidentId: record.id,
          at: now,
          by: openedBy,
          action: 'opened',
          details: { ...JSON.parse(JSON.stringify(details)), causes },
          note: null,
        },
      ]);
    });
    const stored = await deps.repository.get(record.id);
    if (!stored) throw new Error(`incident ${record.id} vanished after it was committed`);
    return stored;
  };
}
