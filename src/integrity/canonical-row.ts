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
import type { ColumnKind, SealedColumns } from './contract.ts';

// Compatibility: the HTTP schema and the public API (`INTEGRITY_STREAMS`, `SEALED_COLUMNS`) read the
// stream list from here. The service seals what the features contribute (their `sealed-stream.ts`),
// and a test checks that this list is the same, in the same order.
/** The tables whose rows are sealed. */
export const STREAMS = [
  'login_history',
  'security_event_rows',
  'change_log_history',
  'compliance_receipt',
] as const;

/** One sealed table. */
export type Stream = (typeof STREAMS)[number];

export type { ColumnKind, SealedColumns } from './contract.ts';

/** A row as sealed: its id and its sealed columns as text (NULL as null), in its stream's column order. */
export interface SealedRow {
  id: string;
  values: (string | null)[];
}

/** True for a stream name. */
export function isStream(v: unknown, streams: readonly string[] = STREAMS): v is Stream {
  return typeof v === 'string' && streams.includes(v);
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
export function sealedSelect(columns: SealedColumns): RawBuilder<unknown> {
  return sql.join(columns.map(([name, kind], i) => sql`${columnText(name, kind)} AS ${sql.ref(`c${i}`)}`));
}

/** Turns a row read with sealedSelect into a SealedRow. */
export function toSealedRow(columns: SealedColumns, raw: Record<string, unknown>): SealedRow {
  const values = columns.map((_, i) => {
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
  stream: string,
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
