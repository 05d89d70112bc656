/**
 * Reading incidents: one with its history, and the filtered, keyset-paginated list.
 * @module
 */
import { decodeKeysetCursor, encodeKeysetCursor } from '../../domain/cursor.ts';
import { invalid } from '../../domain/errors.ts';
import type { Page } from '../../domain/login.ts';
import { parseQueryDate, validator } from '../../domain/validation.ts';
import type { IncidentFilter } from '../repository.ts';
import { ListIncidentsFields } from '../schema.ts';
import type { Incident, IncidentWithHistory, ListIncidentsQuery } from '../schema.ts';
import type { IncidentDeps } from './common.ts';
import { UUID_PATTERN, changeId, incidentId, incidentNotFound, requiredObject } from './common.ts';

const check = validator(ListIncidentsFields);

export function getIncident(deps: IncidentDeps) {
  return async function get(id: string): Promise<IncidentWithHistory> {
    const key = incidentId(id);
    const incident = await deps.repository.get(key);
    if (!incident) throw incidentNotFound(id);
    return { ...incident, history: await deps.repository.history(key) };
  };
}

export function listIncidents(deps: IncidentDeps) {
  return async function list(query: ListIncidentsQuery = {}): Promise<Page<Incident>> {
    const q = check(requiredObject(query, 'list'));
    const filter: IncidentFilter = { status: q.status, severity: q.severity };
    if (q.environment !== undefined) {
      const env = q.environment.trim();
      if (env === '') throw invalid('environment', 'must not be empty');
      filter.environment = env;
    }
    if (q.changeId !== undefined) {
      // A malformed id matches nothing; say so rather than answer an empty page.
      if (!UUID_PATTERN.test(q.changeId)) throw invalid('changeId', 'must be a change id (UUID)');
      filter.changeId = changeId(q.changeId, 'changeId');
    }
    if (q.from !== undefined) filter.from = parseQueryDate(q.from, 'from');
    if (q.to !== undefined) filter.to = parseQueryDate(q.to, 'to');
    if (q.cursor !== undefined && q.cursor !== null) filter.before = decodeKeysetCursor(q.cursor);
    const limit = q.limit ?? 50;
    const rows = await deps.repository.find(filter, limit + 1);
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items,
      nextCursor: rows.length > limit && last ? encodeKeysetCursor(last.startedAt, last.id) : null,
    };
  };
}
