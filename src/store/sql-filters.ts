/**
 * SQL fragments shared by the repositories' list queries.
 * @module
 */
import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';

/** `ip_address = addr` for an address, `ip_address <<= net` for a CIDR block (uses the inet index). */
export function ipMatches(
  filter: { address: string; prefix: number | null },
  column = 'ip_address',
): RawBuilder<boolean> {
  return filter.prefix === null
    ? sql<boolean>`${sql.ref(column)} = ${filter.address}::inet`
    : sql<boolean>`${sql.ref(column)} <<= ${`${filter.address}/${filter.prefix}`}::inet`;
}

/** Keyset condition for newest-first pages: rows strictly before (at, id). */
export function beforeKeyset(timeColumn: string, at: Date, id: string): RawBuilder<boolean> {
  return sql<boolean>`(${sql.ref(timeColumn)}, id) < (${at}::timestamptz, ${id}::uuid)`;
}
