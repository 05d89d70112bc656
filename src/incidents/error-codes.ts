/**
 * Incidents' error codes (stable; the HTTP status is what the server answers).
 * @module
 */
import type { ErrorCodeTable } from '../domain/errors.ts';

export const INCIDENT_ERROR_CODES = {
  INCIDENT_NOT_FOUND: { status: 404, description: 'No incident with this id exists.' },
  INCIDENT_CHANGE_NOT_FOUND: {
    status: 422,
    description: 'The change to link to the incident does not exist.',
  },
  INCIDENT_ALREADY_RESOLVED: { status: 409, description: 'The incident has already been resolved.' },
  INCIDENT_ALREADY_LINKED: {
    status: 409,
    description: 'The change is already linked to the incident, or the incident already has a remedy.',
  },
} as const satisfies ErrorCodeTable;

export type IncidentErrorCode = keyof typeof INCIDENT_ERROR_CODES;
