/**
 * Production change log use cases: log a change, review it, roll it back, validate it, edit its
 * description, and the reports (including DORA's four key metrics). Every write runs in one
 * transaction that locks the change and appends its history rows.
 * @module
 */
import { newId } from '../domain/ids.ts';
import type { Clock } from '../domain/clock.ts';
import {
  CHANGE_LIMITS,
  CHANGE_TYPES,
  ChangePatchFields,
  DEFAULT_ENVIRONMENT,
  EDITABLE_FIELDS,
  IMPACT_LEVELS,
  LogChangeFields,
  VALIDATION_STATUSES,
} from '../domain/change.ts';
import type {
  Change,
  ChangeAction,
  ChangePatch,
  ChangeReport,
  ChangeType,
  ChangeWithHistory,
  DoraMetrics,
  ImpactLevel,
  ListChangesQuery,
  LogChangeInput,
  Person,
  ValidationStatus,
} from '../domain/change.ts';
import { APPROVAL_STATUSES, nextApprovalStatus } from '../domain/change-state.ts';
import type { ApprovalEvent } from '../domain/change-state.ts';
import { decodeKeysetCursor, encodeKeysetCursor } from '../domain/cursor.ts';
import { TrailguardError, invalid } from '../domain/errors.ts';
import type { Page } from '../domain/login.ts';
import {
  cleanJson,
  cleanText,
  isPlainObject,
  parseQueryDate,
  truncate,
  validator,
} from '../domain/validation.ts';
import { rejectUnknownKeys } from '../domain/known-keys.ts';
import { redactSecrets, redactText, redactUrl } from '../domain/redact.ts';
import type { ChangeFilter, ChangeRepository, NewHistoryRow } from './change-repository.ts';
import './error-codes.ts';

export interface ChangeServiceDeps {
  repository: ChangeRepository;
  clock: Clock;
  /** DORA for `[from, to)` in one environment; it needs incidents, which live in their own feature. */
  dora: (from: Date, to: Date, environment: string) => Promise<DoraMetrics>;
}

/** Who acts, as `{ id, name? }` (the caller's own user; name defaults to the id). */
export type Actor = { id: string | number; name?: string | undefined };

/** Options of one `log()` call. */
export interface LogChangeOptions {
  /**
   * The keyed request this change answers (the server's `Idempotency-Key`, scoped to its caller;
   * `item` 0). It is recorded in the change's own transaction, so a retry can tell whether the change
   * was committed; a second record of the same item fails the transaction (SQLSTATE 23505, a unique
   * violation) instead of storing a second change.
   */
  idempotency?: { principal: string; key: string; item: number } | undefined;
}

/** `tg.changes`: the production change log. */
export interface ChangeService {
  /** Records a change (and its `created` history row); resolves with the stored change. */
  log(input: LogChangeInput, options?: LogChangeOptions): Promise<Change>;
  /** pending|emergency → approved. The approver must not be the performer. */
  approve(id: string, input: { by: Actor; note?: string | undefined }): Promise<Change>;
  /** pending|emergency → rejected (final), with the reason. */
  reject(id: string, input: { by: Actor; reason: string }): Promise<Change>;
  /** Records the rollback (once). Refused when `canRollback` is false unless `force`. */
  markRolledBack(
    id: string,
    input: { by: Actor; notes?: string | undefined; force?: boolean | undefined },
  ): Promise<Change>;
  /** Sets the validation outcome (smoke tests, checks). */
  setValidation(
    id: string,
    input: { status: ValidationStatus; by: Actor; notes?: string | undefined },
  ): Promise<Change>;
  /** Edits descriptive fields only (see EDITABLE_FIELDS); one history row per changed field. */
  update(id: string, patch: ChangePatch, options: { by: Actor }): Promise<Change>;
  /** The change and its history (oldest first). */
  get(id: string): Promise<ChangeWithHistory>;
  /** Filtered, newest deployment first, keyset-paginated. */
  list(query?: ListChangesQuery): Promise<Page<Change>>;
  /** Changes deployed in the last `days`, newest first. */
  recent(query: { days: number; limit?: number | undefined }): Promise<Change[]>;
  /** Critical changes (in the last `days` when given), newest first. */
  critical(query?: { days?: number | undefined; limit?: number | undefined }): Promise<Change[]>;
  /** Counts, rates, the changes that need attention and DORA metrics for `[from, to)`. */
  report(query: {
    from: Date | string | number;
    to?: Date | string | number | undefined;
    environment?: string | undefined;
  }): Promise<ChangeReport>;
}

const checkLog = validator(LogChangeFields);
const checkPatch = validator(ChangePatchFields);

/** Every field of a Change, to tell a non-editable field from an unknown one in `update()`. */
const CHANGE_FIELDS = new Set<string>([
  'id',
  'changeType',
  'title',
  'description',
  'version',
  'impactLevel',
  'affectedSystems',
  'changeRequestId',
  'approvalStatus',
  'approvedBy',
  'approvedAt',
  'performedBy',
  'deployedAt',
  'canRollback',
  'rollbackInstructions',
  'rolledBack',
  'rolledBackAt',
  'rolledBackBy',
  'rollbackNotes',
  'rollbackForced',
  'testingNotes',
  'validationStatus',
  'documentationUrl',
  'ticket',
  'gitCommit',
  'gitBranch',
  'gitCommittedAt',
  'environment',
  'metadata',
  'createdAt',
  'updatedAt',
]);

/** Fields compared by the history diff (timestamps of the row itself are not history). */
const DIFFED_FIELDS = [...CHANGE_FIELDS].filter((f) => f !== 'updatedAt' && f !== 'createdAt' && f !== 'id');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function notFound(id: unknown): TrailguardError {
  const shown = typeof id === 'string' ? truncate(id, 64) : String(id);
  return new TrailguardError('CHANGE_NOT_FOUND', `no change with id ${shown}`, { field: 'id' });
}

function checkId(id: unknown): string {
  if (typeof id !== 'string' || !UUID.test(id)) throw notFound(id);
  return id.toLowerCase();
}

/** Normalises a person; `field` names it in errors. */
export function toPerson(value: unknown, field: string): Person {
  if (!isPlainObject(value)) throw invalid(field, 'must be an object { id, name? }');
  const { id, name } = value;
  let idText: string;
  if (typeof id === 'number' && Number.isSafeInteger(id)) idText = String(id);
  else if (typeof id === 'string' && id.trim() !== '') idText = cleanText(id.trim(), CHANGE_LIMITS.shortText);
  else throw invalid(`${field}.id`, 'must be a non-empty string or a whole number');
  if (name !== undefined && name !== null && typeof name !== 'string')
    throw invalid(`${field}.name`, 'must be a string');
  const nameText = typeof name === 'string' ? cleanText(name.trim(), CHANGE_LIMITS.shortText) : '';
  for (const key of Object.keys(value)) {
    if (key !== 'id' && key !== 'name') throw invalid(`${field}.${key}`, 'is not a known field');
  }
  return { id: idText, name: nameText || idText };
}

/**
 * A free-text field with its secrets redacted: descriptions, notes and instructions are where a
 * pasted command line leaves a connection string or `DEPLOY_TOKEN=…`.
 */
function text(value: string | null | undefined, max: number): string | null {
  if (value === undefined || value === null) return null;
  const t = redactText(cleanText(value.trim(), max));
  return t === '' ? null : t;
}

function title(value: string): string {
  const t = redactText(cleanText(value.trim(), CHANGE_LIMITS.title));
  if (t === '') throw invalid('title', 'must not be empty');
  return t;
}

function documentationUrl(value: string | null | undefined): string | null {
  if (value === undefined || value === null || value.trim() === '') return null;
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw invalid('documentationUrl', 'must be an http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalid('documentationUrl', `must be an http(s) URL, not ${url.protocol}`);
  return redactUrl(url.toString());
}

function gitCommit(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  const v = value.trim();
  if (!/^[0-9a-f]{7,64}$/i.test(v)) throw invalid('gitCommit', 'must be a hex commit hash (7–64 characters)');
  return v.toLowerCase();
}

function systems(value: string[] | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const [i, s] of value.entries()) {
    const t = redactText(cleanText(s.trim(), CHANGE_LIMITS.shortText));
    if (t === '') throw invalid(`affectedSystems[${i}]`, 'must not be empty');
    if (!out.includes(t)) out.push(t);
  }
  return out;
}

function metadata(value: Record<string, unknown> | undefined): Record<string, unknown> {
  if (value === undefined) return {};
  // Secrets are redacted as in login metadata and event context: a CI step that passes its environment
  // along must not leave a deploy token in the change log.
  const m = redactSecrets(cleanJson(value, 'metadata')) as Record<string, unknown>;
  if (Buffer.byteLength(JSON.stringify(m)) > CHANGE_LIMITS.metadataBytes)
    throw invalid('metadata', `must be at most ${CHANGE_LIMITS.metadataBytes} bytes as JSON`);
  return m;
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value))
    throw invalid(field, `must be one of: ${allowed.join(', ')}`);
  return value as T;
}

function limitOf(value: unknown, dflt: number, max: number): number {
  if (value === undefined) return dflt;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max)
    throw invalid('limit', `must be a whole number from 1 to ${max}`);
  return value;
}

function days(value: unknown, field = 'days'): number {
  // 100 years: further back is before any change and past what a date can hold (audit A #8).
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 36_500)
    throw invalid(field, 'must be a positive number of at most 36500 (100 years)');
  return value;
}

function optionalNote(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalid(field, 'must be a string');
  if (value.length > CHANGE_LIMITS.longText)
    throw invalid(field, `must be at most ${CHANGE_LIMITS.longText} characters`);
  return text(value, CHANGE_LIMITS.longText);
}

/** A JSON-comparable form of a field's value (dates as ISO strings). */
function jsonValue(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  return v === undefined ? null : v;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(jsonValue(a)) === JSON.stringify(jsonValue(b));
}

function snapshot(change: Change): Record<string, unknown> {
  return JSON.parse(JSON.stringify(change)) as Record<string, unknown>;
}

export function createChangeService(deps: ChangeServiceDeps): ChangeService {
  const { repository, clock } = deps;

  function historyRows(
    before: Change,
    after: Change,
    action: ChangeAction,
    by: Person,
    at: Date,
    note: string | null,
  ): NewHistoryRow[] {
    const rows: NewHistoryRow[] = [];
    for (const field of DIFFED_FIELDS) {
      const oldValue = (before as unknown as Record<string, unknown>)[field];
      const newValue = (after as unknown as Record<string, unknown>)[field];
      if (sameValue(oldValue, newValue)) continue;
      rows.push({
        id: newId(),
        changeId: after.id,
        at,
        by,
        action,
        field,
        oldValue: jsonValue(oldValue),
        newValue: jsonValue(newValue),
        note,
      });
    }
    return rows;
  }

  /**
   * The one path every transition and edit takes: lock the change, let `apply` check the rules and
   * compute the new record, save it and append one history row per changed field, all in one
   * transaction. `apply` returning the record unchanged writes nothing.
   */
  async function transition(
    id: string,
    action: ChangeAction,
    by: Person,
    note: string | null,
    apply: (current: Change, at: Date) => Change,
  ): Promise<Change> {
    return repository.transaction(async (tx) => {
      const current = await tx.lock(id);
      if (!current) throw notFound(id);
      const at = clock.now();
      const next = apply(current, at);
      const rows = historyRows(current, next, action, by, at, note);
      if (rows.length === 0) return current;
      const saved = { ...next, updatedAt: at };
      await tx.save(saved);
      await tx.appendHistory(rows);
      return saved;
    });
  }

  /** Applies an approval event through the state machine's table. */
  function review(change: Change, event: ApprovalEvent, by: Person, at: Date): Change {
    const to = nextApprovalStatus(change.approvalStatus, event);
    if (to === null) {
      throw new TrailguardError(
        'CHANGE_INVALID_TRANSITION',
        `cannot ${event} a change that is ${change.approvalStatus}` +
          (change.approvalStatus === 'rejected' ? ' (log a new change instead)' : ''),
        { field: 'approvalStatus' },
      );
    }
    if (event === 'approve') {
      if (by.id === change.performedBy.id) {
        throw new TrailguardError(
          'CHANGE_SELF_APPROVAL',
          `${by.id} performed this change and cannot approve it (separation of duties)`,
          { field: 'by' },
        );
      }
      return { ...change, approvalStatus: to, approvedBy: by, approvedAt: at };
    }
    return { ...change, approvalStatus: to };
  }

  function actor(input: unknown, method: string): Person {
    if (!isPlainObject(input)) throw invalid('input', `${method}() takes an object with { by }`);
    if (input['by'] === undefined) throw invalid('by', 'is required');
    return toPerson(input['by'], 'by');
  }

  return {
    async log(input, options) {
      if (!isPlainObject(input)) throw invalid('input', 'log() takes an object');
      const fields = checkLog(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)));
      const performedBy = toPerson(fields.performedBy, 'performedBy');
      const approvedBy =
        fields.approvedBy === undefined || fields.approvedBy === null
          ? null
          : toPerson(fields.approvedBy, 'approvedBy');
      const approvalStatus = fields.approvalStatus ?? (approvedBy ? 'approved' : 'pending');
      if (approvalStatus === 'approved' && !approvedBy)
        throw invalid('approvedBy', 'is required when approvalStatus is approved');
      if (approvedBy && approvalStatus !== 'approved')
        throw invalid('approvedBy', `must not be set when approvalStatus is ${approvalStatus}`);
      if (approvedBy && approvedBy.id === performedBy.id) {
        throw new TrailguardError(
          'CHANGE_SELF_APPROVAL',
          `${approvedBy.id} performed this change and cannot approve it (separation of duties)`,
          { field: 'approvedBy' },
        );
      }
      const now = clock.now();
      const environment = fields.environment === undefined ? DEFAULT_ENVIRONMENT : fields.environment.trim();
      if (environment === '') throw invalid('environment', 'must not be empty');
      const change: Change = {
        id: newId(),
        changeType: fields.changeType,
        title: title(fields.title),
        description: text(fields.description, CHANGE_LIMITS.longText),
        version: text(fields.version, CHANGE_LIMITS.shortText),
        impactLevel: fields.impactLevel ?? 'medium',
        affectedSystems: systems(fields.affectedSystems),
        changeRequestId: text(fields.changeRequestId, CHANGE_LIMITS.shortText),
        approvalStatus,
        approvedBy,
        approvedAt: approvedBy ? now : null,
        performedBy,
        deployedAt: fields.deployedAt === undefined ? now : parseQueryDate(fields.deployedAt, 'deployedAt'),
        canRollback: fields.canRollback ?? true,
        rollbackInstructions: text(fields.rollbackInstructions, CHANGE_LIMITS.longText),
        rolledBack: false,
        rolledBackAt: null,
        rolledBackBy: null,
        rollbackNotes: null,
        rollbackForced: false,
        testingNotes: text(fields.testingNotes, CHANGE_LIMITS.longText),
        validationStatus: fields.validationStatus ?? 'pending',
        documentationUrl: documentationUrl(fields.documentationUrl),
        ticket: text(fields.ticket, CHANGE_LIMITS.shortText),
        gitCommit: gitCommit(fields.gitCommit),
        gitBranch: text(fields.gitBranch, CHANGE_LIMITS.shortText),
        gitCommittedAt:
          fields.gitCommittedAt === undefined || fields.gitCommittedAt === null
            ? null
            : parseQueryDate(fields.gitCommittedAt, 'gitCommittedAt'),
        environment: cleanText(environment, 64),
        metadata: metadata(fields.metadata),
        createdAt: now,
        updatedAt: now,
      };
      // A commit cannot be deployed before it exists; accepted, it made DORA lead time negative.
      if (change.gitCommittedAt !== null && change.gitCommittedAt.getTime() > change.deployedAt.getTime())
        throw invalid('gitCommittedAt', 'must not be later than deployedAt');
      await repository.transaction(async (tx) => {
        await tx.insert(change);
        await tx.appendHistory([
          {
            id: newId(),
            changeId: change.id,
            at: now,
            by: performedBy,
            action: 'created',
            field: null,
            oldValue: null,
            newValue: snapshot(change),
            note: null,
          },
        ]);
        const keyed = options?.idempotency;
        if (keyed) await tx.recordItems([{ ...keyed, recordId: change.id }], now);
      });
      return change;
    },

    async approve(id, input) {
      const changeId = checkId(id);
      const by = actor(input, 'approve');
      const note = optionalNote(input.note, 'note');
      return transition(changeId, 'approved', by, note, (c, at) => review(c, 'approve', by, at));
    },

    async reject(id, input) {
      const changeId = checkId(id);
      const by = actor(input, 'reject');
      const reason = optionalNote(input.reason, 'reason');
      if (reason === null) throw invalid('reason', 'is required');
      return transition(changeId, 'rejected', by, reason, (c, at) => review(c, 'reject', by, at));
    },

    async markRolledBack(id, input) {
      const changeId = checkId(id);
      const by = actor(input, 'markRolledBack');
      const notes = optionalNote(input.notes, 'notes');
      if (input.force !== undefined && typeof input.force !== 'boolean')
        throw invalid('force', 'must be a boolean');
      const force = input.force === true;
      return transition(changeId, 'rolled_back', by, notes, (c, at) => {
        if (c.rolledBack) {
          throw new TrailguardError(
            'CHANGE_ALREADY_ROLLED_BACK',
            `change ${c.id} was already rolled back at ${c.rolledBackAt?.toISOString() ?? '?'} by ${c.rolledBackBy?.id ?? '?'}`,
            { field: 'rolledBack' },
          );
        }
        if (!c.canRollback && !force) {
          throw new TrailguardError(
            'CHANGE_NOT_ROLLBACKABLE',
            `change ${c.id} is marked canRollback: false; pass force to record the rollback anyway`,
            { field: 'canRollback' },
          );
        }
        return {
          ...c,
          rolledBack: true,
          rolledBackAt: at,
          rolledBackBy: by,
          rollbackNotes: notes,
          rollbackForced: !c.canRollback,
        };
      });
    },

    async setValidation(id, input) {
      const changeId = checkId(id);
      const by = actor(input, 'setValidation');
      const status = oneOf(input.status, VALIDATION_STATUSES, 'status');
      if (status === undefined)
        throw invalid('status', `is required (one of: ${VALIDATION_STATUSES.join(', ')})`);
      const notes = optionalNote(input.notes, 'notes');
      return transition(changeId, 'validated', by, notes, (c) => ({ ...c, validationStatus: status }));
    },

    async update(id, patch, options) {
      const changeId = checkId(id);
      const by = actor(options, 'update');
      if (!isPlainObject(patch)) throw invalid('patch', 'must be an object of editable fields');
      for (const key of Object.keys(patch)) {
        if ((EDITABLE_FIELDS as readonly string[]).includes(key)) continue;
        if (CHANGE_FIELDS.has(key)) {
          throw new TrailguardError(
            'CHANGE_FIELD_NOT_EDITABLE',
            `${key} cannot be edited (editable: ${EDITABLE_FIELDS.join(', ')})`,
            { field: key },
          );
        }
        throw invalid(key, `is not a known field (editable: ${EDITABLE_FIELDS.join(', ')})`);
      }
      const fields = checkPatch(Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)));
      const edits: Partial<Change> = {};
      if (fields.title !== undefined) edits.title = title(fields.title);
      if (fields.description !== undefined)
        edits.description = text(fields.description, CHANGE_LIMITS.longText);
      if (fields.version !== undefined) edits.version = text(fields.version, CHANGE_LIMITS.shortText);
      if (fields.affectedSystems !== undefined) edits.affectedSystems = systems(fields.affectedSystems);
      if (fields.changeRequestId !== undefined)
        edits.changeRequestId = text(fields.changeRequestId, CHANGE_LIMITS.shortText);
      if (fields.rollbackInstructions !== undefined)
        edits.rollbackInstructions = text(fields.rollbackInstructions, CHANGE_LIMITS.longText);
      if (fields.testingNotes !== undefined)
        edits.testingNotes = text(fields.testingNotes, CHANGE_LIMITS.longText);
      if (fields.documentationUrl !== undefined)
        edits.documentationUrl = documentationUrl(fields.documentationUrl);
      if (fields.ticket !== undefined) edits.ticket = text(fields.ticket, CHANGE_LIMITS.shortText);
      if (fields.metadata !== undefined) edits.metadata = metadata(fields.metadata);
      return transition(changeId, 'updated', by, null, (c) => ({ ...c, ...edits }));
    },

    async get(id) {
      const changeId = checkId(id);
      const change = await repository.get(changeId);
      if (!change) throw notFound(id);
      return { ...change, history: await repository.history(changeId) };
    },

    async list(query = {}) {
      if (!isPlainObject(query)) throw invalid('query', 'list() takes an object');
      rejectUnknownKeys(query, [
        'changeType',
        'impactLevel',
        'approvalStatus',
        'rolledBack',
        'environment',
        'search',
        'from',
        'to',
        'limit',
        'cursor',
      ]);
      const filter: ChangeFilter = {};
      filter.changeType = oneOf<ChangeType>(query.changeType, CHANGE_TYPES, 'changeType');
      const impact = oneOf<ImpactLevel>(query.impactLevel, IMPACT_LEVELS, 'impactLevel');
      if (impact !== undefined) filter.impactLevels = [impact];
      filter.approvalStatus = oneOf(query.approvalStatus, APPROVAL_STATUSES, 'approvalStatus');
      if (query.rolledBack !== undefined) {
        if (typeof query.rolledBack !== 'boolean') throw invalid('rolledBack', 'must be a boolean');
        filter.rolledBack = query.rolledBack;
      }
      if (query.environment !== undefined) {
        if (typeof query.environment !== 'string' || query.environment.trim() === '')
          throw invalid('environment', 'must be a non-empty string');
        filter.environment = query.environment.trim();
      }
      if (query.search !== undefined) {
        if (typeof query.search !== 'string') throw invalid('search', 'must be a string');
        const s = cleanText(query.search.trim(), CHANGE_LIMITS.shortText);
        if (s !== '') filter.search = s;
      }
      if (query.from !== undefined) filter.from = parseQueryDate(query.from, 'from');
      if (query.to !== undefined) filter.to = parseQueryDate(query.to, 'to');
      if (query.cursor !== undefined && query.cursor !== null)
        filter.before = decodeKeysetCursor(query.cursor);
      const limit = limitOf(query.limit, 50, 1000);
      const rows = await repository.find(filter, limit + 1);
      const items = rows.slice(0, limit);
      const last = items[items.length - 1];
      return {
        items,
        nextCursor: rows.length > limit && last ? encodeKeysetCursor(last.deployedAt, last.id) : null,
      };
    },

    async recent(query) {
      if (!isPlainObject(query)) throw invalid('query', 'recent() takes { days }');
      rejectUnknownKeys(query, ['days', 'limit']);
      const d = days(query.days);
      const from = new Date(clock.now().getTime() - d * 86_400_000);
      return repository.find({ from }, limitOf(query.limit, 1000, 10_000));
    },

    async critical(query = {}) {
      if (!isPlainObject(query)) throw invalid('query', 'critical() takes { days? }');
      rejectUnknownKeys(query, ['days', 'limit']);
      const filter: ChangeFilter = { impactLevels: ['critical'] };
      if (query.days !== undefined)
        filter.from = new Date(clock.now().getTime() - days(query.days) * 86_400_000);
      return repository.find(filter, limitOf(query.limit, 1000, 10_000));
    },

    async report(query) {
      if (!isPlainObject(query)) throw invalid('query', 'report() takes { from, to? }');
      rejectUnknownKeys(query, ['from', 'to', 'environment']);
      const from = parseQueryDate(query.from, 'from');
      const to = query.to === undefined ? clock.now() : parseQueryDate(query.to, 'to');
      if (to.getTime() <= from.getTime()) throw invalid('to', 'must be after from');
      let environment: string | undefined;
      if (query.environment !== undefined) {
        if (typeof query.environment !== 'string' || query.environment.trim() === '')
          throw invalid('environment', 'must be a non-empty string');
        environment = query.environment.trim();
      }
      const [agg, highImpact, unapprovedCritical, dora] = await Promise.all([
        repository.aggregates(from, to, environment),
        repository.find({ from, to, environment, impactLevels: ['critical', 'high'] }, 10_000),
        repository.find({ from, to, environment, impactLevels: ['critical'], notApproved: true }, 10_000),
        deps.dora(from, to, environment ?? DEFAULT_ENVIRONMENT),
      ]);
      const byType = Object.fromEntries(CHANGE_TYPES.map((t) => [t, 0])) as Record<ChangeType, number>;
      for (const r of agg.byType) if (r.key in byType) byType[r.key as ChangeType] = r.count;
      const byImpact = Object.fromEntries(IMPACT_LEVELS.map((t) => [t, 0])) as Record<ImpactLevel, number>;
      for (const r of agg.byImpact) if (r.key in byImpact) byImpact[r.key as ImpactLevel] = r.count;
      return {
        from,
        to,
        total: agg.total,
        byType,
        byImpact,
        byPerformer: agg.byPerformer.map((p) => ({ performer: { id: p.id, name: p.name }, count: p.count })),
        highImpact,
        rollbackRate: agg.total === 0 ? null : (agg.rolledBack / agg.total) * 100,
        unapprovedCritical,
        dora,
      };
    },
  };
}
