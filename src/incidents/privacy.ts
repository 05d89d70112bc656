/**
 * Incidents' part of a GDPR export or erasure. Incidents are evidence of operations: erasure keeps
 * them and replaces the person (as opener, resolver and history actor) with the stable pseudonym of the
 * identifier that named them, as on change records. People appear nowhere else in an incident.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import type { PrivacyContributor } from '../privacy/contract.ts';
import type { Database } from '../store/schema.ts';
import { createIncidentRepository, toIncidentHistoryEntry } from './repository.ts';
import type { IncidentTables } from './repository.ts';
import type { Incident, IncidentHistoryEntry } from './schema.ts';

/** An incident in the export: the record, the user's roles in it and the history rows they authored. */
export type ExportedIncident = Incident & {
  roles: ('opened_by' | 'resolved_by' | 'history_actor')[];
  actions: IncidentHistoryEntry[];
};

export function incidentsPrivacy(): PrivacyContributor {
  return {
    async export(database: Kysely<Database>, userId, usernames) {
      const db = database.withTables<IncidentTables>();
      const ids = [...new Set([userId, ...usernames])];
      const found = await sql<{ id: string }>`
        SELECT id FROM incident i
        WHERE opened_by_id = ANY(${ids}::text[]) OR resolved_by_id = ANY(${ids}::text[])
          OR EXISTS (SELECT 1 FROM incident_history h WHERE h.incident_id = i.id AND h.actor_id = ANY(${ids}::text[]))
        ORDER BY started_at, id`.execute(db);
      if (found.rows.length === 0) return { incidents: [] };
      const repository = createIncidentRepository(database);
      const history = await db
        .selectFrom('incident_history')
        .selectAll()
        .where(
          'incident_id',
          'in',
          found.rows.map((r) => r.id),
        )
        .where('actor_id', 'in', ids)
        .orderBy('incident_id')
        .orderBy('seq')
        .execute();
      const mine = new Set(ids);
      const incidents: ExportedIncident[] = [];
      for (const { id } of found.rows) {
        const incident = await repository.get(id);
        if (!incident) continue;
        const actions = history.filter((h) => h.incident_id === id).map(toIncidentHistoryEntry);
        const roles: ExportedIncident['roles'] = [];
        if (mine.has(incident.openedBy.id)) roles.push('opened_by');
        if (incident.resolvedBy && mine.has(incident.resolvedBy.id)) roles.push('resolved_by');
        if (actions.length > 0) roles.push('history_actor');
        incidents.push({ ...incident, roles, actions });
      }
      return { incidents };
    },

    async erase(trx: Kysely<Database>, userId, usernames, pseudonymOf) {
      const ids = [...new Set([userId, ...usernames])];
      const map = JSON.stringify(Object.fromEntries(ids.map((id) => [id, pseudonymOf(id)])));
      const swap = (column: string, idColumn: string): RawBuilder<unknown> =>
        sql`coalesce((${map}::jsonb ->> ${sql.ref(idColumn)}), ${sql.ref(column)})`;
      const match = (column: string) => sql<boolean>`${sql.ref(column)} = ANY(${ids}::text[])`;
      const incidents = await sql<{ v: string }>`
        UPDATE incident SET
          opened_by_id = ${swap('opened_by_id', 'opened_by_id')},
          opened_by_name = ${swap('opened_by_name', 'opened_by_id')},
          resolved_by_id = ${swap('resolved_by_id', 'resolved_by_id')},
          resolved_by_name = ${swap('resolved_by_name', 'resolved_by_id')}
        WHERE ${match('opened_by_id')} OR ${match('resolved_by_id')}
        RETURNING concat_ws(' ', opened_by_id, resolved_by_id) AS v`.execute(trx);
      // incident_history is append-only; this transaction-scoped setting lets its trigger (migration
      // 0015) accept an UPDATE that changes only the actor, and only to a pseudonym.
      await sql`SET LOCAL trailguard.history_pseudonymise = 'on'`.execute(trx);
      const history = await sql<{ v: string }>`
        UPDATE incident_history SET
          actor_id = ${swap('actor_id', 'actor_id')},
          actor_name = ${swap('actor_name', 'actor_id')}
        WHERE ${match('actor_id')}
        RETURNING actor_id AS v`.execute(trx);
      await sql`SET LOCAL trailguard.history_pseudonymise = 'off'`.execute(trx);
      const written = [...incidents.rows, ...history.rows].map((r) => r.v).join(' ');
      return {
        incidents: incidents.rows.length,
        incidentHistory: history.rows.length,
        pseudonyms: ids.map(pseudonymOf).filter((p) => written.includes(p)),
      };
    },
  };
}
