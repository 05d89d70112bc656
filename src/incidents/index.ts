/**
 * Incidents: production failures linked to the changes that caused them and to their remedy — the
 * source of DORA's change failure rate and time to restore. This file is the feature's only public door:
 * `tg.incidents`, its retention target and its part of a GDPR export or erasure.
 * @module
 */
import type { Kysely } from 'kysely';
import type { Clock } from '../domain/clock.ts';
import type { DoraMetrics } from '../domain/change.ts';
import type { Page } from '../domain/login.ts';
import type { Database } from '../store/schema.ts';
import { createIncidentRepository } from './repository.ts';
import type {
  Incident,
  IncidentWithHistory,
  LinkIncidentInput,
  ListIncidentsQuery,
  OpenIncidentInput,
  ResolveIncidentInput,
} from './schema.ts';
import { openIncident } from './use-cases/open.ts';
import { resolveIncident } from './use-cases/resolve.ts';
import { linkIncident } from './use-cases/link.ts';
import { getIncident, listIncidents } from './use-cases/read.ts';
import { computeDora } from './use-cases/dora.ts';

import type { FeatureDefinition } from '../core/feature.ts';
import { INCIDENT_ERROR_CODES } from './error-codes.ts';
import { incidentsPrivacy } from './privacy.ts';
import { incidentRetentionTarget } from './retention.ts';

export * from './schema.ts';
export { INCIDENT_ERROR_CODES, incidentsPrivacy, incidentRetentionTarget };

/** The incidents feature's definition: its tables, codes and its parts of retention and privacy. */
export const incidentsFeature: FeatureDefinition = {
  name: 'incidents',
  tables: ['incident', 'incident_change', 'incident_history'],
  errorCodes: INCIDENT_ERROR_CODES,
  retention: (now, policy) => ({ plain: [incidentRetentionTarget(now, policy)] }),
  privacy: incidentsPrivacy(),
};

/** `tg.incidents` */
export interface IncidentService {
  /** Opens an incident (status `open`), linked at once to `causes` when given. */
  open(input: OpenIncidentInput): Promise<Incident>;
  /** open → resolved (once), with the note and optionally the remedy change. */
  resolve(id: string, input: ResolveIncidentInput): Promise<Incident>;
  /** Links a change as a `cause` (default) or as the `remedy`. */
  link(id: string, input: LinkIncidentInput): Promise<Incident>;
  /** The incident and its history, oldest row first. */
  get(id: string): Promise<IncidentWithHistory>;
  /** Filtered, newest start first, keyset-paginated. */
  list(query?: ListIncidentsQuery): Promise<Page<Incident>>;
  /** DORA's four key metrics for deployments in `[from, to)` in `environment`, overall and per service. */
  dora(from: Date, to: Date, environment: string): Promise<DoraMetrics>;
}

export function createIncidentService(deps: { db: Kysely<Database>; clock: Clock }): IncidentService {
  const d = { repository: createIncidentRepository(deps.db), clock: deps.clock };
  return {
    open: openIncident(d),
    resolve: resolveIncident(d),
    link: linkIncident(d),
    get: getIncident(d),
    list: listIncidents(d),
    dora: computeDora(d),
  };
}
