/**
 * SQL for login history. Inserts go through one set-based statement per batch that also maintains the
 * hourly rollup in the same statement, so dashboards never lag or double count.
 * @module
 */
import { sql } from 'kysely';
import pg from 'pg';
import type { Kysely, RawBuilder, Selectable } from 'kysely';
import { insertIdempotencyItemFrom } from '../store/idempotency-store.ts';
import type { IdempotencyItem } from '../store/idempotency-store.ts';
import { beforeKeyset, ipMatches } from '../store/sql-filters.ts';
import type { Database, LoginHistoryTable } from '../store/schema.ts';
import type { DeviceType, LoginRecord, LoginType } from '../domain/login.ts';

/** A fully enriched row, ready to insert. */
export interface LoginRow {
  id: string;
  userId: string | null;
  username: string;
  loginType: LoginType;
  success: boolean;
  failureReason: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  browser: string | null;
  browserVersion: string | null;
  os: string | null;
  deviceType: DeviceType;
  country: string | null;
  city: string | null;
  latitude: number | null;
  longitude: number | null;
  geoAccuracyKm: number | null;
  sessionKeyHash: string | null;
  /** Epoch milliseconds (formatting an ISO string per row cost more than sending the number). */
  loginAt: number;
  metadata: Record<string, unknown>;
  /** `metadata` as JSON, serialized once (its size is checked on it, and the batch sends it). */
  metadataJson: string;
  /**
   * The login's own security event (login_success / login_failed), stored in this row: its severity,
   * null when the login has none, and the part of its context the `security_events` view does not
   * derive from the row, null when empty.
   */
  eventSeverity: string | null;
  eventContext: Record<string, unknown> | null;
}

/**
 * The name under which a login batch's statement exposes its input rows to companion statements, with
 * these columns: id, "userId", username, "ipAddress", "userAgent", "failureReason", "loginAt" (and the
 * other LoginRow fields, camelCase).
 */
export const LOGIN_BATCH = 'batch';

/** Filters the repository understands (already validated). */
export interface LoginFilter {
  userId?: string | undefined;
  username?: string | undefined;
  ip?: { address: string; prefix: number | null } | undefined;
  success?: boolean | undefined;
  loginType?: string | undefined;
  deviceType?: string | undefined;
  country?: string | undefined;
  /** Case-insensitive substring of username or user agent. */
  search?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** Keyset position: rows strictly older than this (loginAt, id). */
  before?: { loginAt: Date; id: string } | undefined;
}

type Row = Selectable<LoginHistoryTable>;

export function toLoginRecord(r: Row): LoginRecord {
  return {
    id: r.id,
    userId: r.user_id,
    username: r.username,
    loginType: r.login_type as LoginType,
    success: r.success,
    failureReason: r.failure_reason,
    ipAddress: r.ip_address,
    userAgent: r.user_agent,
    browser: r.browser,
    browserVersion: r.browser_version,
    os: r.os,
    deviceType: r.device_type as DeviceType,
    country: r.country,
    city: r.city,
    loginAt: new Date(r.login_at),
    logoutAt: r.logout_at === null ? null : new Date(r.logout_at),
    sessionDurationSeconds: r.session_duration_seconds,
    metadata: r.metadata ?? {},
  };
}

export interface LoginRepository {
  /**
   * Inserts the batch and its rollup counts (under rollup shard `shard`, default 0) in one statement,
   * which also runs the data-modifying statements of `with` (companion rows), so all of it commits or
   * none of it does, in one round trip.
   */
  insertBatch(rows: LoginRow[], options?: { shard?: number; with?: RawBuilder<unknown>[] }): Promise<void>;
  /** Closes the matching open successful login; returns the updated row or null. */
  closeSession(
    userId: string,
    sessionKeyHash: string | null,
    at: Date,
    keyed?: { item: Omit<IdempotencyItem, 'recordId'>; now: Date },
  ): Promise<LoginRecord | null>;
  lastSuccessful(userId: string): Promise<LoginRecord | null>;
  find(filter: LoginFilter, limit: number): Promise<LoginRecord[]>;
  /** One record by id, or null. */
  get(id: string): Promise<LoginRecord | null>;
  /** The earliest login_at stored, or null when there is none. */
  oldest(): Promise<Date | null>;
}

/**
 * A column of a batch as a parameter. When the column's JSON has no backslash (no quote, backslash or
 * control character to escape, the usual case), its JSON array is also a PostgreSQL array literal
 * once the brackets become braces (`null` reads as NULL): JSON.stringify builds it in one native pass.
 * Otherwise the driver serializes the array (and escapes what needs it). Cast it from text:
 * `${arrayParameter(xs)}::text::uuid[]`.
 */
export function arrayParameter(values: readonly (string | number | boolean | null)[]): string {
  const json = JSON.stringify(values);
  return json.includes('\\') ? driverArrayLiteral(values) : `{${json.slice(1, -1)}}`;
}

// The driver's own array serializer (exported as pg.utils, untyped).
const pgUtils = (pg as unknown as { utils?: { prepareValue?: (v: unknown) => unknown } }).utils;
function driverArrayLiteral(values: readonly unknown[]): string {
  const literal = pgUtils?.prepareValue?.(values);
  if (typeof literal !== 'string') throw new TypeError('pg.utils.prepareValue is not available');
  return literal;
}

/** Escapes LIKE wildcards so user input matches literally. */
function likeSubstring(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Adds the counts of the rows in `inserted` to a rollup table (`unit`: its period column, also the
 * date_trunc unit) under rollup shard `shard`. Both rollups, hourly and daily, are kept this one way.
 */
function rollupUpsert(
  table: 'login_rollup_hourly' | 'login_rollup_daily',
  unit: 'hour' | 'day',
  shard: number,
) {
  return sql`
    INSERT INTO ${sql.table(table)} AS t (${sql.ref(unit)}, success, login_type, device_type, country, shard, count)
    SELECT date_trunc(${sql.lit(unit)}, login_at, 'UTC'), success, login_type, device_type, coalesce(country, ''),
      ${shard}::smallint, count(*)
    FROM inserted
    GROUP BY 1, 2, 3, 4, 5
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (${sql.ref(unit)}, success, login_type, device_type, country, shard)
    DO UPDATE SET count = t.count + excluded.count`;
}

export function createLoginRepository(db: Kysely<Database>): LoginRepository {
  return {
    async insertBatch(rows, options = {}) {
      // One array per column, unnested server-side: about 40% fewer bytes than an array of JSON objects
      // (no key names repeated per row) and no per-row key lookups in PostgreSQL.
      const n = rows.length;
      const col = <T extends string | number | boolean | null>(pick: (r: LoginRow) => T) => {
        const out = new Array<T>(n);
        for (let i = 0; i < n; i++) out[i] = pick(rows[i] as LoginRow);
        return sql`${arrayParameter(out)}::text`;
      };
      // The JSON columns go as one JSON array each, split by jsonb_array_elements: as array literal
      // elements every quote of their JSON would need escaping, element by element.
      const json = (pick: (r: LoginRow) => unknown) => {
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = pick(rows[i] as LoginRow);
        return sql`jsonb_array_elements(${JSON.stringify(out)}::jsonb)`;
      };
      // Each row's metadata is already JSON (serialized once, in record()).
      const metadata = `[${rows.map((r) => r.metadataJson).join(',')}]`;
      const shard = options.shard ?? 0;
      // Every data-modifying part of a WITH runs exactly once, whether or not the main query reads it.
      const companions = (options.with ?? []).map(
        (part, i) => sql`, ${sql.raw(`companion_${i}`)} AS (${part})`,
      );
      await sql`
        WITH ${sql.raw(LOGIN_BATCH)} AS (
          SELECT r.*, to_timestamp(r."loginAtMs" / 1000) AS "loginAt" FROM ROWS FROM (
            unnest(${col((r) => r.id)}::uuid[]), unnest(${col((r) => r.userId)}::text[]),
            unnest(${col((r) => r.username)}::text[]), unnest(${col((r) => r.loginType)}::text[]),
            unnest(${col((r) => r.success)}::boolean[]), unnest(${col((r) => r.failureReason)}::text[]),
            unnest(${col((r) => r.ipAddress)}::inet[]), unnest(${col((r) => r.userAgent)}::text[]),
            unnest(${col((r) => r.browser)}::text[]), unnest(${col((r) => r.browserVersion)}::text[]),
            unnest(${col((r) => r.os)}::text[]), unnest(${col((r) => r.deviceType)}::text[]),
            unnest(${col((r) => r.country)}::text[]), unnest(${col((r) => r.city)}::text[]),
            unnest(${col((r) => r.latitude)}::double precision[]),
            unnest(${col((r) => r.longitude)}::double precision[]),
            unnest(${col((r) => r.geoAccuracyKm)}::real[]), unnest(${col((r) => r.sessionKeyHash)}::text[]),
            unnest(${col((r) => r.loginAt)}::float8[]), jsonb_array_elements(${metadata}::jsonb),
            unnest(${col((r) => r.eventSeverity)}::text[]), ${json((r) => r.eventContext)}
          ) AS r(id, "userId", username, "loginType", success, "failureReason", "ipAddress", "userAgent",
            browser, "browserVersion", os, "deviceType", country, city, latitude, longitude, "geoAccuracyKm",
            "sessionKeyHash", "loginAtMs", metadata, "eventSeverity", "eventContext")
        ), inserted AS (
          INSERT INTO login_history (id, user_id, username, login_type, success, failure_reason, ip_address,
            user_agent, browser, browser_version, os, device_type, country, city, latitude, longitude,
            geo_accuracy_km, session_key_hash, login_at, metadata, event_severity, event_context)
          SELECT id, "userId", username, "loginType", success, "failureReason", "ipAddress", "userAgent",
            browser, "browserVersion", os, "deviceType", country, city, latitude, longitude, "geoAccuracyKm",
            "sessionKeyHash", "loginAt", coalesce(metadata, '{}'::jsonb), "eventSeverity",
            nullif("eventContext", 'null'::jsonb)
          FROM ${sql.raw(LOGIN_BATCH)}
          RETURNING login_at, success, login_type, device_type, country
        ), daily AS (${rollupUpsert('login_rollup_daily', 'day', shard)}
        )${sql.join(companions, sql``)}
        ${rollupUpsert('login_rollup_hourly', 'hour', shard)}`.execute(db);
    },

    async closeSession(userId, sessionKeyHash, at, keyed) {
      // With a session key: that session only. A key that matches none closes nothing (README): a
      // keyless login may be another device's, recorded by a path that had no key.
      const keyMatch = sessionKeyHash === null ? sql`TRUE` : sql`session_key_hash = ${sessionKeyHash}`;
      // Pick and close atomically: FOR UPDATE SKIP LOCKED makes a concurrent logout of the same user
      // pass over the row another one is closing and take the next open login, and the outer
      // `logout_at IS NULL` (re-checked on the row's newest version under READ COMMITTED) keeps an
      // UPDATE from overwriting a logout that committed after its snapshot.
      const update = sql<Row>`
        UPDATE login_history AS h
        SET logout_at = ${at},
            session_duration_seconds = greatest(0, extract(epoch FROM (${at}::timestamptz - h.login_at)))::double precision
        FROM (
          SELECT id, login_at FROM login_history
          WHERE user_id = ${userId} AND success AND logout_at IS NULL AND login_at <= ${at} AND ${keyMatch}
          ORDER BY login_at DESC
          LIMIT 1
          FOR UPDATE SKIP LOCKED
        ) AS target
        WHERE h.id = target.id AND h.login_at = target.login_at AND h.logout_at IS NULL
        RETURNING h.*`;
      // A keyed logout records its item with the session it closed, in the same statement.
      const result = await (
        keyed
          ? sql<Row>`WITH closed AS (${update}), item AS (${insertIdempotencyItemFrom(keyed.item, 'closed', keyed.now)})
              SELECT * FROM closed`
          : update
      ).execute(db);
      const row = result.rows[0];
      return row ? toLoginRecord(row) : null;
    },

    async lastSuccessful(userId) {
      const row = await db
        .selectFrom('login_history')
        .selectAll()
        .where('user_id', '=', userId)
        .where('success', '=', true)
        .orderBy('login_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row ? toLoginRecord(row) : null;
    },

    async find(f, limit) {
      let q = db.selectFrom('login_history').selectAll();
      if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
      if (f.username !== undefined) q = q.where('username', '=', f.username);
      if (f.success !== undefined) q = q.where('success', '=', f.success);
      if (f.loginType !== undefined) q = q.where('login_type', '=', f.loginType);
      if (f.deviceType !== undefined) q = q.where('device_type', '=', f.deviceType);
      if (f.country !== undefined) q = q.where('country', '=', f.country);
      if (f.search !== undefined) {
        const pattern = likeSubstring(f.search);
        q = q.where((eb) => eb.or([eb('username', 'ilike', pattern), eb('user_agent', 'ilike', pattern)]));
      }
      if (f.from !== undefined) q = q.where('login_at', '>=', f.from);
      if (f.to !== undefined) q = q.where('login_at', '<', f.to);
      if (f.ip !== undefined) q = q.where(ipMatches(f.ip));
      if (f.before !== undefined) q = q.where(beforeKeyset('login_at', f.before.loginAt, f.before.id));
      const rows = await q.orderBy('login_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toLoginRecord);
    },

    async get(id) {
      const row = await db.selectFrom('login_history').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? toLoginRecord(row) : null;
    },

    async oldest() {
      const row = await db
        .selectFrom('login_history')
        .select('login_at')
        .orderBy('login_at')
        .limit(1)
        .executeTakeFirst();
      return row ? new Date(row.login_at) : null;
    },
  };
}
