/**
 * SIEM export: streams one table over a time range as JSON lines, CSV, OCSF or ECS. Rows are read in
 * keyset pages (time, id), so memory stays constant at any volume, and writing waits for the
 * destination (backpressure), so a slow pipe never makes rows pile up in memory.
 * @module
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { invalid } from '../domain/errors.ts';
import { isPlainObject, parseQueryDate } from '../domain/validation.ts';
import { toLoginRecord } from '../logins/login-repository.ts';
import type { Database } from '../store/schema.ts';
import { LOGIN_CSV_COLUMNS, csvLine, loginCsv, loginEcs, loginOcsf } from './formats.ts';
import { toChange } from '../changes/change-repository.ts';
import type { Change } from '../domain/change.ts';
import type { SecurityEvent } from '../domain/security-event.ts';
import { toEvent } from '../security/security-repository.ts';
import {
  CHANGE_CSV_COLUMNS,
  SECURITY_EVENT_CSV_COLUMNS,
  changeCsv,
  changeEcs,
  changeOcsf,
  securityEventCsv,
  securityEventEcs,
  securityEventOcsf,
} from './event-formats.ts';

export const EXPORT_TABLES = ['logins', 'security-events', 'changes'] as const;
export type ExportTable = (typeof EXPORT_TABLES)[number];
export const EXPORT_FORMATS = ['jsonl', 'csv', 'ocsf', 'ecs'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What to export. */
export interface ExportOptions {
  table: ExportTable;
  format: ExportFormat;
  /** Inclusive lower bound on the record time. */
  from?: Date | string | number | undefined;
  /** Exclusive upper bound on the record time. */
  to?: Date | string | number | undefined;
  /** Rows per database page. @default 2000 */
  pageSize?: number | undefined;
}

/** How one table is read and rendered. */
export interface ExportSource {
  relation: keyof Database & string;
  /**
   * Read `relation` as these relations, each paged on its own time index and the pages merged: for a
   * UNION ALL view, which the planner would sort whole for every page.
   */
  parts?: (keyof Database & string)[] | undefined;
  timeColumn: string;
  /** Raw row → public record. */
  toRecord(row: Record<string, unknown>): unknown;
  csvHeader: readonly string[];
  csv(record: unknown): string;
  ocsf(record: unknown): Record<string, unknown>[];
  ecs(record: unknown): Record<string, unknown>[];
}

/** `tg.export` */
export interface ExportService {
  /** The export as an async sequence of lines (each ends with a newline). */
  lines(options: ExportOptions): AsyncIterable<string>;
  /** Writes the export to `out` (a file or stdout), honouring backpressure; resolves with the row count. */
  write(options: ExportOptions, out: Writable): Promise<{ rows: number; lines: number }>;
  /** Adds a table (security events and changes register theirs). */
  register(table: ExportTable, source: ExportSource): void;
}

/** The first `limit` rows by (time, id) ascending. */
function oldestFirst<R extends { id: string }>(rows: R[], timeColumn: string, limit: number): R[] {
  const at = (r: R) => new Date((r as Record<string, unknown>)[timeColumn] as Date | string).getTime();
  return rows.sort((a, b) => at(a) - at(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(0, limit);
}

export const loginSource: ExportSource = {
  relation: 'login_history',
  timeColumn: 'login_at',
  toRecord: (row) => toLoginRecord(row as Parameters<typeof toLoginRecord>[0]),
  csvHeader: LOGIN_CSV_COLUMNS,
  csv: (r) => loginCsv(r as ReturnType<typeof toLoginRecord>),
  ocsf: (r) => loginOcsf(r as ReturnType<typeof toLoginRecord>),
  ecs: (r) => loginEcs(r as ReturnType<typeof toLoginRecord>),
};

export const securityEventSource: ExportSource = {
  relation: 'security_events',
  parts: ['security_event_rows', 'login_events'],
  timeColumn: 'occurred_at',
  toRecord: (row) => toEvent(row as Parameters<typeof toEvent>[0]),
  csvHeader: SECURITY_EVENT_CSV_COLUMNS,
  csv: (r) => securityEventCsv(r as SecurityEvent),
  ocsf: (r) => securityEventOcsf(r as SecurityEvent),
  ecs: (r) => securityEventEcs(r as SecurityEvent),
};

export const changeSource: ExportSource = {
  relation: 'change_log',
  timeColumn: 'deployed_at',
  toRecord: (row) => toChange(row as Parameters<typeof toChange>[0]),
  csvHeader: CHANGE_CSV_COLUMNS,
  csv: (r) => changeCsv(r as Change),
  ocsf: (r) => changeOcsf(r as Change),
  ecs: (r) => changeEcs(r as Change),
};

function validate(options: ExportOptions): {
  table: ExportTable;
  format: ExportFormat;
  from: Date | null;
  to: Date | null;
  pageSize: number;
} {
  if (!isPlainObject(options)) throw invalid('options', 'takes { table, format, from?, to? }');
  if (!(EXPORT_TABLES as readonly string[]).includes(options.table)) {
    throw invalid('table', `must be one of: ${EXPORT_TABLES.join(', ')}`);
  }
  if (!(EXPORT_FORMATS as readonly string[]).includes(options.format)) {
    throw invalid('format', `must be one of: ${EXPORT_FORMATS.join(', ')}`);
  }
  const from = options.from === undefined ? null : parseQueryDate(options.from, 'from');
  const to = options.to === undefined ? null : parseQueryDate(options.to, 'to');
  if (from && to && to.getTime() <= from.getTime()) throw invalid('to', 'must be after from');
  const pageSize = options.pageSize ?? 2000;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 50_000) {
    throw invalid('pageSize', 'must be a whole number from 1 to 50000');
  }
  return { table: options.table, format: options.format, from, to, pageSize };
}

export function createExportService(deps: { db: Kysely<Database> }): ExportService {
  const { db } = deps;
  const sources = new Map<ExportTable, ExportSource>([
    ['logins', loginSource],
    ['security-events', securityEventSource],
    ['changes', changeSource],
  ]);

  async function* rows(
    source: ExportSource,
    from: Date | null,
    to: Date | null,
    pageSize: number,
  ): AsyncGenerator<Record<string, unknown>> {
    const t = sql.ref(source.timeColumn);
    let after: { at: Date; id: string } | null = null;
    for (;;) {
      const conditions = [sql<boolean>`TRUE`];
      if (from) conditions.push(sql<boolean>`${t} >= ${from}`);
      if (to) conditions.push(sql<boolean>`${t} < ${to}`);
      if (after) conditions.push(sql<boolean>`(${t}, id) > (${after.at}::timestamptz, ${after.id}::uuid)`);
      const read = async (relation: string) =>
        (
          await sql<Record<string, unknown> & { id: string }>`
            SELECT * FROM ${sql.table(relation)} WHERE ${sql.join(conditions, sql` AND `)}
            ORDER BY ${t}, id LIMIT ${pageSize}`.execute(db)
        ).rows;
      const pages = [];
      for (const relation of source.parts ?? [source.relation]) pages.push(await read(relation));
      const rows =
        pages.length === 1 ? (pages[0] ?? []) : oldestFirst(pages.flat(), source.timeColumn, pageSize);
      for (const row of rows) yield row;
      if (rows.length < pageSize) return;
      const last = rows[rows.length - 1]!;
      after = { at: new Date(last[source.timeColumn] as Date | string), id: last.id };
    }
  }

  function sourceFor(table: ExportTable): ExportSource {
    const source = sources.get(table);
    if (!source)
      throw invalid('table', `'${table}' cannot be exported: that feature is not part of this build`);
    return source;
  }

  // One group of lines per row (OCSF and ECS give a logon and a logoff for a closed session).
  async function* render(o: ReturnType<typeof validate>): AsyncGenerator<string[]> {
    const source = sourceFor(o.table);
    if (o.format === 'csv') yield [csvLine([...source.csvHeader])];
    for await (const row of rows(source, o.from, o.to, o.pageSize)) {
      const record = source.toRecord(row);
      switch (o.format) {
        case 'jsonl':
          yield [`${JSON.stringify(record)}\n`];
          break;
        case 'csv':
          yield [source.csv(record)];
          break;
        case 'ocsf':
          yield source.ocsf(record).map((e) => `${JSON.stringify(e)}\n`);
          break;
        case 'ecs':
          yield source.ecs(record).map((e) => `${JSON.stringify(e)}\n`);
          break;
      }
    }
  }

  async function* lines(options: ExportOptions): AsyncGenerator<string> {
    for await (const group of render(validate(options))) yield* group;
  }

  return {
    lines,
    register(table, source) {
      sources.set(table, source);
    },
    async write(options, out) {
      // Validate before the first byte is written, so bad input leaves an empty output.
      const o = validate(options);
      sourceFor(o.table);
      let rowCount = o.format === 'csv' ? -1 : 0;
      let lineCount = 0;
      let buffered = '';
      const flush = async () => {
        if (buffered === '') return;
        const chunk = buffered;
        buffered = '';
        if (!out.write(chunk)) await once(out, 'drain');
      };
      for await (const group of render(o)) {
        rowCount++;
        for (const line of group) {
          buffered += line;
          lineCount++;
        }
        // Batch small lines into ~64 KiB writes: far fewer syscalls than a write per line.
        if (buffered.length >= 65_536) await flush();
      }
      await flush();
      return { rows: rowCount, lines: lineCount };
    },
  };
}
