/**
 * What every incident use case shares: its dependencies, id checks and text normalisation.
 * @module
 */
import type { Clock } from '../../domain/clock.ts';
import { TrailguardError, invalid } from '../../domain/errors.ts';
import { cleanText, isPlainObject, truncate } from '../../domain/validation.ts';
import type { IncidentRepository } from '../repository.ts';
import { INCIDENT_LIMITS } from '../schema.ts';
import '../error-codes.ts';

export interface IncidentDeps {
  repository: IncidentRepository;
  clock: Clock;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function incidentNotFound(id: unknown): TrailguardError {
  const shown = typeof id === 'string' ? truncate(id, 64) : String(id);
  return new TrailguardError('INCIDENT_NOT_FOUND', `no incident with id ${shown}`, { field: 'id' });
}

/** A valid incident id, lower-case; anything else is not found (as an unknown id would be). */
export function incidentId(id: unknown): string {
  if (typeof id !== 'string' || !UUID_PATTERN.test(id)) throw incidentNotFound(id);
  return id.toLowerCase();
}

/** A change id to link: a malformed one cannot exist either. */
export function changeId(id: string, field: string): string {
  if (!UUID_PATTERN.test(id)) throw changeNotFound(id, field);
  return id.toLowerCase();
}

export function changeNotFound(id: string, field: string): TrailguardError {
  return new TrailguardError('INCIDENT_CHANGE_NOT_FOUND', `no change with id ${truncate(id, 64)} to link`, {
    field,
  });
}

/** Trimmed text, or null when empty. */
export function optionalText(
  value: string | null | undefined,
  max = INCIDENT_LIMITS.longText,
): string | null {
  if (value === undefined || value === null) return null;
  const t = cleanText(value.trim(), max);
  return t === '' ? null : t;
}

export function requiredObject(input: unknown, method: string): Record<string, unknown> {
  if (!isPlainObject(input)) throw invalid('input', `${method}() takes an object`);
  // Absent and undefined are the same to the schema.
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
}
