/**
 * What a feature gives tamper evidence: the tables whose rows are sealed and, for each, the columns a
 * seal covers. Integrity seals what the features declare; it names no feature's table itself.
 * @module
 */

/** How a column is turned into text in SQL, independent of session settings (TimeZone, DateStyle, extra_float_digits). */
export type ColumnKind = 'text' | 'timestamptz' | 'float8' | 'float4';

/** A stream's sealed columns, in encoding order: the first is the row's UUIDv7 id. */
export type SealedColumns = readonly (readonly [name: string, kind: ColumnKind])[];

/** One sealed table. */
export interface SealedStream {
  /** The table (also the stream's name in the seal chain). */
  name: string;
  /** Never change a list: seals made with it could no longer be verified. */
  columns: SealedColumns;
}
