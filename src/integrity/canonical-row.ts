/**
 * What tamper evidence covers, row by row: the sealed streams and their columns, how a row is read
 * (every column cast to text in SQL, so PGlite and PostgreSQL give the same bytes), how it is encoded
 * (length-prefixed, NULL distinct from ''), hashed (HMAC-SHA256 with the integrity key, SHA-256
 * without one) and summed into a multiset digest (mod 2^256), and the UUIDv7 range boundaries.
 * @module
 */
import { createHash, createHmac } from 'node:crypto';
import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';

/** The tables whose rows are sealed. */
export const STREAMS = [
  'login_history',
  'security_event_rows',
  'change_log_history',
  'compliance_receipt',
] as const;

/** One sealed table. */
export type Stream = (typeof STREAMS)[number];

/** How a column is turned into text in SQL, independent of session settings (TimeZone, DateStyle, extra_float_digits). */
type ColumnKind = 'text' | 'timestamptz' | 'float8' | 'float4';

/**
 * The sealed columns per stream, in encoding order. Never change a list: seals made with it could no
 * longer be verified. A new column that must be covered needs a new stream version.
 *
 * login_history seals only what is fixed when the row is inserted. `logout_at` and
 * `session_duration_seconds` are written by the logout. `event_severity` / `event_context` hold the
 * login's own security event (migration 0009), which follows the security-event retention periods
 * rather than the login's, so expiring the event while the login stays would clear them; nothing
 * rewrites them after the insert today, and covering them would need a new version of this list.
 */
export const SEALED_COLUMNS: Record<Stream, readonly (readonly [name: string, kind: ColumnKind])[]> = {
  login_history: [
    ['id', 'text'],
    ['user_id', 'text'],
    ['username', 'text'],
    ['login_type', 'text'],
    ['success', 'text'],
    ['failure_reason', 'text'],
    ['ip_address', 'text'],
    ['user_agent', 'text'],
    ['browser', 'text'],
    ['browser_version', 'text'],
    ['os', 'text'],
    ['device_type', 'text'],
    ['country', 'text'],
    ['city', 'text'],
    ['latitude', 'float8'],
    ['longitude', 'float8'],
    ['geo_accuracy_km', 'float4'],
    ['session_key_hash', 'text'],
    ['login_at', 'timestamptz'],
    ['metadata', 'text'],
  ],
  security_event_rows: [
    ['id', 'text'],
    ['event_type', 'text'],
    ['category', 'text'],
    ['severity', 'text'],
    ['occurred_at', 'timestamptz'],
    ['username', 'text'],
    ['user_id', 'text'],
    ['ip_address', 'text'],
    ['user_agent', 'text'],
    ['reason', 'text'],
    ['context', 'text'],
  ],
  change_log_history: [
    ['id', 'text'],
    ['seq', 'text'],
    ['change_id', 'text'],
    ['at', 'timestamptz'],
    ['actor_id', 'text'],
    ['actor_name', 'text'],
    ['action', 'text'],
    ['field', 'text'],
    ['old_value', 'text'],
    ['new_value', 'text'],
    ['note', 'text'],
  ],
  compliance_receipt: [
    ['id', 'text'],
    ['kind', 'text'],
    ['subject', 'text'],
    ['requested_by', 'text'],
    ['reason', 'text'],
    ['created_at', 'timestamptz'],
    ['body', 'text'],
  ],
};

/** A row as sealed: its id and its sealed columns as text (NULL as null), in SEALED_COLUMNS order. */
export interface SealedRow {
  id: string;
  values: (string | null)[];
}

/** True for a stream name. */
export function isStream(v: unknown): v is Stream {
  return typeof v === 'string' && (STREAMS as readonly string[]).includes(v);
}

// jsonb::text, uuid::text, inet::text, boolean::text and bigint::text are canonical in PostgreSQL
// (jsonb keys sorted, fixed spacing) and do not depend on settings. Timestamps and floats do, so they
// are read as UTC microseconds and as their IEEE-754 bytes.
function columnText(name: string, kind: ColumnKind): RawBuilder<unknown> {
  const col = sql.ref(name);
  switch (kind) {
    case 'timestamptz':
      return sql`to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
    case 'float8':
      return sql`encode(float8send(${col}), 'hex')`;
    case 'float4':
      return sql`encode(float4send(${col}), 'hex')`;
    default:
      return sql`${col}::text`;
  }
}

/** The SELECT list that reads a stream's sealed columns as text, aliased c0, c1, … */
export function sealedSelect(stream: Stream): RawBuilder<unknown> {
  return sql.join(
    SEALED_COLUMNS[stream].map(([name, kind], i) => sql`${columnText(name, kind)} AS ${sql.ref(`c${i}`)}`),
  );
}

/** Turns a row read with sealedSelect into a SealedRow. */
export function toSealedRow(stream: Stream, raw: Record<string, unknown>): SealedRow {
  const values = SEALED_COLUMNS[stream].map((_, i) => {
    const v = raw[`c${i}`];
    return v === null || v === undefined ? null : String(v);
  });
  return { id: values[0] as string, values };
}

/**
 * Length-prefixed fields: `-` for NULL, `+<utf-8 byte length>:<value>` otherwise; unambiguous. Built
 * as one string (hashed as UTF-8): a Buffer per field cost three times the HMAC itself.
 */
export function encodeFields(fields: readonly (string | null)[]): string {
  let out = '';
  for (const f of fields) out += f === null ? '-' : `+${Buffer.byteLength(f, 'utf8')}:${f}`;
  return out;
}

/** Which hash a seal uses: HMAC-SHA256 with the configured key, or plain SHA-256 without one. */
export type Algorithm = 'hmac-sha256' | 'sha256';

/** A keyed (or unkeyed) SHA-256 of `data` (a string is hashed as UTF-8), hex. */
export function hashBytes(algorithm: Algorithm, key: string | undefined, data: string | Buffer): string {
  if (algorithm === 'hmac-sha256') {
    if (key === undefined) throw new Error('hmac-sha256 needs a key');
    return createHmac('sha256', key).update(data).digest('hex');
  }
  return createHash('sha256').update(data).digest('hex');
}

/** The hash of one row of `stream` (the stream name and an encoding version are part of it). */
export function rowHash(
  algorithm: Algorithm,
  key: string | undefined,
  stream: Stream,
  row: SealedRow,
): bigint {
  const data = encodeFields([`trailguard-row-v1`, stream, ...row.values]);
  return BigInt(`0x${hashBytes(algorithm, key, data)}`);
}

const MOD = 1n << 256n;

/** The empty multiset's digest. */
export const EMPTY_DIGEST = '0'.repeat(64);

/** a + b mod 2^256, as 64 hex digits. */
export function addDigests(a: string, b: string | bigint): string {
  const x = (BigInt(`0x${a}`) + (typeof b === 'bigint' ? b : BigInt(`0x${b}`))) % MOD;
  return x.toString(16).padStart(64, '0');
}

/** a − b mod 2^256, as 64 hex digits. */
export function subtractDigests(a: string, b: string | bigint): string {
  const x = (BigInt(`0x${a}`) - (typeof b === 'bigint' ? b : BigInt(`0x${b}`)) + MOD) % MOD;
  return x.toString(16).padStart(64, '0');
}

/** Running multiset digest: the sum of the row hashes mod 2^256. */
export function sumHashes(hashes: Iterable<bigint>): string {
  let s = 0n;
  for (const h of hashes) s = (s + h) % MOD;
  return s.toString(16).padStart(64, '0');
}

/** The id every UUIDv7 created at or after `ms` sorts at or above (and every earlier one below). */
export function boundaryId(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0').slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

/** The lowest id: the start of a stream's first sealed range. */
export const FIRST_ID = boundaryId(0);

/** The millisecond timestamp a UUIDv7 (or a boundary id) carries in its first 48 bits. */
export function idTime(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** True when `id` is a UUIDv7 (version nibble 7, RFC 4122 variant). */
export function isUuidV7(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id);
}
