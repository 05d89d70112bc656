/**
 * SQL for the change log and its append-only history. Transitions run inside `transaction()`, which
 * hands out a handle whose `lock()` takes the row with SELECT … FOR UPDATE, so concurrent transitions
 * on one change are applied one after the other.
 * @module
 */
import { sql } from 'kysely';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type {
  ApprovalStatus,
  Change,
  ChangeAction,
  ChangeHistoryEntry,
  ChangeType,
  ImpactLevel,
  ValidationStatus,
} from '../domain/change.ts';
import type { ChangeLogHistoryTable, ChangeLogTable, Database } from '../store/schema.ts';
import { insertIdempotencyItems } from '../store/idempotency-store.ts';
import type { IdempotencyItem } from '../store/idempotency-store.ts';

/** Filters the repository understands (already validated). */
export interface ChangeFilter {
  changeType?: ChangeType | undefined;
  impactLevels?: ImpactLevel[] | undefined;
  approvalStatus?: ApprovalStatus | undefined;
  notApproved?: boolean | undefined;
  rolledBack?: boolean | undefined;
  environment?: string | undefined;
  search?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** Keyset position: rows strictly older than this (deployedAt, id). */
  before?: { at: Date; id: string } | undefined;
}

/** A history row to append. */
export interface NewHistoryRow {
  id: string;
  changeId: string;
  at: Date;
  by: { id: string; name: string };
  action: ChangeAction;
  field: string | null;
  oldValue: unknown;
  newValue: unknown;
  note: string | null;
}

/** Aggregates for one report window. */
export interface ChangeAggregates {
  total: number;
  rolledBack: number;
  byType: { key: string; count: number }[];
  byImpact: { key: string; count: number }[];
  byPerformer: { id: string; name: string; count: number }[];
}

/** Operations available inside a transaction. */
export interface ChangeTx {
  /** Reads the change and locks it until the transaction ends; null when it does not exist. */
  lock(id: string): Promise<Change | null>;
  insert(change: Change): Promise<void>;
  /** Writes every mutable column of `change`. */
  save(change: Change): Promise<void>;
  appendHistory(rows: NewHistoryRow[]): Promise<void>;
  /** Records the keyed request items these rows answer, committed or rolled back with them. */
  recordItems(items: IdempotencyItem[], now: Date): Promise<void>;
}

export interface ChangeRepository {
  transaction<T>(fn: (tx: ChangeTx) => Promise<T>): Promise<T>;
  get(id: string): Promise<Change | null>;
  history(id: string): Promise<ChangeHistoryEntry[]>;
  /** Newest first by (deployedAt, id). */
  find(filter: ChangeFilter, limit: number): Promise<Change[]>;
  aggregates(from: Date, to: Date, environment: string | undefined): Promise<ChangeAggregates>;
}

type Row = Selectable<ChangeLogTable>;

function person(id: string | null, name: string | null): { id: string; name: string } | null {
  return id === null ? null : { id, name: name ?? id };
}

function date(v: Date | string | null): Date | null {
  return v === null ? null : new Date(v);
}

export function toChange(r: Row): Change {
  return {
    id: r.id,
    changeType: r.change_type as ChangeType,
    title: r.title,
    description: r.description,
    version: r.version,
    impactLevel: r.impact_level as ImpactLevel,
    affectedSystems: Array.isArray(r.affected_systems) ? r.affected_systems : [],
    changeRequestId: r.change_request_id,
    approvalStatus: r.approval_status as ApprovalStatus,
    approvedBy: person(r.approved_by_id, r.approved_by_name),
    approvedAt: date(r.approved_at),
    performedBy: { id: r.performed_by_id, name: r.performed_by_name },
    deployedAt: new Date(r.deployed_at),
    canRollback: r.can_rollback,
    rollbackInstructions: r.rollback_instructions,
    rolledBack: r.rolled_back,
    rolledBackAt: date(r.rolled_back_at),
    rolledBackBy: person(r.rolled_back_by_id, r.rolled_back_by_name),
    rollbackNotes: r.rollback_notes,
    rollbackForced: r.rollback_forced,
    testingNotes: r.testing_notes,
    validationStatus: r.validation_status as ValidationStatus,
    documentationUrl: r.documentation_url,
    ticket: r.ticket,
    gitCommit: r.git_commit,
    gitBranch: r.git_branch,
    gitCommittedAt: date(r.git_committed_at),
    environment: r.environment,
    metadata: r.metadata ?? {},
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

const json = (v: unknown) => sql<string>`${JSON.stringify(v)}::jsonb`;

function mutableColumns(c: Change) {
  return {
    title: c.title,
    description: c.description,
    version: c.version,
    impact_level: c.impactLevel,
    affected_systems: json(c.affectedSystems),
    change_request_id: c.changeRequestId,
    approval_status: c.approvalStatus,
    approved_by_id: c.approvedBy?.id ?? null,
    approved_by_name: c.approvedBy?.name ?? null,
    approved_at: c.approvedAt,
    can_rollback: c.canRollback,
    rollback_instructions: c.rollbackInstructions,
    rolled_back: c.rolledBack,
    rolled_back_at: c.rolledBackAt,
    rolled_back_by_id: c.rolledBackBy?.id ?? null,
    rolled_back_by_name: c.rolledBackBy?.name ?? null,
    rollback_notes: c.rollbackNotes,
    rollback_forced: c.rollbackForced,
    testing_notes: c.testingNotes,
    validation_status: c.validationStatus,
    documentation_url: c.documentationUrl,
    ticket: c.ticket,
    metadata: json(c.metadata),
    updated_at: c.updatedAt,
  };
}

type HistoryRow = Selectable<ChangeLogHistoryTable>;

export function toHistoryEntry(r: HistoryRow): ChangeHistoryEntry {
  return {
    id: r.id,
    changeId: r.change_id,
    at: new Date(r.at),
    by: { id: r.actor_id, name: r.actor_name },
    action: r.action as ChangeAction,
    field: r.field,
    oldValue: r.old_value ?? null,
    newValue: r.new_value ?? null,
    note: r.note,
  };
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (m) => `\\${m}`);
}

function txHandle(trx: Transaction<Database>): ChangeTx {
  return {
    async lock(id) {
      const row = await trx
        .selectFrom('change_log')
        .selectAll()
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      return row ? toChange(row) : null;
    },
    async insert(c) {
      await trx
        .insertInto('change_log')
        .values({
          id: c.id,
          change_type: c.changeType,
          performed_by_id: c.performedBy.id,
          performed_by_name: c.performedBy.name,
          deployed_at: c.deployedAt,
          git_commit: c.gitCommit,
          git_branch: c.gitBranch,
          git_committed_at: c.gitCommittedAt,
          environment: c.environment,
          created_at: c.createdAt,
          ...mutableColumns(c),
        })
        .execute();
    },
    async save(c) {
      await trx.updateTable('change_log').set(mutableColumns(c)).where('id', '=', c.id).execute();
    },
    async recordItems(items, now) {
      if (items.length) await insertIdempotencyItems(items, now).execute(trx);
    },
    async appendHistory(rows) {
      if (rows.length === 0) return;
      await trx
        .insertInto('change_log_history')
        .values(
          rows.map((r) => ({
            id: r.id,
            change_id: r.changeId,
            at: r.at,
            actor_id: r.by.id,
            actor_name: r.by.name,
            action: r.action,
            field: r.field,
            old_value: json(r.oldValue ?? null),
            new_value: json(r.newValue ?? null),
            note: r.note,
          })),
        )
        .execute();
    },
  };
}

export function createChangeRepository(db: Kysely<Database>): ChangeRepository {
  return {
    transaction(fn) {
      return db.transaction().execute((trx) => fn(txHandle(trx)));
    },

    async get(id) {
      const row = await db.selectFrom('change_log').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toChange(row) : null;
    },

    async history(id) {
      const rows = await db
        .selectFrom('change_log_history')
        .selectAll()
        .where('change_id', '=', id)
        .orderBy('seq', 'asc')
        .execute();
      return rows.map(toHistoryEntry);
    },

    async find(f, limit) {
      let q = db.selectFrom('change_log').selectAll();
      if (f.changeType !== undefined) q = q.where('change_type', '=', f.changeType);
      if (f.impactLevels !== undefined) q = q.where('impact_level', 'in', f.impactLevels);
      if (f.approvalStatus !== undefined) q = q.where('approval_status', '=', f.approvalStatus);
      if (f.notApproved) q = q.where('approval_status', '<>', 'approved');
      if (f.rolledBack !== undefined) q = q.where('rolled_back', '=', f.rolledBack);
      if (f.environment !== undefined) q = q.where('environment', '=', f.environment);
      if (f.from !== undefined) q = q.where('deployed_at', '>=', f.from);
      if (f.to !== undefined) q = q.where('deployed_at', '<', f.to);
      if (f.search !== undefined) {
        const pattern = `%${escapeLike(f.search)}%`;
        q = q.where((eb) =>
          eb.or([
            eb('title', 'ilike', pattern),
            eb('description', 'ilike', pattern),
            eb('version', 'ilike', pattern),
            eb('ticket', 'ilike', pattern),
            eb('git_commit', 'ilike', pattern),
          ]),
        );
      }
      if (f.before !== undefined) {
        q = q.where(sql<boolean>`(deployed_at, id) < (${f.before.at}::timestamptz, ${f.before.id}::uuid)`);
      }
      const rows = await q.orderBy('deployed_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toChange);
    },

    async aggregates(from, to, environment) {
      let base = db.selectFrom('change_log').where('deployed_at', '>=', from).where('deployed_at', '<', to);
      if (environment !== undefined) base = base.where('environment', '=', environment);
      const [totals, byType, byImpact, byPerformer] = await Promise.all([
        base
          .select((eb) => [
            eb.fn.countAll<number>().as('total'),
            sql<number>`count(*) FILTER (WHERE rolled_back)`.as('rolled_back'),
          ])
          .executeTakeFirstOrThrow(),
        base
          .select(['change_type as key', (eb) => eb.fn.countAll<number>().as('count')])
          .groupBy('change_type')
          .execute(),
        base
          .select(['impact_level as key', (eb) => eb.fn.countAll<number>().as('count')])
          .groupBy('impact_level')
          .execute(),
        base
          .select([
            'performed_by_id as id',
            // The name as last seen, in case a user was renamed between changes.
            sql<string>`(array_agg(performed_by_name ORDER BY deployed_at DESC, id DESC))[1]`.as('name'),
            (eb) => eb.fn.countAll<number>().as('count'),
          ])
          .groupBy('performed_by_id')
          .orderBy('count', 'desc')
          .orderBy('performed_by_id', 'asc')
          .execute(),
      ]);
      return {
        total: Number(totals.total),
        rolledBack: Number(totals.rolled_back),
        byType: byType.map((r) => ({ key: r.key, count: Number(r.count) })),
        byImpact: byImpact.map((r) => ({ key: r.key, count: Number(r.count) })),
        byPerformer: byPerformer.map((r) => ({ id: r.id, name: r.name, count: Number(r.count) })),
      };
    },
  };
}
