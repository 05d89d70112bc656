/**
 * The change-log part of a GDPR export or erasure. Change records are evidence of operations: erasure
 * keeps them and replaces the person (id and name, as performer, approver, rollback author and history
 * actor, and inside the history's person values) with a stable pseudonym — one per identifier, so a
 * record that named the user by two identifiers (performer by e-mail, approver by id) keeps two
 * distinct names, as the approver ≠ performer rule of the table requires.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, RawBuilder, Selectable } from 'kysely';
import { toChange, toHistoryEntry } from './change-repository.ts';
import type { Change, ChangeHistoryEntry } from '../domain/change.ts';
import type { ChangeLogHistoryTable, ChangeLogTable, Database } from '../store/schema.ts';
import type { PrivacyContributor } from '../privacy/contract.ts';

/** A change in the export: the record, the user's roles in it and the history rows they authored. */
export type ExportedChange = Change & {
  roles: ('performer' | 'approver' | 'rolled_back_by' | 'history_actor')[];
  actions: ChangeHistoryEntry[];
};

const PERSON_KEYS = ['performedBy', 'approvedBy', 'rolledBackBy'] as const;

// The person's identifiers on change records: their user id, and the usernames they log in with (a
// CI pipeline often records the committer's e-mail as the performer id).
function identifiers(userId: string, usernames: string[]): string[] {
  return [...new Set([userId, ...usernames])];
}

export function changesPrivacy(): PrivacyContributor {
  return {
    async export(db: Kysely<Database>, userId, usernames) {
      const ids = identifiers(userId, usernames);
      const rows = await sql<Selectable<ChangeLogTable>>`
        SELECT * FROM change_log c
        WHERE performed_by_id = ANY(${ids}::text[]) OR approved_by_id = ANY(${ids}::text[])
          OR rolled_back_by_id = ANY(${ids}::text[])
          OR EXISTS (SELECT 1 FROM change_log_history h WHERE h.change_id = c.id AND h.actor_id = ANY(${ids}::text[]))
        ORDER BY deployed_at, id`.execute(db);
      if (rows.rows.length === 0) return { changes: [] };
      const history = await sql<Selectable<ChangeLogHistoryTable>>`
        SELECT * FROM change_log_history
        WHERE change_id = ANY(${rows.rows.map((r) => r.id)}::uuid[]) AND actor_id = ANY(${ids}::text[])
        ORDER BY change_id, seq`.execute(db);
      const mine = new Set(ids);
      const changes: ExportedChange[] = rows.rows.map((r) => {
        const change = toChange(r);
        const actions = history.rows.filter((h) => h.change_id === r.id).map(toHistoryEntry);
        const roles: ExportedChange['roles'] = [];
        if (mine.has(change.performedBy.id)) roles.push('performer');
        if (change.approvedBy && mine.has(change.approvedBy.id)) roles.push('approver');
        if (change.rolledBackBy && mine.has(change.rolledBackBy.id)) roles.push('rolled_back_by');
        if (actions.length > 0) roles.push('history_actor');
        return { ...change, roles, actions };
      });
      return { changes };
    },

    async erase(trx: Kysely<Database>, userId, usernames, pseudonymOf, seals) {
      const ids = identifiers(userId, usernames);
      const map = JSON.stringify(Object.fromEntries(ids.map((id) => [id, pseudonymOf(id)])));
      const pseudonymFor = (idValue: RawBuilder<unknown>) => sql`(${map}::jsonb ->> (${idValue}))`;
      const match = (column: string): RawBuilder<boolean> =>
        sql<boolean>`${sql.ref(column)} = ANY(${ids}::text[])`;
      // The id column's pseudonym for an id or a name column, else the value as it is.
      const swap = (column: string, idColumn: string) =>
        sql`coalesce(${pseudonymFor(sql.ref(idColumn))}, ${sql.ref(column)})`;
      // A person value ({ id, name }) of the user becomes the pseudonym; anything else stays as it is.
      const person = (value: RawBuilder<unknown>) => sql`
        CASE WHEN jsonb_typeof(${value}) = 'object' AND (${value})->>'id' = ANY(${ids}::text[])
          THEN jsonb_build_object('id', ${pseudonymFor(sql`(${value})->>'id'`)}, 'name', ${pseudonymFor(sql`(${value})->>'id'`)})
          ELSE ${value} END`;
      const isPersonField = sql<boolean>`field IN ('performedBy', 'approvedBy', 'rolledBackBy')`;
      const snapshot = PERSON_KEYS.reduce<RawBuilder<unknown>>(
        (acc, key) =>
          sql`jsonb_set(${acc}, ${`{${key}}`}::text[], coalesce(${person(sql`new_value->${sql.lit(key)}`)}, 'null'::jsonb), false)`,
        sql`new_value`,
      );
      const snapshotNames = sql<boolean>`(${sql.join(
        PERSON_KEYS.map((k) => sql`new_value->${sql.lit(k)}->>'id' = ANY(${ids}::text[])`),
        sql` OR `,
      )})`;
      // The history is append-only; this transaction-scoped setting lets the trigger (migrations 0006,
      // 0010) accept an UPDATE that changes only the actor and the person values, and only to pseudonyms.
      const historyWhere = sql<boolean>`${match('actor_id')}
          OR (${isPersonField} AND (old_value->>'id' = ANY(${ids}::text[]) OR new_value->>'id' = ANY(${ids}::text[])))
          OR (field IS NULL AND jsonb_typeof(new_value) = 'object' AND ${snapshotNames})`;
      // The history is sealed (tamper evidence): its rows as they were, to file with them as they become.
      const sealedBefore = seals
        ? await seals.integrity.sealedRows('change_log_history', { where: historyWhere }, trx)
        : [];
      await sql`SET LOCAL trailguard.history_pseudonymise = 'on'`.execute(trx);
      const changes = await sql<{ v: string }>`
        UPDATE change_log SET
          performed_by_id = ${swap('performed_by_id', 'performed_by_id')},
          performed_by_name = ${swap('performed_by_name', 'performed_by_id')},
          approved_by_id = ${swap('approved_by_id', 'approved_by_id')},
          approved_by_name = ${swap('approved_by_name', 'approved_by_id')},
          rolled_back_by_id = ${swap('rolled_back_by_id', 'rolled_back_by_id')},
          rolled_back_by_name = ${swap('rolled_back_by_name', 'rolled_back_by_id')}
        WHERE ${match('performed_by_id')} OR ${match('approved_by_id')} OR ${match('rolled_back_by_id')}
        RETURNING concat_ws(' ', performed_by_id, approved_by_id, rolled_back_by_id) AS v`.execute(trx);
      const history = await sql<{ v: string }>`
        UPDATE change_log_history SET
          actor_id = ${swap('actor_id', 'actor_id')},
          actor_name = ${swap('actor_name', 'actor_id')},
          old_value = CASE WHEN ${isPersonField} THEN ${person(sql`old_value`)} ELSE old_value END,
          new_value = CASE
            WHEN ${isPersonField} THEN ${person(sql`new_value`)}
            WHEN field IS NULL AND jsonb_typeof(new_value) = 'object' THEN ${snapshot}
            ELSE new_value END
        WHERE ${historyWhere}
        RETURNING concat_ws(' ', actor_id, old_value::text, new_value::text) AS v`.execute(trx);
      await sql`SET LOCAL trailguard.history_pseudonymise = 'off'`.execute(trx);
      if (seals && sealedBefore.length > 0) {
        const sealedAfter = await seals.integrity.sealedRows(
          'change_log_history',
          { ids: sealedBefore.map((r) => r.id) },
          trx,
        );
        await seals.integrity.adjust(
          'change_log_history',
          { removed: sealedBefore, added: sealedAfter },
          seals.note,
          trx,
        );
      }
      const written = [...changes.rows, ...history.rows].map((r) => r.v).join(' ');
      return {
        changes: changes.rows.length,
        changeHistory: history.rows.length,
        pseudonyms: ids.map(pseudonymOf).filter((p) => written.includes(p)),
      };
    },
  };
}
