/**
 * SIEM export: streams the events of one table over a time range as JSON lines, CSV, OCSF or ECS, one
 * line per event in event-time order. Each kind of event (a login, a logout, a security event row …)
 * is read in keyset pages on its own time and id, and the kinds are merged, so memory stays constant at
 * any volume; writing waits for the destination (backpressure), so a slow pipe never makes rows pile
 * up in memory.
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
import { LOGIN_CSV_COLUMNS, csvLine, loginCsv, loginEcsEvent, loginJson, loginOcsfEvent } from './formats.ts';
import type { LoginEvent } from './formats.ts';
import type { LoginRecord } from '../domain/login.ts';
import { toChange } from '../changes/change-repository.ts';
import type { Change } from '../domain/change.ts';
import { isSeverity } from '../domain/security-event.ts';
import type { SecurityEvent, Severity } from '../domain/security-event.ts';
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
  /** Inclusive lower bound on the event time (a logout's is `logout_at`). */
  from?: Date | string | number | undefined;
  /** Exclusive upper bound on the event time. */
  to?: Date | string | number | undefined;
  /** Rows per database page (one page per kind of event at a time). @default 2000 */
  pageSize?: number | undefined;
}

/** One kind of event in a relation: the rows that hold it, read in keyset pages on (time, id). */
export interface ExportPart {
  relation: keyof Database & string;
  /** The event's time: the window and the order apply to it. Rows where it is NULL hold no such event. */
  timeColumn: string;
  /** Passed to the formatters: which of a row's events this part reads (a login or its logout). */
  event: string;
  /**
   * A column never later than `timeColumn` (a logout's `login_at`): also bounded by `to`, so the
   * partitions of later months are not read.
   */
  notAfter?: string | undefined;
}

/** How one table is read and rendered. */
export interface ExportSource {
  /**
   * The kinds of event, each paged on its own time index and merged in (time, id, part) order: the
   * login and logout of a login record, or the two relations behind a UNION ALL view (which the
   * planner would sort whole for every page).
   */
  parts: ExportPart[];
  /** Raw row → public record. */
  toRecord(row: Record<string, unknown>): unknown;
  /** Record → JSON lines object; the record itself by default. */
  json?(record: unknown, event: string): unknown;
  csvHeader: readonly string[];
  csv(record: unknown, event: string): string;
  ocsf(record: unknown, event: string): Record<string, unknown>[];
  ecs(record: unknown, event: string): Record<string, unknown>[];
}

/** `tg.export` */
export interface ExportService {
  /** The export as an async sequence of lines (each ends with a newline). */
  lines(options: ExportOptions): AsyncIterable<string>;
  /**
   * Writes the export to `out` (a file or stdout), honouring backpressure; resolves with the number of
   * events (`rows`: a login and its logout count as two) and of lines (CSV: with its header).
   */
  write(options: ExportOptions, out: Writable): Promise<{ rows: number; lines: number }>;
  /** Adds a table (security events and changes register theirs). */
  register(table: ExportTable, source: ExportSource): void;
}

type LoginRow = Parameters<typeof toLoginRecord>[0];

// A login record holds up to two events: its login at login_at and, once closed, its logout at
// logout_at. Each is exported in the window of its own time (a long session's logout comes in a later
// window than its login). logout_at is never before login_at (closeSession), hence `notAfter`.
export const loginSource: ExportSource = {
  parts: [
    { relation: 'login_history', timeColumn: 'login_at', event: 'login' },
    { relation: 'login_history', timeColumn: 'logout_at', event: 'logout', notAfter: 'login_at' },
  ],
  // The row's own security event severity goes along: OCSF gives the login the severity its
  // login_success / login_failed event has in the security-events export (escalated or not).
  toRecord: (row): ExportedLogin => ({
    record: toLoginRecord(row as LoginRow),
    eventSeverity: isSeverity(row['event_severity']) ? row['event_severity'] : null,
  }),
  json: (r, event) => loginJson((r as ExportedLogin).record, event as LoginEvent),
  csvHeader: LOGIN_CSV_COLUMNS,
  csv: (r, event) => loginCsv((r as ExportedLogin).record, event as LoginEvent),
  ocsf: (r, event) => {
    const { record, eventSeverity } = r as ExportedLogin;
    return [loginOcsfEvent(record, event as LoginEvent, eventSeverity ?? undefined)];
  },
  ecs: (r, event) => [loginEcsEvent((r as ExportedLogin).record, event as LoginEvent)],
};

interface ExportedLogin {
  record: LoginRecord;
  eventSeverity: Severity | null;
}

export const securityEventSource: ExportSource = {
  parts: [
    { relation: 'security_event_rows', timeColumn: 'occurred_at', event: 'event' },
    { relation: 'login_events', timeColumn: 'occurred_at', event: 'event' },
  ],
  toRecord: (row) => toEvent(row as Parameters<typeof toEvent>[0]),
  csvHeader: SECURITY_EVENT_CSV_COLUMNS,
  csv: (r) => securityEventCsv(r as SecurityEvent),
  ocsf: (r) => securityEventOcsf(r as SecurityEvent),
  ecs: (r) => securityEventEcs(r as SecurityEvent),
};

export const changeSource: ExportSource = {
  parts: [{ relation: 'change_log', timeColumn: 'deployed_at', event: 'change' }],
  toRecord: (row) => toChange(row as Parameters<typeof toChange>[0]),
  csvHeader: CHANGE_CSV_COLUMNS,
  csv: (r) => changeCsv(r as Change),
  ocsf: (r) => changeOcsf(r as Change),
  ecs: (r) => changeEcs(r as Change),
};

/** A row read for one of its events, with that event's time. */
interface EventRow {
  at: Date;
  row: Record<string, unknown> & { id: string };
}

/** Whether `a` comes before `b` in (time, id); equal keys keep the parts' order (the caller's scan order). */
function before(a: EventRow, b: EventRow): boolean {
  const dt = a.at.getTime() - b.at.getTime();
  return dt < 0 || (dt === 0 && a.row.id < b.row.id);
}

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

  /** One part's rows in the window, (time, id) ascending, a page at a time. */
  async function* partRows(
    part: ExportPart,
    from: Date | null,
    to: Date | null,
    pageSize: number,
  ): AsyncGenerator<EventRow> {
    const t = sql.ref(part.timeColumn);
    let after: { at: Date; id: string } | null = null;
    for (;;) {
      const conditions = [sql<boolean>`${t} IS NOT NULL`];
      if (from) conditions.push(sql<boolean>`${t} >= ${from}`);
      if (to) conditions.push(sql<boolean>`${t} < ${to}`);
      if (to && part.notAfter) conditions.push(sql<boolean>`${sql.ref(part.notAfter)} < ${to}`);
      if (after) conditions.push(sql<boolean>`(${t}, id) > (${after.at}::timestamptz, ${after.id}::uuid)`);
      const { rows } = await sql<Record<string, unknown> & { id: string }>`
        SELECT * FROM ${sql.table(part.relation)} WHERE ${sql.join(conditions, sql` AND `)}
        ORDER BY ${t}, id LIMIT ${pageSize}`.execute(db);
      for (const row of rows) yield { at: new Date(row[part.timeColumn] as Date | string), row };
      if (rows.length < pageSize) return;
      const last = rows[rows.length - 1]!;
      after = { at: new Date(last[part.timeColumn] as Date | string), id: last.id };
    }
  }

  /**
   * Every part's rows merged by (time, id, part): the events in event-time order, ties broken the same
   * way on every run (a login before its own logout at the same instant). One page per part in memory.
   */
  async function* events(
    source: ExportSource,
    from: Date | null,
    to: Date | null,
    pageSize: number,
  ): AsyncGenerator<{ event: string; row: Record<string, unknown> }> {
    const cursors = source.parts.map((part) => partRows(part, from, to, pageSize));
    const heads: (EventRow | null)[] = [];
    try {
      for (const cursor of cursors) heads.push((await cursor.next()).value ?? null);
      for (;;) {
        let next = -1;
        for (const [i, head] of heads.entries()) {
          if (head && (next < 0 || before(head, heads[next]!))) next = i;
        }
        if (next < 0) return;
        yield { event: source.parts[next]!.event, row: heads[next]!.row };
        heads[next] = (await cursors[next]!.next()).value ?? null;
      }
    } finally {
      for (const cursor of cursors) await cursor.return(undefined);
    }
  }

  function sourceFor(table: ExportTable): ExportSource {
    const source = sources.get(table);
    if (!source)
      throw invalid('table', `'${table}' cannot be exported: that feature is not part of this build`);
    return source;
  }

  // One group of lines per event (CSV: the header first).
  async function* render(o: ReturnType<typeof validate>): AsyncGenerator<string[]> {
    const source = sourceFor(o.table);
    if (o.format === 'csv') yield [csvLine([...source.csvHeader])];
    for await (const { event, row } of events(source, o.from, o.to, o.pageSize)) {
      const record = source.toRecord(row);
      switch (o.format) {
        case 'jsonl':
          yield [`${JSON.stringify(source.json ? source.json(record, event) : record)}\n`];
          break;
        case 'csv':
          yield [source.csv(record, event)];
          break;
        case 'ocsf':
          yield source.ocsf(record, event).map((e) => `${JSON.stringify(e)}\n`);
          break;
        case 'ecs':
          yield source.ecs(record, event).map((e) => `${JSON.stringify(e)}\n`);
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
