/**
 * Tamper evidence for the audit trail: seals, adjustments and verification.
 *
 * A **seal** covers, per stream (a table a feature declares in its `sealed-stream.ts`), the rows whose UUIDv7 id lies in [from_id, to_id): recording order, not the
 * event's own time (an event may be recorded with a past `occurredAt`). Each stream's ranges are
 * contiguous from the lowest id, and a range ends `settleSeconds` before now so batches still in flight
 * are not cut. Every recorded row of these tables gets its id from `newId()` (src/domain/ids.ts), so
 * the id's timestamp is its recording time; retention's event keeper re-inserts a login's own event
 * with the login's (older) id, which is what `adjust(…, { added })` is for.
 *
 * A range's **digest** is a multiset hash: the sum mod 2^256 of the keyed hash of each row's canonical
 * encoding (canonical-row.ts). Removing rows legitimately (retention, erasure) is accounted for exactly
 * by an **adjust** entry that subtracts the removed rows' hashes, and adds rows that were rewritten or
 * re-inserted, so an unrelated change to the same range still shows.
 *
 * Entries form a **hash chain** (each entry's hash covers its fields and the previous entry's hash),
 * written under a transaction-scoped advisory lock so concurrent sealers in several processes take
 * turns instead of forking the chain; the primary key on seq is the second line of defence.
 *
 * With an integrity key every hash is HMAC-SHA256 and only a holder of the key can recompute seals.
 * Without one it is plain SHA-256: that detects changes made by someone who does not also recompute
 * the seals, nothing more. The key is never stored; a short key check (an HMAC of a constant) is, so
 * a wrong key is reported as such. The latest head (seq + hash) is logged after every seal run, as an
 * anchor outside the database: `verify({ expectHead })` then also catches removal of the newest
 * entries, which no chain can detect on its own.
 * @module
 */
import { sql } from 'kysely';
import type { Expression, Kysely, QueryResult, RawBuilder, SqlBool } from 'kysely';
import type { Clock } from '../domain/clock.ts';
import { TrailguardError, invalid } from '../domain/errors.ts';
import type { Database } from '../store/schema.ts';
import {
  EMPTY_DIGEST,
  FIRST_ID,
  addDigests,
  boundaryId,
  encodeFields,
  hashBytes,
  idTime,
  isStream,
  rowHash,
  sealedSelect,
  subtractDigests,
  sumHashes,
  toSealedRow,
} from './canonical-row.ts';
import type { Algorithm, SealedColumns, SealedRow, Stream } from './canonical-row.ts';
import type { SealedStream } from './contract.ts';
import './error-codes.ts';

export type { SealedRow, Stream } from './canonical-row.ts';
export { STREAMS } from './canonical-row.ts';

/** The newest chain entry: log or store it elsewhere and pass it to `verify({ expectHead })`. */
export interface IntegrityHead {
  seq: number;
  hash: string;
}

/** One range sealed by a seal run. */
export interface SealedRange {
  seq: number;
  stream: Stream;
  fromId: string;
  toId: string;
  /** Recording-time range the ids stand for, [from, to). */
  from: Date;
  to: Date;
  rows: number;
  digest: string;
}

/** What `seal()` did. */
export interface SealResult {
  /** One range per stream (also empty ones, so a row inserted later into the span is caught). */
  sealed: SealedRange[];
  /** The chain head after the run (null when nothing has ever been sealed). */
  head: IntegrityHead | null;
}

/** One adjust entry written by `adjust()`. */
export interface AdjustEntry {
  seq: number;
  /** The seal whose range the rows belong to. */
  seal: number;
  removed: number;
  added: number;
}

/** What `adjust()` did. */
export interface AdjustResult {
  entries: AdjustEntry[];
  /** Rows not in a sealed range yet (nothing to account for: the next seal sees them as they are). */
  unsealed: number;
}

/** Why an adjustment was made; both are part of the chain. */
export interface AdjustNote {
  /** e.g. 'retention', 'erasure'. */
  reason: string;
  /** The receipt or change id that documents it. */
  reference?: string | null | undefined;
}

/** The kinds of problem verify() reports. */
export type IntegrityProblemKind =
  /** A sealed range's rows no longer match its count or digest (rows changed, deleted or inserted). */
  | 'range_mismatch'
  /** Ranges of a stream are not contiguous (a seal entry was removed or edited). */
  | 'range_gap'
  /** Rows outside every sealed range but below the newest one's end. */
  | 'uncovered_rows'
  /** Unsealed rows whose id is not a UUIDv7 or lies in the future: never sealed by recording order. */
  | 'suspicious_unsealed'
  /** A seq is missing from the chain (entries deleted). */
  | 'chain_gap'
  /** An entry's prev is not the hash of the entry before it (deleted or reordered entries). */
  | 'chain_link'
  /** An entry's hash does not match its fields (entry edited, or a different key). */
  | 'entry_hash'
  /** The anchored head is gone or different (newest entries removed or rewritten). */
  | 'head_mismatch'
  /** An adjust entry that does not match a seal. */
  | 'adjust_orphan'
  /** The key is missing, or not the key the chain was made with. */
  | 'key';

/** One problem found by verify(). */
export interface IntegrityProblem {
  kind: IntegrityProblemKind;
  stream?: Stream;
  /** The chain entry concerned. */
  seq?: number;
  /** The sealed range concerned: ids and the recording times they stand for. */
  range?: { fromId: string; toId: string; from: Date; to: Date };
  expectedRows?: number;
  actualRows?: number;
  /** For range_mismatch: whether the digest differs (false: only the count does, impossible in practice). */
  digestMismatch?: boolean;
  /** Example ids (suspicious_unsealed, uncovered_rows). */
  ids?: string[];
  /** One readable sentence. */
  message: string;
}

/** Per-stream figures of a verify run. */
export interface StreamReport {
  seals: number;
  adjustments: number;
  /** Rows read and compared against seals. */
  rowsChecked: number;
  /** End of the newest sealed range (recording time), null when never sealed. */
  sealedThrough: Date | null;
  /** Rows recorded after that (not sealed yet). */
  unsealedRows: number;
}

/** The result of verify(). */
export interface IntegrityReport {
  ok: boolean;
  checkedAt: Date;
  /** Whether the configured key was used (HMAC) for the entries that need it. */
  keyed: boolean;
  head: IntegrityHead | null;
  /** Chain entries checked. */
  entries: number;
  streams: Partial<Record<Stream, StreamReport>>;
  problems: IntegrityProblem[];
  /** Problems beyond the first 1,000 that were not listed. */
  problemsOmitted: number;
}

/** Options of verify(). */
export interface VerifyOptions {
  /** Check only this stream's rows (the chain is always checked whole). */
  stream?: Stream | undefined;
  /** A head logged earlier: it must still be in the chain, unchanged. */
  expectHead?: IntegrityHead | undefined;
}

/**
 * Which rows `sealedRows()` and `adjustRemoved()` read: by id, or by a condition on the stream's table —
 * or on `relation`, a partition of it that is no longer attached (retention drops a detached month).
 */
export type RowSelector =
  { ids: readonly string[] } | { where: Expression<SqlBool>; relation?: string | undefined };

/** Tamper evidence over the audit tables. */
export interface IntegrityService {
  /** Seals every stream's rows recorded since the last seal, up to now − settleSeconds. */
  seal(options?: { settleSeconds?: number | undefined }): Promise<SealResult>;
  /** Recomputes every sealed range and the chain; never throws for tampering, reports it. */
  verify(options?: VerifyOptions): Promise<IntegrityReport>;
  /**
   * Accounts for a legitimate change to sealed rows: `removed` as they were before (read with
   * `sealedRows()` before the DELETE or UPDATE), `added` as they are after. Pass the transaction that
   * changes the rows as `db`, so the change and its adjustment commit together.
   */
  adjust(
    stream: Stream,
    change: { removed?: readonly SealedRow[] | undefined; added?: readonly SealedRow[] | undefined },
    note: AdjustNote,
    db?: Kysely<Database>,
  ): Promise<AdjustResult>;
  /**
   * Accounts for the removal of the rows `selector` picks, reading them page by page (for large
   * removals such as a retention run): call it in the removing transaction, *before* the DELETE.
   */
  adjustRemoved(
    stream: Stream,
    selector: RowSelector,
    note: AdjustNote,
    db?: Kysely<Database>,
  ): Promise<AdjustResult>;
  /** Reads rows of `stream` with their sealed columns, as `adjust()` takes them. */
  sealedRows(stream: Stream, selector: RowSelector, db?: Kysely<Database>): Promise<SealedRow[]>;
  /** The newest chain entry, or null. */
  head(): Promise<IntegrityHead | null>;
  /** How far sealing lags (for metrics): the last seal run's time and the rows not yet sealed. */
  sealStatus(): Promise<SealStatus>;
}

/** What `sealStatus()` reports. */
export interface SealStatus {
  /** When the newest seal entry was written; null before the first. */
  lastSealAt: Date | null;
  /** Rows of each stream recorded after its last sealed range (counted up to `UNSEALED_CAP`). */
  unsealedRows: Record<Stream, number>;
}

/** Unsealed rows are counted up to this many per stream: a scrape must stay cheap on a large table. */
export const UNSEALED_CAP = 1_000_000;

/** What the service needs. */
export interface IntegrityServiceDeps {
  db: Kysely<Database>;
  /** The HMAC key; without it hashes are plain SHA-256. Never stored. */
  key: string | undefined;
  /** Seconds a range ends before now, so batches still being committed are not cut. @default 60 */
  settleSeconds?: number | undefined;
  /**
   * The clock UUIDv7 ids are stamped with: the system clock (uuidv7 reads it), not the application's
   * configurable clock, or the cutoff and the ids would disagree.
   */
  clock: Clock;
  /** Receives the new head after each seal run, to record it outside the database. */
  anchor?: ((head: IntegrityHead, sealed: SealedRange[]) => void) | undefined;
  /** The sealed tables the features contribute, in registration order. */
  streams: readonly SealedStream[];
}

// Any constant: every process takes the same lock while appending to the chain.
const CHAIN_LOCK = 7_239_868_312_011;
const GENESIS = '0'.repeat(64);
const DIGEST_MOD = 1n << 256n;
const PAGE = 5_000;
const MAX_PROBLEMS = 1_000;
// Unsealed ids further in the future than this cannot come from a recording clock.
const FUTURE_MS = 10 * 60_000;

interface Entry {
  seq: number;
  stream: string;
  kind: 'seal' | 'adjust';
  fromId: string;
  toId: string;
  rowCount: number;
  digest: string;
  algorithm: Algorithm;
  keyCheck: string | null;
  adjusts: number | null;
  reason: string | null;
  reference: string | null;
  prev: string;
  hash: string;
  createdAt: Date;
}

interface EntryRow {
  seq: number | string;
  stream: string;
  kind: string;
  from_id: string;
  to_id: string;
  row_count: number | string;
  digest: string;
  algorithm: string;
  key_check: string | null;
  adjusts: number | string | null;
  reason: string | null;
  reference: string | null;
  prev: string;
  hash: string;
  created_at: Date | string;
}

function toEntry(r: EntryRow): Entry {
  return {
    seq: Number(r.seq),
    stream: r.stream,
    kind: r.kind as Entry['kind'],
    fromId: r.from_id,
    toId: r.to_id,
    rowCount: Number(r.row_count),
    digest: r.digest,
    algorithm: r.algorithm as Algorithm,
    keyCheck: r.key_check,
    adjusts: r.adjusts === null ? null : Number(r.adjusts),
    reason: r.reason,
    reference: r.reference,
    prev: r.prev,
    hash: r.hash,
    createdAt: new Date(r.created_at),
  };
}

/** The key check stored with keyed entries: identifies the key without revealing it. */
export function keyCheckOf(key: string): string {
  return hashBytes('hmac-sha256', key, Buffer.from('trailguard-integrity-key-check')).slice(0, 16);
}

/** An entry's hash over its fields and `prev`. */
function entryHash(e: Omit<Entry, 'hash'>, key: string | undefined): string {
  const data = encodeFields([
    'trailguard-seal-v1',
    String(e.seq),
    e.stream,
    e.kind,
    e.fromId,
    e.toId,
    String(e.rowCount),
    e.digest,
    e.algorithm,
    e.keyCheck,
    e.adjusts === null ? null : String(e.adjusts),
    e.reason,
    e.reference,
    String(e.createdAt.getTime()),
    e.prev,
  ]);
  return hashBytes(e.algorithm, key, data);
}

/** Runs `fn` in a transaction, or in `db` when it already is one. */
async function inTransaction<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  return db.transaction().execute(fn);
}

async function lockChain(db: Kysely<Database>): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(${CHAIN_LOCK}::bigint)`.execute(db);
}

async function readHead(db: Kysely<Database>): Promise<Entry | null> {
  const r = await sql<EntryRow>`SELECT * FROM integrity_seal ORDER BY seq DESC LIMIT 1`.execute(db);
  return r.rows[0] ? toEntry(r.rows[0]) : null;
}

async function insertEntry(db: Kysely<Database>, e: Entry): Promise<void> {
  await sql`
    INSERT INTO integrity_seal (seq, stream, kind, from_id, to_id, row_count, digest, algorithm, key_check,
      adjusts, reason, reference, prev, hash, created_at)
    VALUES (${e.seq}, ${e.stream}, ${e.kind}, ${e.fromId}::uuid, ${e.toId}::uuid, ${e.rowCount}, ${e.digest},
      ${e.algorithm}, ${e.keyCheck}, ${e.adjusts}, ${e.reason}, ${e.reference}, ${e.prev}, ${e.hash},
      ${e.createdAt})`.execute(db);
}

/**
 * Hands the rows of `stream` with fromId <= id < toId (toId null: no upper bound) and matching `where`
 * to `onPage` in id order, a page at a time; rows that share an id (only a forgery can make them) are
 * all handed over.
 */
async function scanRows(
  db: Kysely<Database>,
  stream: Stream,
  columns: SealedColumns,
  range: {
    fromId: string;
    toId: string | null;
    where?: Expression<SqlBool> | undefined;
    relation?: string | undefined;
  },
  onPage: (rows: SealedRow[]) => void | Promise<void>,
): Promise<void> {
  const table = sql.table(range.relation ?? stream);
  const upper = range.toId === null ? sql`TRUE` : sql`id < ${range.toId}::uuid`;
  const where = range.where ?? sql<SqlBool>`TRUE`;
  let after: string | null = null;
  for (;;) {
    const lower: RawBuilder<unknown> =
      after === null ? sql`id >= ${range.fromId}::uuid` : sql`id > ${after}::uuid`;
    const page: QueryResult<Record<string, unknown>> = await sql<Record<string, unknown>>`
      SELECT ${sealedSelect(columns)} FROM ${table}
      WHERE ${lower} AND ${upper} AND (${where}) ORDER BY id LIMIT ${PAGE}`.execute(db);
    const rows: SealedRow[] = page.rows.map((r) => toSealedRow(columns, r));
    if (rows.length < PAGE) {
      await onPage(rows);
      return;
    }
    const last: string = (rows[rows.length - 1] as SealedRow).id;
    const ties = await sql<Record<string, unknown>>`
      SELECT ${sealedSelect(columns)} FROM ${table} WHERE id = ${last}::uuid AND (${where})`.execute(db);
    await onPage([...rows.filter((r) => r.id < last), ...ties.rows.map((r) => toSealedRow(columns, r))]);
    after = last;
  }
}

function assertStream(stream: unknown, names: readonly string[]): asserts stream is Stream {
  if (!isStream(stream, names)) throw invalid('stream', `must be one of: ${names.join(', ')}`);
}

/** Validates an adjustment's note; returns the reference (null when none). */
function checkNote(note: AdjustNote): string | null {
  if (typeof note?.reason !== 'string' || note.reason.trim() === '')
    throw invalid('reason', 'must say why the rows changed (e.g. retention, erasure)');
  const reference = note.reference ?? null;
  if (reference !== null && typeof reference !== 'string') throw invalid('reference', 'must be a string');
  return reference;
}

/** The SQL condition a selector stands for; null when it selects nothing (an empty id list). */
function selectorCondition(selector: RowSelector): Expression<SqlBool> | null {
  if (selector !== null && typeof selector === 'object' && 'ids' in selector) {
    if (!Array.isArray(selector.ids) || !selector.ids.every((x) => typeof x === 'string'))
      throw invalid('ids', 'must be an array of ids');
    if (selector.ids.length === 0) return null;
    return sql<SqlBool>`id = ANY(${[...selector.ids]}::uuid[])`;
  }
  if (selector !== null && typeof selector === 'object' && 'where' in selector) return selector.where;
  throw invalid('selector', 'must be { ids } or { where }');
}

function rangeOf(e: { fromId: string; toId: string }): IntegrityProblem['range'] & object {
  return { fromId: e.fromId, toId: e.toId, from: new Date(idTime(e.fromId)), to: new Date(idTime(e.toId)) };
}

function validateRows(
  stream: Stream,
  width: number,
  rows: readonly SealedRow[] | undefined,
  field: string,
): readonly SealedRow[] {
  if (rows === undefined) return [];
  if (!Array.isArray(rows)) throw invalid(field, 'must be an array of rows read with sealedRows()');
  rows.forEach((r, i) => {
    if (
      typeof r?.id !== 'string' ||
      !Array.isArray(r.values) ||
      r.values.length !== width ||
      r.values[0] !== r.id ||
      !r.values.every((v: unknown) => v === null || typeof v === 'string')
    ) {
      throw invalid(`${field}[${i}]`, `must be a row of ${stream} as read with sealedRows()`);
    }
  });
  return rows;
}

/** Creates the integrity service. */
export function createIntegrityService(deps: IntegrityServiceDeps): IntegrityService {
  const { db, key, clock } = deps;
  // Streams are sealed in the order the features are registered: the chain records them in that order.
  const names = deps.streams.map((s) => s.name as Stream);
  const columns = new Map(deps.streams.map((s) => [s.name, s.columns]));
  const columnsOf = (stream: string): SealedColumns => columns.get(stream) ?? [];
  const settleDefault = deps.settleSeconds ?? 60;
  const algorithm: Algorithm = key === undefined ? 'sha256' : 'hmac-sha256';
  const keyCheck = key === undefined ? null : keyCheckOf(key);

  /** Refuses to extend or adjust a chain made with another key, or to downgrade a keyed chain. */
  function assertKeyFits(head: Entry | null): void {
    if (head === null || head.algorithm === 'sha256') return;
    if (key === undefined) {
      throw new TrailguardError(
        'INTEGRITY_KEY_REQUIRED',
        'the seal chain was made with an integrity key: configure it (integrity.key or TRAILGUARD_INTEGRITY_KEY)',
        { field: 'integrity.key' },
      );
    }
    if (head.keyCheck !== keyCheck) {
      throw new TrailguardError(
        'INTEGRITY_KEY_MISMATCH',
        'the configured integrity key is not the key the seal chain was made with',
        { field: 'integrity.key' },
      );
    }
  }

  /** The algorithm and key to hash rows of a range with (the one its seal was made with). */
  function rowKeyFor(alg: Algorithm): string | undefined {
    return alg === 'hmac-sha256' ? key : undefined;
  }

  async function append(
    trx: Kysely<Database>,
    prev: Entry | null,
    fields: Omit<Entry, 'seq' | 'prev' | 'hash' | 'algorithm' | 'keyCheck' | 'createdAt'>,
  ): Promise<Entry> {
    const partial = {
      ...fields,
      seq: prev === null ? 1 : prev.seq + 1,
      prev: prev === null ? GENESIS : prev.hash,
      algorithm,
      keyCheck,
      createdAt: clock.now(),
    };
    const entry: Entry = { ...partial, hash: entryHash(partial, key) };
    await insertEntry(trx, entry);
    return entry;
  }

  interface SealRef {
    seq: number;
    fromId: string;
    toId: string;
    algorithm: Algorithm;
  }
  interface Tally {
    groups: Map<number, { seal: SealRef; delta: string; removed: number; added: number }>;
    unsealed: number;
  }
  const newTally = (): Tally => ({ groups: new Map(), unsealed: 0 });

  /** Adds rows (sign −1: removed, +1: added) to the per-seal deltas; rows in no seal count as unsealed. */
  async function account(
    trx: Kysely<Database>,
    stream: Stream,
    items: readonly { r: SealedRow; sign: number }[],
    tally: Tally,
  ): Promise<void> {
    if (items.length === 0) return;
    // Each row's seal: the newest seal of the stream starting at or below its id, if it ends above it.
    const ids = [...new Set(items.map((a) => a.r.id))];
    const found = await sql<{
      id: string;
      seq: number | string;
      from_id: string;
      to_id: string;
      algorithm: string;
    }>`
      SELECT r.id::text AS id, s.seq, s.from_id::text AS from_id, s.to_id::text AS to_id, s.algorithm
      FROM unnest(${ids}::uuid[]) AS r(id)
      JOIN LATERAL (
        SELECT seq, from_id, to_id, algorithm FROM integrity_seal
        WHERE stream = ${stream} AND kind = 'seal' AND from_id <= r.id
        ORDER BY from_id DESC LIMIT 1
      ) AS s ON s.to_id > r.id`.execute(trx);
    const sealOf = new Map(found.rows.map((f) => [f.id, f]));
    for (const { r, sign } of items) {
      const f = sealOf.get(r.id);
      if (!f) {
        tally.unsealed++;
        continue;
      }
      const seq = Number(f.seq);
      const alg = f.algorithm as Algorithm;
      const g = tally.groups.get(seq) ?? {
        seal: { seq, fromId: f.from_id, toId: f.to_id, algorithm: alg },
        delta: EMPTY_DIGEST,
        removed: 0,
        added: 0,
      };
      const h = rowHash(alg, rowKeyFor(alg), stream, r);
      if (sign < 0) {
        g.delta = subtractDigests(g.delta, h);
        g.removed++;
      } else {
        g.delta = addDigests(g.delta, h);
        g.added++;
      }
      tally.groups.set(seq, g);
    }
  }

  /** One adjust entry per seal touched, in seal order. */
  async function writeAdjustments(
    trx: Kysely<Database>,
    start: Entry | null,
    stream: Stream,
    tally: Tally,
    reason: string,
    reference: string | null,
  ): Promise<AdjustResult> {
    let head = start;
    const entries: AdjustEntry[] = [];
    for (const [seq, g] of [...tally.groups].sort((a, b) => a[0] - b[0])) {
      head = await append(trx, head, {
        stream,
        kind: 'adjust',
        fromId: g.seal.fromId,
        toId: g.seal.toId,
        rowCount: g.added - g.removed,
        digest: g.delta,
        adjusts: seq,
        reason,
        reference,
      });
      entries.push({ seq: head.seq, seal: seq, removed: g.removed, added: g.added });
    }
    return { entries, unsealed: tally.unsealed };
  }

  const service: IntegrityService = {
    async seal(options = {}) {
      const settle = options.settleSeconds ?? settleDefault;
      if (typeof settle !== 'number' || !Number.isFinite(settle) || settle < 0)
        throw invalid('settleSeconds', 'must be a number of seconds, 0 or more');
      const cutoff = boundaryId(clock.now().getTime() - settle * 1000);
      const result = await inTransaction(db, async (trx) => {
        await lockChain(trx);
        let head = await readHead(trx);
        assertKeyFits(head);
        const sealed: SealedRange[] = [];
        for (const stream of names) {
          const last = await sql<{ to_id: string }>`
            SELECT to_id FROM integrity_seal WHERE stream = ${stream} AND kind = 'seal'
            ORDER BY from_id DESC LIMIT 1`.execute(trx);
          const fromId = last.rows[0]?.to_id ?? FIRST_ID;
          if (cutoff <= fromId) continue; // the clock went back, or a run just before this one
          let rows = 0;
          // A running sum: a seal may cover millions of rows, never held in memory.
          let sum = 0n;
          await scanRows(trx, stream, columnsOf(stream), { fromId, toId: cutoff }, (page) => {
            for (const row of page) {
              rows++;
              sum = (sum + rowHash(algorithm, key, stream, row)) % DIGEST_MOD;
            }
          });
          const digest = sumHashes([sum]);
          head = await append(trx, head, {
            stream,
            kind: 'seal',
            fromId,
            toId: cutoff,
            rowCount: rows,
            digest,
            adjusts: null,
            reason: null,
            reference: null,
          });
          sealed.push({
            seq: head.seq,
            stream,
            fromId,
            toId: cutoff,
            from: new Date(idTime(fromId)),
            to: new Date(idTime(cutoff)),
            rows,
            digest,
          });
        }
        return { sealed, head: head === null ? null : { seq: head.seq, hash: head.hash } };
      });
      if (result.head !== null && result.sealed.length > 0) deps.anchor?.(result.head, result.sealed);
      return result;
    },

    async adjust(stream, change, note, executor = db) {
      assertStream(stream, names);
      const removed = validateRows(stream, columnsOf(stream).length, change?.removed, 'removed');
      const added = validateRows(stream, columnsOf(stream).length, change?.added, 'added');
      const reference = checkNote(note);
      const all = [...removed.map((r) => ({ r, sign: -1 })), ...added.map((r) => ({ r, sign: 1 }))];
      if (all.length === 0) return { entries: [], unsealed: 0 };
      return inTransaction(executor, async (trx) => {
        await lockChain(trx);
        const head = await readHead(trx);
        assertKeyFits(head);
        const tally = newTally();
        await account(trx, stream, all, tally);
        return writeAdjustments(trx, head, stream, tally, note.reason, reference);
      });
    },

    async adjustRemoved(stream, selector, note, executor = db) {
      assertStream(stream, names);
      const reference = checkNote(note);
      const where = selectorCondition(selector);
      if (where === null) return { entries: [], unsealed: 0 };
      return inTransaction(executor, async (trx) => {
        await lockChain(trx);
        const head = await readHead(trx);
        assertKeyFits(head);
        const tally = newTally();
        const relation = 'relation' in selector ? selector.relation : undefined;
        await scanRows(
          trx,
          stream,
          columnsOf(stream),
          { fromId: FIRST_ID, toId: null, where, relation },
          (page) =>
            account(
              trx,
              stream,
              page.map((r) => ({ r, sign: -1 })),
              tally,
            ),
        );
        return writeAdjustments(trx, head, stream, tally, note.reason, reference);
      });
    },

    async sealedRows(stream, selector, executor = db) {
      assertStream(stream, names);
      const where = selectorCondition(selector);
      if (where === null) return [];
      const relation = 'relation' in selector && selector.relation ? selector.relation : stream;
      const r = await sql<Record<string, unknown>>`
        SELECT ${sealedSelect(columnsOf(stream))} FROM ${sql.table(relation)} WHERE ${where} ORDER BY id`.execute(
        executor,
      );
      return r.rows.map((row) => toSealedRow(columnsOf(stream), row));
    },

    async sealStatus() {
      const last = await sql<{ at: Date | string | null }>`
        SELECT max(created_at) AS at FROM integrity_seal WHERE kind = 'seal'`.execute(db);
      const at = last.rows[0]?.at ?? null;
      const unsealedRows = {} as Record<Stream, number>;
      for (const stream of names) {
        const from = await sql<{ to_id: string }>`
          SELECT to_id FROM integrity_seal WHERE stream = ${stream} AND kind = 'seal'
          ORDER BY from_id DESC LIMIT 1`.execute(db);
        const fromId = from.rows[0]?.to_id ?? FIRST_ID;
        const n = await sql<{ n: string | number }>`
          SELECT count(*) AS n FROM (SELECT 1 FROM ${sql.table(stream)} WHERE id >= ${fromId}::uuid
            LIMIT ${UNSEALED_CAP}) AS unsealed`.execute(db);
        unsealedRows[stream] = Number(n.rows[0]?.n ?? 0);
      }
      return { lastSealAt: at === null ? null : new Date(at), unsealedRows };
    },

    async head() {
      const h = await readHead(db);
      return h === null ? null : { seq: h.seq, hash: h.hash };
    },

    async verify(options = {}) {
      if (options.stream !== undefined && !isStream(options.stream, names))
        throw invalid('stream', `must be one of: ${names.join(', ')}`);
      const expectHead = options.expectHead;
      if (
        expectHead !== undefined &&
        (!Number.isInteger(expectHead?.seq) || typeof expectHead?.hash !== 'string')
      ) {
        throw invalid('expectHead', 'must be { seq, hash } as logged by a seal run');
      }
      const checkedAt = clock.now();
      const problems: IntegrityProblem[] = [];
      let omitted = 0;
      const report = (p: IntegrityProblem) => {
        if (problems.length < MAX_PROBLEMS) problems.push(p);
        else omitted++;
      };
      // One snapshot: a seal or an erasure committing during the run cannot make rows and entries disagree.
      const run = async (trx: Kysely<Database>) => {
        const entries = (
          await sql<EntryRow>`SELECT * FROM integrity_seal ORDER BY seq`.execute(trx)
        ).rows.map(toEntry);

        // The chain.
        let prevHash = GENESIS;
        let expectedSeq = 1;
        let keyReported = false;
        let sawKeyed = false;
        for (const e of entries) {
          if (e.seq !== expectedSeq) {
            report({
              kind: 'chain_gap',
              seq: e.seq,
              message:
                e.seq > expectedSeq
                  ? `chain entries ${expectedSeq}–${e.seq - 1} are missing (deleted)`
                  : `chain entry ${e.seq} is out of order`,
            });
          }
          if (e.prev !== prevHash) {
            report({
              kind: 'chain_link',
              seq: e.seq,
              message: `chain entry ${e.seq} does not follow the entry before it (entries deleted, reordered or rewritten)`,
            });
          }
          if (e.algorithm === 'hmac-sha256') {
            sawKeyed = true;
            if (key === undefined || e.keyCheck !== keyCheck) {
              if (!keyReported) {
                keyReported = true;
                report({
                  kind: 'key',
                  seq: e.seq,
                  message:
                    key === undefined
                      ? 'the chain was made with an integrity key and none is configured: keyed entries cannot be checked'
                      : 'the configured integrity key is not the key the chain was made with (or the key check was edited)',
                });
              }
            }
            if (key !== undefined && entryHash(e, key) !== e.hash) {
              report({
                kind: 'entry_hash',
                seq: e.seq,
                message: `chain entry ${e.seq} was edited (its hash does not match its fields)`,
              });
            }
          } else {
            if (sawKeyed) {
              report({
                kind: 'entry_hash',
                seq: e.seq,
                message: `chain entry ${e.seq} is unkeyed after keyed entries (forged without the key)`,
              });
            } else if (entryHash(e, undefined) !== e.hash) {
              report({
                kind: 'entry_hash',
                seq: e.seq,
                message: `chain entry ${e.seq} was edited (its hash does not match its fields)`,
              });
            }
          }
          prevHash = e.hash;
          expectedSeq = e.seq + 1;
        }
        const last = entries[entries.length - 1];
        if (expectHead !== undefined) {
          const anchored = entries.find((e) => e.seq === expectHead.seq);
          if (!anchored || anchored.hash !== expectHead.hash) {
            report({
              kind: 'head_mismatch',
              seq: expectHead.seq,
              message: anchored
                ? `chain entry ${expectHead.seq} differs from the anchored head (rewritten)`
                : `the anchored head ${expectHead.seq} is no longer in the chain (newest entries removed; chain ends at ${last?.seq ?? 'nothing'})`,
            });
          }
        }

        // The rows of each stream.
        const streams: Partial<Record<Stream, StreamReport>> = {};
        for (const stream of options.stream ? [options.stream] : names) {
          const seals = entries.filter((e) => e.stream === stream && e.kind === 'seal');
          seals.sort((a, b) => (a.fromId < b.fromId ? -1 : a.fromId > b.fromId ? 1 : a.seq - b.seq));
          const adjusts = entries.filter((e) => e.stream === stream && e.kind === 'adjust');
          const expected = new Map(seals.map((s) => [s.seq, { rows: s.rowCount, digest: s.digest }]));
          for (const a of adjusts) {
            const target = a.adjusts === null ? undefined : seals.find((s) => s.seq === a.adjusts);
            const exp = a.adjusts === null ? undefined : expected.get(a.adjusts);
            if (!target || !exp || target.fromId !== a.fromId || target.toId !== a.toId) {
              report({
                kind: 'adjust_orphan',
                stream,
                seq: a.seq,
                message: `adjust entry ${a.seq} refers to seal ${a.adjusts ?? '?'} of ${stream}, which does not exist with that range`,
              });
              continue;
            }
            exp.rows += a.rowCount;
            exp.digest = addDigests(exp.digest, a.digest);
          }
          let cursor = FIRST_ID;
          for (const s of seals) {
            if (s.fromId !== cursor) {
              report({
                kind: 'range_gap',
                stream,
                seq: s.seq,
                range: rangeOf({
                  fromId: cursor < s.fromId ? cursor : s.fromId,
                  toId: cursor < s.fromId ? s.fromId : cursor,
                }),
                message: `${stream}: sealed ranges are not contiguous before seal ${s.seq} (a seal entry was removed or edited)`,
              });
            }
            if (s.toId > cursor) cursor = s.toId;
          }
          const end = cursor;
          // Actual count and digest per seal, in one pass over the sealed rows.
          const actual = new Map(seals.map((s) => [s.seq, { rows: 0, sum: 0n }]));
          let checked = 0;
          const uncovered: string[] = [];
          let uncoveredCount = 0;
          let i = 0;
          if (seals.length > 0) {
            const visit = (row: SealedRow): void => {
              checked++;
              while (i < seals.length && row.id >= (seals[i] as Entry).toId) i++;
              // Overlapping (edited) ranges: find the first seal holding the id.
              let s = seals[i];
              if (!s || row.id < s.fromId) s = seals.find((x) => x.fromId <= row.id && row.id < x.toId);
              if (!s) {
                uncoveredCount++;
                if (uncovered.length < 10) uncovered.push(row.id);
                return;
              }
              const a = actual.get(s.seq) as { rows: number; sum: bigint };
              a.rows++;
              // Keyed ranges without the key: counted, not hashed (the key problem is reported once).
              if (s.algorithm === 'sha256' || key !== undefined)
                a.sum = (a.sum + rowHash(s.algorithm, rowKeyFor(s.algorithm), stream, row)) % DIGEST_MOD;
            };
            await scanRows(trx, stream, columnsOf(stream), { fromId: FIRST_ID, toId: end }, (page) => {
              for (const row of page) visit(row);
            });
          }
          for (const s of seals) {
            if (s.algorithm === 'hmac-sha256' && key === undefined) continue; // reported as a key problem
            const exp = expected.get(s.seq) as { rows: number; digest: string };
            const act = actual.get(s.seq) as { rows: number; sum: bigint };
            const digest = sumHashes([act.sum]);
            if (exp.rows !== act.rows || exp.digest !== digest) {
              const r = rangeOf(s);
              const what =
                act.rows > exp.rows
                  ? `${act.rows - exp.rows} row(s) more than sealed (inserted)`
                  : act.rows < exp.rows
                    ? `${exp.rows - act.rows} row(s) fewer than sealed (deleted)`
                    : 'the same number of rows with different content (changed)';
              report({
                kind: 'range_mismatch',
                stream,
                seq: s.seq,
                range: r,
                expectedRows: exp.rows,
                actualRows: act.rows,
                digestMismatch: exp.digest !== digest,
                message: `${stream} rows recorded ${r.from.toISOString()} – ${r.to.toISOString()} (seal ${s.seq}): expected ${exp.rows}, found ${act.rows}: ${what}`,
              });
            }
          }
          if (uncoveredCount > 0) {
            report({
              kind: 'uncovered_rows',
              stream,
              ids: uncovered,
              actualRows: uncoveredCount,
              message: `${stream}: ${uncoveredCount} row(s) lie outside every sealed range but before the newest one ends`,
            });
          }
          const future = boundaryId(checkedAt.getTime() + FUTURE_MS);
          const tail = await sql<{ n: number | string; odd: number | string; sample: string[] | null }>`
            SELECT count(*) AS n,
              count(*) FILTER (WHERE substr(id::text, 15, 1) <> '7' OR id >= ${future}::uuid) AS odd,
              (array_agg(id::text ORDER BY id) FILTER (WHERE substr(id::text, 15, 1) <> '7' OR id >= ${future}::uuid))[1:10] AS sample
            FROM ${sql.table(stream)} WHERE id >= ${end}::uuid`.execute(trx);
          const t = tail.rows[0];
          const unsealedRows = Number(t?.n ?? 0);
          const odd = Number(t?.odd ?? 0);
          if (odd > 0) {
            report({
              kind: 'suspicious_unsealed',
              stream,
              ids: t?.sample ?? [],
              actualRows: odd,
              message: `${stream}: ${odd} unsealed row(s) have an id that is not a UUIDv7 or lies in the future, so no seal would ever cover them (inserted directly)`,
            });
          }
          streams[stream] = {
            seals: seals.length,
            adjustments: adjusts.length,
            rowsChecked: checked,
            sealedThrough: seals.length ? new Date(idTime(end)) : null,
            unsealedRows,
          };
        }
        return {
          ok: problems.length === 0,
          checkedAt,
          keyed: key !== undefined,
          head: last ? { seq: last.seq, hash: last.hash } : null,
          entries: entries.length,
          streams,
          problems,
          problemsOmitted: omitted,
        } satisfies IntegrityReport;
      };
      if (db.isTransaction) return run(db);
      return db.transaction().setIsolationLevel('repeatable read').execute(run);
    },
  };
  return service;
}
