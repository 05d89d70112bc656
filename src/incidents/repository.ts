/**
 * All of incidents' SQL: the incident, its links to changes, its append-only history, the revert
 * recognition and the facts DORA is computed from. Transitions run inside `transaction()`, whose `lock()`
 * takes the incident with SELECT … FOR UPDATE, so concurrent resolutions and links apply one at a time.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, RawBuilder, Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';
import type {
  Incident,
  IncidentAction,
  IncidentHistoryEntry,
  IncidentLinkRole,
  IncidentSeverity,
  IncidentStatus,
  LinkedChange,
} from './schema.ts';
import type {
  HistoryRow,
  IncidentRecord,
  IncidentRepository,
  IncidentRow,
  IncidentTables,
  IncidentTx,
} from './repository-types.ts';

type Db = Kysely<Database & IncidentTables>;

export type {
  DeploymentFact,
  IncidentFact,
  IncidentFilter,
  IncidentRecord,
  IncidentRepository,
  IncidentTables,
  IncidentTx,
  NewIncidentHistoryRow,
} from './repository-types.ts';

const json = (v: unknown) => sql<string>`${JSON.stringify(v)}::jsonb`;
const date = (v: Date | string | null): Date | null => (v === null ? null : new Date(v));

function toRecord(r: IncidentRow): IncidentRecord {
  return {
    id: r.id,
    title: r.title,
    description: r.description,
    severity: r.severity as IncidentSeverity,
    status: r.status as IncidentStatus,
    environment: r.environment,
    affectedSystems: Array.isArray(r.affected_systems) ? r.affected_systems : [],
    startedAt: new Date(r.started_at),
    detectedAt: new Date(r.detected_at),
    resolvedAt: date(r.resolved_at),
    openedBy: { id: r.opened_by_id, name: r.opened_by_name },
    resolvedBy:
      r.resolved_by_id === null
        ? null
        : { id: r.resolved_by_id, name: r.resolved_by_name ?? r.resolved_by_id },
    resolution: r.resolution,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export function toIncidentHistoryEntry(r: HistoryRow): IncidentHistoryEntry {
  return {
    id: r.id,
    incidentId: r.incident_id,
    at: new Date(r.at),
    by: { id: r.actor_id, name: r.actor_name },
    action: r.action as IncidentAction,
    details: r.details ?? {},
    note: r.note,
  };
}

/**
 * The commit a change reverts, lower-case: `metadata.revertsCommit`, else the sha in a git revert
 * message ("This reverts commit <sha>.") found in its title or description; null when neither.
 */
function revertedCommit(alias: string): RawBuilder<string | null> {
  const t = sql.ref(alias);
  return sql<string | null>`coalesce(
    lower(${t}.metadata->>'revertsCommit'),
    substring(lower(${t}.title || ' ' || coalesce(${t}.description, '')) from 'reverts commit ([0-9a-f]{7,64})'))`;
}

/** True when change `r` reverts change `c`'s commit (either may be abbreviated). */
function reverts(r: string, c: string): RawBuilder<boolean> {
  const commit = sql<string>`${sql.ref(c)}.git_commit`;
  return sql<boolean>`(${commit} IS NOT NULL AND ${sql.ref(r)}.id <> ${sql.ref(c)}.id
    AND ${sql.ref(r)}.deployed_at >= ${sql.ref(c)}.deployed_at
    AND length(${revertedCommit(r)}) >= 7
    AND (starts_with(${commit}, ${revertedCommit(r)}) OR starts_with(${revertedCommit(r)}, ${commit})))`;
}

interface LinkRow {
  incident_id: string;
  change_id: string;
  role: string;
  title: string;
  version: string | null;
  environment: string;
  deployed_at: Date | string;
  git_commit: string | null;
}

function toLinked(r: LinkRow, via: 'link' | 'revert'): LinkedChange {
  return {
    changeId: r.change_id,
    role: r.role as IncidentLinkRole,
    title: r.title,
    version: r.version,
    environment: r.environment,
    deployedAt: new Date(r.deployed_at),
    gitCommit: r.git_commit,
    via,
  };
}

/** Adds causes and remedy (linked, else a recognised revert of a cause) to the records. */
async function withLinks(db: Db, records: IncidentRecord[]): Promise<Incident[]> {
  if (records.length === 0) return [];
  const ids = records.map((r) => r.id);
  const linked = await sql<LinkRow>`
    SELECT ic.incident_id, ic.change_id, ic.role, c.title, c.version, c.environment, c.deployed_at, c.git_commit
    FROM incident_change ic JOIN change_log c ON c.id = ic.change_id
    WHERE ic.incident_id = ANY(${ids}::uuid[])
    ORDER BY c.deployed_at, c.id`.execute(db);
  const recognised = await sql<LinkRow>`
    SELECT DISTINCT ON (ic.incident_id) ic.incident_id, r.id AS change_id, 'remedy' AS role, r.title,
      r.version, r.environment, r.deployed_at, r.git_commit
    FROM incident_change ic
    JOIN change_log c ON c.id = ic.change_id
    JOIN change_log r ON ${reverts('r', 'c')}
    WHERE ic.incident_id = ANY(${ids}::uuid[]) AND ic.role = 'cause'
      AND NOT EXISTS (SELECT 1 FROM incident_change m WHERE m.incident_id = ic.incident_id AND m.role = 'remedy')
    ORDER BY ic.incident_id, r.deployed_at, r.id`.execute(db);
  return records.map((rec) => {
    const mine = linked.rows.filter((l) => l.incident_id === rec.id);
    const remedyRow = mine.find((l) => l.role === 'remedy');
    const revert = recognised.rows.find((l) => l.incident_id === rec.id);
    return {
      ...rec,
      causes: mine.filter((l) => l.role === 'cause').map((l) => toLinked(l, 'link')),
      remedy: remedyRow ? toLinked(remedyRow, 'link') : revert ? toLinked(revert, 'revert') : null,
    };
  });
}

function txHandle(trx: Transaction<Database & IncidentTables>): IncidentTx {
  return {
    async lock(id) {
      const row = await trx
        .selectFrom('incident')
        .selectAll()
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      return row ? toRecord(row) : null;
    },
    async insert(i) {
      await trx
        .insertInto('incident')
        .values({
          id: i.id,
          title: i.title,
          description: i.description,
          severity: i.severity,
          status: i.status,
          environment: i.environment,
          affected_systems: json(i.affectedSystems),
          started_at: i.startedAt,
          detected_at: i.detectedAt,
          resolved_at: i.resolvedAt,
          opened_by_id: i.openedBy.id,
          opened_by_name: i.openedBy.name,
          resolved_by_id: i.resolvedBy?.id ?? null,
          resolved_by_name: i.resolvedBy?.name ?? null,
          resolution: i.resolution,
          created_at: i.createdAt,
          updated_at: i.updatedAt,
        })
        .execute();
    },
    async saveResolution(i) {
      await trx
        .updateTable('incident')
        .set({
          status: i.status,
          resolved_at: i.resolvedAt,
          resolved_by_id: i.resolvedBy?.id ?? null,
          resolved_by_name: i.resolvedBy?.name ?? null,
          resolution: i.resolution,
          updated_at: i.updatedAt,
        })
        .where('id', '=', i.id)
        .execute();
    },
    async existingChanges(ids) {
      if (ids.length === 0) return new Set();
      // FOR SHARE: a retention run cannot remove the change between this check and the link's insert.
      const rows = await sql<{ id: string }>`
        SELECT id FROM change_log WHERE id = ANY(${ids}::uuid[]) FOR SHARE`.execute(trx);
      return new Set(rows.rows.map((r) => r.id));
    },
    async links(incidentId) {
      const rows = await trx
        .selectFrom('incident_change')
        .select(['change_id', 'role'])
        .where('incident_id', '=', incidentId)
        .execute();
      return rows.map((r) => ({ changeId: r.change_id, role: r.role as IncidentLinkRole }));
    },
    async insertLinks(incidentId, links, at) {
      if (links.length === 0) return;
      await trx
        .insertInto('incident_change')
        .values(
          links.map((l) => ({ incident_id: incidentId, change_id: l.changeId, role: l.role, linked_at: at })),
        )
        .execute();
    },
    async appendHistory(rows) {
      if (rows.length === 0) return;
      await trx
        .insertInto('incident_history')
        .values(
          rows.map((r) => ({
            id: r.id,
            incident_id: r.incidentId,
            at: r.at,
            actor_id: r.by.id,
            actor_name: r.by.name,
            action: r.action,
            details: json(r.details),
            note: r.note,
          })),
        )
        .execute();
    },
  };
}

export function createIncidentRepository(database: Kysely<Database>): IncidentRepository {
  const db: Db = database.withTables<IncidentTables>();
  return {
    transaction(fn) {
      return db.transaction().execute((trx) => fn(txHandle(trx)));
    },

    async get(id) {
      const row = await db.selectFrom('incident').selectAll().where('id', '=', id).executeTakeFirst();
      if (!row) return null;
      const [incident] = await withLinks(db, [toRecord(row)]);
      return incident ?? null;
    },

    async history(id) {
      const rows = await db
        .selectFrom('incident_history')
        .selectAll()
        .where('incident_id', '=', id)
        .orderBy('seq', 'asc')
        .execute();
      return rows.map(toIncidentHistoryEntry);
    },

    async find(f, limit) {
      let q = db.selectFrom('incident').selectAll();
      if (f.status !== undefined) q = q.where('status', '=', f.status);
      if (f.severity !== undefined) q = q.where('severity', '=', f.severity);
      if (f.environment !== undefined) q = q.where('environment', '=', f.environment);
      if (f.from !== undefined) q = q.where('started_at', '>=', f.from);
      if (f.to !== undefined) q = q.where('started_at', '<', f.to);
      if (f.changeId !== undefined) {
        const changeId = f.changeId;
        q = q.where(
          sql<boolean>`id IN (SELECT incident_id FROM incident_change WHERE change_id = ${changeId}::uuid)`,
        );
      }
      if (f.before !== undefined)
        q = q.where(sql<boolean>`(started_at, id) < (${f.before.at}::timestamptz, ${f.before.id}::uuid)`);
      const rows = await q.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return withLinks(db, rows.map(toRecord));
    },

    async deploymentFacts(from, to, environment) {
      const rows = await sql<{
        id: string;
        environment: string;
        affected_systems: string[];
        deployed_at: Date | string;
        lead_hours: number | string | null;
        caused_incident: boolean;
        rolled_back_at: Date | string | null;
        reverted_at: Date | string | null;
      }>`
        SELECT d.id, d.environment, d.affected_systems, d.deployed_at,
          extract(epoch FROM (d.deployed_at - d.git_committed_at)) / 3600.0 AS lead_hours,
          EXISTS (SELECT 1 FROM incident_change ic WHERE ic.change_id = d.id AND ic.role = 'cause') AS caused_incident,
          CASE WHEN d.rolled_back THEN d.rolled_back_at END AS rolled_back_at,
          (SELECT min(r.deployed_at) FROM change_log r WHERE ${reverts('r', 'd')}) AS reverted_at
        FROM change_log d
        WHERE d.change_type = 'deployment' AND d.deployed_at >= ${from} AND d.deployed_at < ${to}
          ${environment === undefined ? sql`` : sql`AND d.environment = ${environment}`}
        ORDER BY d.deployed_at, d.id`.execute(db);
      return rows.rows.map((r) => ({
        id: r.id,
        environment: r.environment,
        systems: Array.isArray(r.affected_systems) ? r.affected_systems : [],
        deployedAt: new Date(r.deployed_at),
        leadTimeHours: r.lead_hours === null ? null : Number(r.lead_hours),
        causedIncident: r.caused_incident,
        rolledBackAt: date(r.rolled_back_at),
        revertedAt: date(r.reverted_at),
      }));
    },

    async incidentFacts(from, to, environment) {
      const rows = await sql<{
        id: string;
        environment: string;
        systems: string[] | null;
        started_at: Date | string;
        resolved_at: Date | string | null;
      }>`
        SELECT i.id, i.environment, i.started_at, i.resolved_at,
          (SELECT jsonb_agg(DISTINCT s) FROM (
            SELECT jsonb_array_elements_text(i.affected_systems) AS s
            UNION SELECT jsonb_array_elements_text(c.affected_systems)
              FROM incident_change ic JOIN change_log c ON c.id = ic.change_id
              WHERE ic.incident_id = i.id AND ic.role = 'cause') x) AS systems
        FROM incident i
        WHERE i.started_at >= ${from} AND i.started_at < ${to}
          ${environment === undefined ? sql`` : sql`AND i.environment = ${environment}`}
        ORDER BY i.started_at, i.id`.execute(db);
      return rows.rows.map((r) => ({
        id: r.id,
        environment: r.environment,
        systems: Array.isArray(r.systems) ? r.systems : [],
        startedAt: new Date(r.started_at),
        resolvedAt: date(r.resolved_at),
      }));
    },
  };
}
